"""`dynalyze run` / `dynalyze analyze` end to end on the synthetic task, and every user mistake."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import xarray as xr

import dynalyze
from dynalyze.cli import main
from dynalyze.vocabulary import Vocabulary

FIGURES = {
    "state_pca",
    "eigenvalue_spectra",
    "time_constants",
    "token_projections",
    "projection_vs_bow",
    "linearization_error",
    "variance_explained",
    "relaxation",
    "manifold_profile",
    "continuation",
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    status = main(
        [
            "run",
            "--dataset",
            "synthetic",
            "--out",
            str(out),
            "--no-progress",
            "--n-initial",
            "300",
            "-q",
        ]
    )
    assert status == 0
    return out


def test_run_writes_every_output(run_dir):
    assert (run_dir / "model" / "model.keras").is_file()
    assert (run_dir / "model" / "vocabulary.txt").is_file()
    assert {p.stem for p in (run_dir / "figures").glob("*.png")} == FIGURES
    files = {
        "fixed_points": "fixed_points",
        "line_attractor": "line_attractor",
        "linearization": "linearization",
        "trajectories": "trajectories",
        "line_attractor_zero": "line_attractor_view",
        "continuation": "continuation",
    }
    for name, kind in files.items():
        ds = dynalyze.load(run_dir / "results" / f"{name}.nc")
        assert ds.attrs["dynalyze_kind"] == kind
        with xr.open_dataset(run_dir / "results" / f"{name}.nc") as plain:
            assert plain.attrs["dynalyze_kind"]
    record = json.loads((run_dir / "run.json").read_text())
    assert {"data", "training", "fixed points", "figures"} <= set(record["timings_s"])
    summary = record["summary"]
    # The analysis is at the mean token embedding of the training documents, x = 0 beside it.
    assert summary["baseline"] == "mean" and summary["baseline_norm"] > 0
    assert summary["mechanism_at_zero"] and summary["slow_fraction_at_zero"] is not None
    fixed = dynalyze.load(run_dir / "results" / "fixed_points.nc")
    np.testing.assert_allclose(
        fixed["fixed_point_input"].values[0],
        dynalyze.load(run_dir / "results" / "line_attractor.nc")["baseline_input"].values,
    )
    report = (run_dir / "report.md").read_text()
    assert "## The line attractor, number by number" in report
    assert "## The input the network runs at" in report
    assert "| | at the baseline input x_b | at x = 0 |" in report
    assert "Under random streams of neutral tokens" in report
    assert "figures/state_pca.png" in report
    assert not list(run_dir.parent.glob(".run.*"))  # no staging folder left behind


def test_synthetic_line_attractor_recovers_true_valences(run_dir):
    ds = dynalyze.load(run_dir / "results" / "line_attractor.nc")
    assert float(ds["true_valence_pearson_r"]) >= 0.9
    assert float(ds["fixed_point_pc1_variance"]) >= 0.9
    assert int(ds["n_accepted"]) >= 100
    # Token projections are labelled by token: positive words push one way.
    assert float(ds["token_projection"].sel(token="pos00")) > 0
    assert float(ds["token_projection"].sel(token="neg00")) < 0
    assert float(ds["network_accuracy"]) > 0.9


def test_analyze_existing_model(run_dir, tmp_path):
    out = tmp_path / "again"
    status = main(
        [
            "analyze",
            str(run_dir / "model"),
            "--dataset",
            "synthetic",
            "--out",
            str(out),
            "--no-progress",
            "--n-initial",
            "200",
            "-q",
        ]
    )
    assert status == 0
    ds = dynalyze.load(out / "results" / "line_attractor.nc")
    assert float(ds["true_valence_pearson_r"]) >= 0.9
    assert (out / "report.md").is_file()


def test_existing_output_needs_overwrite_and_stays_untouched(run_dir, capsys):
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    status = main(["run", "--dataset", "synthetic", "--out", str(run_dir), "-q"])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--overwrite" in err[0]
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == before


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["run", "--dataset", "nope"], "Unknown dataset 'nope'"),
        (["run", "--arch", "transformer", "--dataset", "synthetic"], "Unknown architecture"),
        (["run", "--dataset", "synthetic", "--units", "0"], "units"),
        (["run", "--dataset", "synthetic", "--baseline", "median"], "baseline must be 'mean'"),
        (["run", "--dataset", "synthetic", "--analyses", "line"], "Unknown analysis ['line']"),
    ],
)
def test_bad_options_give_one_line(args, match, tmp_path, capsys):
    status = main([*args, "--out", str(tmp_path / "x"), "-q"])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dynalyze: error:") and match in err[0]
    assert not (tmp_path / "x").exists()


def test_malformed_csv(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("review,stars\ngreat,5\n")
    status = main(["run", "--dataset", f"csv:{bad}", "--out", str(tmp_path / "o"), "-q"])
    assert status == 2
    err = capsys.readouterr().err
    assert "column" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    status = main(["run", "--dataset", "synthetic", "--out", str(blocker / "out"), "-q"])
    assert status == 2
    assert "Cannot write" in capsys.readouterr().err


def _save_model(model: keras.Model, folder: Path, tokens: list[str]) -> Path:
    folder.mkdir()
    model.save(folder / "model.keras")
    Vocabulary(tokens).save(folder / "vocabulary.txt")
    return folder


def test_analyze_errors(run_dir, tmp_path, capsys):
    tokens = ["", "[UNK]", "good", "bad"]
    pooled = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(4, 2),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    no_rnn = _save_model(pooled, tmp_path / "pooled", tokens)
    assert (
        main(
            ["analyze", str(no_rnn), "--dataset", "synthetic", "--out", str(tmp_path / "o1"), "-q"]
        )
        == 2
    )
    assert "recurrent" in capsys.readouterr().err

    wrong_vocab = tmp_path / "vocab.txt"
    Vocabulary(tokens).save(wrong_vocab)
    assert (
        main(
            [
                "analyze",
                str(run_dir / "model"),
                "--vocabulary",
                str(wrong_vocab),
                "--dataset",
                "synthetic",
                "--out",
                str(tmp_path / "o2"),
                "-q",
            ]
        )
        == 2
    )
    assert "vocabulary" in capsys.readouterr().err.lower()

    lam = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(4, 2),
            keras.layers.Lambda(lambda t: t * 2.0),
            keras.layers.GRU(2),
            keras.layers.Dense(1),
        ]
    )
    unsafe = _save_model(lam, tmp_path / "lambda", tokens)
    assert (
        main(
            ["analyze", str(unsafe), "--dataset", "synthetic", "--out", str(tmp_path / "o3"), "-q"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "unsafe" in err.lower() and len(err.strip().splitlines()) == 1
    for name in ("o1", "o2", "o3"):
        assert not (tmp_path / name).exists()


def test_systems_command(capsys):
    assert main(["systems"]) == 0
    out = capsys.readouterr().out
    assert "gru" in out and "keras" in out


def test_analyses_command_and_a_run_of_one_analysis(run_dir, tmp_path, capsys):
    assert main(["analyses"]) == 0
    out = capsys.readouterr().out
    assert "line_attractor" in out and "modifier_words" in out and "(after line_attractor)" in out
    only = tmp_path / "only"
    args = ["analyze", str(run_dir / "model"), "--dataset", "synthetic", "--n-initial", "50",
            "--analyses", "line_attractor", "--out", str(only), "--no-progress", "-q"]  # fmt: skip
    assert main(args) == 0
    record = json.loads((only / "run.json").read_text())
    assert list(record["analyses"]) == ["line_attractor"]
    assert record["analyses"]["line_attractor"]["config"]["n_initial"] == 50
    assert "## Modifier words" not in (only / "report.md").read_text()


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "run" in capsys.readouterr().out


def test_line_attractor_stream_equals_in_memory(run_dir):
    """The streamed analysis gives the same numbers as the in-memory one."""
    from dynalyze.analyses.line_attractor import Evidence, LineAttractor
    from dynalyze.classifier import RecurrentClassifier
    from dynalyze.sentiment import load_dataset

    clf = RecurrentClassifier.load(run_dir / "model")
    data = load_dataset("synthetic", seed=0)
    ids = clf.encode(data.test_texts[:60], 30)
    labels = data.test_labels[:60]
    model = LineAttractor(n_initial=50, evidence=Evidence(n_plot=100, n_null=50))
    a = model.fit(clf, clf.trajectories(ids, labels=labels))
    b = model.fit(clf, clf.stream(ids, labels=labels, batch_size=7))
    for name in ("state_variance_ratio", "token_projection", "linearization_error", "logit"):
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-5, atol=1e-6)


def test_analyze_an_lstm_folder_is_reported_as_an_lstm(run_dir, tmp_path):
    from dynalyze.keras import save_model
    from dynalyze.sentiment.models import build_model

    vocab = Vocabulary.load(run_dir / "model" / "vocabulary.txt")
    model = build_model("lstm", len(vocab), units=8, embedding_dim=8, seed=0)
    model(np.ones((1, 3), dtype=np.int32))
    save_model(model, vocab, tmp_path / "lstm")
    out = tmp_path / "lstm-report"
    args = ["analyze", str(tmp_path / "lstm"), "--dataset", "synthetic", "--out", str(out)]
    assert main([*args, "--no-progress", "--n-initial", "50", "-q"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["summary"]["arch"] == "lstm"
    assert (out / "report.md").read_text().startswith("# dynalyze report: LSTM on synthetic")


def test_the_cli_leaves_the_library_logger_as_it_found_it(caplog):
    import logging

    logger = logging.getLogger("dynalyze")
    before = (list(logger.handlers), logger.level, logger.propagate)
    assert main(["systems"]) == 0
    assert (list(logger.handlers), logger.level, logger.propagate) == before
    with caplog.at_level(logging.INFO, logger="dynalyze"):
        logging.getLogger("dynalyze.analyses").info("reaches the application")
    assert "reaches the application" in caplog.text


def test_the_readmes_own_model_example_runs(run_dir, tmp_path, monkeypatch):
    """The README's "Use it on your own model" block, on the model this module trained."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("## Use it on your own model") :]
    code = section[section.index("```python") + len("```python") : section.index("```\n\n")]
    code = code.replace('"dynalyze-output/model"', repr(str(run_dir / "model")))
    code = code.replace('load_dataset("imdb")', 'load_dataset("synthetic")')
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"my_keras_model": keras.saving.load_model(run_dir / "model" / "model.keras")}
    exec(compile(code, "README.md", "exec"), namespace)
    lin, path, x_b = namespace["lin"], namespace["path"], namespace["x_b"]
    np.testing.assert_allclose(lin["fixed_point_input"].values[0], x_b)
    assert path.attrs["dynalyze_kind"] == "continuation"
    assert (tmp_path / "linearization.nc").is_file()


