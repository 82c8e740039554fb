"""Fixed-point finding: finders, seeding, deduplication and outliers."""

from __future__ import annotations

from typing import Any

import xarray as xr
from numpy.typing import ArrayLike

from dynalyze.errors import ConfigurationError
from dynalyze.fixedpoints.adam import AdamFinder
from dynalyze.fixedpoints.base import FixedPointFinder, SolverOutput
from dynalyze.fixedpoints.continuation import Continuation, continue_fixed_points
from dynalyze.fixedpoints.levenberg_marquardt import LevenbergMarquardtFinder
from dynalyze.fixedpoints.seeding import sample_initial_states
from dynalyze.fixedpoints.selection import deduplicate, outlier_mask, unique_fixed_points
from dynalyze.systems.base import RecurrentSystem

__all__ = [
    "AdamFinder",
    "Continuation",
    "FixedPointFinder",
    "LevenbergMarquardtFinder",
    "SolverOutput",
    "continue_fixed_points",
    "deduplicate",
    "find_fixed_points",
    "outlier_mask",
    "sample_initial_states",
    "unique_fixed_points",
]

FINDERS: dict[str, type[FixedPointFinder]] = {
    LevenbergMarquardtFinder.method: LevenbergMarquardtFinder,
    AdamFinder.method: AdamFinder,
}


def make_finder(method: str = "lm", **options: Any) -> FixedPointFinder:
    """Construct a finder by method name (``"lm"`` or ``"adam"``) and options."""
    try:
        cls = FINDERS[method]
    except KeyError:
        raise ConfigurationError(
            f"Unknown fixed-point method {method!r}; choose one of {sorted(FINDERS)}."
        ) from None
    import attrs

    valid = {f.name for f in attrs.fields(cls)}
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ConfigurationError(
            f"Unknown option(s) {unknown} for {cls.__name__}; valid options: {sorted(valid)}."
        )
    return cls(**options)


def find_fixed_points(
    system: RecurrentSystem,
    initial_states: ArrayLike,
    inputs: ArrayLike | None = None,
    *,
    method: str = "lm",
    **options: Any,
) -> xr.Dataset:
    """Find fixed points with the default (Levenberg-Marquardt) finder.

    Parameters
    ----------
    system : RecurrentSystem
        The map, e.g. from :func:`dynalyze.wrap`.
    initial_states : array_like, shape (n, state_dim)
        Starting points, e.g. from :func:`sample_initial_states`.
    inputs : array_like, optional
        ``None`` (zero input), one shared vector, or one input per point.
    method : {"lm", "adam"}
        Finder to use; ``"adam"`` is the first-order reference.
    **options
        Fields of the finder class (``tol``, ``max_iter``, ``dedup_tol``,
        ``outlier_scale``, ``progress``...).

    Returns
    -------
    xarray.Dataset
        One entry per initial state with ``fixed_point_state``, ``speed``,
        ``status``, ``iterations``, ``is_duplicate``, ``is_outlier``...

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), 0.5 * np.eye(2), np.ones(2),
    ...                          activation="linear")
    >>> ds = find_fixed_points(system, np.zeros((3, 2)))
    >>> ds["fixed_point_state"].values[0].round(9).tolist()
    [2.0, 2.0]
    >>> int(unique_fixed_points(ds).sizes["fixed_point"])
    1
    """
    return make_finder(method, **options).find(system, initial_states, inputs)
