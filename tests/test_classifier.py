"""RecurrentClassifier: parts of a Keras model, trajectories and streams, against Keras itself."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import xarray as xr

from dynalyze.classifier import RecurrentClassifier
from dynalyze.errors import DataError, UnsupportedModelError, VocabularyMismatchError
from dynalyze.sentiment.models import build_model
from dynalyze.trajectories import DatasetTrajectories
from dynalyze.vocabulary import Vocabulary

TOKENS = ["", "[UNK]", "good", "bad", "film", "plot", "great", "awful"]


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary(TOKENS)


@pytest.fixture(scope="module", params=["gru", "lstm", "simple"])
def clf(request, vocab) -> RecurrentClassifier:
    model = build_model(request.param, len(vocab), units=6, embedding_dim=5, seed=1)
    # Non-trivial weights: random normal everywhere (untrained models are too tame).
    rng = np.random.default_rng(0)
    model.set_weights(
        [rng.normal(scale=0.6, size=w.shape).astype("float32") for w in model.get_weights()]
    )
    return RecurrentClassifier.from_model(model, vocab)


@pytest.fixture(scope="module")
def ids() -> np.ndarray:
    rng = np.random.default_rng(1)
    out = rng.integers(1, len(TOKENS), size=(9, 12)).astype(np.int32)
    lengths = [12, 1, 5, 7, 12, 3, 9, 2, 11]
    for row, n in enumerate(lengths):
        out[row, n:] = 0
    return out


def manual_states(clf: RecurrentClassifier, ids: np.ndarray) -> list[np.ndarray]:
    """Step the float64 system token by token (the slow, obvious way)."""
    out = []
    for row in ids:
        h = np.zeros((1, clf.system.state_dim))
        states = []
        for token in row[row > 0]:
            h = clf.system.step(h, clf.embedding[token][None])
            states.append(h[0])
        out.append(np.array(states))
    return out


def test_trajectories_match_stepping_the_cell(clf, ids):
    ds = clf.trajectories(ids, labels=np.arange(9) % 2)
    expected = manual_states(clf, ids)
    hidden = ds["hidden_state"].values
    for row, states in enumerate(expected):
        n = len(states)
        np.testing.assert_allclose(hidden[row, :n], states, rtol=1e-4, atol=1e-5)
        assert np.isnan(hidden[row, n:]).all()
        assert ds["valid"].values[row].sum() == n
        assert list(ds["step_token"].values[row, n:]) == [""] * (ids.shape[1] - n)
    assert ds["step_token"].values[0, 0] == TOKENS[ids[0, 0]]
    assert ds["label"].values.tolist() == (np.arange(9) % 2).tolist()


def test_logits_equal_the_keras_model_and_the_readout(clf, ids):
    keras_out = np.asarray(clf.model(ids, training=False)).ravel()
    np.testing.assert_allclose(clf.logits(ids), keras_out, rtol=1e-4, atol=1e-5)
    ds = clf.trajectories(ids)
    np.testing.assert_allclose(ds["logit"].values, keras_out, rtol=1e-4, atol=1e-5)


def test_lstm_layout_labels_h_and_c(vocab):
    model = build_model("lstm", len(vocab), units=3, embedding_dim=2, seed=0)
    clf = RecurrentClassifier.from_model(model, vocab)
    assert clf.system.state_dim == 6
    assert clf.readout_weight[3:].tolist() == [0.0, 0.0, 0.0]
    ds = clf.trajectories(np.array([[2, 3, 0]], dtype=np.int32))
    assert ds["state_component"].values.tolist() == ["h", "h", "h", "c", "c", "c"]


def test_stream_batches_equal_the_dataset(clf, ids):
    ds = clf.trajectories(ids)
    stream = clf.stream(ids, batch_size=4)
    seen = np.zeros(len(ids), dtype=int)
    for batch in stream.batches():
        seen[batch.index] += 1
        width = batch.states.shape[1]
        ref = ds["hidden_state"].values[batch.index, :width]
        np.testing.assert_allclose(
            np.where(batch.valid[..., None], batch.states, np.nan), ref, rtol=1e-5, atol=1e-6
        )
        np.testing.assert_array_equal(batch.token_id, ids[batch.index, :width])
    assert (seen == 1).all()
    in_memory = [b.index.tolist() for b in DatasetTrajectories(ds, batch_size=4).batches()]
    assert in_memory == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]


def test_token_inputs_by_string_and_id(clf):
    np.testing.assert_array_equal(clf.token_inputs(["good", 3]), clf.embedding[[2, 3]])


def test_errors(vocab, ids):
    model = build_model("gru", len(vocab), units=4, embedding_dim=3, seed=0)
    with pytest.raises(VocabularyMismatchError, match="vocabulary"):
        RecurrentClassifier.from_model(model, Vocabulary(TOKENS[:-1]))
    dense_only = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(UnsupportedModelError, match="recurrent"):
        RecurrentClassifier.from_model(dense_only, vocab)
    no_readout = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(len(vocab), 3, mask_zero=True),
            keras.layers.GRU(4),
        ]
    )
    with pytest.raises(UnsupportedModelError, match="Dense"):
        RecurrentClassifier.from_model(no_readout, vocab)
    clf = RecurrentClassifier.from_model(model, vocab)
    with pytest.raises(DataError, match="id"):
        clf.trajectories(np.full((2, 3), 99, dtype=np.int32))
    with pytest.raises(DataError, match="integer id matrix"):
        clf.trajectories(np.zeros((2, 3)))
    with pytest.raises(DataError, match="labels"):
        clf.trajectories(ids, labels=[0, 1])


def test_trajectories_round_trip(tmp_path, clf, ids):
    import dynalyze

    ds = clf.trajectories(ids, labels=np.arange(9) % 2)
    path = dynalyze.save(ds, tmp_path / "traj.nc")
    xr.testing.assert_identical(dynalyze.load(path), ds)
