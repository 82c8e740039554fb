"""The dynamics at one input: the stages of a line-attractor analysis that depend on it.

A line-attractor analysis looks at the map ``F(h, x)`` at a constant input: the
network's baseline input ``x_b`` (:mod:`dynalyze.baseline`), and beside it the
paper's literal ``x = 0``. What changes with that input is a *view*:

1. **Search**: approximate fixed points from visited states, each search frozen
   at the paper's criterion ``||F(h, x) - h||^2 / N < 1e-8``.
2. **Acceptance**: the unique candidates that meet it.
3. **Structure** (:mod:`dynalyze.analyses.line_attractor.structure`): distinct clusters, their
   exact roots and stability.
4. **Candidate geometry**: the accepted points' own PCA, 1-D coordinate, tangents.
5. **Cluster modes**: the top right eigenvector at each root against the
   manifold axis and the readout.
6. **Profile** (:mod:`dynalyze.analyses.line_attractor.manifold`): speed, drift over a
   document and slow modes slice by slice.

:func:`dynamics_view` runs these stages on a system seen at the view's input
(:class:`~dynalyze.systems.shifted.InputShiftedSystem`) and returns their
variables, named as in the ``line_attractor`` schema, so the same readers
(:func:`~dynalyze.analyses.line_attractor.mechanism.mechanism`, the report) work on either.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
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
from dynalyze.analyses.geometry import abs_cosine, local_tangents, oriented_top_mode, pca
from dynalyze.analyses.line_attractor.manifold import ManifoldProfile, manifold_profile, slow_ranges
from dynalyze.analyses.line_attractor.structure import (
    FixedPointStructure,
    ManifoldAxis,
    fixed_point_structure,
)
from dynalyze.baseline import BaselineInput
from dynalyze.fixedpoints.base import AT_BOUNDS, FAILED, SLOW_MANIFOLD, SLOW_POINT, STALLED
from dynalyze.fixedpoints.selection import unique_fixed_points
from dynalyze.linearization import eigendecompose
from dynalyze.systems.base import RecurrentSystem
from dynalyze.systems.shifted import at_input

__all__ = [
    "DynamicsView",
    "View",
    "accepted_candidates",
    "dynamics_view",
    "median",
    "middle_half",
]


@attrs.frozen(kw_only=True)
class View:
    """How a view measures the structure and the slow manifold (part of a LineAttractor).

    Parameters
    ----------
    link_fraction : float
        Accepted candidates closer than this fraction of the line's extent are
        one cluster (single linkage).
    n_roots : int
        Visited states from which exact roots are searched (full Newton).
    n_bins : int
        Slices of the manifold profile.
    n_profile_starts : int
        Visited states relaxed for the profile.
    settle_steps : int
        Steps at the view's input before the drift over a document is measured.
    drift_tolerance : float
        A slice is slow when the view's input moves it by less than this
        fraction of the line's extent over a median-length document (and it has
        a mode that keeps evidence over a document).
    n_modes : int
        Eigenmodes kept per cluster and slice (all are used for the statistics).
    tangent_neighbours : int
        Neighbours in the local PCA that gives the manifold tangent.

    Examples
    --------
    >>> View().n_bins, View(n_bins=10).drift_tolerance
    (40, 0.1)
    """

    link_fraction: float = attrs.field(default=0.05, validator=attrs_positive)
    n_roots: int = attrs.field(default=256, validator=attrs_positive_int)
    n_bins: int = attrs.field(default=40, validator=attrs_positive_int)
    n_profile_starts: int = attrs.field(default=2000, validator=attrs_positive_int)
    settle_steps: int = attrs.field(default=10, validator=attrs_non_negative)
    drift_tolerance: float = attrs.field(default=0.1, validator=attrs_positive)
    n_modes: int = attrs.field(default=10, validator=attrs_positive_int)
    tangent_neighbours: int = attrs.field(default=10, validator=attrs_positive_int)


@attrs.frozen
class DynamicsView:
    """The dynamics at one input: fixed points, structure, profile and their variables.

    Parameters
    ----------
    baseline : BaselineInput
        The input of the view.
    system : RecurrentSystem
        The system seen at that input (its zero input is the baseline).
    fixed_points : xarray.Dataset
        Every search (``fixed_point_input`` holds the baseline).
    accepted : xarray.Dataset
        The unique candidates meeting the criterion.
    structure : FixedPointStructure
        Distinct fixed points and slow regions.
    profile : ManifoldProfile
        The manifold profile.
    variables : dict
        Schema-named variables of every stage.

    Examples
    --------
    The view of a leaky unit ``h' = 0.5 h + x`` at the input ``x_b = 1``: one stable
    root at ``h = 2``, and its dataset.

    >>> from dynalyze.analyses.line_attractor.structure import manifold_axis
    >>> from dynalyze.baseline import resolve_baseline
    >>> from dynalyze.fixedpoints import LevenbergMarquardtFinder
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2)[:1], np.diag([0.5, 0.2]), np.zeros(2),
    ...                          activation="linear")
    >>> visited = np.c_[np.linspace(1.0, 3.0, 101), np.zeros(101)]
    >>> settings = View(n_roots=16, n_bins=5, n_profile_starts=100, settle_steps=0,
    ...                 n_modes=2, tangent_neighbours=5)
    >>> view = dynamics_view(system, resolve_baseline([1.0], input_dim=1),
    ...     search=lambda s, v, x: LevenbergMarquardtFinder().find(s, v[::10], x),
    ...     visited=visited, axis=manifold_axis(visited, [1.0, 0.0]),
    ...     readout=np.array([1.0, 0.0]), doc_length=10, settings=settings)
    >>> view.structure.state.round(9).tolist(), view.structure.describe()[0]["stability"]
    ([[2.0, 0.0]], 'stable')
    >>> ds = view.dataset({}, {})
    >>> ds.attrs["dynalyze_kind"], int(ds["baseline_kind"])
    ('line_attractor_view', 2)
    """

    baseline: BaselineInput
    system: RecurrentSystem
    fixed_points: xr.Dataset
    accepted: xr.Dataset
    structure: FixedPointStructure
    profile: ManifoldProfile
    variables: dict[str, Any]

    def dataset(self, coords: dict[str, Any], provenance: dict[str, Any]) -> xr.Dataset:
        """The view as a ``line_attractor_view`` dataset."""
        from dynalyze.results.build import make_dataset

        keep = {k: v for k, v in self.variables.items() if k not in _MAIN_ONLY}
        return make_dataset(
            "line_attractor_view",
            keep,
            {
                **coords,
                "fixed_point": self.accepted["fixed_point"].values,
                "cluster": np.arange(self.structure.n_rows),
                "manifold_position": self.profile.position,
            },
            provenance=provenance,
            title=f"dynalyze line-attractor view at {self.baseline.kind} input",
        )


#: Per-candidate variables the main dataset carries but a view does not need.
_MAIN_ONLY = frozenset({"manifold_tangent"})

Search = Callable[[RecurrentSystem, FloatArray, FloatArray], xr.Dataset]
Clock = Callable[[str], AbstractContextManager[None]]


def dynamics_view(
    system: RecurrentSystem,
    baseline: BaselineInput,
    *,
    search: Search,
    visited: FloatArray,
    axis: ManifoldAxis,
    readout: FloatArray,
    doc_length: int,
    settings: View,
    criterion: float = 1e-8,
    seed: int = 0,
    fixed_points: xr.Dataset | None = None,
    clock: Clock | None = None,
    label: str = "",
) -> DynamicsView:
    """Run the input-dependent stages at ``baseline`` (see the module docstring).

    Parameters
    ----------
    system : RecurrentSystem
        The network's own map ``F(h, x)``.
    baseline : BaselineInput
        The input to analyse it at.
    search : callable
        ``search(system, visited, x_b)`` -> a fixed-points dataset (the finder).
    visited : ndarray, shape (n, d)
        A uniform sample of visited states.
    axis : ManifoldAxis
        The manifold coordinate (PC1 of the visited states).
    readout : ndarray, shape (d,)
        Readout weights.
    doc_length : int
        Median document length (steps of the drift).
    settings : View
        Structure and profile options.
    criterion : float
        The paper's acceptance criterion on ``||F(h, x_b) - h||^2 / N``.
    seed : int
        Seed of the root searches and the profile's starts.
    fixed_points : xarray.Dataset, optional
        Searches already made at this input (skips the search).
    clock : callable, optional
        ``clock(name)`` context manager timing each stage.
    label : str
        Suffix of the stage names in the timings.

    Returns
    -------
    DynamicsView

    Examples
    --------
    A bistable unit beside a fast one, viewed at zero input:

    >>> from dynalyze.baseline import resolve_baseline
    >>> from dynalyze.analyses.line_attractor.structure import manifold_axis
    >>> from dynalyze.fixedpoints import LevenbergMarquardtFinder
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2)[:1], np.diag([1.05, 0.3]), np.zeros(2))
    >>> visited = np.c_[np.linspace(-0.5, 0.5, 201), np.zeros(201)]
    >>> settings = View(n_roots=64, n_bins=10, n_profile_starts=200, settle_steps=0,
    ...                 n_modes=2, tangent_neighbours=5)
    >>> view = dynamics_view(system, resolve_baseline("zero", input_dim=1),
    ...     search=lambda s, v, x: LevenbergMarquardtFinder().find(s, v[::10], x),
    ...     visited=visited, axis=manifold_axis(visited, [1.0, 0.0]), readout=np.array([1.0, 0.0]),
    ...     doc_length=20, settings=settings)
    >>> [row["stability"] for row in view.structure.describe()]
    ['stable', 'saddle', 'stable']
    """
    timer: Clock = clock if clock is not None else (lambda _name: nullcontext())
    suffix = f" ({label})" if label else ""
    shifted = at_input(system, baseline.vector)
    if fixed_points is None:
        with timer(f"fixed points{suffix}"):
            fixed_points = search(system, visited, baseline.vector)
    accepted = accepted_candidates(fixed_points, criterion)
    fps = accepted["fixed_point_state"].values
    variables: dict[str, Any] = dict(baseline.variables())
    variables.update(_stage_acceptance(fixed_points, accepted))
    with timer(f"fixed-point structure{suffix}"):
        structure = fixed_point_structure(
            shifted,
            fps,
            visited,
            axis,
            link_fraction=settings.link_fraction,
            n_roots=settings.n_roots,
            n_eigenvalues=settings.n_modes,
            seed=seed,
        )
    variables.update(_stage_candidate_geometry(fps, visited, settings.tangent_neighbours))
    variables.update(_stage_structure(structure, axis, readout, doc_length))
    variables.update(_stage_cluster_modes(shifted, structure, readout, axis))
    with timer(f"manifold profile{suffix}"):
        profile = manifold_profile(
            shifted,
            visited,
            axis,
            readout=readout,
            doc_length=doc_length,
            n_bins=settings.n_bins,
            n_starts=settings.n_profile_starts,
            settle_steps=settings.settle_steps,
            drift_tolerance=settings.drift_tolerance,
            n_modes=settings.n_modes,
            seed=seed + 2,
        )
    variables.update(_stage_profile(profile, axis))
    return DynamicsView(baseline, shifted, fixed_points, accepted, structure, profile, variables)


def accepted_candidates(fixed_points: xr.Dataset, criterion: float) -> xr.Dataset:
    """Unique candidates (not duplicate/outlier) meeting the criterion on the recomputed speed.

    The criterion is the paper's, on ``||F(h, x) - h||^2 / N``.

    Examples
    --------
    >>> from dynalyze.fixedpoints import find_fixed_points
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), 0.5 * np.eye(2), activation="linear")
    >>> found = find_fixed_points(system, np.ones((4, 2)))
    >>> int(accepted_candidates(found, 1e-8).sizes["fixed_point"])
    1
    """
    n_state = fixed_points.sizes["state"]
    unique = unique_fixed_points(fixed_points)
    keep = 2.0 * unique["speed"].values / n_state < criterion
    return unique.isel(fixed_point=np.flatnonzero(keep))


def _stage_acceptance(fixed_points: xr.Dataset, accepted: xr.Dataset) -> dict[str, Any]:
    """Counts of candidates, the accepted ones and how the other searches ended."""
    n_state = fixed_points.sizes["state"]
    status = fixed_points["status"].values
    return {
        "n_candidates": int(fixed_points.sizes["fixed_point"]),
        "n_accepted": int(accepted.sizes["fixed_point"]),
        "n_slow_point_searches": int(np.sum(status == SLOW_POINT)),
        "n_slow_manifold_searches": int(np.sum(status == SLOW_MANIFOLD)),
        "n_unsettled_searches": int(np.isin(status, (FAILED, STALLED, AT_BOUNDS)).sum()),
        "fixed_point_state": accepted["fixed_point_state"].values,
        "normalized_speed": 2.0 * accepted["speed"].values / n_state,
    }


def _stage_candidate_geometry(
    fps: FloatArray, visited: FloatArray, neighbours: int
) -> dict[str, Any]:
    """The accepted candidates' own PCA, 1-D coordinate, tangents and coverage."""
    n_acc, n_state = fps.shape
    coverage, groups = float("nan"), n_acc
    if n_acc >= 2:
        fp_pca = pca(fps)
        ratio = fp_pca.explained_variance_ratio
        coordinate = fp_pca.transform(fps, 1)[:, 0]
        tangent = local_tangents(fps, neighbours, reference=fp_pca.components[0])
        coverage, groups = _coverage(coordinate, fp_pca.transform(visited, 1)[:, 0])
    else:
        ratio = np.full(n_state, np.nan)
        coordinate = np.zeros(n_acc)
        tangent = np.full((n_acc, n_state), np.nan)
    return {
        "manifold_coverage": coverage,
        "n_fixed_point_groups": groups,
        "fixed_point_variance_ratio": ratio,
        "fixed_point_pc1_variance": float(ratio[0]),
        "manifold_coordinate": coordinate,
        "manifold_tangent": tangent,
    }


