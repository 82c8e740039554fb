"""``sweep.nc``: the summary metrics of every job on the grid's dimensions.

A plain netCDF file (``xarray.open_dataset`` reads it): one variable per
metric on ``architecture x dataset x seed`` (plus any varied hyperparameter),
the job's status and one-line error, and the path of its folder, where the
ragged per-job results (fixed points, token projections, probe states) stay.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dynalyze._atomic import atomic_path
from dynalyze._version import __version__
from dynalyze.errors import OutputError
from dynalyze.sweep.engine import RUN_FILE, JobOutcome
from dynalyze.sweep.grid import Job, SweepGrid

__all__ = [
    "JOB_STATUS",
    "SWEEP_FILE",
    "collect",
    "metrics",
    "text_fields",
    "write_sweep",
]

SWEEP_FILE = "sweep.nc"

#: ``status`` flag values.
JOB_STATUS = {0: "done", 1: "failed", 2: "not_run"}

#: Run-level metrics of every job (the analyses add theirs: :func:`metrics`).
RUN_METRICS: dict[str, str] = {
    "test_accuracy": "test accuracy of the network",
    "bow_test_accuracy": "test accuracy of the bag-of-words baseline",
}

#: Run-level text fields of every job.
RUN_TEXT_FIELDS = {
    "error": "one-line error of a failed job",
    "job_path": "job folder relative to the sweep folder",
}


def metrics() -> dict[str, str]:
    """Every metric a sweep collects: run-level, then each installed analysis's summary metrics.

    A metric is a summary field with a ``long_name`` in its metadata
    (:meth:`dynalyze.analyses.Summary.metrics`), so an N-class job's simplex
    metrics and a plug-in's metrics are collected like the line attractor's.

    Examples
    --------
    >>> names = metrics()
    >>> "slow_fraction" in names, "late_state_dim_95" in names
    (True, True)
    """
    from dynalyze.analyses import list_analyses

    out = dict(RUN_METRICS)
    for cls in list_analyses().values():
        if cls.summary_type is not None:
            out.update({k: v for k, v in cls.summary_type.metrics().items() if k not in out})
    return out


def text_fields() -> dict[str, str]:
    """Every text field a sweep collects (the analyses' fields marked ``text``).

    Examples
    --------
    >>> sorted(text_fields())[:3]
    ['baseline', 'error', 'job_path']
    """
    from dynalyze.analyses import list_analyses

    out = dict(RUN_TEXT_FIELDS)
    for cls in list_analyses().values():
        if cls.summary_type is not None:
            out.update({k: v for k, v in cls.summary_type.texts().items() if k not in out})
    return out


def _record(job: Job, out: Path) -> dict[str, Any] | None:
    path = job.folder(out) / RUN_FILE
    if not path.is_file():
        return None
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def _number(value: Any) -> float:
    if value is None or isinstance(value, (str, list, dict)):
        return math.nan
    return float(value)


def collect(grid: SweepGrid, out: str | Path, outcomes: Sequence[JobOutcome]) -> xr.Dataset:
    """Gather every job's summary into one dataset on the grid's dimensions.

    Parameters
    ----------
    grid : SweepGrid
        The sweep.
    out : path
        Its output folder.
    outcomes : sequence of JobOutcome
        What happened to each job of ``grid.jobs()`` (same order).

    Returns
    -------
    xarray.Dataset
        Metrics (NaN where a job did not finish), ``status`` (flags
        :data:`JOB_STATUS`), ``error``, ``job_path``, ``mechanism``,
        ``seconds`` and ``worker_peak_rss_mb``.

    Examples
    --------
    >>> import tempfile
    >>> grid = SweepGrid(architectures=["gru"], datasets=["synthetic"], seeds=[0, 1])
    >>> ds = collect(grid, tempfile.mkdtemp(), [])
    >>> ds["status"].dims, ds["status"].values.ravel().tolist()
    (('architecture', 'dataset', 'seed'), [2, 2])
    """
    out = Path(out)
    wanted, texts = metrics(), text_fields()
    coords = grid.coords()
    dims = grid.dimensions
    shape = tuple(len(coords[d]) for d in dims)
    numbers = {name: np.full(shape, np.nan) for name in wanted}
    status = np.full(shape, 2, dtype=np.int8)
    text = {name: np.full(shape, "", dtype=object) for name in texts}
    seconds = np.full(shape, np.nan)
    rss = np.full(shape, np.nan)
    by_key = {o.key: o for o in outcomes}
    for job in grid.jobs():
        index = tuple(
            coords[d].index(
                {"architecture": job.architecture, "dataset": job.dataset, "seed": job.seed}.get(
                    d, job.settings.get(d)
                )
            )
            for d in dims
        )
        text["job_path"][index] = str(job.folder(out).relative_to(out))
        outcome = by_key.get(job.key)
        record = _record(job, out)
        summary = None if record is None else record["summary"]
        if outcome is not None and outcome.status == "failed":
            status[index] = 1
            text["error"][index] = outcome.error
        elif summary is not None:
            status[index] = 0
        if summary is not None:
            for name in wanted:
                numbers[name][index] = _number(summary.get(name))
            for name in texts:
                if name not in RUN_TEXT_FIELDS:
                    text[name][index] = str(summary.get(name) or "")
        if outcome is not None and outcome.status == "done":
            seconds[index] = outcome.seconds
            rss[index] = outcome.peak_rss_mb
        elif record is not None:  # finished by an earlier invocation: its own stage timings
            seconds[index] = float(sum(record.get("timings_s", {}).values()))
    variables: dict[str, Any] = {
        name: (dims, values, {"long_name": wanted[name]}) for name, values in numbers.items()
    }
    variables["status"] = (
        dims,
        status,
        {
            "long_name": "job status",
            "flag_values": np.array(list(JOB_STATUS), dtype=np.int8),
            "flag_meanings": " ".join(JOB_STATUS.values()),
        },
    )
    for name, long_name in texts.items():
        variables[name] = (dims, text[name].astype(str), {"long_name": long_name})
    variables["seconds"] = (
        dims,
        seconds,
        {"long_name": "wall time of the job on its worker (stages only when run earlier)"},
    )
    variables["worker_peak_rss_mb"] = (
        dims,
        rss,
        {"long_name": "peak resident memory of the worker process after the job (MiB)"},
    )
    return xr.Dataset(
        variables,
        coords={d: list(coords[d]) for d in dims},
        attrs={
            "title": "dynalyze sweep: summary metrics of every job",
            "dynalyze_version": __version__,
            "dynalyze_sweep_grid": json.dumps(
                {
                    "architectures": list(grid.architectures),
                    "datasets": list(grid.datasets),
                    "seeds": list(grid.seeds),
                    "hyperparameters": {k: list(v) for k, v in grid.hyperparameters.items()},
                }
            ),
        },
    )


def write_sweep(ds: xr.Dataset, out: str | Path) -> Path:
    """Write ``ds`` to ``out/sweep.nc`` atomically; return the path.

    Examples
    --------
    >>> import tempfile
    >>> grid = SweepGrid(architectures=["gru"], datasets=["synthetic"], seeds=[0])
    >>> folder = tempfile.mkdtemp()
    >>> path = write_sweep(collect(grid, folder, []), folder)
    >>> sorted(xr.open_dataset(path).sizes.items())
    [('architecture', 1), ('dataset', 1), ('seed', 1)]
    """
    target = Path(out) / SWEEP_FILE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target, keep_suffix=True) as tmp:
            ds.to_netcdf(tmp)
    except OSError as exc:
        raise OutputError(f"Cannot write {target}: {exc}. Choose a writable --out.") from None
    return target
