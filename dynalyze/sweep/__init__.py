"""Sweeps: train and analyse a grid of networks on Dask, and compare their mechanisms.

:func:`run_sweep` (``dynalyze sweep``) is a pipeline of named stages:

1. **plan**: the grid's jobs (:class:`SweepGrid`), which are finished;
2. **execute**: the rest on a Dask cluster (:func:`dynalyze.sweep.engine.execute`);
3. **collect**: ``sweep.nc``, every job's summary on the grid's dimensions;
4. **compare**: ``universality.nc``, geometry and topology distances between
   networks with the seed null (:mod:`dynalyze.sweep.universality`);
5. **report**: ``report.md`` and ``figures/`` at the sweep's root.

Dask is imported only when jobs run.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import attrs
import xarray as xr

from dynalyze._atomic import atomic_path
from dynalyze.sweep.collect import SWEEP_FILE, collect, write_sweep
from dynalyze.sweep.engine import PROBE_FILE, RUN_FILE, JobOutcome, execute
from dynalyze.sweep.grid import Job, SweepGrid, parse_list
from dynalyze.sweep.report import write_universality
from dynalyze.sweep.universality import compare_networks

__all__ = ["Job", "SweepGrid", "SweepResult", "parse_list", "run_sweep"]

logger = logging.getLogger(__name__)

COMPARISON_FILE = "universality.nc"


@attrs.frozen(kw_only=True)
class SweepResult:
    """What :func:`run_sweep` did.

    Parameters
    ----------
    out : pathlib.Path
        The sweep folder.
    outcomes : list of JobOutcome
        One per job of the grid, in grid order.
    sweep : xarray.Dataset
        The contents of ``sweep.nc``.
    comparison : xarray.Dataset
        The contents of ``universality.nc``.

    Examples
    --------
    >>> result = SweepResult(out=Path("."), outcomes=[JobOutcome(key="k", status="failed")],
    ...                      sweep=xr.Dataset(), comparison=xr.Dataset())
    >>> result.n_failed, result.n_trained
    (1, 0)
    """

    out: Path
    outcomes: list[JobOutcome]
    sweep: xr.Dataset
    comparison: xr.Dataset

    @property
    def n_failed(self) -> int:
        """Jobs that failed."""
        return sum(o.status == "failed" for o in self.outcomes)

    @property
    def n_skipped(self) -> int:
        """Jobs finished by an earlier invocation."""
        return sum(o.status == "skipped" for o in self.outcomes)

    @property
    def n_trained(self) -> int:
        """Networks trained by this invocation."""
        return sum(o.trained for o in self.outcomes)


def _finished_networks(grid: SweepGrid, out: Path) -> list[dict[str, Any]]:
    networks = []
    for job in grid.jobs():
        folder = job.folder(out)
        if (folder / RUN_FILE).is_file() and (folder / PROBE_FILE).is_file():
            networks.append(
                {
                    "key": job.key,
                    "architecture": job.architecture,
                    "dataset": job.dataset,
                    "seed": job.seed,
                    "probe": folder / PROBE_FILE,
                    "summary": json.loads((folder / RUN_FILE).read_text())["summary"],
                }
            )
    return networks


def run_sweep(
    grid: SweepGrid,
    *,
    out: str | Path = "dynalyze-sweep",
    workers: int = 2,
    scheduler: str | None = None,
    retries: int = 2,
    n_probe: int = 200,
    n_permutations: int = 2000,
    progress: bool = True,
) -> SweepResult:
    """Train and analyse every network of ``grid`` and compare their mechanisms.

    Parameters
    ----------
    grid : SweepGrid
        Architectures x datasets x seeds (x hyperparameters).
    out : path
        Sweep folder: ``jobs/KEY/`` per job, ``sweep.nc``, ``universality.nc``,
        ``report.md``, ``figures/``. Running the same sweep again skips the
        finished jobs.
    workers : int
        Workers of the default Dask ``LocalCluster`` (one thread each).
    scheduler : str, optional
        Address of an existing Dask scheduler to run the jobs on instead.
    retries : int
        Retries of a job after an unexpected exception.
    n_probe : int
        Probe documents per dataset for the geometry comparison.
    n_permutations : int
        Permutations of the seed null.
    progress : bool
        Progress bar over jobs.

    Returns
    -------
    SweepResult

    Examples
    --------
    A sweep whose every job is finished runs nothing and rebuilds the summaries:

    >>> import tempfile
    >>> grid = SweepGrid(architectures=["gru"], datasets=["csv:/no/such.csv"], seeds=[0])
    >>> result = run_sweep(grid, out=tempfile.mkdtemp(), progress=False)  # doctest: +SKIP
    """
    out = Path(out).resolve()
    jobs = grid.jobs()
    logger.info("Sweep of %d jobs into %s", len(jobs), out)
    start = time.perf_counter()
    outcomes = execute(
        jobs,
        out,
        workers=workers,
        scheduler=scheduler,
        retries=retries,
        n_probe=n_probe,
        progress=progress,
    )
    sweep = collect(grid, out, outcomes)
    sweep.attrs["dynalyze_sweep_invocation"] = json.dumps(
        {
            "jobs_wall_s": time.perf_counter() - start,
            "workers": None if scheduler else workers,
            "scheduler": scheduler,
            "n_jobs": len(outcomes),
            "n_trained": sum(o.trained for o in outcomes),
            "n_skipped": sum(o.status == "skipped" for o in outcomes),
            "n_failed": sum(o.status == "failed" for o in outcomes),
        }
    )
    write_sweep(sweep, out)
    comparison = compare_networks(_finished_networks(grid, out), n_permutations=n_permutations)
    target = out / COMPARISON_FILE
    with atomic_path(target, keep_suffix=True) as tmp:
        comparison.to_netcdf(tmp)
    from dynalyze.plot.universality import save_universality_figures

    figures = save_universality_figures(out / "figures", comparison)
    write_universality(out, sweep, comparison, figures=[p.name for p in figures.values()])
    logger.info("Wrote %s, %s and report.md", SWEEP_FILE, COMPARISON_FILE)
    return SweepResult(out=out, outcomes=outcomes, sweep=sweep, comparison=comparison)