def _stage_structure(
    structure: FixedPointStructure, axis: ManifoldAxis, readout: FloatArray, doc_length: int
) -> dict[str, Any]:
    """The distinct fixed points, their roots and stability, and the manifold axis."""
    out: dict[str, Any] = {
        "readout_weight": readout,
        "manifold_axis": axis.direction,
        "manifold_axis_mean": axis.mean,
        "manifold_extent": axis.extent,
        "manifold_low": axis.lo,
        "manifold_high": axis.hi,
        "manifold_visited_low": axis.low_edge,
        "manifold_visited_high": axis.high_edge,
        "manifold_pc1_variance": axis.pc1_variance,
        "manifold_curvature": axis.curvature_variance,
        "median_document_length": int(doc_length),
        "cluster_link_distance": structure.link,
        "cluster_kind": structure.kind,
        "cluster_size": structure.size,
        "cluster_n_roots": structure.n_roots,
        "cluster_position": structure.position,
        "cluster_position_low": structure.position_low,
        "cluster_position_high": structure.position_high,
        "cluster_state": structure.state,
        "cluster_root_distance": structure.root_distance,
        "cluster_normalized_speed": structure.normalized_speed,
        "cluster_eigenvalue": structure.eigenvalues,
        "cluster_is_stable": structure.is_stable.astype(np.int8),
        "cluster_stability": structure.stability,
        "cluster_n_unstable_modes": structure.n_unstable_modes,
        "fixed_point_cluster": structure.member,
    }
    out.update(structure.counts())
    return out


