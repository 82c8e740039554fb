"""The benchmark scripts run (``--quick``), print their tables and write JSON, so they cannot rot.

Each script runs in a subprocess at its smoke-test size (a few seconds each,
well under a minute together); the figures themselves are produced by the full
runs documented in ``benchmarks/README.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

#: script -> needs Keras/TensorFlow
SCRIPTS = {
    "fixed_points.py": False,
    "scaling.py": False,
    "postprocessing.py": False,
    "jacobians.py": True,
    "trajectories.py": True,
    "roofline.py": False,
    "training.py": True,
    "sweep.py": True,
}


def run_benchmark(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


def check_output(result: subprocess.CompletedProcess[str], json_path: Path) -> dict[str, Any]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    lines = result.stdout.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("| ")]
    rules = [line for line in lines if line.startswith("|-")]
    assert headers and rules, f"no Markdown table printed:\n{result.stdout[-3000:]}"
    payload = json.loads(json_path.read_text())
    assert payload["tables"], payload
    for title, rows in payload["tables"].items():
        assert rows, f"table {title!r} is empty"
    return payload


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_quick(script: str, tmp_path: Path) -> None:
    if SCRIPTS[script]:
        pytest.importorskip("keras")
    out = tmp_path / "rows.json"
    result = run_benchmark(script, "--json", str(out), cwd=tmp_path)
    payload = check_output(result, out)
    assert payload["args"]["quick"] is True
    assert payload["machine"]["numpy"]


def test_fixed_points_on_a_saved_model(tmp_path: Path) -> None:
    """``--model`` loads a saved classifier and samples starts from its trajectories."""
    pytest.importorskip("keras")
    from dynalyze.keras import save_model
    from dynalyze.sentiment.models import build_model
    from dynalyze.vocabulary import Vocabulary

    vocab = Vocabulary.build(["a good film", "a bad film", "not good at all"])
    model = build_model("gru", len(vocab), units=8, embedding_dim=4, seed=0)
    folder = tmp_path / "run" / "model"
    save_model(model, vocab, folder)
    (tmp_path / "run" / "run.json").write_text(json.dumps({"recipe": {"max_len": 20}}))
    out = tmp_path / "rows.json"
    result = run_benchmark(
        "fixed_points.py",
        "--systems",
        "none",
        "--model",
        str(folder),
        "--json",
        str(out),
        cwd=tmp_path,
    )
    payload = check_output(result, out)
    rows = [
        row
        for title, table in payload["tables"].items()
        if "Fixed points" in title
        for row in table
    ]
    finders = {row["finder"] for row in rows}
    assert {"dynalyze LM (tol 1e-20)", "dynalyze LM (tol 4e-08)"} <= finders
    assert all(row["system"].startswith("trained GRU-8") for row in rows)
    if fixedpointfinder_available():
        # The real FixedPointFinder ran on the same weights, at both tolerances.
        assert sum(name.startswith("FixedPointFinder") for name in finders) == 2
        assert {row["tol"] for row in rows if row["finder"].startswith("FixedPointFinder")} == {
            1e-12,
            4e-8,
        }
        assert any("Jacobians + eigendecomposition" in title for title in payload["tables"])
    else:
        assert any("FixedPointFinder rows skipped" in note for note in payload["notes"])


def fixedpointfinder_available() -> bool:
    """torch importable and the anchor's code beside the checkout (as in CI)."""
    import importlib.util

    sys.path.insert(0, str(BENCHMARKS))
    try:
        import _fpf
    finally:
        sys.path.remove(str(BENCHMARKS))
    return importlib.util.find_spec("torch") is not None and _fpf.DEFAULT_FPF.is_dir()