def test_a_baseline_of_the_wrong_width_is_refused_before_anything_is_written(run_dir, tmp_path):
    from dynalyze.analyses.line_attractor import LineAttractor, LineAttractorAnalysis
    from dynalyze.errors import ConfigurationError
    from dynalyze.sentiment.pipeline import RunConfig, analyze_model

    out = tmp_path / "bad"
    config = RunConfig.build(
        dataset="synthetic",
        out=str(out),
        n_analysis=20,
        n_initial=20,
        progress=False,
        analyses=[LineAttractorAnalysis(config=LineAttractor(n_initial=20, baseline=[0.5]))],
    )
    with pytest.raises(ConfigurationError, match="baseline input must have"):
        analyze_model(run_dir / "model", config)
    assert not out.exists() and not list(tmp_path.glob(".bad*"))


def _missing(root: Path, model: Path) -> Path:
    return root / "missing"


def _empty(root: Path, model: Path) -> Path:
    (root / "empty").mkdir()
    return root / "empty"


def _no_vocabulary(root: Path, model: Path) -> Path:
    (root / "novocab").mkdir()
    (root / "novocab" / "model.keras").write_bytes(model.read_bytes())
    return root / "novocab"


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (_missing, "does not exist"),
        (_empty, "holds no .keras"),
        (_no_vocabulary, "No vocabulary found"),
    ],
)
def test_analyze_refusals_name_the_real_cause(run_dir, tmp_path, capsys, make, match):
    """A model that cannot be loaded is not a write error: the line says what is missing."""
    folder = make(tmp_path, run_dir / "model" / "model.keras")
    out = str(tmp_path / "o")
    status = main(["analyze", str(folder), "--dataset", "synthetic", "--out", out, "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    assert match in err[0] and "Cannot write" not in err[0] and ".." not in err[0]
    assert not (tmp_path / "o").exists()
