"""Helpers for building systems from weight arrays (NumPy only)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from dynalyze._validation import FloatArray, as_float_array, check_finite
from dynalyze.errors import InputShapeError

__all__ = ["as_weight", "box", "optional_bias"]


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
