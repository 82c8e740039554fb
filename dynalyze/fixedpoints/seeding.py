"""Initial states for fixed-point searches, sampled from visited states."""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from dynalyze._validation import (
    FloatArray,
    as_float_array,
    check_finite,
    non_negative,
    positive_int,
)
from dynalyze.errors import InputShapeError

__all__ = ["sample_initial_states"]


def sample_initial_states(
    states: ArrayLike | xr.DataArray,
    n: int,
    *,
    noise: float = 0.0,
    seed: int = 0,
    mask: ArrayLike | None = None,
) -> FloatArray:
    """Sample ``n`` initial states among visited states, optionally with noise.

    Parameters
    ----------
    states : array_like or xarray.DataArray
        Visited states: ``(m, state_dim)``, or trajectories ``(examples, time,
        state_dim)`` (any leading dimensions are flattened; the last one is the
        state).
    n : int
        Number of initial states. Sampled without replacement when there are at
        least ``n`` visited states, with replacement otherwise.
    noise : float
        Standard deviation of isotropic Gaussian noise added to each sample.
    seed : int
        Seed of the random generator; the same seed gives the same samples.
    mask : array_like of bool, optional
        Same shape as ``states`` without the last axis; only states where it is
        true are eligible (e.g. to exclude padding). For a DataArray with a
        ``mask`` coordinate that is used by default.

    Returns
    -------
    ndarray, shape (n, state_dim)

    Examples
    --------
    >>> trajectories = np.arange(24.0).reshape(2, 3, 4)
    >>> sample_initial_states(trajectories, 2, seed=0).shape
    (2, 4)
    """
    positive_int("n", n)
    non_negative("noise", noise)
    if isinstance(states, xr.DataArray):
        if mask is None and "mask" in states.coords:
            mask = states.coords["mask"].values
        values = as_float_array(states.values, "states")
    else:
        values = as_float_array(states, "states")
    if values.ndim < 2:
        raise InputShapeError(
            f"states must have shape (m, state_dim) or (examples, time, state_dim); got "
            f"shape {values.shape}."
        )
    flat = values.reshape(-1, values.shape[-1])
    if mask is not None:
        keep = np.asarray(mask, dtype=bool)
        if keep.shape != values.shape[:-1]:
            raise InputShapeError(
                f"mask must have shape {values.shape[:-1]} (states without the last axis); "
                f"got {keep.shape}."
            )
        flat = flat[keep.reshape(-1)]
    if flat.shape[0] == 0:
        raise InputShapeError("No visited states to sample from (empty array or all masked).")
    check_finite(flat, "states")
    rng = np.random.default_rng(seed)
    idx = rng.choice(flat.shape[0], size=n, replace=flat.shape[0] < n)
    out = flat[idx].copy()
    if noise > 0:
        out += rng.normal(scale=noise, size=out.shape)
    return out
