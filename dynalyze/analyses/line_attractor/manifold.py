"""The slow manifold itself: speed, drift, slow modes and token gain along the line.

Roots alone do not say whether a network integrates along a line: between its
fixed points the states may drift across the line within one document. This
module profiles the continuum the states travel along, on ``n_bins`` slices
of the manifold axis (:class:`~dynalyze.analyses.line_attractor.structure.ManifoldAxis`)
spanning the 1st-99th percentile of the visited states:

The map is taken at its zero input; pass the system seen at the network's
baseline input (:class:`~dynalyze.systems.shifted.InputShiftedSystem`) to
profile the dynamics the network runs.

1. **Settle**: ``n_starts`` visited states are relaxed for ``settle_steps``
   steps at that input, so the fast modes have decayed and they lie on the
   slow manifold.
2. **Drift**: each settled state is run for one median document length
   (``doc_length`` steps) more at that input; its drift is how far it moved
   along the axis, as a fraction of the line's extent. A slice is *slow* (it
   holds evidence over a document) when the median drift of the states settled
   in it is below ``drift_tolerance`` (default 10% of the line per document)
   *and* its slow subspace (step 3) is not empty: near a stable point of a leaky
   integrator states barely drift, but they forget within a few tokens.
3. **Slowest point per slice**: the settled state with the smallest speed
   ``q = 1/2 ||F(h, 0) - h||^2`` represents the slice; the Jacobian there gives
   ``|lambda_1|``, the time constants, the *slow subspace* (modes with
   ``|lambda| >= exp(-1 / doc_length)``: they keep more than ``1/e`` of a
   perturbation over a document), and the *token gain* ``||J_inp^T l1||``.
4. **Time to cross**: ``sum(slice width / axial speed)`` over the slices inside
   the 5th-95th percentile range: the tokens zero-input dynamics would need to
   carry a state across the line at the local speeds.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike

from dynalyze._validation import FloatArray
from dynalyze.analyses.geometry import eigenvector_span, oriented_top_mode
from dynalyze.analyses.line_attractor.structure import FixedPointStructure, ManifoldAxis
from dynalyze.errors import DataError
from dynalyze.linearization import eigendecompose, time_constants
from dynalyze.systems.base import RecurrentSystem

__all__ = [
    "ManifoldProfile",
    "TokenProjections",
    "manifold_profile",
    "matched_null",
    "slow_ranges",
    "subspace_alignment",
    "subspace_null",
    "token_projections",
]


@attrs.frozen
class ManifoldProfile:
    """Zero-input speed, drift and linearization along the manifold, slice by slice.

    Arrays are over slices (``manifold_position``); slices no settled state
    reached hold NaN (and ``valid`` is False).

    Parameters
    ----------
    position : ndarray
        Centre of each slice on the axis.
    width : float
        Slice width.
    density : ndarray
        Fraction of the visited states in each slice (time spent there).
    valid : ndarray of bool
        Slices with at least one settled state.
    state : ndarray, shape (slices, d)
        Slowest settled state of each slice.
    normalized_speed : ndarray
        ``||F(h, 0) - h||^2 / N`` there.
    axial_speed : ndarray
        Median ``|(F(h, 0) - h) . axis|`` of the settled states (per token).
    drift : ndarray
        Median drift along the axis over one document, as a fraction of the extent.
    eigenvalues : ndarray, complex, shape (slices, k)
        Leading eigenvalues at the slowest state.
    time_constants : ndarray, shape (slices, k)
        Their time constants (NaN for growing modes).
    slow_dim : ndarray of int
        Dimension of the slow subspace.
    token_gain : ndarray
        ``||J_inp^T l1||``: how strongly inputs move the state along the top mode.
    readout_alignment, tangent_alignment : ndarray
        ``cos`` of the principal angle of the readout / the local tangent with the
        slow subspace (``||P_S v|| / ||v||``).
    right, left : ndarray, shape (slices, d)
        Top right / left eigenvectors (real, oriented by the readout).
    is_slow : ndarray of bool
        ``drift < drift_tolerance`` and ``slow_dim > 0``.
    inside : ndarray of bool
        Slices inside the 5th-95th percentile range.
    doc_length : int
        Steps of the drift measurement (the median document length).
    drift_tolerance : float
        Threshold of a slow slice.
    settled : ndarray, shape (starts, d)
        The settled states the drift was measured from.
    settled_slice : ndarray of int, shape (starts,)
        The slice each settled state lies in.

    Examples
    --------
    A leaky integrator ``h' = 0.8 h``: no slice of the manifold is slow.

    >>> import numpy as np
    >>> from dynalyze.analyses.line_attractor.structure import manifold_axis
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2)[:1], np.diag([0.8, 0.3]), np.zeros(2),
    ...                          activation="linear")
    >>> visited = np.c_[np.linspace(-1, 1, 400), np.zeros(400)]
    >>> profile = manifold_profile(system, visited, manifold_axis(visited), readout=[1.0, 0.0],
    ...                            doc_length=50, settle_steps=0)
    >>> isinstance(profile, ManifoldProfile), profile.summary()["slow_fraction"]
    (True, 0.0)
    """

    position: FloatArray
    width: float
    density: FloatArray
    valid: np.ndarray
    state: FloatArray
    normalized_speed: FloatArray
    axial_speed: FloatArray
    drift: FloatArray
    eigenvalues: np.ndarray
    time_constants: FloatArray
    slow_dim: np.ndarray
    token_gain: FloatArray
    readout_alignment: FloatArray
    tangent_alignment: FloatArray
    right: FloatArray
    left: FloatArray
    is_slow: np.ndarray
    inside: np.ndarray
    doc_length: int
    drift_tolerance: float
    settled: FloatArray = attrs.field(factory=lambda: np.zeros((0, 0)))
    settled_slice: np.ndarray = attrs.field(factory=lambda: np.zeros(0, dtype=np.int64))

    def summary(self) -> dict[str, Any]:
        """Headline numbers: how much of the line is slow, drift, time to cross."""
        use = self.valid & self.inside
        weights = np.where(use, self.density, 0.0)
        total = float(weights.sum())
        with np.errstate(divide="ignore"):
            crossing = float(np.sum(self.width / self.axial_speed[use])) if use.any() else np.nan
        return {
            "slow_fraction": float(np.mean(self.is_slow[use])) if use.any() else float("nan"),
            "slow_fraction_visited": (
                float(np.sum(weights * self.is_slow) / total) if total > 0 else float("nan")
            ),
            "median_drift_per_document": _weighted_median(self.drift[use], weights[use]),
            "max_drift_per_document": float(np.max(self.drift[use])) if use.any() else np.nan,
            "tokens_to_cross": crossing,
            "median_slow_subspace_dim": _weighted_median(
                self.slow_dim[use].astype(float), weights[use]
            ),
            "median_alignment_readout_slow": _weighted_median(
                self.readout_alignment[use], weights[use]
            ),
            "median_alignment_tangent_slow": _weighted_median(
                self.tangent_alignment[use], weights[use]
            ),
        }


def _weighted_median(values: ArrayLike, weights: ArrayLike) -> float:
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    keep = np.isfinite(v) & (w > 0)
    if not keep.any():
        return float("nan")
    v, w = v[keep], w[keep]
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order])
    return float(v[order][np.searchsorted(cum, 0.5 * cum[-1])])


def subspace_alignment(basis: ArrayLike, vectors: ArrayLike) -> FloatArray:
    """``||P_S v|| / ||v||``: cosine of the principal angle between each ``v`` and span(basis).

    Parameters
    ----------
    basis : array_like, shape (k, d)
        Vectors spanning the subspace (need not be orthonormal).
    vectors : array_like, shape (n, d) or (d,)
        Directions to compare with the subspace.

    Examples
    --------
    >>> subspace_alignment([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]], [[0.0, 3.0, 4.0]]).round(2).tolist()
    [0.6]
    """
    b = np.atleast_2d(np.asarray(basis, dtype=np.float64))
    v = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    if b.size == 0:
        return np.zeros(v.shape[0])
    q, r = np.linalg.qr(b.T)
    rank = np.abs(np.diag(r)) > 1e-10 * max(np.abs(r).max(), 1e-300)
    q = q[:, rank]
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.linalg.norm(v @ q, axis=1) / np.linalg.norm(v, axis=1)
    return out


def subspace_null(dim: int, subspace_dim: int, n_trials: int = 2000, seed: int = 0) -> FloatArray:
    """Null of :func:`subspace_alignment`: random unit vectors in ``dim`` dims vs a fixed
    ``subspace_dim``-dimensional subspace.

    With ``dim`` the number of principal components holding 95% of the states'
    variance this is the *matched* null (directions the states could occupy);
    with the full state dimension it is the isotropic null.

    Examples
    --------
    >>> bool(np.median(subspace_null(3, 1, seed=0)) > np.median(subspace_null(128, 1, seed=0)))
    True
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_trials, max(dim, 1)))
    k = min(max(subspace_dim, 0), x.shape[1])
    out: FloatArray = np.linalg.norm(x[:, :k], axis=1) / np.linalg.norm(x, axis=1)
    return out


