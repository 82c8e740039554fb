"""Which fixed points a network has: distinct clusters, their exact roots and stability.

The paper's acceptance rule (``||F(h, 0) - h||^2 / N < 1e-8``, each search
frozen as soon as it passes) leaves hundreds of "approximate fixed points"
that are really a few tight clusters, each stopped at the criterion some way
from the exact root it surrounds, or spread along a slow region with no root.
Pooling them into medians hides a saddle among stable points. This module
states the structure instead:

1. **Manifold axis** (:func:`manifold_axis`): the first principal component of
   the visited states, oriented so the readout increases along it. The extent
   of the line is the 5th-95th percentile range of the visited states on it.
2. **Clusters** (:func:`fixed_point_structure`): accepted candidates are joined
   by single linkage when closer than ``link_fraction`` (default 5%) of that
   extent (Euclidean distance in the full state space).
3. **Exact roots**: full Newton (Levenberg-Marquardt) from the slowest member of
   each cluster, from the two ends of its span, and from ``n_roots`` visited
   states. Converged roots closer than the link distance are one root group;
   a group spanning more than twice the link distance is a *continuum* (a line
   or plane of exact fixed points).
4. **Matching**: a cluster owns the root group nearest to it when one lies within
   the link distance of a member. A cluster with a root is a *fixed point*
   (kind 0), without one a *slow region* (kind 1), a cluster on a continuum a
   *continuum* (kind 2). Root groups no cluster owns are *isolated roots*
   (kind 3): exact fixed points the paper's criterion did not tile (often
   beyond the visited range).
5. **Stability** at each representative (the root, or the slowest member of a
   slow region) by FixedPointFinder's convention: stable iff every
   ``|lambda| < 1``; any ``|lambda| > 1 + marginal_tol`` makes it unstable, a
   saddle when some modes still decay.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike
from scipy.cluster.hierarchy import fcluster, linkage

from dynalyze._validation import FloatArray
from dynalyze.errors import DataError
from dynalyze.linearization import eigendecompose, is_stable, stability_class
from dynalyze.systems.base import RecurrentSystem

__all__ = [
    "CLUSTER_KINDS",
    "FixedPointStructure",
    "ManifoldAxis",
    "fixed_point_structure",
    "link_clusters",
    "manifold_axis",
]

#: Kind of a row of the fixed-point structure.
CLUSTER_KINDS = {0: "fixed_point", 1: "slow_region", 2: "continuum", 3: "isolated_root"}


@attrs.frozen
class ManifoldAxis:
    """A 1-D coordinate for the states' manifold: their first principal component.

    Parameters
    ----------
    mean : ndarray, shape (d,)
        Mean visited state.
    direction : ndarray, shape (d,)
        Unit first principal direction, signed so the readout increases along it.
    lo, hi : float
        5th and 95th percentiles of the visited states' coordinates.
    low_edge, high_edge : float
        1st and 99th percentiles (the range profiled along the manifold).
    pc1_variance : float
        Fraction of the visited states' variance along the axis.
    curvature_variance : float
        Fraction of the off-axis variance explained by the mean off-axis position
        in 40 slices along the axis: near 0 for a straight line, near 1 for a
        curved one (then PC1 is only a projection of the curve).

    Examples
    --------
    >>> import numpy as np
    >>> axis = manifold_axis(np.c_[np.linspace(0.0, 2.0, 5), np.zeros(5)], readout=[1.0, 0.0])
    >>> axis.direction.tolist(), round(axis.extent, 6)  # 5th-95th percentile range
    ([1.0, 0.0], 1.8)
    """

    mean: FloatArray
    direction: FloatArray
    lo: float
    hi: float
    low_edge: float
    high_edge: float
    pc1_variance: float
    curvature_variance: float

    @property
    def extent(self) -> float:
        """Length of the 5th-95th percentile range of the visited states on the axis."""
        return max(self.hi - self.lo, 1e-12)

    def coordinate(self, states: ArrayLike) -> FloatArray:
        """Position of ``states`` along the axis."""
        out: FloatArray = (np.asarray(states, dtype=np.float64) - self.mean) @ self.direction
        return out


def manifold_axis(visited: ArrayLike, readout: ArrayLike | None = None) -> ManifoldAxis:
    """The first principal component of the visited states as the manifold's coordinate.

    Parameters
    ----------
    visited : array_like, shape (n, d)
        Visited states (a uniform sample).
    readout : array_like, shape (d,), optional
        Readout weights; the axis is signed so the readout increases along it.

    Returns
    -------
    ManifoldAxis

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> states = np.c_[rng.uniform(-1, 1, 500), 0.01 * rng.normal(size=500)]
    >>> axis = manifold_axis(states, readout=[-1.0, 0.0])
    >>> np.abs(axis.direction.round(2)).tolist(), round(axis.pc1_variance, 3)
    ([1.0, 0.0], 1.0)
    >>> bool(axis.direction[0] < 0)  # the readout increases along the axis
    True
    """
    points = np.asarray(visited, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] < 3:
        raise DataError(
            f"manifold_axis needs at least 3 visited states as an (n, d) array; got shape "
            f"{points.shape}."
        )
    mean = points.mean(axis=0)
    centred = points - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    direction = vt[0]
    if readout is not None and float(np.dot(direction, np.asarray(readout, float))) < 0:
        direction = -direction
    total = float(np.sum(s**2))
    pc1 = float(s[0] ** 2 / total) if total > 0 else 1.0
    coord = centred @ direction
    off = centred - np.outer(coord, direction)
    off_var = float(np.sum(off**2))
    curvature = 0.0
    if off_var > 0:
        edges = np.quantile(coord, np.linspace(0, 1, 41))
        which = np.clip(np.searchsorted(edges, coord, side="right") - 1, 0, 39)
        explained = 0.0
        for b in np.unique(which):
            sel = which == b
            explained += float(sel.sum() * np.sum(off[sel].mean(axis=0) ** 2))
        curvature = explained / off_var
    lo, hi = np.percentile(coord, [5, 95])
    low_edge, high_edge = np.percentile(coord, [1, 99])
    return ManifoldAxis(
        mean,
        direction,
        float(lo),
        float(hi),
        float(low_edge),
        float(high_edge),
        pc1,
        float(curvature),
    )


def link_clusters(points: ArrayLike, link: float) -> np.ndarray:
    """Single-linkage cluster labels (0, 1, ...) of ``points`` joined below distance ``link``.

    Labels are numbered in order of first appearance.

    Examples
    --------
    >>> link_clusters([[0.0], [0.1], [0.2], [5.0]], 0.15).tolist()
    [0, 0, 0, 1]
    """
    x = np.asarray(points, dtype=np.float64)
    if x.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    if x.shape[0] == 1:
        return np.zeros(1, dtype=np.int64)
    raw = fcluster(linkage(x, method="single"), t=link, criterion="distance")
    _, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return np.asarray(rank[inverse], dtype=np.int64)


@attrs.frozen
class FixedPointStructure:
    """The distinct fixed points / slow regions of a system, sorted along the manifold.

    Every attribute is an array over rows (``cluster``) except the scalars.

    Parameters
    ----------
    kind : ndarray of int8
        :data:`CLUSTER_KINDS` code.
    size : ndarray of int64
        Accepted candidates in the cluster (0 for an isolated root).
    n_roots : ndarray of int64
        Converged Newton searches that ended in the row's root group.
    position, position_low, position_high : ndarray
        Coordinate of the representative along the manifold axis, and the span
        of the members (and of the roots, for a continuum).
    state : ndarray, shape (rows, d)
        Representative: the exact root, or the slowest member of a slow region.
    root_distance : ndarray
        Distance from the cluster's slowest member to its root (NaN without one).
    normalized_speed : ndarray
        ``||F(h, 0) - h||^2 / N`` at the representative.
    eigenvalues : ndarray, complex, shape (rows, k)
        Leading Jacobian eigenvalues at the representative.
    is_stable : ndarray of bool
        FixedPointFinder's convention: every ``|lambda| < 1``.
    is_unstable : ndarray of bool
        Some ``|lambda| > 1 + marginal_tol``.
    stability : ndarray of int8
        Class with the marginal band: 0 stable, 1 marginal (top ``|lambda|``
        within ``marginal_tol`` of 1), 2 saddle, 3 unstable.
    n_unstable_modes : ndarray of int64
        Modes with ``|lambda| > 1 + marginal_tol``.
    member : ndarray of int64
        Row of each accepted candidate (input order).
    link : float
        Linkage distance used.

    Examples
    --------
    A bistable unit: two stable points and the saddle between them.

    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), np.diag([1.05, 0.3]), np.zeros(2))
    >>> visited = np.c_[np.linspace(-0.5, 0.5, 201), np.zeros(201)]
    >>> accepted = np.array([[-0.37, 0.0], [0.0, 0.0], [0.36, 0.0]])
    >>> structure = fixed_point_structure(system, accepted, visited, manifold_axis(visited))
    >>> structure.n_rows, structure.is_stable.tolist()
    (3, [True, False, True])
    """

    kind: np.ndarray
    size: np.ndarray
    n_roots: np.ndarray
    position: FloatArray
    position_low: FloatArray
    position_high: FloatArray
    state: FloatArray
    root_distance: FloatArray
    normalized_speed: FloatArray
    eigenvalues: np.ndarray
    is_stable: np.ndarray
    is_unstable: np.ndarray
    stability: np.ndarray
    n_unstable_modes: np.ndarray
    member: np.ndarray
    link: float

    @property
    def n_rows(self) -> int:
        """Number of rows (clusters and isolated roots)."""
        return int(self.kind.shape[0])

    def counts(self) -> dict[str, int]:
        """Headline counts: clusters of accepted points, and how many are stable/unstable."""
        clusters = self.kind != 3
        return {
            "n_fixed_point_clusters": int(np.sum(clusters)),
            "n_stable_clusters": int(np.sum(clusters & self.is_stable)),
            "n_unstable_clusters": int(np.sum(clusters & self.is_unstable)),
            "n_marginal_clusters": int(np.sum(clusters & ~self.is_stable & ~self.is_unstable)),
            "n_slow_regions": int(np.sum(self.kind == 1)),
            "n_continua": int(np.sum(self.kind == 2)),
            "n_isolated_roots": int(np.sum(self.kind == 3)),
        }

    def describe(self) -> list[dict[str, Any]]:
        """One plain dict per row (for reports and JSON)."""
        rows = []
        for i in range(self.n_rows):
            eig = self.eigenvalues[i]
            rows.append(
                {
                    "kind": CLUSTER_KINDS[int(self.kind[i])],
                    "size": int(self.size[i]),
                    "position": float(self.position[i]),
                    "position_low": float(self.position_low[i]),
                    "position_high": float(self.position_high[i]),
                    "stability": _label(
                        bool(self.is_stable[i]), bool(self.is_unstable[i]), int(self.stability[i])
                    ),
                    "n_unstable_modes": int(self.n_unstable_modes[i]),
                    "top_eigenvalue_magnitudes": [float(v) for v in np.abs(eig[:3])],
                    "normalized_speed": float(self.normalized_speed[i]),
                    "root_distance": float(self.root_distance[i]),
                }
            )
        return rows


def _label(stable: bool, unstable: bool, stability: int) -> str:
    """Stable / saddle / unstable by FixedPointFinder's convention, 'marginal' in between."""
    if stable:
        return "stable"
    if unstable:
        return "saddle" if stability == 2 else "unstable"
    return "marginal"


