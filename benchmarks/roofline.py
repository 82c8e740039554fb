"""Where an LM search spends its time, against what this machine can do (a roofline).

Two tables:

1. **Machine ceilings** at the finder's sizes, one thread: batched GEMM
   (points x d x d times d x d), batched LU solve (``np.linalg.solve`` of
   points x d x d, one right-hand side: what a Newton step does), Cholesky
   solve (the damped steps' ``solve_spd``, matrix by matrix), one large
   GEMM (the BLAS peak), and memory bandwidth (copying points x d x d float64
   Jacobians, 1,024 x 128 x 128 = 134 MB).
2. **Phases of the default finder** (``LevenbergMarquardtFinder()``, one
   thread) on each system: Jacobian assembly (``system._jacobian_state``),
   Newton solves (a point's own LU), shared solves (one LU per group of
   gathered points, chord steps for its members: point-iterations are the
   members served, leaders included), the normal equations of damped steps
   (``A^T A``, a batched SYRK: d^3 flops), damped solves (Cholesky), the crawl
   checks' neutral test (Tikhonov screens and, where they do not decide, the
   neutral eigenpairs), step evaluations (``system._step``, line-search trials
   included) and the rest (bookkeeping: gathers, masks, the status and
   deduplication after the search). Each phase's seconds, share of the total,
   the work it did (point-iterations) and its rate in GFLOP/s (solves, normal
   equations) or GB/s of Jacobians written (assembly), beside the ceiling.

The phases are timed by wrapping the finder's own functions in this process
(``DYNALYZE_NUM_THREADS=1``, BLAS one thread); the wrappers add microseconds.

Usage::

    python benchmarks/roofline.py --model runs/imdb/model
    python benchmarks/roofline.py --quick
    python benchmarks/roofline.py --model runs/imdb/model --continuum runs/gru256
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["DYNALYZE_NUM_THREADS"] = "1"

from _common import blas_threads, emit, make_parser, random_gru, visited_states

import dynalyze.fixedpoints.levenberg_marquardt as lm_module
from dynalyze.fixedpoints import LevenbergMarquardtFinder
from dynalyze.fixedpoints._spd import solve_spd

#: The phase of shared factorisations: one LU per group, two triangular solves per member.
SHARED = "shared solves (a leader's LU, chord steps)"
#: The crawl checks' neutral test: Tikhonov screens, neutral eigenpairs where undecided.
NEUTRAL = "neutral test (crawl checks)"


def best(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        begin = time.perf_counter()
        fn()
        times.append(time.perf_counter() - begin)
    return min(times)


def ceilings(n: int, d: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(n, d, d)) + d * np.eye(d)
    b = rng.normal(size=(n, d, 1))
    big = rng.normal(size=(2048, 2048))
    out = np.empty_like(a)
    spd = np.matmul(np.transpose(a, (0, 2, 1)), a)
    return {
        "batched GEMM GFLOP/s": n * 2 * d**3 / best(lambda: np.matmul(a, a, out=out)) / 1e9,
        "batched LU solve GFLOP/s": n * (2 / 3) * d**3 / best(lambda: np.linalg.solve(a, b)) / 1e9,
        "Cholesky solve GFLOP/s": n
        * (d**3 / 3 + 2 * d**2)
        / best(lambda: solve_spd(spd.copy(), b[..., 0]))
        / 1e9,
        "large GEMM GFLOP/s": 2 * 2048**3 / best(lambda: big @ big) / 1e9,
        "copy GB/s": 2 * a.nbytes / best(lambda: np.copyto(out, a)) / 1e9,
    }


class Phases:
    """Wrap the finder's functions and the system's methods; accumulate seconds and counts."""

    def __init__(self, system: Any) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.points: dict[str, int] = defaultdict(int)
        self.system = system
        self._saved: list[tuple[Any, str, Any]] = []
        self._inner = 0.0  # seconds spent in wrapped calls, so nested ones count once

    def _wrap(self, owner: Any, name: str, phase: str, count: Callable[..., int]) -> None:
        original = getattr(owner, name)
        self._saved.append((owner, name, original))

        def timed(*args: Any, **kwargs: Any) -> Any:
            begin, inner_before = time.perf_counter(), self._inner
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - begin
                # A wrapped call inside this one (a leader's Jacobian in a shared solve)
                # counts in its own phase only.
                self.seconds[phase] += elapsed - (self._inner - inner_before)
                self._inner = inner_before + elapsed
                self.points[phase] += count(*args, **kwargs)

        setattr(owner, name, timed)

    def __enter__(self) -> Phases:
        self._wrap(self.system, "_jacobian_state", "Jacobian assembly", lambda h, x: len(h))
        self._wrap(lm_module, "_newton_step", "Newton solve", lambda jac, r: len(jac))
        self._wrap(
            lm_module,
            "shared_directions",
            SHARED,
            lambda system, h, x, r, groups, **_: sum(g.size for g in groups.members),
        )
        self._wrap(
            lm_module, "_normal_equations", "normal equations (A^T A)", lambda n, i, j, r: len(i)
        )
        self._wrap(lm_module, "_damped_step", "damped solve", lambda n, i, mu, g, p: len(i))
        self._wrap(lm_module, "is_neutral", NEUTRAL, lambda n, g, rr, eps, **_: len(n))
        self._wrap(self.system, "_step", "step evaluation", lambda h, x: len(h))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            if owner is self.system:
                delattr(owner, name)  # the instance attribute shadowed the class method
            else:
                setattr(owner, name, original)


def phase_rows(label: str, system: Any, starts: np.ndarray, roof: dict[str, float]) -> list[dict]:
    d = system.state_dim
    finder = LevenbergMarquardtFinder()
    finder.find(system, starts[:4])  # warm-up
    with Phases(system) as phases:
        begin = time.perf_counter()
        finder.find(system, starts)
        total = time.perf_counter() - begin
    flops = {
        "Newton solve": (2 / 3) * d**3 + 2 * d**2,
        "damped solve": d**3 / 3 + 2 * d**2,
        "normal equations (A^T A)": d**3,
    }
    ceiling = {
        "Newton solve": roof["batched LU solve GFLOP/s"],
        "damped solve": roof["Cholesky solve GFLOP/s"],
        "normal equations (A^T A)": roof["batched GEMM GFLOP/s"],
    }
    rows = []
    for phase in [
        "Jacobian assembly",
        "Newton solve",
        SHARED,
        "normal equations (A^T A)",
        "damped solve",
        NEUTRAL,
        "step evaluation",
    ]:
        seconds = phases.seconds.get(phase, 0.0)
        count = phases.points.get(phase, 0)
        rate, roof_rate, unit = float("nan"), float("nan"), ""
        if phase in flops and seconds:
            rate, roof_rate, unit = count * flops[phase] / seconds / 1e9, ceiling[phase], "GFLOP/s"
        elif phase == "Jacobian assembly" and seconds:
            rate, roof_rate, unit = count * d * d * 8 / seconds / 1e9, roof["copy GB/s"], "GB/s"
        rows.append(
            {
                "system": label,
                "phase": phase,
                "seconds": seconds,
                "share": seconds / total,
                "point-iterations": count,
                "rate": rate,
                "ceiling": roof_rate,
                "unit": unit,
                # Phases without a ceiling count at their measured time.
                "at ceiling s": count * flops[phase] / roof_rate / 1e9
                if phase in flops
                else (count * d * d * 8 / roof_rate / 1e9 if unit == "GB/s" else seconds),
            }
        )
    rest = total - sum(phases.seconds.values())
    rows.append(
        {
            "system": label,
            "phase": "bookkeeping, status, dedup",
            "seconds": rest,
            "share": rest / total,
            "point-iterations": 0,
            "rate": float("nan"),
            "ceiling": float("nan"),
            "unit": "",
            "at ceiling s": float("nan"),
        }
    )
    rows.append(
        {
            "system": label,
            "phase": "total",
            "seconds": total,
            "share": 1.0,
            "point-iterations": phases.points.get("Jacobian assembly", 0),
            "rate": float("nan"),
            "ceiling": float("nan"),
            "unit": "",
            "at ceiling s": float(np.nansum([r["at ceiling s"] for r in rows]) + max(rest, 0.0)),
        }
    )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--model", metavar="PATH", help="a `dynalyze run` model/ folder")
    parser.add_argument("--starts", type=int, default=1024)
    parser.add_argument(
        "--continuum",
        metavar="FOLDER",
        help="also the near-continuum GRU-256 of benchmarks/fixed_points.py --continuum "
        "(trained into FOLDER first if it holds no model), with ceilings at its size",
    )
    args = parser.parse_args(argv)
    logging.getLogger("dynalyze").setLevel(logging.WARNING)
    units = 16 if args.quick else 128
    n = 64 if args.quick else args.starts
    systems = [
        (f"GRU-{units} gain 1", random_gru(units, 1.0)),
        (f"GRU-{units} gain 2", random_gru(units, 2.0)),
    ]
    rows: list[dict[str, Any]] = []
    with blas_threads(1):
        roof = ceilings(n, units)
        for label, system in systems:
            starts = visited_states(system, n, noise=0.05, seed=1)
            rows += phase_rows(label, system, starts, roof)
        if args.model:
            from fixed_points import trained_starts

            system, starts, label = trained_starts(args.model, n, 1000, None, "imdb", 0)
            rows += phase_rows(label, system, starts, roof)
        machine_rows = [
            {"measurement": k, "value": v, "size": f"{n} x {units} x {units}"}
            for k, v in roof.items()
        ]
        if args.continuum:
            from fixed_points import continuum_model, trained_starts

            model = continuum_model(args.continuum, 0)
            system, starts, _ = trained_starts(model, n, 1000, None, "imdb", 0)
            d = system.state_dim
            wide = ceilings(n, d)
            machine_rows += [
                {"measurement": k, "value": v, "size": f"{n} x {d} x {d}"} for k, v in wide.items()
            ]
            label = f"trained GRU-{d} near-continuum (issue 23)"
            rows += phase_rows(label, system, starts, wide)
    emit(
        {"Machine ceilings (one thread)": machine_rows, "LM phases (one thread)": rows},
        args,
        notes=[
            "at ceiling s: the phase's work at the measured ceiling (Newton solves at batched-LU "
            "speed, damped ones at Cholesky speed, A^T A (SYRK, d^3 flops) at batched-GEMM "
            "speed, Jacobians written at copy bandwidth); phases without a ceiling (shared "
            "solves, neutral tests, step evaluations) and the bookkeeping count at their "
            "measured time in the total's 'at ceiling'.",
        ],
        script="roofline",
    )


if __name__ == "__main__":
    main()
