"""Is it the same mechanism? Distances between networks, and a null from seeds.

Two views of every pair of finished networks:

geometry
    The angular Procrustes distance (Williams, Kunz, Kornblith & Linderman 2021,
    "Generalized shape metrics on neural representations") between their
    hidden states ``h`` on the same probe documents, token by token: both state
    clouds are centred and scaled to unit Frobenius norm, the narrower one is
    padded with zero units, and ``d = arccos(max_Q tr(A^T B Q))`` over
    orthogonal ``Q`` (the nuclear norm of ``A^T B``). 0 means the same
    geometry up to rotation, reflection and scale; pi/2 means nothing shared.
    Defined only between networks of the same dataset (the same documents).
topology
    The L1 distance between fixed-point signatures ``(stable distinct fixed
    points, unstable ones, dimension of the slow subspace capped at 3)``: 0
    when two networks have the same structure (e.g. two stable ends joined
    through a saddle, one slow mode). The cap keeps a network with a hundred
    near-unit modes (no low-dimensional attractor at all) from outweighing
    every difference in its fixed points: three or more slow modes count alike.

The null: within a dataset, pairs of networks of one architecture (different
seeds or hyperparameters) against pairs of different architectures. The
statistic is ``median(between) - median(within)``; its p-value comes from
permuting the architecture labels within each dataset. "Same mechanism across
architectures" means the between-architecture distance is within the seed
spread (large p).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dynalyze._validation import FloatArray
from dynalyze.errors import DataError

__all__ = [
    "TOPOLOGY_FEATURES",
    "classical_mds",
    "compare_networks",
    "permutation_null",
    "procrustes_distance",
    "topology_signature",
]

#: Components of the fixed-point signature, in order.
TOPOLOGY_FEATURES = ("n_stable_clusters", "n_unstable_clusters", "slow_subspace_dim")

#: Slow-subspace dimensions at or above this count alike in the signature.
SLOW_DIM_CAP = 3


def procrustes_distance(a: ArrayLike, b: ArrayLike) -> float:
    """Angular Procrustes distance between two point clouds on the same samples.

    Parameters
    ----------
    a, b : array_like, shapes (n, p) and (n, q)
        The same ``n`` samples (e.g. token positions) in two representations.

    Returns
    -------
    float
        In ``[0, pi/2]``: 0 when ``b`` is a rotation / reflection / scaling of ``a``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(200, 3))
    >>> q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    >>> round(procrustes_distance(a, 5.0 * a @ q + 1.0), 6)
    0.0
    >>> bool(procrustes_distance(a, rng.normal(size=(200, 3))) > 1.2)
    True
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise DataError(
            f"procrustes_distance needs two (n, features) arrays on the same n >= 2 samples; "
            f"got shapes {x.shape} and {y.shape}."
        )
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 or ny == 0:
        return float("nan")
    width = max(x.shape[1], y.shape[1])
    x = np.pad(x / nx, ((0, 0), (0, width - x.shape[1])))
    y = np.pad(y / ny, ((0, 0), (0, width - y.shape[1])))
    nuclear = float(np.sum(np.linalg.svd(x.T @ y, compute_uv=False)))
    return float(np.arccos(np.clip(nuclear, -1.0, 1.0)))


def topology_signature(summary: dict[str, Any]) -> FloatArray:
    """``(stable, unstable, slow-subspace dimension up to 3)`` of one network's summary.

    Examples
    --------
    >>> topology_signature({"n_stable_clusters": 2, "n_unstable_clusters": 1,
    ...                     "median_slow_subspace_dim": 1.0}).tolist()
    [2.0, 1.0, 1.0]
    >>> topology_signature({"n_stable_clusters": 0, "n_unstable_clusters": 3,
    ...                     "median_slow_subspace_dim": 106.0}).tolist()
    [0.0, 3.0, 3.0]
    """

    def get(name: str) -> float:
        value = summary.get(name)
        return float("nan") if value is None else float(value)

    return np.array(
        [
            get("n_stable_clusters"),
            get("n_unstable_clusters"),
            float(min(np.round(get("median_slow_subspace_dim")), SLOW_DIM_CAP)),
        ]
    )


def classical_mds(distance: ArrayLike, k: int = 2) -> FloatArray:
    """Classical (Torgerson) multidimensional scaling of a distance matrix.

    Returns
    -------
    ndarray, shape (n, k)
        Coordinates whose Euclidean distances approximate ``distance`` (exactly,
        up to rotation, for Euclidean distances of points in ``k`` dimensions).

    Examples
    --------
    >>> points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    >>> d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    >>> y = classical_mds(d)
    >>> bool(np.allclose(np.linalg.norm(y[:, None] - y[None], axis=-1), d))
    True
    """
    d = np.asarray(distance, dtype=np.float64)
    n = d.shape[0]
    if n == 0:
        return np.zeros((0, k))
    j = np.eye(n) - 1.0 / n
    gram = -0.5 * j @ (d**2) @ j
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1][:k]
    coords: FloatArray = vectors[:, order] * np.sqrt(np.maximum(values[order], 0.0))
    if coords.shape[1] < k:
        coords = np.pad(coords, ((0, 0), (0, k - coords.shape[1])))
    return coords