def _newton_roots(
    system: RecurrentSystem,
    starts: FloatArray,
    owners: np.ndarray,
    *,
    max_iter: int,
    root_tol: float,
) -> tuple[FloatArray, np.ndarray]:
    """Exact roots of ``F(h, 0) = h`` reached by full Newton (LM) steps from ``starts``,
    with the owner (cluster, or -1) of the start each came from."""
    from dynalyze.fixedpoints import LevenbergMarquardtFinder

    if starts.shape[0] == 0:
        return np.zeros((0, system.state_dim)), np.zeros(0, dtype=np.int64)
    # Each root by its own Newton iteration (no shared factorisations): the recorded roots
    # stay exactly where their starts lead.
    finder = LevenbergMarquardtFinder(
        newton_steps=True,
        tol=root_tol,
        max_iter=max_iter,
        dedup_tol=0.0,
        outlier_scale=None,
        share_radius=0.0,
    )
    found = finder.find(system, starts)
    ok = found["status"].values == 0
    return found["fixed_point_state"].values[ok], np.asarray(owners)[ok]


def fixed_point_structure(
    system: RecurrentSystem,
    accepted: ArrayLike,
    visited: ArrayLike,
    axis: ManifoldAxis,
    *,
    link_fraction: float = 0.05,
    n_roots: int = 256,
    root_tol: float = 1e-20,
    max_iter: int = 200,
    marginal_tol: float = 1e-3,
    n_eigenvalues: int = 3,
    seed: int = 0,
) -> FixedPointStructure:
    """Group accepted fixed-point candidates into distinct clusters and find their roots.

    See the module docstring for the rule.

    Parameters
    ----------
    system : RecurrentSystem
        The map (zero input).
    accepted : array_like, shape (m, d)
        Accepted approximate fixed points.
    visited : array_like, shape (n, d)
        Visited states; ``n_roots`` of them seed the independent root search.
    axis : ManifoldAxis
        The manifold coordinate (its extent sets the link distance).
    link_fraction : float
        Link distance as a fraction of the axis extent.
    n_roots : int
        Visited states from which exact roots are searched.
    root_tol : float
        Newton convergence tolerance on ``q = 1/2 ||F(h) - h||^2``.
    max_iter : int
        Newton iterations per search.
    marginal_tol : float
        ``| |lambda| - 1 | <= marginal_tol`` is marginal.
    n_eigenvalues : int
        Leading eigenvalues kept per row.
    seed : int
        Seed of the choice of visited states.

    Returns
    -------
    FixedPointStructure

    Examples
    --------
    A bistable unit ``h' = tanh(1.05 h)`` beside a fast one: two stable points
    joined through a saddle at the origin.

    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), np.diag([1.05, 0.3]), np.zeros(2))
    >>> visited = np.c_[np.linspace(-0.5, 0.5, 201), np.zeros(201)]
    >>> accepted = np.array([[-0.37, 0.0], [-0.36, 0.0], [0.0, 0.0], [0.36, 0.0]])
    >>> structure = fixed_point_structure(system, accepted, visited, manifold_axis(visited))
    >>> [row["stability"] for row in structure.describe()]
    ['stable', 'saddle', 'stable']
    """
    pts = np.asarray(accepted, dtype=np.float64).reshape(-1, system.state_dim)
    vis = np.asarray(visited, dtype=np.float64).reshape(-1, system.state_dim)
    link = link_fraction * axis.extent
    labels = link_clusters(pts, link)
    n_clusters = int(labels.max()) + 1 if labels.size else 0
    _, speed = _speed(system, pts)

    # Newton starts: the slowest member and the two ends of each cluster, and visited states.
    starts, owner = [], []
    for c in range(n_clusters):
        members = np.flatnonzero(labels == c)
        coord = axis.coordinate(pts[members])
        picks = {
            int(members[np.argmin(speed[members])]),
            int(members[np.argmin(coord)]),
            int(members[np.argmax(coord)]),
        }
        for p in sorted(picks):
            starts.append(pts[p])
            owner.append(c)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(vis.shape[0], size=min(n_roots, vis.shape[0]), replace=False)
    seeds = np.concatenate([np.asarray(starts).reshape(-1, system.state_dim), vis[chosen]])
    owners = np.concatenate([np.asarray(owner, dtype=np.int64), np.full(chosen.size, -1)])
    roots, root_owner = _newton_roots(system, seeds, owners, max_iter=max_iter, root_tol=root_tol)
    root_labels = link_clusters(roots, link)
    n_groups = int(root_labels.max()) + 1 if root_labels.size else 0

    # Match each cluster with a root group: the nearest root Newton reached from the
    # cluster's own members within twice the link distance, else any root within it.
    cluster_group = np.full(n_clusters, -1)
    for c in range(n_clusters):
        members = pts[labels == c]
        if not roots.shape[0]:
            break
        dist = np.min(np.linalg.norm(roots[:, None, :] - members[None, :, :], axis=-1), axis=1)
        own = np.flatnonzero((root_owner == c) & (dist <= 2.0 * link))
        near = own if own.size else np.flatnonzero(dist <= link)
        if near.size:
            cluster_group[c] = root_labels[near[np.argmin(dist[near])]]

    rows: list[dict[str, Any]] = []
    for c in range(n_clusters):
        idx = np.flatnonzero(labels == c)
        member_states = pts[idx]
        coord = axis.coordinate(member_states)
        slowest = member_states[np.argmin(speed[idx])]
        g = cluster_group[c]
        low, high = float(coord.min()), float(coord.max())
        if g >= 0:
            group = roots[root_labels == g]
            continuum = _is_continuum(group, link)
            near = group[np.argmin(np.linalg.norm(group - slowest, axis=1))]
            if continuum:
                gc = axis.coordinate(group)
                low, high = min(low, float(gc.min())), max(high, float(gc.max()))
                near = group[np.argmin(np.abs(gc - np.median(coord)))]
            rows.append(
                {
                    "cluster": c,
                    "kind": 2 if continuum else 0,
                    "size": idx.size,
                    "n_roots": group.shape[0],
                    "state": near,
                    "low": low,
                    "high": high,
                    "root_distance": float(np.linalg.norm(near - slowest)),
                }
            )
        else:
            rows.append(
                {
                    "cluster": c,
                    "kind": 1,
                    "size": idx.size,
                    "n_roots": 0,
                    "state": slowest,
                    "low": low,
                    "high": high,
                    "root_distance": float("nan"),
                }
            )
    for g in range(n_groups):
        if np.any(cluster_group == g):
            continue
        group = roots[root_labels == g]
        gc = axis.coordinate(group)
        continuum = _is_continuum(group, link)
        rep = group[np.argmin(np.abs(gc - np.median(gc)))] if continuum else group[0]
        rows.append(
            {
                "cluster": -1,
                "kind": 2 if continuum else 3,
                "size": 0,
                "n_roots": group.shape[0],
                "state": rep,
                "low": float(gc.min()),
                "high": float(gc.max()),
                "root_distance": float("nan"),
            }
        )
    rows, labels = _merge_continua(
        system, rows, labels, axis, link, marginal_tol, max_iter=max_iter, root_tol=root_tol
    )
    return _assemble(system, rows, axis, labels, link, marginal_tol, n_eigenvalues)


