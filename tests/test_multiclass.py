"""N-class classification: BBC News and synthetic tasks with ground truth, N-class models,
the matrix readout against Keras itself, and the simplex attractor's dimension."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dynalyze.errors import ConfigurationError, DataError
from dynalyze.sentiment.datasets import load_dataset
from dynalyze.sentiment.multiclass import BBC_CLASSES, ClassesConfig, make_classes


def test_bbc_news_is_read_offline_and_split_by_class() -> None:
    data = load_dataset("bbc_news", seed=0)
    assert data.n_classes == 5 and data.class_names == BBC_CLASSES
    # 2,225 articles, of which 100 repeat an earlier one word for word.
    assert data.n_examples == 2125 and data.n_dropped == 100
    splits = {s: data.split(s) for s in ("train", "validation", "test")}
    assert sum(len(t) for t, _ in splits.values()) == 2125
    whole = np.bincount(np.concatenate([labels for _, labels in splits.values()]))
    assert whole.sum() == 2125 and len(whole) == 5
    for name, (_, labels) in splits.items():
        share = np.bincount(labels, minlength=5) / labels.size
        np.testing.assert_allclose(share, whole / whole.sum(), atol=0.01, err_msg=name)
    test_texts = set(splits["test"][0])
    assert not test_texts & set(splits["train"][0])  # no article both trained and tested on
    everything = [t for texts, _ in splits.values() for t in texts]
    assert sum(t.startswith("India calls for fair trade rules") for t in everything) == 1
    again = load_dataset("bbc_news", seed=0)
    assert again.test_texts == data.test_texts


@pytest.mark.parametrize("kind", ["categorical", "ordered"])
@pytest.mark.parametrize("n", [3, 5])
def test_synthetic_n_class_tasks_have_their_planted_answer(kind: str, n: int) -> None:
    config = ClassesConfig(kind=kind, n_classes=n, n_examples=50 * n)  # type: ignore[arg-type]
    texts, labels, evidence, names = make_classes(config, seed=3)
    assert np.bincount(labels).tolist() == [50] * n and len(names) == n
    # The label is recomputed from the planted evidence of the words.
    totals = np.array([np.sum([evidence[w] for w in t.split()], axis=0) for t in texts])
    if kind == "categorical":
        assert np.array_equal(np.argmax(totals, axis=1), labels)
    else:
        order = np.argsort(totals[:, 0])
        assert np.all(np.diff(labels[order]) >= 0)  # bins of one ordered axis
    again = make_classes(config, seed=3)
    assert again[0] == texts and np.array_equal(again[1], labels)


def test_n_class_data_errors() -> None:
    with pytest.raises(ConfigurationError, match="kind"):
        ClassesConfig(kind="nominal")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="n_classes"):
        ClassesConfig(n_classes=1)
    with pytest.raises(ConfigurationError, match="ClassesConfig"):
        load_dataset("synthetic_categorical", classes="three")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="Unknown dataset"):
        load_dataset("bbc")


keras = pytest.importorskip("keras")

from dynalyze.analyses.line_attractor import LineAttractor  # noqa: E402
from dynalyze.analyses.simplex.attractor import SimplexAttractor  # noqa: E402
from dynalyze.classifier import RecurrentClassifier  # noqa: E402
from dynalyze.sentiment.models import build_model  # noqa: E402
from dynalyze.sentiment.training import evaluate_accuracy, predict_logits, train_model  # noqa: E402
from dynalyze.vocabulary import Vocabulary  # noqa: E402


def _trained(kind: str, n: int) -> tuple[Any, Any, Any, float]:
    data = load_dataset(
        f"synthetic_{kind}",
        seed=0,
        classes=ClassesConfig(kind=kind, n_classes=n, n_examples=2000),  # type: ignore[arg-type]
    )
    vocab = Vocabulary.build(data.train_texts)
    model = build_model("gru", len(vocab), units=16, embedding_dim=8, seed=0, n_classes=n)
    result = train_model(
        model,
        data,
        vocab,
        max_len=30,
        epochs=8,
        batch_size=32,
        seed=0,
        patience=3,
        learning_rate=5e-3,
        progress=False,
    )
    return data, vocab, model, result.test_accuracy


def test_the_matrix_readout_reproduces_the_keras_model() -> None:
    data, vocab, model, accuracy = _trained("categorical", 3)
    assert accuracy > 0.8
    clf = RecurrentClassifier.from_model(model, vocab)
    assert clf.n_outputs == 3 and clf.readout_weight.shape == (clf.system.state_dim, 3)
    texts, labels = data.split("test")
    ids = clf.encode(texts, 30)
    traj = clf.trajectories(ids, labels=labels)
    assert "logit" not in traj  # one logit per class lives in the readout, not the schema
    final = traj["hidden_state"].values[np.arange(len(texts)), traj["length"].values - 1]
    keras_logits = predict_logits(model, vocab, texts, max_len=30)
    assert keras_logits.shape == (len(texts), 3)
    np.testing.assert_allclose(clf.readout(final), keras_logits, atol=2e-4)
    np.testing.assert_allclose(clf.logits(ids), keras_logits, atol=2e-4)
    acc = evaluate_accuracy(model, vocab, texts, labels, max_len=30)
    assert acc == pytest.approx(np.mean(np.argmax(keras_logits, axis=1) == labels))
    with pytest.raises(ConfigurationError, match="SimplexAttractor"):
        LineAttractor().fit(clf, traj)
    with pytest.raises(ConfigurationError, match="n_classes=3"):
        binary = build_model("gru", len(vocab), units=4, embedding_dim=4, seed=0)
        train_model(
            binary,
            data,
            vocab,
            max_len=30,
            epochs=1,
            batch_size=32,
            seed=0,
            patience=1,
            progress=False,
        )


@pytest.mark.parametrize(
    ("kind", "n"),
    [
        ("categorical", 3),
        ("categorical", 4),
        ("categorical", 5),
        ("ordered", 3),
        ("ordered", 4),
        ("ordered", 5),
    ],
)
def test_simplex_dimension_is_n_minus_one_for_categorical_and_lower_for_ordered(
    kind: str, n: int
) -> None:
    data, vocab, model, accuracy = _trained(kind, n)
    assert accuracy > 1.5 / n  # well above chance
    clf = RecurrentClassifier.from_model(model, vocab)
    texts, labels = data.split("test")
    ds = SimplexAttractor(n_initial=200).fit(
        clf, clf.trajectories(clf.encode(texts, 30), labels=labels)
    )
    assert int(ds["expected_dimension"]) == n - 1
    ratio = float(ds["late_state_participation_ratio"])
    if kind == "categorical":
        assert int(ds["late_state_dim_95"]) == n - 1
        assert ratio > n - 2
        assert float(ds["late_state_readout_alignment"]) > 0.8
        # Each class's planted evidence words push its own logit up most.
        effect = ds["token_class_effect"]
        for c in range(n):
            words = [t for t in effect["token"].values if str(t).startswith(f"c{c}w")]
            assert (effect.sel(token=words).argmax("class").values == c).mean() > 0.8
    else:
        assert ratio < 1.6 < n - 1  # one dominant integrating axis
        assert int(ds["late_state_dim_95"]) <= 2


def test_dynalyze_run_on_a_synthetic_three_class_task(tmp_path: Path) -> None:
    import json

    import xarray as xr

    from dynalyze.cli import main

    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--dataset",
            "synthetic_categorical",
            "--n-initial",
            "100",
            "--out",
            str(out),
            "--no-progress",
            "-q",
        ]
    )
    assert code == 0
    summary = json.loads((out / "run.json").read_text())["summary"]
    assert summary["n_classes"] == 3 and summary["expected_dimension"] == 2
    assert summary["late_state_dim_95"] == 2 and summary["mechanism"] == "simplex_attractor"
    assert summary["test_accuracy"] > 0.8 and summary["bow_test_accuracy"] > 0.5
    simplex = xr.open_dataset(out / "results" / "simplex_attractor.nc")
    assert list(simplex["class"].values) == ["class0", "class1", "class2"]
    report = (out / "report.md").read_text()
    assert "multinomial bag-of-words" in report and "N - 1 = 2" in report
    assert (out / "figures" / "class_states.png").stat().st_size > 1000