def _pairs(labels: Sequence[str], groups: Sequence[str]) -> tuple[list[tuple[int, int]], ...]:
    within: list[tuple[int, int]] = []
    between: list[tuple[int, int]] = []
    for i, j in itertools.combinations(range(len(labels)), 2):
        if groups[i] != groups[j]:
            continue  # only networks of the same dataset are compared
        (within if labels[i] == labels[j] else between).append((i, j))
    return within, between


def permutation_null(
    distance: ArrayLike,
    labels: Sequence[str],
    groups: Sequence[str] | None = None,
    *,
    n_permutations: int = 2000,
    seed: int = 0,
) -> dict[str, float]:
    """Between-label vs within-label distances, with a permutation p-value.

    Parameters
    ----------
    distance : array_like, shape (n, n)
        Distances between networks (NaN where undefined).
    labels : sequence of str
        Architecture of each network.
    groups : sequence of str, optional
        Dataset of each network: only pairs within a group count, and labels
        are permuted within groups.
    n_permutations, seed : int
        Permutations of the labels, and their seed.

    Returns
    -------
    dict
        ``within_median``, ``between_median``, ``statistic`` (their
        difference), ``p_value`` (share of relabelings with a statistic at
        least as large, the observed one included), ``p_floor`` (the smallest
        p-value this design can give at all: with few networks even perfectly
        separated architectures are not significant), ``exact`` (1 if every
        distinct relabeling was enumerated, 0 for ``n_permutations`` random
        ones), ``n_within``, ``n_between``.

    Examples
    --------
    Two architectures whose networks sit far apart, two seeds each:

    >>> d = np.array([[0, 1, 9, 9], [1, 0, 9, 9], [9, 9, 0, 1], [9, 9, 1, 0]], float)
    >>> null = permutation_null(d, ["gru", "gru", "lstm", "lstm"], n_permutations=200)
    >>> null["within_median"], null["between_median"], round(null["p_value"], 3)
    (1.0, 9.0, 0.333)

    Perfect separation, yet p = 1/3: two of the six ways to label four
    networks with two architectures split them this way. ``p_floor`` says so:

    >>> round(null["p_floor"], 3), null["exact"]
    (0.333, 1.0)
    """
    d = np.asarray(distance, dtype=np.float64)
    labels = list(labels)
    groups = list(groups) if groups is not None else [""] * len(labels)

    def statistic(current: Sequence[str]) -> tuple[float, float, int, int]:
        within, between = _pairs(current, groups)
        w = [d[i, j] for i, j in within if np.isfinite(d[i, j])]
        b = [d[i, j] for i, j in between if np.isfinite(d[i, j])]
        wm = float(np.median(w)) if w else float("nan")
        bm = float(np.median(b)) if b else float("nan")
        return wm, bm, len(w), len(b)

    wm, bm, nw, nb = statistic(labels)
    observed = bm - wm
    out = {
        "within_median": wm,
        "between_median": bm,
        "statistic": observed,
        "p_value": float("nan"),
        "p_floor": float("nan"),
        "exact": float("nan"),
        "n_within": float(nw),
        "n_between": float(nb),
    }
    if not np.isfinite(observed):
        return out
    single_group = len(set(groups)) == 1
    if single_group and _n_labelings(labels) <= _MAX_EXACT:
        stats = []
        for permuted in _labelings(labels):
            pw, pb, _, _ = statistic(permuted)
            stats.append(pb - pw if np.isfinite(pb - pw) else -np.inf)
        values = np.asarray(stats)
        out["p_value"] = float(np.mean(values >= observed - 1e-12))
        out["p_floor"] = float(np.mean(values >= values.max() - 1e-12))
        out["exact"] = 1.0
        return out
    rng = np.random.default_rng(seed)
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    hits = 0
    for _ in range(n_permutations):
        permuted = list(labels)
        for idx in members.values():
            shuffled = rng.permutation([labels[i] for i in idx])
            for i, value in zip(idx, shuffled, strict=True):
                permuted[i] = str(value)
        pw, pb, _, _ = statistic(permuted)
        if np.isfinite(pb - pw) and pb - pw >= observed - 1e-12:
            hits += 1
    out["p_value"] = (1 + hits) / (1 + n_permutations)
    out["p_floor"] = 1.0 / (1 + n_permutations)
    out["exact"] = 0.0
    return out


#: Enumerate every distinct relabeling up to this many (else sample).
_MAX_EXACT = 20000


def _n_labelings(labels: Sequence[str]) -> int:
    counts = [list(labels).count(v) for v in set(labels)]
    return math.factorial(len(labels)) // math.prod(math.factorial(c) for c in counts)


