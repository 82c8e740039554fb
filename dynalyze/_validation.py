"""Input validation shared by every public entry point.

All checks raise errors from :mod:`dynalyze.errors` whose message says what was
expected, what was given and how to fix it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dynalyze.errors import ConfigurationError, InputShapeError, NonFiniteError

FloatArray = NDArray[np.float64]


def as_float_array(value: ArrayLike, name: str) -> FloatArray:
    """Convert ``value`` to a float64 array or raise :class:`InputShapeError`."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputShapeError(
            f"{name} must be a numeric array; got {type(value).__name__} that NumPy "
            f"cannot convert to float64 ({exc}). Pass a NumPy array of numbers."
        ) from None
    return array


def check_finite(array: NDArray[Any], name: str) -> None:
    """Raise :class:`NonFiniteError` if ``array`` holds NaN or infinity."""
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise NonFiniteError(
            f"{name} contains {bad} NaN or infinite value(s); expected finite numbers. "
            f"Remove or replace them (e.g. with np.nan_to_num) before calling dynalyze."
        )


def as_batch(
    value: ArrayLike,
    dim: int,
    name: str,
    *,
    n: int | None = None,
    allow_single: bool = True,
) -> FloatArray:
    """Return ``value`` as a finite float64 array of shape ``(n, dim)``.

    A single vector of shape ``(dim,)`` is promoted to ``(1, dim)`` (or broadcast
    to ``(n, dim)`` when ``n`` is given) if ``allow_single`` is true. With ``n``
    given, a single row of shape ``(1, dim)`` broadcasts the same way
    (FixedPointFinder's convention for one constant input: ``inputs`` of shape
    ``[1 x n_inputs]``).
    """
    array = as_float_array(value, name)
    if array.ndim == 1 and allow_single:
        if array.shape[0] != dim:
            raise InputShapeError(
                f"{name} must have {dim} entries per row; got a vector of length "
                f"{array.shape[0]}. Pass an array of shape (n, {dim})."
            )
        array = array[None, :]
    if allow_single and n is not None and array.ndim == 2 and array.shape == (1, dim):
        array = np.broadcast_to(array, (n, dim))
    if array.ndim != 2 or array.shape[1] != dim:
        raise InputShapeError(
            f"{name} must have shape (n, {dim}); got shape {tuple(array.shape)}. "
            f"Stack one row of length {dim} per point."
        )
    if n is not None and array.shape[0] != n:
        raise InputShapeError(
            f"{name} must have {n} rows (one per state), or be a single row of shape "
            f"(1, {dim}) or a vector of length {dim} used for every state; got "
            f"{array.shape[0]} rows."
        )
    check_finite(array, name)
    return array


def positive(name: str, value: float) -> None:
    """Raise :class:`ConfigurationError` unless ``value`` is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigurationError(
            f"{name} must be a positive number; got {value!r} of type {type(value).__name__}."
        )
    if not np.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{name} must be a finite number > 0; got {value!r}.")


def positive_int(name: str, value: int) -> None:
    """Raise :class:`ConfigurationError` unless ``value`` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigurationError(
            f"{name} must be a positive integer; got {value!r} of type {type(value).__name__}."
        )
    if value < 1:
        raise ConfigurationError(f"{name} must be an integer >= 1; got {value!r}.")


def non_negative(name: str, value: float) -> None:
    """Raise :class:`ConfigurationError` unless ``value`` is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigurationError(
            f"{name} must be a number >= 0; got {value!r} of type {type(value).__name__}."
        )
    if not np.isfinite(value) or value < 0:
        raise ConfigurationError(f"{name} must be a finite number >= 0; got {value!r}.")


def attrs_positive(_instance: object, attribute: Any, value: float) -> None:
    """attrs validator form of :func:`positive`."""
    positive(attribute.name, value)


def attrs_positive_int(_instance: object, attribute: Any, value: int) -> None:
    """attrs validator form of :func:`positive_int`."""
    positive_int(attribute.name, value)


def attrs_non_negative(_instance: object, attribute: Any, value: float) -> None:
    """attrs validator form of :func:`non_negative`."""
    non_negative(attribute.name, value)


def attrs_non_negative_int(_instance: object, attribute: Any, value: int) -> None:
    """attrs validator: an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigurationError(
            f"{attribute.name} must be an integer >= 0 (0 turns it off); got {value!r}."
        )


def attrs_unit_interval(_instance: object, attribute: Any, value: float) -> None:
    """attrs validator: a number in the open interval (0, 1)."""
    positive(attribute.name, value)
    if value >= 1:
        raise ConfigurationError(f"{attribute.name} must be below 1; got {value!r}.")


def attrs_optional_positive_int(_instance: object, attribute: Any, value: int | None) -> None:
    """attrs validator: ``None`` or an integer >= 1."""
    if value is not None:
        positive_int(attribute.name, value)


def attrs_optional_positive(_instance: object, attribute: Any, value: float | None) -> None:
    """attrs validator: ``None`` or a positive number."""
    if value is not None:
        positive(attribute.name, value)
