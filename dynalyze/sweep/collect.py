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

__all__ = ["JOB_STATUS", "METRICS", "SWEEP_FILE", "TEXT_FIELDS", "collect", "write_sweep"]

SWEEP_FILE = "sweep.nc"

#: ``status`` flag values.
JOB_STATUS = {0: "done", 1: "failed", 2: "not_run"}

#: Summary metric -> long name (from each job's ``run.json``).
METRICS: dict[str, str] = {
    "test_accuracy": "test accuracy of the network",
    "bow_test_accuracy": "test accuracy of the bag-of-words baseline",
    "n_accepted": "approximate fixed points accepted",
    "n_fixed_point_clusters": "distinct fixed points / slow regions",
    "n_stable_clusters": "stable distinct fixed points",
    "n_unstable_clusters": "unstable distinct fixed points (saddles)",
    "n_slow_regions": "slow regions without a root",
    "n_continua": "continua of roots",
    "slow_fraction": "fraction of the line slow over a document",
    "median_drift_per_document": "median zero-input drift over a document / line extent",
    "tokens_to_cross": "tokens to cross the line at zero-input speed",
    "median_slow_subspace_dim": "median dimension of the slow subspace",
    "state_dim_95": "principal components for 95% of the state variance",
    "median_top_eigenvalue_magnitude": "median |lambda_1| at the accepted points",
    "median_slow_time_constant": "median time constant of the top mode (tokens)",
    "median_alignment_readout_r1": "median |cos| readout vs r1",
    "null_alignment_p95": "95th percentile of |cos| of random directions",
    "bow_pearson_r": "Pearson r of token projections vs BoW weights",
    "reduced_accuracy": "accuracy of the reduced (integrator) model",
    "reduced_agreement": "agreement of the reduced model with the network",
    "linearization_error_median": "median relative one-step linearization error",
    "median_document_length": "median document length (tokens)",
    "baseline_norm": "norm of the baseline input the dynamics are analysed at",
    "baseline_relative_norm": "baseline norm over the median token embedding norm",
    "middle_drift_per_document": "median drift per document, middle half of the line",
    "median_neutral_drift_per_document": "median drift per document under neutral-token streams",
    "stable_median_alignment_readout_r1": "median |cos| readout vs r1 at the stable roots",
    "stable_median_alignment_r1_tangent": "median |cos| r1 vs manifold axis at the stable roots",
    "matched_null_alignment_p95": "95th percentile of |cos| of random directions in the states' "
    "95% subspace",
    "n_stable_clusters_at_zero": "stable distinct fixed points at zero input",
    "n_unstable_clusters_at_zero": "unstable distinct fixed points at zero input",
    "slow_fraction_at_zero": "fraction of the line slow over a document at zero input",
    "median_drift_per_document_at_zero": "median drift over a document at zero input",
    "stable_median_alignment_readout_r1_at_zero": "median |cos| readout vs r1 at the stable "
    "roots, zero input",
    "n_folds": "folds met following the roots from zero input to the baseline",
}

#: Text fields of each job's summary.
TEXT_FIELDS = {
    "error": "one-line error of a failed job",
    "job_path": "job folder relative to the sweep folder",
    "mechanism": "mechanism verdict of the job's analysis (at its baseline input)",
    "mechanism_at_zero": "mechanism verdict at zero input",
    "baseline": "the baseline input the job was analysed at (mean or zero)",
}


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
    coords = grid.coords()
    dims = grid.dimensions
    shape = tuple(len(coords[d]) for d in dims)
    numbers = {name: np.full(shape, np.nan) for name in METRICS}
    status = np.full(shape, 2, dtype=np.int8)
    text = {name: np.full(shape, "", dtype=object) for name in TEXT_FIELDS}
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
            for name in METRICS:
                numbers[name][index] = _number(summary.get(name))
            for name in ("mechanism", "mechanism_at_zero", "baseline"):
                text[name][index] = str(summary.get(name) or "")
        if outcome is not None and outcome.status == "done":
            seconds[index] = outcome.seconds
            rss[index] = outcome.peak_rss_mb
        elif record is not None:  # finished by an earlier invocation: its own stage timings
            seconds[index] = float(sum(record.get("timings_s", {}).values()))
    variables: dict[str, Any] = {
        name: (dims, values, {"long_name": METRICS[name]}) for name, values in numbers.items()
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
    for name, long_name in TEXT_FIELDS.items():
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
