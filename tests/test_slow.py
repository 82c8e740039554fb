"""Slow end-to-end runs on real data (`tox -e slow`; deselected by the default test command).

The default IMDB run checks the main job's promises (test accuracy of at least
85%, the report's structure, the analysis under 90 s) and, for IMDB and every
architecture on Rotten Tomatoes, that the fixed-point structure the report
states survives an independent check at both inputs (the baseline x_b, recomputed
here in plain NumPy from the training split, and x = 0): MINPACK root finding
(scipy ``hybr``) from visited states on Keras's own cell run in float64,
eigenvalues of a finite-difference Jacobian of that cell, and the top mode's
alignments with the readout and the line.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from scipy.optimize import root

import dynalyze
from dynalyze.analyses.line_attractor.mechanism import structure_rows
from dynalyze.classifier import RecurrentClassifier
from dynalyze.cli import main

pytestmark = pytest.mark.slow


def _run(out: Path, *args: str) -> Path:
    assert main(["run", "--out", str(out), "--no-progress", "-q", *args]) == 0
    return out


def _keras_step64(clf: RecurrentClassifier, x_input: np.ndarray | None = None):
    """F(h, x) at a constant input (default 0) from a float64 copy of the model's own
    Keras cell (not dynalyze's system)."""
    layer = next(layer for layer in clf.model.layers if hasattr(layer, "cell"))
    cell = layer.cell
    copy = type(cell).from_config({**cell.get_config(), "dtype": "float64"})
    input_dim = clf.embedding.shape[1]
    copy.build((None, input_dim))
    copy.set_weights([w.astype(np.float64) for w in cell.get_weights()])
    sizes = [c.size for c in clf.system.layout]

    def step(h: np.ndarray) -> np.ndarray:
        h = np.atleast_2d(h)
        parts = np.split(h, np.cumsum(sizes)[:-1], axis=1)
        states = parts if len(parts) > 1 else parts[0]
        x = np.zeros((h.shape[0], input_dim)) if x_input is None else np.tile(x_input, (len(h), 1))
        _, new = copy(x, states if isinstance(states, list) else [states], training=False)
        new = new if isinstance(new, (list, tuple)) else [new]
        return np.concatenate([keras.ops.convert_to_numpy(s) for s in new], axis=1)

    return step


def _fd_jacobian(step, h: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    d = h.size
    probes = np.concatenate([h + eps * np.eye(d), h - eps * np.eye(d)])
    images = step(probes)
    return ((images[:d] - images[d:]) / (2 * eps)).T


def _fd_eigenvalues(step, h: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    return np.sort(np.abs(np.linalg.eigvals(_fd_jacobian(step, h, eps))))[::-1]


def _top_right_vector(jac: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eig(jac)
    r1 = vectors[:, np.argmax(np.abs(values))]
    r1 = r1.real if np.linalg.norm(r1.real) >= np.linalg.norm(r1.imag) else r1.imag
    return r1 / np.linalg.norm(r1)


def _independent_baseline(out: Path, clf: RecurrentClassifier) -> np.ndarray:
    """x_b recomputed in plain NumPy: the mean embedding over the training split's tokens."""
    from dynalyze.sentiment.datasets import load_dataset

    record = json.loads((out / "run.json").read_text())
    recipe = record["recipe"]
    data = load_dataset(
        record["config"]["dataset"], seed=record["config"]["seed"], max_train=recipe["max_train"]
    )
    ids = clf.vocabulary.encode(data.train_texts, recipe["max_len"], keep=recipe["keep"])
    table = clf.model.get_layer("embedding").get_weights()[0].astype(np.float64)
    return table[ids[ids != 0]].mean(axis=0)


def _check_structure_independently(out: Path, view: str = "line_attractor") -> None:
    """Roots (MINPACK), |lambda_1| (finite differences) and alignments (NumPy eig) at the
    view's input, from Keras's own cell in float64."""
    ds = dynalyze.load(out / "results" / f"{view}.nc")
    clf = RecurrentClassifier.load(out / "model")
    x_input = None
    if int(ds["baseline_kind"]) != 0:
        x_input = _independent_baseline(out, clf)
        np.testing.assert_allclose(ds["baseline_input"].values, x_input, atol=1e-6)
    step = _keras_step64(clf, x_input)
    readout = clf.readout_weight
    axis = ds["manifold_axis"].values
    rows = structure_rows(ds)
    states = ds["cluster_state"].values
    # The visited states are the same at both inputs (the main dataset keeps a sample).
    main = dynalyze.load(out / "results" / "line_attractor.nc")
    visited = main["sampled_state"].values.astype(np.float64)
    link = float(ds["cluster_link_distance"])
    assert rows, "the report must state a structure"

    def residual(h: np.ndarray) -> np.ndarray:
        return step(h)[0] - h

    for i, (row, h) in enumerate(zip(rows, states, strict=True)):
        if row["kind"] == "slow_region":
            continue
        # Our exact root is a root of Keras's own step at the input ...
        assert np.linalg.norm(residual(h)) < 1e-6 * max(1.0, np.linalg.norm(h)), row
        # ... with the same leading eigenvalue and stability by FixedPointFinder's rule ...
        jac = _fd_jacobian(step, h)
        lam = np.sort(np.abs(np.linalg.eigvals(jac)))[::-1]
        assert lam[0] == pytest.approx(row["top_eigenvalue_magnitudes"][0], abs=1e-4), row
        if abs(lam[0] - 1.0) > 1e-4:
            assert (lam[0] < 1.0) == (row["stability"] == "stable"), (row, lam[:3])
        # ... and the same alignments of its top mode (when that mode is well separated).
        if lam[0] - lam[1] > 1e-3:
            r1 = _top_right_vector(jac)
            cos_w = abs(r1 @ readout) / np.linalg.norm(readout)
            cos_axis = abs(r1 @ axis) / np.linalg.norm(axis)
            assert cos_w == pytest.approx(
                float(ds["cluster_alignment_readout_r1"].values[i]), abs=0.02
            ), row
            assert cos_axis == pytest.approx(
                float(ds["cluster_alignment_r1_axis"].values[i]), abs=0.02
            ), row
        # MINPACK from the visited states nearest to it finds it too.
        nearest = np.argsort(np.linalg.norm(visited - h, axis=1))[:8]
        found = [
            root(residual, visited[i], method="hybr", options={"xtol": 1e-12}) for i in nearest
        ]
        distances = [np.linalg.norm(s.x - h) for s in found if np.linalg.norm(s.fun) < 1e-8]
        if row["kind"] == "fixed_point" and row["size"]:
            assert distances and min(distances) < 2 * link, (row, distances)
    # Roots MINPACK finds from random visited states are ones the structure reports.
    rng = np.random.default_rng(1)
    matched, converged = 0, 0
    for i in rng.choice(visited.shape[0], 24, replace=False):
        sol = root(residual, visited[i], method="hybr", options={"xtol": 1e-12})
        if np.linalg.norm(sol.fun) < 1e-8:
            converged += 1
            matched += bool(np.min(np.linalg.norm(states - sol.x, axis=1)) < 2 * link)
    assert converged == 0 or matched >= 0.9 * converged, (matched, converged)


def test_default_run_on_imdb(tmp_path):
    out = _run(tmp_path / "imdb")
    ds = dynalyze.load(out / "results" / "line_attractor.nc")
    record = json.loads((out / "run.json").read_text())
    summary = record["summary"]
    assert summary["test_accuracy"] >= 0.85
    assert float(ds["state_top3_variance"]) >= 0.80
    assert int(ds["n_accepted"]) >= 100
    assert float(ds["fixed_point_pc1_variance"]) >= 0.90
    assert float(ds["bow_sign_agreement"]) >= 0.90
    assert sum(record["timings_s"].values()) <= 15 * 60
    # The report names what the structure holds: every unstable cluster is in the headline.
    report = (out / "report.md").read_text()
    headline = report.split("\n\n")[1]
    if summary["n_unstable_clusters"]:
        assert "saddle" in headline or "unstable" in headline
        assert "| **saddle** |" in report or "| **unstable** |" in report
    # Analysed at the mean token embedding of the training documents, x = 0 beside it; the
    # analysis stays under 90 s (training and the bag of words aside) on a machine that
    # trains the model in ~200 s as this 2-core one does; a slower machine gets a bound
    # scaled by its own training time (the same code is slower there in proportion).
    assert summary["baseline"] == "mean" and "## The input the network runs at" in report
    timings = record["timings_s"]
    analysis = sum(v for k, v in timings.items() if k not in ("training", "data", "bag of words"))
    assert analysis <= 90 * max(1.0, timings["training"] / 200), timings
    _check_structure_independently(out)
    _check_structure_independently(out, "line_attractor_zero")


@pytest.mark.parametrize("arch", ["gru", "lstm", "simple", "ugrnn"])
def test_rotten_tomatoes_every_architecture(tmp_path, arch):
    out = _run(tmp_path / arch, "--dataset", "rotten_tomatoes", "--arch", arch)
    for name in ("fixed_points", "line_attractor", "trajectories"):
        assert dynalyze.load(out / "results" / f"{name}.nc").attrs["dynalyze_kind"] == name
    # The nine line-attractor figures, the continuation from x = 0 to the baseline, and the
    # modifier-word figure (Rotten Tomatoes has "not", "very"...: the analysis runs and
    # writes a labelled dataset).
    assert dynalyze.load(out / "results" / "modifiers.nc").attrs["dynalyze_kind"] == "modifiers"
    assert len(list((out / "figures").glob("*.png"))) == 11
    report = (out / "report.md").read_text()
    assert "## The line attractor, number by number" in report
    assert "## Modifier words" in report
    _check_structure_independently(out)
    _check_structure_independently(out, "line_attractor_zero")


def test_same_seed_same_summary(tmp_path):
    a = _run(tmp_path / "a", "--dataset", "synthetic", "--n-initial", "200")
    b = _run(tmp_path / "b", "--dataset", "synthetic", "--n-initial", "200")
    first = json.loads((a / "run.json").read_text())
    second = json.loads((b / "run.json").read_text())
    assert first["summary"] == second["summary"]
    assert first["training"]["history"] == second["training"]["history"]


def test_recipes_benchmark_runs(tmp_path):
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "recipes.py"
    out = subprocess.run(
        [
            sys.executable,
            str(script),
            "--quick",
            "--output",
            str(tmp_path),
            "--json",
            str(tmp_path / "r.json"),
            "--markdown",
            str(tmp_path / "r.md"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "| default |" in out
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert {r["name"] for r in rows} == {"default", "units8"}
    assert all(r["mechanism"] for r in rows)


def test_bbc_news_five_class_run(tmp_path):
    """`dynalyze run --dataset bbc_news`: a 5-class GRU beside a multinomial BoW, dimension vs 4."""
    out = _run(tmp_path / "bbc", "--dataset", "bbc_news")
    simplex = dynalyze.load(out / "results" / "simplex_attractor.nc")
    assert int(simplex["n_classes"]) == 5 and int(simplex["expected_dimension"]) == 4
    # Final states of a categorical 5-class network: N - 1 = 4 dimensions (Aitken et al.).
    assert int(simplex["late_state_dim_95"]) == 4
    summary = json.loads((out / "run.json").read_text())["summary"]
    assert summary["test_accuracy"] >= 0.9
    report = (out / "report.md").read_text()
    assert "multinomial bag-of-words" in report and "N - 1 = 4" in report
    assert (out / "figures" / "class_states.png").exists()


def _torch_twin(clf: RecurrentClassifier):
    """The trained Keras GRU classifier as a PyTorch module with the same weights.

    Keras's GRU (reset_after=True) is torch.nn.GRU: gate blocks z|r|h become r|z|n,
    kernels are transposed, the two bias rows are bias_ih and bias_hh.
    """
    import torch

    layer = next(layer for layer in clf.model.layers if hasattr(layer, "cell"))
    kernel, recurrent, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
    units = recurrent.shape[0]

    def rzn(block: np.ndarray) -> np.ndarray:  # columns z|r|h -> rows r|z|n
        z, r, h = np.split(block, 3, axis=-1)
        return np.concatenate([r, z, h], axis=-1)

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(*clf.embedding.shape, padding_idx=0)
            self.gru = torch.nn.GRU(clf.embedding.shape[1], units, batch_first=True)
            self.readout = torch.nn.Linear(units, 1)

    model = Classifier().double()
    values = {
        "embedding.weight": clf.embedding,
        "gru.weight_ih_l0": rzn(kernel).T,
        "gru.weight_hh_l0": rzn(recurrent).T,
        "gru.bias_ih_l0": rzn(bias[0]),
        "gru.bias_hh_l0": rzn(bias[1]),
        "readout.weight": clf.readout_weight[None, :],
        "readout.bias": np.atleast_1d(clf.readout_bias),
    }
    model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in values.items()})
    return model


def test_a_pytorch_gru_gets_the_keras_report(tmp_path, monkeypatch):
    """Issue 22: a PyTorch GRU holding a trained Keras GRU's weights, analysed through
    dynalyze-torch, gets the Keras run's report: the same structure and verdicts."""
    pytest.importorskip("torch")
    import importlib.metadata
    import sys

    from dynalyze.keras import registry

    if not any(
        ep.value.startswith("dynalyze_torch.")
        for ep in importlib.metadata.entry_points(group="dynalyze.systems")
    ):  # not installed here: its source, and its entry points as its pyproject declares them
        from _plugins import fake_entry_points

        package = Path(__file__).resolve().parents[1] / "extensions" / "dynalyze-torch"
        sys.path.insert(0, str(package / "src"))
        tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
        project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
        specs = list(project["entry-points"]["dynalyze.systems"].items())
        fake_entry_points(monkeypatch, registry.ENTRY_POINT_GROUP, specs)
        monkeypatch.setattr(registry, "_plugins", None)  # found again now, restored after
    from dynalyze_torch import from_torch

    from dynalyze.sentiment.pipeline import RunConfig, analyze_classifier

    keras_out = _run(tmp_path / "keras", "--dataset", "rotten_tomatoes", "--arch", "gru")
    keras_clf = RecurrentClassifier.load(keras_out / "model")
    torch_clf = from_torch(_torch_twin(keras_clf), keras_clf.vocabulary)
    ids = keras_clf.encode(["a good film", "not good at all"], 60)
    np.testing.assert_allclose(torch_clf.logits(ids), keras_clf.logits(ids), atol=1e-4)
    config = RunConfig.build(dataset="rotten_tomatoes", out=str(tmp_path / "torch"), progress=False)
    torch_run = analyze_classifier(torch_clf, config)
    k = json.loads((keras_out / "run.json").read_text())["summary"]
    t = torch_run.summary
    assert t["arch"] == "gru" and t["test_accuracy"] == pytest.approx(k["test_accuracy"], abs=2e-3)
    for name in ("mechanism", "mechanism_at_zero", "n_stable_clusters", "n_unstable_clusters",
                 "n_stable_clusters_at_zero", "n_unstable_clusters_at_zero"):  # fmt: skip
        assert t[name] == k[name], name
    roots = [
        (r["stability"], r["position"])
        for r in k["fixed_point_structure"]
        if r["kind"] != "slow_region"
    ]
    ours = [
        (r["stability"], r["position"])
        for r in t["fixed_point_structure"]
        if r["kind"] != "slow_region"
    ]
    assert [s for s, _ in ours] == [s for s, _ in roots]
    np.testing.assert_allclose([p for _, p in ours], [p for _, p in roots], atol=0.02)
    assert t["slow_fraction"] == pytest.approx(k["slow_fraction"], abs=0.05)
    assert t["bow_pearson_r"] == pytest.approx(k["bow_pearson_r"], abs=0.01)
    def headings(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if line.startswith("## ")]

    assert headings(tmp_path / "torch" / "report.md") == headings(keras_out / "report.md")
