"""Deduplication and outlier detection of fixed-point candidates.

Both use k-d trees (:class:`scipy.spatial.cKDTree`), never O(n^2) pairwise
loops, and both *label* candidates instead of dropping them.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from dynalyze._parallel import fill_batches
from dynalyze._validation import FloatArray

__all__ = ["deduplicate", "distance_to_nearest", "outlier_mask", "unique_fixed_points"]


def deduplicate(
    points: FloatArray, tol: float, *, order: NDArray[np.floating] | None = None
) -> NDArray[np.int64]:
    """Group points closer than ``tol`` and return each point's representative.

    Points are visited in ``order`` (ascending key, e.g. speed, so the best
    candidate of a group represents it). An unassigned point becomes a
    representative and claims every unassigned point within ``tol`` of it
    (Euclidean). One k-d tree query is made per representative, so the cost is
    O(n log n) when most points are unique and O(n) when most are duplicates.

    Parameters
    ----------
    points : ndarray, shape (n, d)
        Locations.
    tol : float
        Distance below which two points are the same (inclusive).
    order : ndarray, shape (n,), optional
        Sort key; lower is better. Defaults to the given order.

    Returns
    -------
    ndarray of int64, shape (n,)
        ``duplicate_of[i]`` is the index of the representative of point ``i``
        (``i`` itself for representatives).

    Examples
    --------
    >>> deduplicate(np.array([[0.0], [1e-9], [1.0]]), 1e-6).tolist()
    [0, 0, 2]
    """
    n = points.shape[0]
    rep = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return rep
    visit = np.arange(n) if order is None else np.argsort(order, kind="stable")
    tree = cKDTree(points)
    for i in visit:
        if rep[i] >= 0:
            continue
        rep[i] = i
        neighbours = np.asarray(tree.query_ball_point(points[i], r=tol), dtype=np.int64)
        free = neighbours[rep[neighbours] < 0]
        rep[free] = i
    return rep


#: Above this dimension k-d trees degrade towards brute force; use blocked BLAS instead.
_KDTREE_MAX_DIM = 16


def distance_to_nearest(points: FloatArray, reference: FloatArray) -> FloatArray:
    """Distance from each point to its nearest reference point.

    A k-d tree query in low dimensions; in high dimensions (where k-d trees
    visit most of the tree for spread-out queries) blocked matrix products of
    ``||p||^2 + ||q||^2 - 2 p.q``, which BLAS does in a fraction of the time.

    Examples
    --------
    >>> distance_to_nearest(np.array([[0.0, 3.0]]), np.array([[0.0, 0.0], [4.0, 3.0]])).tolist()
    [3.0]
    """
    if points.shape[0] == 0:
        return np.zeros(0)
    if points.shape[1] <= _KDTREE_MAX_DIM:
        distance, _ = cKDTree(reference).query(points, k=1, workers=-1)
        return np.asarray(distance, dtype=np.float64)
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    out = np.empty(points.shape[0])
    block = max(1, 2**24 // max(reference.shape[0], 1))

    def fill(part: slice) -> None:
        for start in range(part.start, part.stop, block):
            p = points[start : min(start + block, part.stop)]
            sq = np.einsum("ij,ij->i", p, p)[:, None] + ref_sq[None, :] - 2.0 * (p @ reference.T)
            out[start : start + p.shape[0]] = np.sqrt(np.maximum(sq.min(axis=1), 0.0))

    fill_batches(fill, points.shape[0], min_batch=256)
    return out


def outlier_mask(
    points: FloatArray, reference: FloatArray, scale: float | None
) -> tuple[NDArray[np.bool_], FloatArray]:
    """Flag points far from every reference point.

    A point is an outlier when its distance to the nearest reference point
    exceeds ``scale`` times the characteristic size of the reference cloud (the
    mean distance of reference points from their centroid). With ``scale=None``
    (or a reference cloud of zero size) nothing is flagged.

    Returns
    -------
    mask : ndarray of bool
        True for outliers.
    distance : ndarray
        Distance of each point to its nearest reference point.

    Examples
    --------
    >>> ref = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> outlier_mask(np.array([[0.5, 0.0], [50.0, 0.0]]), ref, 10.0)[0].tolist()
    [False, True]
    """
    distance = distance_to_nearest(points, reference)
    if scale is None:
        return np.zeros(points.shape[0], dtype=bool), distance
    size = float(np.mean(np.linalg.norm(reference - reference.mean(axis=0), axis=1)))
    if size == 0.0:
        return np.zeros(points.shape[0], dtype=bool), distance
    return distance > scale * size, distance


def unique_fixed_points(ds: xr.Dataset, *, include_slow: bool = False) -> xr.Dataset:
    """Select the unique fixed points of a fixed-points dataset.

    A selection, not a loss: the full dataset keeps every candidate with its
    status.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :meth:`dynalyze.fixedpoints.FixedPointFinder.find`.
    include_slow : bool
        Also keep slow points (local minima of the speed above tolerance).

    Returns
    -------
    xarray.Dataset
        Converged (and optionally slow), non-duplicate, non-outlier candidates.

    Examples
    --------
    A contraction has one fixed point; every search finds it, once:

    >>> import numpy as np, dynalyze
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), 0.5 * np.eye(2), activation="tanh")
    >>> fps = dynalyze.find_fixed_points(system, np.random.default_rng(0).normal(size=(16, 2)))
    >>> fps.sizes["fixed_point"], unique_fixed_points(fps).sizes["fixed_point"]
    (16, 1)
    """
    keep = ds["status"] == 0
    if include_slow:
        keep = keep | (ds["status"] == 1)
    keep = keep & (ds["is_duplicate"] == 0) & (ds["is_outlier"] == 0)
    return ds.isel(fixed_point=np.flatnonzero(keep.values))