def matched_null(
    basis: ArrayLike,
    reference: ArrayLike,
    subspace_dim: int = 1,
    n_trials: int = 2000,
    seed: int = 0,
) -> FloatArray:
    """Alignment of ``reference`` with random directions (or subspaces) inside span(basis).

    ``subspace_dim = 1``: ``|cos(u, reference)|`` for unit ``u`` uniform in the
    span; larger: ``||P_S reference|| / ||reference||`` for a uniformly random
    ``subspace_dim``-dimensional subspace ``S`` of the span. With the principal
    components holding 95% of the states' variance as ``basis`` this is the
    null of directions the states could occupy.

    Examples
    --------
    A reference orthogonal to the span is never aligned by chance:

    >>> float(matched_null(np.eye(3)[:2], [0.0, 0.0, 1.0], seed=0).max())
    0.0
    """
    b = np.atleast_2d(np.asarray(basis, dtype=np.float64))
    ref = np.asarray(reference, dtype=np.float64)
    q, _ = np.linalg.qr(b.T)  # (d, k) orthonormal
    k = q.shape[1]
    s = min(max(subspace_dim, 1), k)
    rng = np.random.default_rng(seed)
    out = np.empty(n_trials)
    coeff = q.T @ ref
    norm = max(float(np.linalg.norm(ref)), 1e-300)
    for i in range(n_trials):
        sub, _ = np.linalg.qr(rng.normal(size=(k, s)))
        out[i] = np.linalg.norm(sub.T @ coeff) / norm
    return out


