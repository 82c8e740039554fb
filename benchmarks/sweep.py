"""Cost of the sweep engine: the same small sweep serially, on 1 and on 2 Dask workers.

Every side runs the same jobs (whole ``dynalyze run``s: train, analyse, probe)
into a fresh folder, in this order: ``serial`` calls
:func:`dynalyze.sweep.engine.run_job` in this process one job after another
(what a for-loop over ``dynalyze run`` costs, without Dask); ``dask, 1 worker``
and ``dask, 2 workers`` run :func:`dynalyze.sweep.engine.execute` on a
``LocalCluster`` with one thread per worker. Every side pins TensorFlow, BLAS
and dynalyze to one thread per job, so the 2-worker side uses both cores.

Columns: wall time of the whole side, the sum of the jobs' own wall times on
their workers, the engine's overhead (wall time minus job time divided by the
workers), the speed-up over serial, and the peak resident memory of a worker
process (MiB, the largest over its jobs; for ``serial`` this process).

Usage::

    python benchmarks/sweep.py                 # gru,lstm,simple,ugrnn x synthetic x seeds 0,1
    python benchmarks/sweep.py --quick         # 2 tiny jobs (CI smoke run)
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import csv_strings, emit, make_parser

TINY = {"units": 8, "epochs": 1, "n_initial": 50, "n_analysis": 50, "max_train": 300}


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--arch", type=csv_strings, default=["gru", "lstm", "simple", "ugrnn"])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--seeds", type=csv_strings, default=["0", "1"])
    parser.add_argument("--n-probe", type=int, default=50)
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    from dynalyze.sweep import SweepGrid
    from dynalyze.sweep.engine import execute, run_job

    archs = ["gru"] if args.quick else args.arch
    grid = SweepGrid(
        architectures=archs,
        datasets=[args.dataset],
        seeds=[int(s) for s in args.seeds],
        hyperparameters=TINY,
    )
    jobs = grid.jobs()
    rows: list[dict[str, Any]] = []
    serial_wall = None
    sides = [("serial", 0), ("dask, 1 worker", 1), ("dask, 2 workers", 2)]
    for label, workers in sides:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            if workers == 0:
                outcomes = [run_job(job, out, n_probe=args.n_probe) for job in jobs]
            else:
                outcomes = execute(jobs, out, workers=workers, n_probe=args.n_probe, progress=False)
            wall = time.perf_counter() - start
        failed = [o.key for o in outcomes if o.status != "done"]
        if failed:
            raise SystemExit(f"{label}: jobs did not finish: {failed}")
        job_seconds = sum(o.seconds for o in outcomes)
        serial_wall = wall if serial_wall is None else serial_wall
        rows.append(
            {
                "side": label,
                "jobs": len(jobs),
                "wall s": wall,
                "job s (sum)": job_seconds,
                "overhead s": wall - job_seconds / max(workers, 1),
                "speed-up vs serial": serial_wall / wall,
                "peak RSS / worker MiB": max(o.peak_rss_mb for o in outcomes),
            }
        )
    notes = [
        f"grid: {', '.join(archs)} x {args.dataset} x seeds {', '.join(args.seeds)}; every job "
        f"{TINY}, probe of {args.n_probe} documents; one thread per job.",
        "overhead = wall - (sum of job times) / workers: cluster start-up and shutdown, task "
        "submission, and idle workers at the end when jobs do not divide evenly.",
    ]
    emit({"Sweep engine cost": rows}, args, notes=notes, script="benchmarks/sweep.py")


if __name__ == "__main__":
    main()
