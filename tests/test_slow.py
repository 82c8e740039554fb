"""Slow end-to-end runs on real data (`tox -e slow`; deselected by the default test command).

The default IMDB run checks the main job's promises: test accuracy of at least 85%
and the paper's line-attractor signatures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dynalyze
from dynalyze.cli import main

pytestmark = pytest.mark.slow


def _run(out: Path, *args: str) -> Path:
    assert main(["run", "--out", str(out), "--no-progress", "-q", *args]) == 0
    return out


def test_default_run_on_imdb(tmp_path):
    out = _run(tmp_path / "imdb")
    ds = dynalyze.load(out / "results" / "line_attractor.nc")
    record = json.loads((out / "run.json").read_text())
    assert record["summary"]["test_accuracy"] >= 0.85
    assert float(ds["state_top3_variance"]) >= 0.80
    assert int(ds["n_accepted"]) >= 100
    assert float(ds["fixed_point_pc1_variance"]) >= 0.90
    assert float(ds["median_top_eigenvalue_magnitude"]) >= 0.99
    assert float(ds["median_alignment_r1_tangent"]) > 3 * float(ds["null_alignment_p95"])
    assert float(ds["bow_sign_agreement"]) >= 0.90
    assert sum(record["timings_s"].values()) <= 15 * 60


@pytest.mark.parametrize("arch", ["gru", "lstm", "simple", "ugrnn"])
def test_rotten_tomatoes_every_architecture(tmp_path, arch):
    out = _run(tmp_path / arch, "--dataset", "rotten_tomatoes", "--arch", arch)
    for name in ("fixed_points", "line_attractor", "trajectories"):
        assert dynalyze.load(out / "results" / f"{name}.nc").attrs["dynalyze_kind"] == name
    assert len(list((out / "figures").glob("*.png"))) == 9
    assert "## The line attractor, number by number" in (out / "report.md").read_text()