def _slow_basis(values: np.ndarray, right: np.ndarray, threshold: float) -> FloatArray:
    """Real basis (rows) of the span of the right eigenvectors with ``|lambda| >= threshold``."""
    return eigenvector_span(right, np.abs(values) >= threshold)


def manifold_profile(
    system: RecurrentSystem,
    visited: ArrayLike,
    axis: ManifoldAxis,
    *,
    readout: ArrayLike,
    doc_length: int,
    n_bins: int = 40,
    n_starts: int = 2000,
    settle_steps: int = 10,
    drift_tolerance: float = 0.1,
    n_modes: int = 10,
    seed: int = 0,
) -> ManifoldProfile:
    """Profile zero-input speed, drift and the linearization along the manifold.

    See the module docstring for the procedure.

    Parameters
    ----------
    system : RecurrentSystem
        The map (zero input).
    visited : array_like, shape (n, d)
        Visited states (a uniform sample).
    axis : ManifoldAxis
        The manifold coordinate.
    readout : array_like, shape (d,)
        Readout weights (orient the top mode; readout alignment).
    doc_length : int
        Steps of the drift measurement; the median document length.
    n_bins : int
        Slices along the axis.
    n_starts : int
        Visited states relaxed.
    settle_steps : int
        Zero-input steps before the drift is measured.
    drift_tolerance : float
        A slice whose median drift per document is below this fraction of the
        extent is slow.
    n_modes : int
        Leading eigenvalues kept per slice.
    seed : int
        Seed of the choice of visited states.

    Returns
    -------
    ManifoldProfile

    Examples
    --------
    A leaky integrator ``h' = 0.8 h`` forgets within a few tokens: no slice is slow.

    >>> from dynalyze.analyses.line_attractor.structure import manifold_axis
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2)[:1], np.diag([0.8, 0.3]), np.zeros(2),
    ...                          activation="linear")
    >>> visited = np.c_[np.linspace(-1, 1, 400), np.zeros(400)]
    >>> profile = manifold_profile(system, visited, manifold_axis(visited),
    ...                            readout=[1.0, 0.0], doc_length=50, settle_steps=0)
    >>> profile.summary()["slow_fraction"]
    0.0
    """
    if doc_length < 1:
        raise DataError(f"doc_length must be a positive number of steps; got {doc_length}.")
    vis = np.asarray(visited, dtype=np.float64).reshape(-1, system.state_dim)
    w = np.asarray(readout, dtype=np.float64)
    rng = np.random.default_rng(seed)
    pick = rng.choice(vis.shape[0], size=min(n_starts, vis.shape[0]), replace=False)
    h = vis[np.sort(pick)]
    for _ in range(settle_steps):
        h = system.step(h)
    settled = h
    step = system.step(settled) - settled
    axial = np.abs(step @ axis.direction)
    q = 0.5 * np.einsum("ni,ni->n", step, step)
    start = axis.coordinate(settled)
    h = settled
    for _ in range(doc_length):
        h = system.step(h)
    drift = np.abs(axis.coordinate(h) - start) / axis.extent

    edges = np.linspace(axis.low_edge, axis.high_edge, n_bins + 1)
    if edges[-1] <= edges[0]:
        edges = edges[0] + np.linspace(-0.5, 0.5, n_bins + 1) * axis.extent
    centre = 0.5 * (edges[:-1] + edges[1:])
    width = float(edges[1] - edges[0])
    which = np.clip(np.searchsorted(edges, start, side="right") - 1, 0, n_bins - 1)
    occupied = np.clip(
        np.searchsorted(edges, axis.coordinate(vis), side="right") - 1, 0, n_bins - 1
    )
    density = np.bincount(occupied, minlength=n_bins) / max(vis.shape[0], 1)

    d = system.state_dim
    k = min(n_modes, d)
    valid = np.zeros(n_bins, dtype=bool)
    rep = np.full((n_bins, d), np.nan)
    out_speed = np.full(n_bins, np.nan)
    out_axial = np.full(n_bins, np.nan)
    out_drift = np.full(n_bins, np.nan)
    for b in range(n_bins):
        sel = np.flatnonzero(which == b)
        if sel.size == 0:
            continue
        valid[b] = True
        rep[b] = settled[sel[np.argmin(q[sel])]]
        out_speed[b] = 2.0 * float(q[sel].min()) / d
        out_axial[b] = float(np.median(axial[sel]))
        out_drift[b] = float(np.median(drift[sel]))

    eig = np.full((n_bins, k), np.nan, dtype=complex)
    tau = np.full((n_bins, k), np.nan)
    slow_dim = np.zeros(n_bins, dtype=np.int64)
    gain = np.full(n_bins, np.nan)
    a_w = np.full(n_bins, np.nan)
    a_t = np.full(n_bins, np.nan)
    right = np.full((n_bins, d), np.nan)
    left = np.full((n_bins, d), np.nan)
    idx = np.flatnonzero(valid)
    if idx.size:
        values, rvec, lvec = eigendecompose(system.jacobian_state(rep[idx]))
        r1, l1, _ = oriented_top_mode(rvec[:, :, 0], lvec[:, 0, :], w)
        jac_in = system.jacobian_input(rep[idx])
        threshold = float(np.exp(-1.0 / doc_length))
        tangents = _local_tangents(rep, valid, axis.direction)
        for j, slot in enumerate(idx):
            basis = _slow_basis(values[j], rvec[j], threshold)
            slow_dim[slot] = int(np.sum(np.abs(values[j]) >= threshold))
            a_w[slot] = float(subspace_alignment(basis, w)[0]) if basis.size else 0.0
            a_t[slot] = float(subspace_alignment(basis, tangents[slot])[0]) if basis.size else 0.0
        eig[idx] = values[:, :k]
        tau[idx] = time_constants(values[:, :k])
        gain[idx] = np.linalg.norm(np.einsum("nsi,ns->ni", jac_in, l1), axis=1)
        right[idx], left[idx] = r1, l1
    inside = (centre >= axis.lo) & (centre <= axis.hi)
    return ManifoldProfile(
        position=centre,
        width=width,
        density=density,
        valid=valid,
        state=rep,
        normalized_speed=out_speed,
        axial_speed=out_axial,
        drift=out_drift,
        eigenvalues=eig,
        time_constants=tau,
        slow_dim=slow_dim,
        token_gain=gain,
        readout_alignment=a_w,
        tangent_alignment=a_t,
        right=right,
        left=left,
        is_slow=valid & (np.nan_to_num(out_drift, nan=np.inf) < drift_tolerance) & (slow_dim > 0),
        inside=inside,
        doc_length=int(doc_length),
        drift_tolerance=float(drift_tolerance),
        settled=settled,
        settled_slice=which,
    )


