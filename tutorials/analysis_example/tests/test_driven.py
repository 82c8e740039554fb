"""The example analysis plug-in: found through its entry point, conformant, right, in the report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dynalyze_driven import DrivenPoints

import dynalyze
from dynalyze.analyses import list_analyses
from dynalyze.analyses.line_attractor import LineAttractorAnalysis
from dynalyze.testing import check_analysis, toys


def test_the_entry_point_registers_the_analysis() -> None:
    assert list_analyses()["driven_points"] is DrivenPoints


def test_check_analysis_passes() -> None:
    report = check_analysis(DrivenPoints(n_steps=30))
    assert report.passed, str(report)
    assert [r.check for r in report.results] == [
        "declaration",
        "applies",
        "fit_output",
        "schema_round_trip",
        "determinism",
        "report_section",
        "bad_input",
    ]


def test_an_integrator_is_driven_by_its_valence_every_step() -> None:
    """On the exact line attractor, n steps of word w move the logit by n x valence(w)."""
    context = toys.integrator_context()
    context.outputs["line_attractor"] = LineAttractorAnalysis(
        config=dynalyze.LineAttractor(n_initial=40)
    ).fit(context)
    output = DrivenPoints(n_words=2, n_steps=50).fit(context)
    ds = output.datasets["driven_points"]
    words = [str(w) for w in ds["token"].values]
    expected = [50 * toys.INTEGRATOR_VALENCES[w] for w in words]
    np.testing.assert_allclose(ds["driven_logit"].values, expected, rtol=1e-9)
    assert output.summary.driven_settled_share == 0.0  # an integrator never settles
    assert output.summary.driven_positive_logit == pytest.approx(50 * 0.95)  # great, good


def test_a_run_reports_the_section_without_configuration(tmp_path: Path) -> None:
    """`dynalyze analyze` on a saved model: the plug-in's section, file and figure appear."""
    from dynalyze.keras import build_model, save_model
    from dynalyze.sentiment.datasets import load_dataset
    from dynalyze.vocabulary import Vocabulary

    vocab = Vocabulary.build(load_dataset("synthetic").train_texts)
    model = build_model("gru", len(vocab), units=4, embedding_dim=3)
    folder = save_model(model, vocab, tmp_path / "model")
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "dynalyze.cli", "analyze", str(folder), "--dataset", "synthetic",
        "--n-analysis", "20", "--n-initial", "20", "--out", str(out), "--no-progress", "-q",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = (out / "report.md").read_text()
    assert "## Reading one word forever" in report
    assert "![driven_points](figures/driven_points.png)" in report
    ds = dynalyze.load(out / "results" / "driven_points.nc")
    assert ds.attrs["dynalyze_kind"] == "driven_points"
    assert ds.attrs["dynalyze_fragment_version"] == "1"
