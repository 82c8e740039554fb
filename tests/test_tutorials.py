"""The tutorials run as written (so they cannot go stale)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

pytest.importorskip("keras")

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"


def run_script(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=script.parent,
    )


def test_add_your_own_architecture(tmp_path: Path) -> None:
    result = run_script(TUTORIALS / "add_your_own_architecture.py", str(tmp_path))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    out = result.stdout
    # Part 1: the autodiff fallback for a cell with no dynalyze code.
    assert "wrap() gave KerasCellSystem(MGUCell" in out
    assert "Conformance of KerasCellSystem(MGUCell 'mgu_cell'" in out
    assert "6 of 6 checks passed" in out
    # Part 2: the analytic system passes against the cell and against autodiff.
    assert "Conformance of MGUSystem(state_dim=12, input_dim=3" in out
    assert "7 of 7 checks passed" in out
    assert "FAIL" not in out
    for name in ("mgu_linearization.nc", "mgu_model.keras"):
        assert (tmp_path / name).is_file()


def test_flip_flop_finds_the_eight_memories(tmp_path: Path) -> None:
    """FixedPointFinder's showcase: 8 stable points (one per memory) and saddles between them."""
    result = run_script(TUTORIALS / "flip_flop.py", str(tmp_path))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    out = result.stdout
    stable = int(re.search(r"Stable fixed points: (\d+); saddles: (\d+)", out).group(1))
    saddles = int(re.search(r"Stable fixed points: (\d+); saddles: (\d+)", out).group(2))
    assert stable == 8
    assert saddles >= 1
    # Some saddles have exactly one unstable mode: a pulse tips the state to one of two corners.
    assert re.search(r"saddles with 1 unstable mode\(s\): [1-9]", out)
    assert "Distinct memories held by the stable points: 8 of 8" in out
    assert (tmp_path / "flip_flop_fixed_points.png").stat().st_size > 10_000
    lin = xr.open_dataset(tmp_path / "flip_flop_linearization.nc")
    try:
        assert int((lin["is_stable"] == 1).sum()) == 8
    finally:
        lin.close()


def test_add_your_own_analysis(tmp_path: Path) -> None:
    """The analysis plug-in tutorial: conformance, then its section in a real run's report."""
    result = run_script(TUTORIALS / "add_your_own_analysis.py", str(tmp_path))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    out = result.stdout
    assert "Conformance of driven_points: 7 of 7 checks passed" in out
    assert "## Reading one word forever" in out
    assert '[project.entry-points."dynalyze.analyses"]' in out
    report = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "## Reading one word forever" in report and "## The line attractor" in report
    assert (tmp_path / "run" / "results" / "driven_points.nc").is_file()
    assert (tmp_path / "run" / "figures" / "driven_points.png").is_file()