def _local_tangents(rep: FloatArray, valid: np.ndarray, fallback: FloatArray) -> FloatArray:
    """Unit tangent per slice from the neighbouring slices' representatives."""
    out = np.tile(fallback, (rep.shape[0], 1))
    idx = np.flatnonzero(valid)
    for j, b in enumerate(idx):
        lo, hi = idx[max(j - 1, 0)], idx[min(j + 1, idx.size - 1)]
        vec = rep[hi] - rep[lo]
        norm = np.linalg.norm(vec)
        if norm > 0 and hi != lo:
            out[b] = vec / norm
    return out


def slow_ranges(profile: ManifoldProfile) -> list[tuple[float, float]]:
    """Contiguous ranges of slow slices, as (start, end) coordinates along the axis.

    Examples
    --------
    An exact integrator along ``e_0`` is slow everywhere: one range spans the line.

    >>> from dynalyze.analyses.line_attractor.structure import manifold_axis
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2)[:1], np.diag([1.0, 0.3]), np.zeros(2),
    ...                          activation="linear")
    >>> visited = np.c_[np.linspace(-1, 1, 400), np.zeros(400)]
    >>> profile = manifold_profile(system, visited, manifold_axis(visited), readout=[1.0, 0.0],
    ...                            doc_length=50, settle_steps=0)
    >>> ranges = slow_ranges(profile)
    >>> len(ranges), ranges[0][0] < -0.8 and ranges[0][1] > 0.8
    (1, True)
    """
    out: list[tuple[float, float]] = []
    half = 0.5 * profile.width
    current: list[float] | None = None
    for b in range(profile.position.size):
        if profile.is_slow[b]:
            if current is None:
                current = [profile.position[b] - half, profile.position[b] + half]
            else:
                current[1] = profile.position[b] + half
        elif profile.valid[b] and current is not None:
            out.append((float(current[0]), float(current[1])))
            current = None
    if current is not None:
        out.append((float(current[0]), float(current[1])))
    return out