def _stage_cluster_modes(
    system: RecurrentSystem, structure: FixedPointStructure, readout: FloatArray, axis: ManifoldAxis
) -> dict[str, Any]:
    """Top right eigenvector at each structure row, aligned with the axis and the readout.

    At a stable point r1 is compared with the manifold axis (the local tangent of
    accepted candidates inside a tight cluster is noise, not the line).
    """
    if not structure.n_rows:
        empty = np.zeros(0)
        return {
            "cluster_alignment_r1_axis": empty,
            "cluster_alignment_readout_r1": empty,
            "stable_median_alignment_r1_tangent": float("nan"),
            "stable_median_alignment_readout_r1": float("nan"),
        }
    _, rvec, lvec = eigendecompose(system.jacobian_state(structure.state))
    r1, _, _ = oriented_top_mode(rvec[:, :, 0], lvec[:, 0, :], readout)
    a_axis = abs_cosine(r1, axis.direction)
    a_read = abs_cosine(r1, readout)
    stable = structure.is_stable & (structure.kind != 3)
    return {
        "cluster_alignment_r1_axis": a_axis,
        "cluster_alignment_readout_r1": a_read,
        "stable_median_alignment_r1_tangent": median(a_axis[stable]),
        "stable_median_alignment_readout_r1": median(a_read[stable]),
    }


