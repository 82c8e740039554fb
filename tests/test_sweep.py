"""Sweeps: the grid, the distances and their null (fast), and real sweeps on Dask (slow).

The slow tests run the real ``dynalyze sweep`` command on a Dask LocalCluster and on a
scheduler with workers started here as separate processes, one of which is killed
while it trains.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.spatial
import xarray as xr

from dynalyze.errors import ConfigurationError
from dynalyze.sweep import SweepGrid, parse_list
from dynalyze.sweep.engine import finished
from dynalyze.sweep.universality import (
    classical_mds,
    permutation_null,
    procrustes_distance,
    topology_signature,
)

# ------------------------------------------------------------------ the grid


def test_grid_expands_to_stable_distinct_jobs(tmp_path: Path) -> None:
    grid = SweepGrid(
        architectures="gru,lstm".split(","),
        datasets=["rotten_tomatoes", "synthetic"],
        seeds=[0, 1, 2],
        hyperparameters={"units": [8, 16], "epochs": 1},
    )
    jobs = grid.jobs()
    assert len(jobs) == 2 * 2 * 3 * 2
    assert grid.dimensions == ("architecture", "dataset", "seed", "units")
    keys = [job.key for job in jobs]
    assert len(set(keys)) == len(keys)
    again = SweepGrid(
        architectures=["gru", "lstm"],
        datasets=["rotten_tomatoes", "synthetic"],
        seeds=[0, 1, 2],
        hyperparameters={"units": [8, 16], "epochs": 1},
    )
    assert [job.key for job in again.jobs()] == keys  # same grid, same folders
    other = SweepGrid(
        architectures=["gru"], datasets=["synthetic"], seeds=[0], hyperparameters={"epochs": 2}
    )
    # A different fixed setting must not reuse a finished folder of another setting.
    one = SweepGrid(
        architectures=["gru"], datasets=["synthetic"], seeds=[0], hyperparameters={"epochs": 1}
    ).jobs()[0]
    two = other.jobs()[0]
    assert one.key != two.key and one.key.startswith("gru-synthetic-seed0-epochs1-")
    assert not finished(one, tmp_path)


def test_csv_datasets_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    grid = SweepGrid(architectures=["gru"], datasets=["csv:reviews.csv"], seeds=[0])
    assert grid.datasets == (f"csv:{tmp_path / 'reviews.csv'}",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"architectures": ["gru", "transformer"]}, "Unknown architecture"),
        ({"datasets": ["mnist"]}, "Unknown dataset"),
        ({"seeds": []}, "at least one seed"),
        ({"seeds": [0, 0]}, "repeats"),
        ({"hyperparameters": {"dropout": [0.1]}}, "Unknown hyperparameter"),
        ({"hyperparameters": {"units": [0]}}, "positive"),
        ({"hyperparameters": {"window": [-1]}}, "at least 0"),
    ],
)
def test_grid_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "architectures": ["gru"],
        "datasets": ["synthetic"],
        "seeds": [0],
    }
    with pytest.raises(ConfigurationError, match=message):
        SweepGrid(**{**base, **kwargs})  # type: ignore[arg-type]


def test_grid_window_zero_means_whole_documents() -> None:
    from dynalyze.sentiment.pipeline import RunConfig

    grid = SweepGrid(
        architectures=["gru"],
        datasets=["synthetic"],
        seeds=[0],
        hyperparameters={"window": [0, 12]},
    )
    windows = [
        RunConfig.build(dataset="synthetic", **job.settings).recipe.window for job in grid.jobs()
    ]
    assert sorted(windows, key=str) == [12, None]


def test_parse_list() -> None:
    assert parse_list("gru, lstm") == ("gru", "lstm")
    assert parse_list("0,1,2", int) == (0, 1, 2)
    for bad in ("gru,,lstm", "1,x"):
        with pytest.raises(ConfigurationError):
            parse_list(bad, int if "x" in bad else str)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "gru,transformer"], "Unknown architecture"),
        (["--seed", "0,a"], "list of int"),
        (["--units", "8,8"], "repeats"),
        (["--scheduler", "tcp://127.0.0.1:9"], "Cannot reach a Dask scheduler"),
    ],
)
def test_sweep_command_rejects_bad_input_with_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dynalyze.cli import main

    out = tmp_path / "sweep"
    code = main(["sweep", "--dataset", "synthetic", "--out", str(out), "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not (out / "sweep.nc").exists()


# ----------------------------------------------------------- the distances


def test_procrustes_distance_agrees_with_scipy() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(300, 4))
    b = a @ rng.normal(size=(4, 4)) + 0.3 * rng.normal(size=(300, 4))
    # scipy's disparity is 1 - (sum of singular values)^2 after the same normalisation.
    _, _, disparity = scipy.spatial.procrustes(a, b)
    assert procrustes_distance(a, b) == pytest.approx(np.arccos(np.sqrt(1 - disparity)), abs=1e-9)
    assert procrustes_distance(a, b) == pytest.approx(procrustes_distance(b, a), abs=1e-12)


def test_procrustes_distance_ignores_rotation_scale_and_padding() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(size=(200, 3))
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    wide = np.pad(a, ((0, 0), (0, 2))) @ q  # the same geometry embedded in 5 units
    assert procrustes_distance(a, 3.0 * wide - 2.0) == pytest.approx(0.0, abs=1e-7)
    assert procrustes_distance(a, rng.normal(size=(200, 3))) > 1.2
    with pytest.raises(Exception, match="same n"):
        procrustes_distance(a, a[:10])


def test_classical_mds_recovers_a_planar_configuration() -> None:
    rng = np.random.default_rng(5)
    points = rng.normal(size=(7, 2))
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    y = classical_mds(d)
    np.testing.assert_allclose(np.linalg.norm(y[:, None] - y[None], axis=-1), d, atol=1e-10)


def _brute_force_p(d: np.ndarray, labels: list[str]) -> float:
    """Every permutation of the labels (with repeats), by itertools: an independent oracle."""

    def stat(lab: tuple[str, ...]) -> float:
        pairs = list(itertools.combinations(range(len(lab)), 2))
        within = [d[i, j] for i, j in pairs if lab[i] == lab[j]]
        between = [d[i, j] for i, j in pairs if lab[i] != lab[j]]
        return float(np.median(between) - np.median(within))

    observed = stat(tuple(labels))
    values = [stat(p) for p in itertools.permutations(labels)]
    return float(np.mean(np.array(values) >= observed - 1e-12))


def test_permutation_null_is_exact_and_states_its_floor() -> None:
    rng = np.random.default_rng(6)
    labels = ["gru"] * 3 + ["lstm"] * 3
    centres = np.repeat(np.array([[0.0, 0.0], [4.0, 0.0]]), 3, axis=0)
    points = centres + 0.2 * rng.normal(size=(6, 2))
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    null = permutation_null(d, labels)
    assert null["exact"] == 1.0
    assert null["p_value"] == pytest.approx(_brute_force_p(d, labels))
    assert null["p_value"] == pytest.approx(2 / 20)  # perfect separation: 2 of 20 labelings
    assert null["p_floor"] == pytest.approx(2 / 20)
    assert null["between_median"] > 5 * null["within_median"]
    # One architecture: every network the same distance apart -> nothing to separate.
    same = permutation_null(np.ones((6, 6)) - np.eye(6), labels)
    assert same["p_value"] == 1.0
    # Random labels on one cloud are not significant.
    cloud = rng.normal(size=(8, 2))
    dc = np.linalg.norm(cloud[:, None] - cloud[None], axis=-1)
    mixed = permutation_null(dc, ["a", "b"] * 4)
    assert mixed["p_value"] == pytest.approx(_brute_force_p(dc, ["a", "b"] * 4))


def test_topology_signature() -> None:
    signature = topology_signature(
        {"n_stable_clusters": 2, "n_unstable_clusters": 1, "median_slow_subspace_dim": 0.6}
    )
    assert signature.tolist() == [2.0, 1.0, 1.0]


# ------------------------------------------------------- real sweeps (slow)

TINY = [
    "--units",
    "8",
    "--epochs",
    "1",
    "--max-train",
    "300",
    "--n-initial",
    "50",
    "--n-analysis",
    "50",
    "--n-probe",
    "40",
    "--no-progress",
]


def _dynalyze(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "dynalyze.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _run_files(out: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in (out / "jobs").glob("*/run.json")}


def _no_half_written(out: Path) -> None:
    leftovers = [p.name for p in (out / "jobs").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    for folder in (out / "jobs").iterdir():
        assert {"run.json", "probe.nc", "report.md", "job.log", "model", "results"} <= {
            p.name for p in folder.iterdir()
        }, folder


@pytest.mark.slow
def test_sweep_on_a_local_cluster(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    missing = tmp_path / "missing.csv"
    args = [
        "sweep",
        "--arch",
        "gru,simple",
        "--dataset",
        f"rotten_tomatoes,synthetic,csv:{missing}",
        "--seed",
        "0,1",
        "--workers",
        "2",
        "--out",
        str(out),
        *TINY,
    ]
    first = _dynalyze(*args)
    # The csv jobs fail for a user reason (one line each); the other eight complete.
    assert first.returncode == 1, first.stderr[-3000:]
    assert "Traceback" not in first.stderr
    assert first.stderr.count("does not exist") >= 4
    assert "8 trained now" in first.stdout
    _no_half_written(out)
    sweep = xr.open_dataset(out / "sweep.nc")
    assert dict(sweep["status"].sizes) == {"architecture": 2, "dataset": 3, "seed": 2}
    status = sweep["status"].sel(dataset=["rotten_tomatoes", "synthetic"]).values
    assert (status == 0).all()
    assert (sweep["status"].sel(dataset=f"csv:{missing}").values == 1).all()
    assert np.isfinite(sweep["test_accuracy"].sel(dataset="synthetic").values).all()
    comparison = xr.open_dataset(out / "universality.nc")
    d = comparison["geometry_distance"].values
    same = comparison["network_dataset"].values[:, None] == comparison["network_dataset"].values
    assert np.isfinite(d[same]).all() and np.isnan(d[~same]).all()
    report = (out / "report.md").read_text()
    assert "## Is it the same mechanism?" in report
    assert "SST" in report and report.count("permutation p =") == 4
    assert (out / "figures" / "geometry_mds.png").stat().st_size > 1000
    before = _run_files(out)
    second = _dynalyze(*args)
    assert second.returncode == 1
    assert "0 trained now, 8 finished before" in second.stdout
    assert _run_files(out) == before  # nothing was trained or rewritten


def _wait_for(predicate: object, timeout: float, what: str) -> object:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_sweep_on_a_scheduler_survives_a_killed_worker(tmp_path: Path) -> None:
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    dask = [sys.executable, "-m", "distributed.cli"]
    procs = [
        subprocess.Popen(
            [
                *dask[:2],
                "distributed.cli.dask_scheduler",
                "--scheduler-file",
                str(scheduler_file),
                "--no-dashboard",
                "--port",
                "0",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        _wait_for(scheduler_file.exists, 60, "the scheduler")
        address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        *dask[:2],
                        "distributed.cli.dask_worker",
                        address,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--no-dashboard",
                    ],
                    env={**env, "DYNALYZE_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        out = tmp_path / "sweep"
        args = [
            "sweep",
            "--arch",
            "gru,simple",
            "--dataset",
            "synthetic",
            "--seed",
            "0,1,2",
            "--scheduler",
            address,
            "--out",
            str(out),
            *TINY,
        ]
        env_sweep = {**env}
        sweep = subprocess.Popen(
            [sys.executable, "-m", "dynalyze.cli", *args],
            env=env_sweep,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def running_job_pid() -> int | None:
            for log in (out / "logs").glob("*.log") if (out / "logs").exists() else []:
                text = log.read_text()
                if "(pid " in text and "Training" in text:
                    return int(text.split("(pid ")[1].split(")")[0])
            return None

        pid = _wait_for(running_job_pid, 300, "a job to start training")
        os.kill(int(pid), signal.SIGKILL)  # the worker process dies in the middle of a job
        stdout, stderr = sweep.communicate(timeout=900)
        assert sweep.returncode == 0, stderr[-3000:]
        assert "6 jobs, 6 trained now" in stdout
        _no_half_written(out)
        result = xr.open_dataset(out / "sweep.nc")
        assert (result["status"].values == 0).all()
        before = _run_files(out)
        again = _dynalyze(*args)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "0 trained now, 6 finished before" in again.stdout
        assert _run_files(out) == before
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