@attrs.frozen
class TokenProjections:
    """Token input projections ``l1 . J_inp e(token)`` read along the manifold.

    Parameters
    ----------
    mean : ndarray, shape (vocab,)
        Average over slices weighted by the time the states spend there.
    spread : ndarray, shape (vocab,)
        Weighted standard deviation across slices.
    per_slice_gain : ndarray, shape (slices,)
        RMS projection of the frequent tokens at each slice.
    per_cluster : ndarray, shape (rows, vocab)
        Projections at each fixed-point row (its own top mode).
    per_cluster_gain : ndarray, shape (rows,)
        RMS projection of the frequent tokens at each row.
    frequent : ndarray of bool, shape (vocab,)
        Tokens at or above the frequency floor.

    Examples
    --------
    Read off a fitted line attractor: the projections of the exact integrator are
    its word valences.

    >>> from dynalyze.analyses.line_attractor import Evidence, LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> clf, traj = exact_integrator()
    >>> ds = LineAttractor(n_initial=60, evidence=Evidence(n_plot=50, n_null=200,
    ...                    relaxation_steps=5, n_relaxation=10)).fit(clf, traj)
    >>> ds["token_projection"].sel(token=["good", "bad"]).round(6).values.tolist()
    [0.7, -0.9]
    """

    mean: FloatArray
    spread: FloatArray
    per_slice_gain: FloatArray
    per_cluster: FloatArray
    per_cluster_gain: FloatArray
    frequent: np.ndarray