def _stage_profile(profile: ManifoldProfile, axis: ManifoldAxis) -> dict[str, Any]:
    """The manifold profile on the ``manifold_position`` dimension and its summary."""
    out: dict[str, Any] = {
        "manifold_density": profile.density,
        "manifold_state": profile.state,
        "manifold_normalized_speed": profile.normalized_speed,
        "manifold_axial_speed": profile.axial_speed,
        "manifold_drift": profile.drift,
        "manifold_eigenvalue": profile.eigenvalues,
        "manifold_time_constant": profile.time_constants,
        "manifold_slow_dim": profile.slow_dim,
        "manifold_token_gain": profile.token_gain,
        "manifold_readout_slow_alignment": profile.readout_alignment,
        "manifold_tangent_slow_alignment": profile.tangent_alignment,
        "manifold_is_slow": profile.is_slow.astype(np.int8),
        "manifold_inside": profile.inside.astype(np.int8),
        "drift_tolerance": profile.drift_tolerance,
        "middle_drift_per_document": median(profile.drift[middle_half(profile, axis)]),
    }
    out.update(profile.summary())
    out["n_slow_ranges"] = len(slow_ranges(profile))
    return out


def middle_half(profile: ManifoldProfile, axis: ManifoldAxis) -> np.ndarray:
    """Valid slices whose centre lies in the middle half of the 5th-95th percentile range.

    Examples
    --------
    >>> from dynalyze.analyses.line_attractor.structure import manifold_axis
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2)[:1], np.diag([1.0, 0.3]), np.zeros(2),
    ...                          activation="linear")
    >>> visited = np.c_[np.linspace(-1, 1, 400), np.zeros(400)]
    >>> axis = manifold_axis(visited)
    >>> profile = manifold_profile(system, visited, axis, readout=[1.0, 0.0], doc_length=5,
    ...                            n_bins=8, settle_steps=0)
    >>> middle_half(profile, axis).sum()
    np.int64(4)
    """
    quarter = 0.25 * (axis.hi - axis.lo)
    inside = (profile.position >= axis.lo + quarter) & (profile.position <= axis.hi - quarter)
    out: np.ndarray = profile.valid & inside
    return out


def _coverage(coordinate: FloatArray, visited: FloatArray) -> tuple[float, int]:
    """How much of the visited states' extent along the manifold the fixed points tile.

    The extent is the 5th-95th percentile range of the visited states' coordinates
    along the fixed points' first PC, cut into 100 cells; a cell is covered when a
    fixed point lies within 2% of the extent of its centre. Fixed points are in
    separate groups where consecutive coordinates are more than 5% of the extent
    apart.
    """
    lo, hi = np.percentile(visited, [5, 95])
    extent = max(float(hi - lo), 1e-12)
    centres = lo + (np.arange(100) + 0.5) * extent / 100
    nearest = np.min(np.abs(centres[:, None] - coordinate[None, :]), axis=1)
    ordered = np.sort(coordinate)
    groups = 1 + int(np.sum(np.diff(ordered) > 0.05 * extent))
    return float(np.mean(nearest <= 0.02 * extent)), groups


def median(values: Any) -> float:
    """Median of the finite values (NaN when there are none).

    Examples
    --------
    >>> median([1.0, np.nan, 3.0]), median([])
    (2.0, nan)
    """
    array = np.asarray(values, dtype=np.float64)
    array = array[~np.isnan(array)]
    return float(np.median(array)) if array.size else float("nan")
