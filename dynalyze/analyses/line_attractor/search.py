"""How a line-attractor analysis searches for fixed points and accepts candidates.

:class:`Search` is the part of a :class:`~dynalyze.LineAttractor`
configuration that the fixed-point stage owns: the paper's acceptance criterion,
the finder and its budget. :func:`search_fixed_points` and
:func:`accepted_counts` are the stage's pure functions.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import xarray as xr

from dynalyze._validation import (
    FloatArray,
    attrs_non_negative,
    attrs_positive,
    attrs_positive_int,
)
from dynalyze.errors import ConfigurationError
from dynalyze.fixedpoints import FixedPointFinder, LevenbergMarquardtFinder, sample_initial_states
from dynalyze.systems.base import RecurrentSystem

__all__ = ["Search", "accepted_counts", "search_fixed_points"]


def _optional_finder(_instance: Any, _attribute: Any, value: Any) -> None:
    if value is not None and not isinstance(value, FixedPointFinder):
        raise ConfigurationError(
            f"finder must be a dynalyze FixedPointFinder (e.g. LevenbergMarquardtFinder()) or "
            f"None for the paper's criterion; got {type(value).__name__}."
        )


def _thresholds(value: Any) -> tuple[float, ...]:
    return tuple(sorted(float(v) for v in value))


@attrs.frozen(kw_only=True)
class Search:
    """The fixed-point search of a line-attractor analysis.

    Parameters
    ----------
    criterion : float
        The paper's acceptance criterion on ``||F(h, x_b) - h||^2 / N``. With
        the default finder each search is frozen as soon as it meets it, so the
        points stay spread along the slow manifold instead of collapsing onto
        the few exact fixed points.
    finder : FixedPointFinder or None
        The fixed-point finder; ``None``: damped Levenberg-Marquardt steps
        stopped at ``criterion`` (:meth:`finder_for`). Any finder can be plugged
        in; its candidates are still accepted by ``criterion``.
    thresholds : tuple of float
        Other criteria at which the number of candidates is also reported.
    initial_noise : float
        Standard deviation of noise added to the initial states.
    max_iter : int
        Iteration budget per search.
    dedup_tol : float
        Candidates closer than this are duplicates.

    Examples
    --------
    >>> Search().criterion, type(Search().finder_for(4)).__name__
    (1e-08, 'LevenbergMarquardtFinder')
    >>> Search(finder="lm")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.ConfigurationError: finder must be a dynalyze FixedPointFinder ...
    """

    criterion: float = attrs.field(default=1e-8, validator=attrs_positive)
    finder: FixedPointFinder | None = attrs.field(default=None, validator=_optional_finder)
    thresholds: tuple[float, ...] = attrs.field(
        default=(1e-10, 1e-9, 1e-8, 1e-7, 1e-6), converter=_thresholds
    )
    initial_noise: float = attrs.field(default=0.0, validator=attrs_non_negative)
    max_iter: int = attrs.field(default=200, validator=attrs_positive_int)
    dedup_tol: float = attrs.field(default=1e-6, validator=attrs_non_negative)

    def finder_for(self, state_dim: int, *, progress: bool = False) -> FixedPointFinder:
        """The configured finder, or damped LM steps stopped at the paper's criterion."""
        if self.finder is not None:
            return self.finder
        # Damped steps only: a full Newton step would jump along an approximate line
        # attractor to its exact roots instead of stopping where the criterion is met.
        # Longer crawl windows than the finder's: points crawling down to the criterion
        # along the line are what this search collects.
        return LevenbergMarquardtFinder(
            newton_steps=False,
            crawl_window=10,
            tol=0.5 * self.criterion * state_dim,
            max_iter=self.max_iter,
            dedup_tol=self.dedup_tol,
            progress=progress,
        )


def search_fixed_points(
    search: Search,
    system: RecurrentSystem,
    sample: FloatArray,
    inputs: FloatArray,
    *,
    n_initial: int,
    seed: int = 0,
    progress: bool = False,
) -> xr.Dataset:
    """Search from ``n_initial`` of the visited states ``sample`` at the input ``inputs``.

    Examples
    --------
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), 0.5 * np.eye(2), activation="linear")
    >>> ds = search_fixed_points(Search(), system, np.ones((10, 2)), np.zeros(1), n_initial=4)
    >>> ds.sizes["fixed_point"]
    4
    """
    initial = sample_initial_states(sample, n_initial, noise=search.initial_noise, seed=seed)
    return search.finder_for(system.state_dim, progress=progress).find(system, initial, inputs)


def accepted_counts(fixed_points: xr.Dataset, thresholds: tuple[float, ...]) -> list[int]:
    """Candidates (not duplicate / outlier) below each criterion on ``||F(h) - h||^2 / N``.

    Examples
    --------
    >>> from dynalyze.fixedpoints import find_fixed_points
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), 0.5 * np.eye(2), activation="linear")
    >>> accepted_counts(find_fixed_points(system, np.ones((4, 2))), (1e-30, 1e-8))
    [1, 1]
    """
    n_state = fixed_points.sizes["state"]
    normalized = 2.0 * fixed_points["speed"].values / n_state
    eligible = (fixed_points["is_duplicate"].values == 0) & (fixed_points["is_outlier"].values == 0)
    return [int(np.sum(eligible & (normalized < t))) for t in thresholds]