def _projections(
    system: RecurrentSystem, states: FloatArray, left: FloatArray, embedding: FloatArray
) -> FloatArray:
    """``(vocab, points)`` projections ``l1 . J_inp(h) e`` at each point."""
    if states.shape[0] == 0:
        return np.zeros((embedding.shape[0], 0))
    jac_in = system.jacobian_input(states)
    u = np.einsum("nsi,ns->ni", jac_in, left)
    out: FloatArray = embedding @ u.T
    return out


def token_projections(
    system: RecurrentSystem,
    profile: ManifoldProfile,
    structure: FixedPointStructure,
    embedding: ArrayLike,
    *,
    readout: ArrayLike,
    frequent: ArrayLike,
) -> TokenProjections:
    """Token projections along the manifold and at each fixed point.

    Parameters
    ----------
    system : RecurrentSystem
        The map.
    profile : ManifoldProfile
        Slices (their slowest states and top left eigenvectors).
    structure : FixedPointStructure
        Fixed-point rows.
    embedding : array_like, shape (vocab, input_dim)
        Input vector of each token.
    readout : array_like, shape (d,)
        Orients the top mode at each fixed point.
    frequent : array_like of bool, shape (vocab,)
        Tokens frequent enough to enter the gains.

    Returns
    -------
    TokenProjections

    Examples
    --------
    An exact integrator along ``e_0``: each token's projection is its push along the line.

    >>> import numpy as np
    >>> from dynalyze.analyses.line_attractor.structure import fixed_point_structure, manifold_axis
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2), np.diag([1.0, 0.3]), np.zeros(2), activation="linear")
    >>> visited = np.c_[np.linspace(-1, 1, 400), np.zeros(400)]
    >>> axis = manifold_axis(visited, readout=[1.0, 0.0])
    >>> profile = manifold_profile(system, visited, axis, readout=[1.0, 0.0], doc_length=50,
    ...                            settle_steps=0)
    >>> structure = fixed_point_structure(system, visited[::40], visited, axis)
    >>> tp = token_projections(system, profile, structure, [[0.7, 0.0], [-0.9, 0.3]],
    ...                        readout=[1.0, 0.0], frequent=[True, True])
    >>> tp.mean.round(6).tolist()
    [0.7, -0.9]
    """
    emb = np.asarray(embedding, dtype=np.float64)
    mask = np.asarray(frequent, dtype=bool)
    if mask.shape != (emb.shape[0],):
        raise DataError(
            f"frequent must hold one flag per token ({emb.shape[0]}); got {mask.shape}."
        )
    idx = np.flatnonzero(profile.valid)
    per_slice = _projections(system, profile.state[idx], profile.left[idx], emb)
    weights = profile.density[idx]
    if weights.sum() <= 0:
        weights = np.ones(idx.size)
    weights = weights / weights.sum()
    mean = per_slice @ weights if idx.size else np.full(emb.shape[0], np.nan)
    spread = (
        np.sqrt(np.maximum(((per_slice - mean[:, None]) ** 2) @ weights, 0.0))
        if idx.size
        else np.full(emb.shape[0], np.nan)
    )
    slice_gain = np.full(profile.position.size, np.nan)
    if idx.size and mask.any():
        slice_gain[idx] = np.sqrt(np.mean(per_slice[mask] ** 2, axis=0))
    if structure.n_rows:
        _, rvec, lvec = eigendecompose(system.jacobian_state(structure.state))
        _, l1, _ = oriented_top_mode(rvec[:, :, 0], lvec[:, 0, :], np.asarray(readout, float))
        per_cluster = _projections(system, structure.state, l1, emb).T
    else:
        per_cluster = np.zeros((0, emb.shape[0]))
    cluster_gain = (
        np.sqrt(np.mean(per_cluster[:, mask] ** 2, axis=1))
        if mask.any()
        else np.full(structure.n_rows, np.nan)
    )
    return TokenProjections(mean, spread, slice_gain, per_cluster, cluster_gain, mask)
