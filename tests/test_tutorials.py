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


#: The unmodified FixedPointFinder the benchmarks use (shared folder beside the checkout).
FIXED_POINT_FINDER = (
    Path(__file__).resolve().parents[2] / "shared" / "anchors" / "fixed-point-finder"
)


def test_flip_flop_torch_agrees_with_fixed_point_finder() -> None:
    """FixedPointFinder's PyTorch flip-flop GRU: dynalyze-torch finds the 8 stable points (one
    per memory), and FixedPointFinderTorch, from the same starts, the same ones; both timed."""
    pytest.importorskip("torch")
    result = run_script(
        TUTORIALS / "flip_flop_torch.py", "--quick", "--fpf", str(FIXED_POINT_FINDER)
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    out = result.stdout
    found = (
        r": (\d+) unique fixed points \(\d+ converged\), (\d+) stable "
        r"\((\d+) of them converged\), in [\d.]+ s"
    )
    ours = re.search(r"\ndynalyze" + found, out)
    assert ours is not None, out
    assert int(ours.group(2)) == int(ours.group(3)) == 8
    assert "distinct memories held by the converged stable points: 8" in out
    if not FIXED_POINT_FINDER.is_dir():
        assert "Comparison skipped: FixedPointFinderTorch is not importable" in out
        pytest.skip(f"FixedPointFinder not found at {FIXED_POINT_FINDER}: comparison not run")
    for label in ("lr_init 1.0 (the example's)", "lr_init 0.05 (tuned)"):
        name = re.escape(label)
        theirs = re.search(r"\nFixedPointFinderTorch, " + name + found, out)
        assert theirs is not None, out
        converged = int(theirs.group(3))
        matched = re.search(
            r"Matched, FixedPointFinderTorch, " + name + r": (\d+) of dynalyze's 8 and of its "
            rf"{converged} converged stable points",
            out,
        )
        # Every stable point it converges to is one of dynalyze's (the same point, to 1e-3).
        assert matched is not None and int(matched.group(1)) == converged >= 1, out
        timing = re.search(
            r"Seconds \(one thread each\): dynalyze ([\d.]+), FixedPointFinderTorch, "
            + name
            + r" ([\d.]+); ratio [\d.e+]+",
            out,
        )
        assert timing is not None, out
    # Tuned, it finds all 8, as dynalyze does from the same starts.
    assert converged == 8