def _merge_continua(
    system: RecurrentSystem,
    rows: list[dict[str, Any]],
    labels: np.ndarray,
    axis: ManifoldAxis,
    link: float,
    marginal_tol: float,
    *,
    max_iter: int,
    root_tol: float,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Join neighbouring marginal roots connected by exact roots into one continuum.

    Two rows adjacent along the axis, both exact roots with a marginal top mode
    (``| |lambda_1| - 1 | <= marginal_tol``), are one continuum when Newton from
    the midpoint of their states converges to a root within the link distance
    of that midpoint: there are exact roots between them too.
    """
    if len(rows) < 2:
        return rows, labels
    labels = labels.copy()
    # Rows carry the cluster label they came from (-1 for isolated roots).
    for i, r in enumerate(rows):
        r.setdefault("cluster", i if r["size"] else -1)
    while True:
        states = np.asarray([r["state"] for r in rows])
        order = np.argsort(axis.coordinate(states), kind="stable")
        rows = [rows[i] for i in order]
        states = states[order]
        values, _, _ = eigendecompose(system.jacobian_state(states))
        top = np.abs(values[:, 0])
        marginal = np.array([r["kind"] != 1 for r in rows], dtype=bool) & (
            np.abs(top - 1.0) <= marginal_tol
        )
        pairs = [i for i in range(len(rows) - 1) if marginal[i] and marginal[i + 1]]
        if not pairs:
            return rows, labels
        mid = 0.5 * (states[pairs] + states[[i + 1 for i in pairs]])
        found = _newton_roots(
            system, mid, np.arange(len(pairs)), max_iter=max_iter, root_tol=root_tol
        )
        joined = np.zeros(len(pairs), dtype=bool)
        for root, which in zip(found[0], found[1], strict=True):
            joined[which] = np.linalg.norm(root - mid[which]) <= link
        if not joined.any():
            return rows, labels
        first = pairs[int(np.flatnonzero(joined)[0])]
        a, b = rows[first], rows[first + 1]
        keep, drop = (a, b) if a["size"] >= b["size"] else (b, a)
        merged = {
            "kind": 2,
            "size": a["size"] + b["size"],
            "n_roots": a["n_roots"] + b["n_roots"],
            "state": keep["state"],
            "low": min(a["low"], b["low"]),
            "high": max(a["high"], b["high"]),
            "root_distance": keep["root_distance"],
            "cluster": keep["cluster"] if keep["cluster"] >= 0 else drop["cluster"],
        }
        if a["cluster"] >= 0 and b["cluster"] >= 0:
            labels[labels == drop["cluster"]] = keep["cluster"]
        rows = [*rows[:first], merged, *rows[first + 2 :]]


def _speed(system: RecurrentSystem, states: FloatArray) -> tuple[FloatArray, FloatArray]:
    if states.shape[0] == 0:
        return np.zeros((0, system.state_dim)), np.zeros(0)
    residual = system.step(states) - states
    return residual, 0.5 * np.einsum("ni,ni->n", residual, residual)


def _is_continuum(group: FloatArray, link: float) -> bool:
    """Roots chained together over more than twice the link distance: a line of roots."""
    if group.shape[0] < 3:
        return False
    centred = group - group.mean(axis=0)
    return float(np.max(np.linalg.norm(centred, axis=1))) > link


def _assemble(
    system: RecurrentSystem,
    rows: list[dict[str, Any]],
    axis: ManifoldAxis,
    labels: np.ndarray,
    link: float,
    marginal_tol: float,
    n_eigenvalues: int,
) -> FixedPointStructure:
    d = system.state_dim
    k = min(n_eigenvalues, d)
    states = np.asarray([r["state"] for r in rows]).reshape(-1, d)
    position = axis.coordinate(states)
    order = np.argsort(position, kind="stable")
    rows = [rows[i] for i in order]
    states, position = states[order], position[order]
    if states.shape[0]:
        values, _, _ = eigendecompose(system.jacobian_state(states))
        stab = stability_class(values, marginal_tol)
        unstable = np.sum(np.abs(values) > 1 + marginal_tol, axis=1)
        stable = is_stable(values)
        _, q = _speed(system, states)
    else:
        values = np.zeros((0, d), dtype=complex)
        stab = np.zeros(0, dtype=np.int8)
        unstable = np.zeros(0, dtype=np.int64)
        stable = np.zeros(0, dtype=bool)
        q = np.zeros(0)
    # Each candidate's row: the row that holds its (possibly merged) cluster.
    renumber = np.full(int(labels.max()) + 1 if labels.size else 0, -1)
    for new, r in enumerate(rows):
        if r["cluster"] >= 0:
            renumber[r["cluster"]] = new
    member = renumber[labels] if labels.size else labels
    return FixedPointStructure(
        kind=np.asarray([r["kind"] for r in rows], dtype=np.int8),
        size=np.asarray([r["size"] for r in rows], dtype=np.int64),
        n_roots=np.asarray([r["n_roots"] for r in rows], dtype=np.int64),
        position=position,
        position_low=np.asarray([r["low"] for r in rows], dtype=np.float64),
        position_high=np.asarray([r["high"] for r in rows], dtype=np.float64),
        state=states,
        root_distance=np.asarray([r["root_distance"] for r in rows], dtype=np.float64),
        normalized_speed=2.0 * q / d,
        eigenvalues=values[:, :k],
        is_stable=np.asarray(stable, dtype=bool),
        is_unstable=np.asarray(unstable, dtype=np.int64) > 0,
        stability=np.asarray(stab, dtype=np.int8),
        n_unstable_modes=np.asarray(unstable, dtype=np.int64),
        member=np.asarray(member, dtype=np.int64),
        link=float(link),
    )
