"""Helpers for building systems from weights and Keras cells."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from dynalyze._validation import FloatArray, as_float_array, check_finite
from dynalyze.errors import InputShapeError, UnsupportedModelError

__all__ = ["as_weight", "has_stock_call", "keras_cell_of", "keras_weight", "optional_bias"]


def as_weight(
    value: ArrayLike,
    name: str,
    *,
    ndim: int | None = None,
    shape: tuple[int | None, ...] | None = None,
) -> FloatArray:
    """Copy a weight array to float64, checking rank, shape and finiteness."""
    array = np.array(as_float_array(value, name), dtype=np.float64, copy=True)
    if ndim is not None and array.ndim != ndim:
        raise InputShapeError(f"Weight {name} must be {ndim}-D; got shape {array.shape}.")
    if shape is not None:
        if array.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
        ):
            expected = tuple("any" if s is None else s for s in shape)
            raise InputShapeError(f"Weight {name} must have shape {expected}; got {array.shape}.")
    check_finite(array, f"weight {name}")
    return array


def optional_bias(value: ArrayLike | None, shape: tuple[int, ...]) -> FloatArray:
    """A bias of the given shape, zeros when ``value`` is None."""
    if value is None:
        return np.zeros(shape)
    return as_weight(value, "bias", shape=shape)


def _keras_class(name: str) -> type | None:
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    cls = getattr(keras.layers, name, None)
    return cls if isinstance(cls, type) else None


def keras_cell_of(obj: object, cell_class: str, *, required: bool = False) -> Any:
    """Return the Keras cell of class ``cell_class`` held by ``obj`` (a cell or RNN layer).

    Keras is never imported here: if it is not already imported, ``obj`` cannot
    be a Keras object. With ``required=True`` a mismatch raises
    :class:`dynalyze.errors.UnsupportedModelError`; otherwise it returns None.
    """
    cls = _keras_class(cell_class)
    cell: Any = getattr(obj, "cell", obj)
    if cls is not None and isinstance(cell, cls):
        if not getattr(cell, "built", False):
            raise UnsupportedModelError(
                f"The {cell_class} is not built (it has no weights yet). Build it first, "
                "e.g. by calling the model or layer on one batch of inputs."
            )
        return cell
    if required:
        raise UnsupportedModelError(
            f"Expected a Keras {cell_class} or a layer holding one; got {type(obj).__name__}."
        )
    return None


def has_stock_call(cell: object, cell_class: str) -> bool:
    """Whether ``cell`` computes with Keras's own ``cell_class.call``.

    A user subclass that overrides ``call`` changes the math, so the analytic
    systems must not claim it (the generic autodiff system wraps it instead).
    """
    cls = _keras_class(cell_class)
    return cls is not None and getattr(type(cell), "call", None) is getattr(cls, "call", None)


def activations_supported(cell: Any, attributes: tuple[str, ...]) -> bool:
    """Whether every activation ``cell.<attribute>`` has an analytic float64 implementation."""
    from dynalyze.systems.activations import get_activation, keras_activation_name

    try:
        for attribute in attributes:
            get_activation(keras_activation_name(getattr(cell, attribute)))
    except UnsupportedModelError:
        return False
    return True


def stock_keras_cell(obj: object, cell_class: str, activations: tuple[str, ...]) -> Any:
    """The built, unmodified Keras ``cell_class`` held by ``obj`` with supported activations.

    Returns None when an analytic system should not claim ``obj`` (another cell
    class, a subclass overriding ``call``, or an activation dynalyze does not
    implement): the generic autodiff system wraps it instead.
    """
    cell = keras_cell_of(obj, cell_class)
    if cell is None or not has_stock_call(cell, cell_class):
        return None
    return cell if activations_supported(cell, activations) else None


def box(intervals: list[tuple[float, float]], sizes: list[int]) -> tuple[Any, Any] | None:
    """Per-unit (lower, upper) arrays from one interval per state component; None if unbounded."""
    lower = np.concatenate(
        [np.full(n, lo, dtype=np.float64) for (lo, _), n in zip(intervals, sizes, strict=True)]
    )
    upper = np.concatenate(
        [np.full(n, hi, dtype=np.float64) for (_, hi), n in zip(intervals, sizes, strict=True)]
    )
    if np.all(np.isinf(lower)) and np.all(np.isinf(upper)):
        return None
    return lower, upper


def keras_weight(cell: Any, attribute: str) -> Any:
    """The NumPy value of the Keras weight ``cell.<attribute>`` (None if absent)."""
    variable = getattr(cell, attribute, None)
    if variable is None:
        return None
    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)
