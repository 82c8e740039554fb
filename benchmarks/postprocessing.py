"""Post-processing: eigendecomposition of many Jacobians, deduplication of many points.

Eigendecomposition: ``--matrices`` Jacobians of a random gain-2 GRU (``--units``
units) at visited states, by

* :func:`dynalyze.linearization.eigendecompose` (sorted eigenvalues, unit right
  eigenvectors and left eigenvectors ``L = R^-1``, in a thread pool with
  single-threaded BLAS);
* plain ``np.linalg.eig`` (eigenvalues and right eigenvectors only) with the
  default (threaded) BLAS, and with BLAS pinned to one thread;
* ``np.linalg.eig`` + ``np.linalg.inv`` (the same outputs as ``eigendecompose``)
  with the default BLAS;
* :meth:`dynalyze.Linearization.compute` (Jacobians, eigendecomposition, time
  constants, stability and the labelled dataset), for the whole stage.

Deduplication: :func:`dynalyze.fixedpoints.deduplicate` (k-d tree) on
``--points`` points in ``--dim`` dimensions at tolerance 1e-3, in three regimes:
mostly unique (uniform in a unit cube), mostly duplicates (``--points / 100``
centres, 100 copies each within 1e-5), and a line attractor (points along a
smooth 1-D curve, neighbours tol / 10 apart, so tolerance balls chain). Also
:func:`dynalyze.fixedpoints.outlier_mask` against as many reference points
(uniform in a cube), for queries near the references (as fixed points near
visited states) and uniform queries (the k-d tree's worst case in high
dimension). Target (issue 4): deduplicating 10,000 points in under 1 s.

Usage::

    python benchmarks/postprocessing.py                 # 500 x 128x128, 10,000 points
    python benchmarks/postprocessing.py --json post.json
    python benchmarks/postprocessing.py --quick         # tiny smoke run (CI)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_time, blas_threads, emit, make_parser, random_gru, visited_states

from dynalyze.fixedpoints import deduplicate, outlier_mask
from dynalyze.linearization import Linearization, eigendecompose


def eig_inv(jac: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eig(jac)
    return values, vectors, np.linalg.inv(vectors)


def eigen_rows(units: int, matrices: int, repeat: int, seed: int) -> list[dict[str, Any]]:
    system = random_gru(units, 2.0, seed=seed)
    h = visited_states(system, matrices, noise=0.05, seed=seed + 1)
    x = np.zeros((matrices, system.input_dim))
    jac = system.jacobian_state(h, x)
    runs: dict[str, Callable[[], Any]] = {
        "dynalyze eigendecompose (pool)": lambda: eigendecompose(jac),
        "np.linalg.eig (threaded BLAS)": lambda: np.linalg.eig(jac),
        "np.linalg.eig (1 BLAS thread)": lambda: _one_thread(lambda: np.linalg.eig(jac)),
        "np.linalg.eig + inv (threaded BLAS)": lambda: eig_inv(jac),
        "Linearization.compute (whole stage)": lambda: Linearization().compute(system, h, x),
    }
    times = {name: best_time(fn, repeat=repeat) for name, fn in runs.items()}
    reference = times["np.linalg.eig (threaded BLAS)"]
    _, right, left = eigendecompose(jac)
    identity_error = float(np.abs(np.matmul(left, right) - np.eye(jac.shape[1])).max())
    return [
        {
            "task": name,
            "matrices": matrices,
            "size": jac.shape[1],
            "s": seconds,
            "ms/matrix": 1e3 * seconds / matrices,
            "x eig threaded": seconds / reference,
            "max abs(LR - I)": identity_error if "dynalyze" in name else float("nan"),
        }
        for name, seconds in times.items()
    ]


def _one_thread(fn: Callable[[], Any]) -> Any:
    with blas_threads(1):
        return fn()


def point_sets(n: int, dim: int, tol: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = max(1, n // 100)
    centres = rng.uniform(size=(groups, dim))
    duplicates = np.repeat(centres, -(-n // groups), axis=0)[:n]
    duplicates = duplicates + 1e-5 / np.sqrt(dim) * rng.standard_normal((n, dim))
    t = np.linspace(0.0, 1.0, n)[:, None]
    frequencies = rng.uniform(0.5, 2.0, size=dim)
    phases = rng.uniform(0.0, 2 * np.pi, size=dim)
    curve = np.sin(2 * np.pi * frequencies * t + phases)
    # Neighbours tol / 10 apart along the curve: tolerance balls overlap and chain.
    curve *= 0.1 * tol / np.mean(np.linalg.norm(np.diff(curve, axis=0), axis=1))
    return {
        "mostly unique (uniform cube)": rng.uniform(size=(n, dim)),
        "mostly duplicates (100 per group)": duplicates,
        "line attractor (1-D curve)": curve[rng.permutation(n)],
    }


def dedup_rows(n: int, dim: int, tol: float, repeat: int, seed: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(seed + 7)
    for name, points in point_sets(n, dim, tol, seed).items():
        speed = rng.uniform(size=n)
        seconds = best_time(partial(deduplicate, points, tol, order=speed), repeat=repeat)
        rep = deduplicate(points, tol, order=speed)
        rows.append(
            {
                "task": f"deduplicate: {name}",
                "points": n,
                "dim": dim,
                "s": seconds,
                "groups": int(np.sum(rep == np.arange(n))),
                "under 1 s": "yes" if seconds < 1.0 else "NO",
            }
        )
    reference = np.random.default_rng(seed + 3).uniform(size=(n, dim))
    near = reference + 1e-3 * np.random.default_rng(seed + 4).standard_normal((n, dim))
    far = np.random.default_rng(seed + 5).uniform(size=(n, dim))
    for name, queries in (("near the references", near), ("uniform, worst case", far)):
        seconds = best_time(partial(outlier_mask, queries, reference, 10.0), repeat=repeat)
        rows.append(
            {
                "task": f"outlier_mask: {name}",
                "points": n,
                "dim": dim,
                "s": seconds,
                "groups": float("nan"),
                "under 1 s": "yes" if seconds < 1.0 else "NO",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--units", type=int, default=128, help="Jacobian size")
    parser.add_argument("--matrices", type=int, default=500, help="Jacobians to decompose")
    parser.add_argument("--points", type=int, default=10000, help="points to deduplicate")
    parser.add_argument("--dim", type=int, default=64, help="dimension of the points")
    parser.add_argument("--tol", type=float, default=1e-3, help="deduplication tolerance")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many calls")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.units, args.matrices, args.points, args.dim, args.repeat = 16, 32, 2000, 16, 2

    tables = {
        "Eigendecomposition of many Jacobians": eigen_rows(
            args.units, args.matrices, args.repeat, args.seed
        ),
        "Deduplication and outliers": dedup_rows(
            args.points, args.dim, args.tol, args.repeat, args.seed
        ),
    }
    emit(tables, args, script="postprocessing")


if __name__ == "__main__":
    main()
