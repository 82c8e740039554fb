"""How the default fixed-point finder scales, and which linear algebra its inner solve uses.

Part 1 (LM scaling): :class:`dynalyze.fixedpoints.LevenbergMarquardtFinder` on
random GRUs (Keras initialisation, recurrent gain ``--gain``) of 64 / 128 / 256 /
512 units from 256 / 1,024 / 4,096 starts. Each configuration runs in its own
subprocess, so ``peak MiB`` is an honest peak resident-memory increase of that
run (``ru_maxrss`` after minus before the search; the system and the starts
are built before). ``ms/iter`` is the wall time divided by the number of LM
iterations of the slowest point (every point starts together and converged
points are frozen, so later iterations are cheaper); ``us/pt-iter`` divides by
the total number of point-iterations.

Part 2 (inner solve): one LM step on a stack of ``n`` systems of size ``d``
given ``A = J - I`` (with ``J`` the Jacobian of a random GRU-d at visited
states), the residual ``r`` and the damping ``mu``, float64, by

* ``form A^T A, A^T r``: building the normal equations (done once per
  relinearization; rejected steps reuse them);
* ``LU solve``: ``np.linalg.solve(A^T A + mu I, -A^T r)`` (what LM uses);
* ``Cholesky``: ``np.linalg.cholesky`` + two batched ``scipy.linalg.solve_triangular``;
* ``scipy posv``: ``scipy.linalg.solve(..., assume_a="pos")`` (LAPACK Cholesky solve);
* ``QR of [A; sqrt(mu) I]``: the least-squares form, without normal equations;
* ``Newton LU on A``: ``np.linalg.solve(A, -r)``, the undamped square system
  (only a reference: LM needs the damping);

each with the default threaded BLAS (``threaded``), BLAS pinned to one thread
(``1 thread``), and :func:`dynalyze._parallel.map_batches` (one BLAS thread per
worker in a thread pool, ``pool``). ``err`` is the largest relative difference
from the LU solution. The winners table picks the fastest way to solve the
damped system at each size.

Usage::

    python benchmarks/scaling.py                        # full grid (minutes)
    python benchmarks/scaling.py --units 128,256 --starts 1024 --json scaling.json
    python benchmarks/scaling.py --skip-lm              # only the linear-algebra part
    python benchmarks/scaling.py --quick                # tiny smoke run (CI)
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_time, blas_threads, csv_ints, emit, make_parser, random_gru, visited_states

from dynalyze._parallel import map_batches

FloatArray = np.ndarray
Solver = Callable[[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray], FloatArray]


# ------------------------------------------------------------------ part 1: LM
def lm_worker(units: int, starts: int, gain: float, seed: int) -> dict[str, Any]:
    """Run LM once in this process and measure it (called in a fresh subprocess)."""
    from dynalyze.fixedpoints import LevenbergMarquardtFinder

    system = random_gru(units, gain, seed=seed)
    h0 = visited_states(system, starts, noise=0.05, seed=seed + 1)
    finder = LevenbergMarquardtFinder()
    finder.find(system, h0[:2])  # warm-up: thread pool, lazy imports
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    begin = time.perf_counter()
    ds = finder.find(system, h0)
    seconds = time.perf_counter() - begin
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    iterations = ds["iterations"].values
    return {
        "seconds": seconds,
        "max_iter": int(iterations.max()),
        "median_iter": float(np.median(iterations)),
        "point_iters": int(iterations.sum()),
        "converged": float(np.mean(ds["status"].values == 0)),
        "peak_delta_mib": (after - before) / 1024.0,
        "peak_mib": after / 1024.0,
    }


def lm_scaling(
    units_list: list[int], starts_list: list[int], gain: float, seed: int, timeout: float
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for units in units_list:
        for starts in starts_list:
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                json.dumps({"units": units, "starts": starts, "gain": gain, "seed": seed}),
            ]
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
            if done.returncode != 0:
                raise RuntimeError(
                    f"LM worker GRU-{units} x {starts} failed:\n{done.stderr[-2000:]}"
                )
            out = json.loads(done.stdout.strip().splitlines()[-1])
            jacobian_mib = starts * units * units * 8 / 2**20
            rows.append(
                {
                    "units": units,
                    "starts": starts,
                    "wall s": out["seconds"],
                    "iters (max)": out["max_iter"],
                    "iters (median)": out["median_iter"],
                    "ms/iter": 1e3 * out["seconds"] / max(out["max_iter"], 1),
                    "us/pt-iter": 1e6 * out["seconds"] / max(out["point_iters"], 1),
                    "converged": out["converged"],
                    "peak MiB": out["peak_delta_mib"],
                    "n*d*d*8 MiB": jacobian_mib,
                }
            )
    return rows


# ------------------------------------------------------- part 2: linear algebra
def _form(a: FloatArray, r: FloatArray) -> tuple[FloatArray, FloatArray]:
    at = np.transpose(a, (0, 2, 1))
    return np.matmul(at, a), np.einsum("nij,nj->ni", at, r)


def _damped(normal: FloatArray, mu: FloatArray) -> FloatArray:
    lhs = normal.copy()
    np.einsum("nii->ni", lhs)[...] += mu[:, None]
    return lhs


def solve_form(
    a: FloatArray, r: FloatArray, mu: FloatArray, normal: FloatArray, grad: FloatArray
) -> FloatArray:
    return _form(a, r)[1]


def solve_lu(
    a: FloatArray, r: FloatArray, mu: FloatArray, normal: FloatArray, grad: FloatArray
) -> FloatArray:
    return -np.linalg.solve(_damped(normal, mu), grad[..., None])[..., 0]


def solve_cholesky(
    a: FloatArray, r: FloatArray, mu: FloatArray, normal: FloatArray, grad: FloatArray
) -> FloatArray:
    from scipy.linalg import solve_triangular

    low = np.linalg.cholesky(_damped(normal, mu))
    y = solve_triangular(low, grad[..., None], lower=True, check_finite=False)
    x = solve_triangular(low, y, lower=True, trans="T", check_finite=False)
    return -np.asarray(x)[..., 0]


def solve_posv(
    a: FloatArray, r: FloatArray, mu: FloatArray, normal: FloatArray, grad: FloatArray
) -> FloatArray:
    from scipy.linalg import solve

    x = solve(_damped(normal, mu), grad[..., None], assume_a="pos", check_finite=False)
    return -np.asarray(x)[..., 0]


def solve_qr(
    a: FloatArray, r: FloatArray, mu: FloatArray, normal: FloatArray, grad: FloatArray
) -> FloatArray:
    from scipy.linalg import solve_triangular

    n, d, _ = a.shape
    aug = np.zeros((n, 2 * d, d))
    aug[:, :d] = a
    np.einsum("nii->ni", aug[:, d:])[...] = np.sqrt(mu)[:, None]
    q, upper = np.linalg.qr(aug)  # reduced: q (n, 2d, d), upper (n, d, d)
    rhs = -np.einsum("nji,nj->ni", q[:, :d], r)  # Q^T [-r; 0]
    return np.asarray(solve_triangular(upper, rhs[..., None], check_finite=False))[..., 0]


def solve_newton(
    a: FloatArray, r: FloatArray, mu: FloatArray, normal: FloatArray, grad: FloatArray
) -> FloatArray:
    return -np.linalg.solve(a, r[..., None])[..., 0]


SOLVERS: dict[str, tuple[Solver, bool]] = {
    # name: (function, solves the damped LM system)
    "form A^T A, A^T r": (solve_form, False),
    "LU solve": (solve_lu, True),
    "Cholesky": (solve_cholesky, True),
    "scipy posv": (solve_posv, True),
    "QR of [A; sqrt(mu) I]": (solve_qr, True),
    "Newton LU on A": (solve_newton, False),
}
MODES = ("threaded", "1 thread", "pool")


def lm_problem(d: int, n: int, seed: int) -> tuple[FloatArray, ...]:
    """A, r, mu, A^T A, A^T r at states visited by a random gain-2 GRU-d."""
    system = random_gru(d, 2.0, seed=seed)
    h = visited_states(system, n, noise=0.05, seed=seed + 1)
    x = np.zeros((n, system.input_dim))
    a = system.jacobian_state(h, x) - np.eye(d)
    r = system.step(h, x) - h
    normal, grad = _form(a, r)
    mu = 1e-3 * np.einsum("nii->ni", normal).max(axis=1)
    return a, r, mu, normal, grad


def run_mode(fn: Solver, mode: str, arrays: tuple[FloatArray, ...]) -> FloatArray:
    if mode == "threaded":
        return fn(*arrays)
    if mode == "1 thread":
        with blas_threads(1):
            return fn(*arrays)
    result: FloatArray = map_batches(fn, list(arrays))
    return result


def linear_algebra(
    sizes: list[int], max_n: int, repeat: int, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    winners: list[dict[str, Any]] = []
    for d in sizes:
        n = int(min(max_n, max(16, 2**28 // (8 * d * d))))
        arrays = lm_problem(d, n, seed)
        reference = solve_lu(*arrays)
        scale = np.linalg.norm(reference, axis=1).max()
        best: tuple[float, str, str] = (np.inf, "", "")
        for name, (fn, damped) in SOLVERS.items():
            row: dict[str, Any] = {"d": d, "n": n, "method": name}
            for mode in MODES:
                seconds = best_time(partial(run_mode, fn, mode, arrays), repeat=repeat)
                row[f"{mode} ms"] = 1e3 * seconds
                if damped and seconds < best[0]:
                    best = (seconds, name, mode)
            fastest = min(MODES, key=lambda m: row[f"{m} ms"])
            row["fastest mode"] = fastest
            # Newton solves another (undamped) system and forming solves nothing: no error.
            row["err"] = (
                float(np.abs(fn(*arrays) - reference).max() / scale) if damped else float("nan")
            )
            rows.append(row)
        lu_row = next(r for r in rows if r["d"] == d and r["method"] == "LU solve")
        winners.append(
            {
                "d": d,
                "n": n,
                "fastest damped solve": best[1],
                "with": best[2],
                "ms": 1e3 * best[0],
                "LU pool ms": lu_row["pool ms"],
                "LU threaded ms": lu_row["threaded ms"],
            }
        )
    return rows, winners


def main(argv: list[str] | None = None) -> None:
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--worker":
        spec = json.loads(sys.argv[2])
        print(json.dumps(lm_worker(spec["units"], spec["starts"], spec["gain"], spec["seed"])))
        return
    parser = make_parser(__doc__)
    parser.add_argument("--units", type=csv_ints, default=[64, 128, 256, 512])
    parser.add_argument("--starts", type=csv_ints, default=[256, 1024, 4096])
    parser.add_argument("--gain", type=float, default=1.0, help="recurrent gain of the GRUs")
    parser.add_argument("--sizes", type=csv_ints, default=None, help="d for the solve part")
    parser.add_argument("--max-n", type=int, default=1024, help="largest stack in the solve part")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many (solve part)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="per LM configuration")
    parser.add_argument("--skip-lm", action="store_true", help="only the linear-algebra part")
    parser.add_argument("--skip-linalg", action="store_true", help="only the LM part")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.units, args.starts, args.sizes, args.max_n, args.repeat = (
            [16, 32],
            [64],
            [16, 32],
            64,
            2,
        )
    sizes = args.sizes if args.sizes is not None else args.units

    tables: dict[str, list[dict[str, Any]]] = {}
    if not args.skip_lm:
        tables[f"LM scaling (random GRU, gain {args.gain:g})"] = lm_scaling(
            args.units, args.starts, args.gain, args.seed, args.timeout
        )
    if not args.skip_linalg:
        rows, winners = linear_algebra(sizes, args.max_n, args.repeat, args.seed)
        tables["LM inner solve: method x threading"] = rows
        tables["Fastest damped solve per size"] = winners
    emit(
        tables,
        args,
        notes=["peak MiB: ru_maxrss increase during the search, in a fresh subprocess."],
        script="scaling",
    )


if __name__ == "__main__":
    main()