def test_fixed_points_quick_runs_the_real_fixedpointfinder_when_present(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    payload = check_output(run_benchmark("fixed_points.py", "--json", str(out), cwd=tmp_path), out)
    rows = [
        row
        for title, table in payload["tables"].items()
        if "Fixed points" in title
        for row in table
    ]
    anchor = [row for row in rows if row["finder"].startswith("FixedPointFinder")]
    if not fixedpointfinder_available():
        assert not anchor
        assert any("FixedPointFinder rows skipped" in note for note in payload["notes"])
        return
    # Both configurations on both GRU systems, at both thread counts; none on the LSTM.
    assert len(anchor) == 2 * 2 * 2
    assert not any(row["system"].startswith("LSTM") for row in anchor)
    for row in rows:
        if row["finder"].startswith("dynalyze LM"):
            # Ours: every start reaches the tolerance, none spurious, q recomputed in float64.
            assert row["reach tol"] == 1.0 and row["spurious"] == 0
            assert row["q max"] <= row["tol"] and row["settled"] == 1.0
    # The whole job as each tool runs it (find, unique, Jacobians and eigenvectors), per
    # thread count: dynalyze's unique points are all true roots.
    whole = [
        row for title, table in payload["tables"].items() if "end to end" in title for row in table
    ]
    assert len(whole) == 3 * 2
    ours = [row for row in whole if row["finder"].startswith("dynalyze")]
    assert ours and all(row["true roots"] == row["unique"] >= 1 for row in ours)


def test_readme_results_block_is_generated_from_the_recorded_run():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import readme_results
    finally:
        sys.path.remove(str(BENCHMARKS))
    record = json.loads(readme_results.RECORD.read_text())
    text = readme_results.README.read_text()
    assert readme_results.readme_block(text) == readme_results.render(record)
    # The block quotes the run's own numbers.
    assert record["summary"]["headline"] in text


def test_performance_blocks_are_generated_from_the_recorded_benchmarks():
    """README.md and benchmarks/README.md quote the recorded runs, against FixedPointFinder."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import readme_performance
    finally:
        sys.path.remove(str(BENCHMARKS))
    records = {name: readme_performance.load(name) for name in readme_performance.NAMES}
    assert records["fixed_points"] is not None, "docs/benchmarks/fixed_points.json is missing"
    for path, current, generated in readme_performance.blocks(records):
        assert current == generated, f"{path.name}: run python benchmarks/readme_performance.py"
    summary = "\n".join(readme_performance.render(records))
    assert "FixedPointFinder" in summary and "x_PAPER" not in summary
    text = (BENCHMARKS / "README.md").read_text() + (BENCHMARKS.parent / "README.md").read_text()
    assert "35_PAPER" not in text
    # The recorded anchor rows are FixedPointFinder's own, at both thread counts.
    tables = records["fixed_points"]["tables"]
    assert {"Fixed points, 1 thread(s)", "Fixed points, 2 thread(s)"} <= set(tables)
    finders = {row["finder"] for row in tables["Fixed points, 1 thread(s)"]}
    assert {"FixedPointFinder tuned, lr 0.05", "FixedPointFinder defaults, lr 1.0"} <= finders


def test_end_to_end_bound_is_computed_from_the_recorded_rows():
    """A missed end-to-end row gets its bound: search time + unique points x per-point
    linearization, from the same record; a met row gets none."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import readme_performance as rp
    finally:
        sys.path.remove(str(BENCHMARKS))

    def record(fpf_seconds: float) -> dict:
        system = "trained GRU-128 (x)"
        whole = [
            {
                "system": system,
                "finder": "dynalyze find -> unique -> linearize",
                "tol": 1e-6,
                "wall s": 3.0,
                "unique": 100,
                "true roots": 100,
                "x dyn": 1.0,
            },
            {
                "system": system,
                "finder": rp.TUNED,
                "tol": 1e-6,
                "wall s": fpf_seconds,
                "unique": 90,
                "true roots": 80,
                "x dyn": fpf_seconds / 3.0,
            },
        ]
        search = [
            {"system": system, "finder": "dynalyze LM (tol 1e-06)", "tol": 1e-6, "wall s": 1.0}
        ]
        lin = [
            {
                "points": "the same 1024 states",
                "dynalyze points": 1000,
                "dynalyze linearization s": 20.0,
            }
        ]
        return {
            "tables": {
                "The whole job, end to end, 1 thread(s)": whole,
                "Fixed points, 1 thread(s)": search,
                "Jacobians + eigendecomposition, 1 thread(s)": lin,
            }
        }

    (missed,) = [line for line in rp.end_to_end_bounds(record(30.0)) if line]
    # 1 s + 100 x 20 ms = 3.0 s; 30 s / 3.0 s = 10x, measured 10x (< 30x).
    assert "search 1.00 s + 100 points x 20.0 ms = 3.0 s, about 10.0x (measured 10.0x)" in missed
    assert rp.end_to_end_bounds(record(300.0)) == []


def test_study_blocks_are_generated_from_the_recorded_studies():
    """README.md's recipe and architecture paragraphs and docs/architectures.md come from
    the recorded studies (docs/recipes.json, docs/architectures.json), never typed in."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import architectures
        import recipes
    finally:
        sys.path.remove(str(BENCHMARKS))
    readme = (BENCHMARKS.parent / "README.md").read_text()
    record = json.loads(architectures.RECORD.read_text())
    assert architectures.current_block(readme) == architectures.readme_block(record)
    assert architectures.PAGE.read_text() == architectures.page(record)
    assert len(record["jobs"]) == 16  # 4 architectures x 2 datasets x 2 seeds
    assert {j["mechanism_at_zero"] for j in record["jobs"]} != {None}
    rows = json.loads((BENCHMARKS.parent / "docs" / "recipes.json").read_text())["rows"]
    start = readme.index(recipes.START)
    assert readme[start : readme.index(recipes.END) + len(recipes.END)] == recipes.readme_block(
        rows
    )
    chosen, _ = recipes.choose(rows, recipes._reference(rows))
    assert (
        f"**Chosen recipe: {chosen}.**" in (BENCHMARKS.parent / "docs" / "recipes.md").read_text()
    )
