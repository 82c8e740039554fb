"""Default (Levenberg-Marquardt) finder vs the Adam reference, side by side in one process.

Usage::

    python benchmarks/fixed_points.py            # GRU-128, 1,024 starts, gains 1 and 2
    python benchmarks/fixed_points.py --quick    # tiny smoke run (CI)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import random_gru, table, timed, visited_states

from dynalyze.fixedpoints import AdamFinder, LevenbergMarquardtFinder


def run(units: int, n_starts: int, gain: float, adam_iter: int) -> list[dict[str, object]]:
    system = random_gru(units, gain, seed=0)
    starts = visited_states(system, n_starts, noise=0.05, seed=1)
    finders = {
        "LM (default)": LevenbergMarquardtFinder(),
        "Adam lr=1.0 (classic)": AdamFinder(learning_rate=1.0, tol=1e-12, max_iter=adam_iter),
        "Adam lr=0.05 (tuned)": AdamFinder(learning_rate=0.05, tol=1e-12, max_iter=adam_iter),
    }
    rows: list[dict[str, object]] = []
    lm_time = None
    for label, finder in finders.items():
        seconds, ds = timed(lambda f=finder: f.find(system, starts))
        speed = ds["speed"].values
        status = ds["status"].values
        rows.append(
            {
                "system": f"GRU-{units} gain {gain:g}",
                "finder": label,
                "wall s": seconds,
                "median iters": float(np.median(ds["iterations"].values)),
                "max iters": int(ds["iterations"].values.max()),
                "converged": float(np.mean(status == 0)),
                "slow": float(np.mean(status == 1)),
                "failed": float(np.mean(status == 2)),
                "max speed": float(np.max(speed)),
                "unique fps": int(ds.dynalyze.unique().sizes["fixed_point"]),
                "x LM time": 1.0 if lm_time is None else seconds / lm_time,
            }
        )
        if lm_time is None:
            lm_time = seconds
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--starts", type=int, default=1024)
    parser.add_argument("--adam-iter", type=int, default=5000)
    args = parser.parse_args(argv)
    if args.quick:
        args.units, args.starts, args.adam_iter = 16, 64, 200
    rows = []
    for gain in (1.0, 2.0):
        rows += run(args.units, args.starts, gain, args.adam_iter)
    print(table(rows))


if __name__ == "__main__":
    main()