def _labelings(labels: Sequence[str]) -> Iterator[list[str]]:
    """Every distinct arrangement of the multiset ``labels`` (each once)."""
    counts = {v: list(labels).count(v) for v in sorted(set(labels))}
    n = len(labels)
    current: list[str] = []

    def build() -> Iterator[list[str]]:
        if len(current) == n:
            yield list(current)
            return
        for value in counts:
            if counts[value]:
                counts[value] -= 1
                current.append(value)
                yield from build()
                current.pop()
                counts[value] += 1

    yield from build()


def _probe_states(path: Path) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """``h`` states (example, time, units) and the valid mask of a job's probe file."""
    from dynalyze.results.io import load

    ds = load(path)
    component = ds["state_component"].values
    h = ds["hidden_state"].values[:, :, component == component[0]]
    return h.astype(np.float64), ds["valid"].values.astype(bool)


def compare_networks(
    networks: Sequence[dict[str, Any]], *, n_permutations: int = 2000, seed: int = 0
) -> xr.Dataset:
    """Geometry and topology distances between networks, their MDS and the seed null.

    Parameters
    ----------
    networks : sequence of dict
        One per finished job: ``key``, ``architecture``, ``dataset``, ``seed``,
        ``probe`` (path of its probe states) and ``summary`` (its analysis summary).
    n_permutations, seed : int
        For :func:`permutation_null`.

    Returns
    -------
    xarray.Dataset
        ``geometry_distance`` and ``topology_distance`` on ``(network,
        network_b)``, ``topology_signature``, ``geometry_mds`` (per dataset)
        and ``topology_mds`` on ``(network, mds_axis)``, and the null per
        ``dataset`` (``*_within_median``, ``*_between_median``, ``*_p_value``).

    Examples
    --------
    >>> ds = compare_networks([])
    >>> ds.sizes["network"]
    0
    """
    n = len(networks)
    geometry = np.full((n, n), np.nan)
    states = [_probe_states(Path(net["probe"])) for net in networks]
    for i in range(n):
        geometry[i, i] = 0.0
        for j in range(i + 1, n):
            if networks[i]["dataset"] != networks[j]["dataset"]:
                continue
            (hi, vi), (hj, vj) = states[i], states[j]
            if hi.shape[:2] != hj.shape[:2]:
                width = min(hi.shape[1], hj.shape[1])
                hi, vi, hj, vj = hi[:, :width], vi[:, :width], hj[:, :width], vj[:, :width]
            both = vi & vj
            geometry[i, j] = geometry[j, i] = procrustes_distance(hi[both], hj[both])
    signatures = np.array([topology_signature(net["summary"]) for net in networks]).reshape(
        n, len(TOPOLOGY_FEATURES)
    )
    topology = np.abs(signatures[:, None, :] - signatures[None, :, :]).sum(axis=-1)
    archs = [str(net["architecture"]) for net in networks]
    datasets = [str(net["dataset"]) for net in networks]
    geometry_mds = np.full((n, 2), np.nan)
    for name in sorted(set(datasets)):
        idx = [i for i in range(n) if datasets[i] == name]
        geometry_mds[idx] = classical_mds(np.nan_to_num(geometry[np.ix_(idx, idx)]))
    topology_mds = classical_mds(np.nan_to_num(topology)) if n else np.zeros((0, 2))
    names = sorted(set(datasets))
    nulls: dict[str, list[float]] = {}
    for view, matrix in (("geometry", geometry), ("topology", topology)):
        for name in names:
            idx = [i for i in range(n) if datasets[i] == name]
            result = permutation_null(
                matrix[np.ix_(idx, idx)],
                [archs[i] for i in idx],
                n_permutations=n_permutations,
                seed=seed,
            )
            for stat, value in result.items():
                nulls.setdefault(f"{view}_{stat}", []).append(value)
    network = np.arange(n)
    variables: dict[str, Any] = {
        "geometry_distance": (
            ("network", "network_b"),
            geometry,
            {"long_name": "angular Procrustes distance of h on the probe documents (rad)"},
        ),
        "topology_distance": (
            ("network", "network_b"),
            topology.astype(np.float64),
            {"long_name": "L1 distance of fixed-point signatures"},
        ),
        "topology_signature": (
            ("network", "topology_feature"),
            signatures,
            {"long_name": "stable / unstable distinct fixed points, slow-subspace dimension"},
        ),
        "geometry_mds": (("network", "mds_axis"), geometry_mds, {"long_name": "MDS per dataset"}),
        "topology_mds": (("network", "mds_axis"), topology_mds, {"long_name": "MDS"}),
    }
    for name, values in nulls.items():
        variables[name] = (("dataset",), np.asarray(values, dtype=np.float64), {})
    return xr.Dataset(
        variables,
        coords={
            "network": network,
            "network_b": network,
            "key": ("network", np.array([str(net["key"]) for net in networks], dtype=str)),
            "architecture": ("network", np.array(archs, dtype=str)),
            "network_dataset": ("network", np.array(datasets, dtype=str)),
            "network_seed": ("network", np.array([int(net["seed"]) for net in networks])),
            "topology_feature": list(TOPOLOGY_FEATURES),
            "mds_axis": [0, 1],
            "dataset": names,
        },
        attrs={"title": "dynalyze sweep: cross-network comparison"},
    )
