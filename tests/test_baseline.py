"""The baseline input: the analysis runs the network at the input it actually receives.

Ground truth comes from outside the code under test: a function-preserving
reparametrisation done on the Keras model itself (every embedding shifted by
-x_b, x_b folded into the recurrent layer's input bias), closed-form fixed points
of a bistable unit (scipy's brentq), a fold at a closed-form input, and an exact
integrator whose average word carries evidence.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy.optimize import brentq

from dynalyze.analyses.line_attractor import Evidence, LineAttractor
from dynalyze.analyses.line_attractor.attractor import BaselineComparison
from dynalyze.analyses.line_attractor.mechanism import mechanism, structure_rows
from dynalyze.baseline import check_baseline, mean_embedding, resolve_baseline
from dynalyze.classifier import RecurrentClassifier
from dynalyze.errors import ConfigurationError, DataError
from dynalyze.fixedpoints import continue_fixed_points, find_fixed_points
from dynalyze.fixedpoints.continuation import branch_rows
from dynalyze.results import make_dataset
from dynalyze.sentiment.models import build_model
from dynalyze.systems import GRUSystem, LSTMSystem, SimpleRNNSystem
from dynalyze.systems.shifted import InputShiftedSystem, at_input
from dynalyze.testing import check_system
from dynalyze.vocabulary import Vocabulary

TOKENS = ["", "[UNK]", "good", "great", "bad", "awful", "film", "plot", "the", "a"]


def _keras_shifted(model: keras.Model, offset: np.ndarray) -> keras.Model:
    """The same network with every embedding row shifted by -offset and offset folded
    into the recurrent layer's input bias (written against Keras directly)."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    embedding = clone.get_layer("embedding")
    (table,) = embedding.get_weights()
    embedding.set_weights([table - offset[None, :].astype(table.dtype)])
    cell = clone.get_layer("rnn").cell
    kernel = keras.ops.convert_to_numpy(cell.kernel).astype(np.float64)
    bias = keras.ops.convert_to_numpy(cell.bias).astype(np.float64)
    shift = offset @ kernel
    if bias.ndim == 2:  # GRU with reset_after: row 0 is the input bias
        bias[0] += shift
    else:
        bias += shift
    cell.bias.assign(bias.astype(np.float32))
    return clone


def _random_ids(n: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, len(TOKENS), size=(n, length)).astype(np.int32)
    ids[::4, length // 2 :] = 0  # some shorter documents: padding is never averaged
    return ids


@pytest.mark.parametrize("arch", ["gru", "lstm", "simple", "ugrnn"])
def test_function_preserving_reparametrisation(arch):
    vocab = Vocabulary(TOKENS)
    model = build_model(arch, len(vocab), units=6, embedding_dim=3, seed=1)
    emb = model.get_layer("embedding")
    (table,) = emb.get_weights()
    rng = np.random.default_rng(0)
    emb.set_weights([(table + 0.6 + 0.4 * rng.normal(size=table.shape)).astype(np.float32)])
    ids = _random_ids(40, 14, seed=2)
    clf = RecurrentClassifier.from_model(model, vocab)
    x_b = clf.baseline_input(ids)
    shifted_model = _keras_shifted(model, x_b)
    # The network is the same: Keras's own logits agree.
    np.testing.assert_allclose(
        shifted_model.predict(ids, verbose=0), model.predict(ids, verbose=0), atol=2e-5
    )
    shifted = RecurrentClassifier.from_model(shifted_model, vocab)
    # ... its mean embedding is (numerically) zero ...
    assert np.linalg.norm(shifted.baseline_input(ids)) < 1e-6
    traj = clf.trajectories(ids, labels=(np.arange(40) % 2))
    config = dict(
        n_initial=80,
        evidence=Evidence(n_plot=300, n_null=100, relaxation_steps=5, n_relaxation=10),
    )
    at_b = LineAttractor(baseline=x_b, **config).fit(clf, traj)
    at_zero = LineAttractor(baseline="zero", **config).fit(shifted, traj)
    # ... and its zero-input analysis is the original's analysis at x_b.
    assert int(at_b["baseline_kind"]) == 2 and int(at_zero["baseline_kind"]) == 0
    assert at_b.sizes["cluster"] == at_zero.sizes["cluster"]
    np.testing.assert_allclose(at_b["cluster_state"], at_zero["cluster_state"], atol=1e-5)
    np.testing.assert_allclose(
        np.abs(at_b["cluster_eigenvalue"]), np.abs(at_zero["cluster_eigenvalue"]), atol=1e-5
    )
    np.testing.assert_array_equal(at_b["cluster_stability"], at_zero["cluster_stability"])
    for name in ("token_projection", "cluster_token_projection", "manifold_drift"):
        np.testing.assert_allclose(at_b[name], at_zero[name], atol=1e-5, rtol=1e-4)
    assert float(at_b["n_accepted"]) == float(at_zero["n_accepted"])


def test_baseline_input_is_the_mean_token_embedding():
    vocab = Vocabulary(TOKENS)
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(len(TOKENS), 3))
    system = SimpleRNNSystem(np.eye(3), 0.5 * np.eye(3), np.zeros(3))
    clf = RecurrentClassifier(
        system=system,
        embedding=emb,
        readout_weight=np.ones(3),
        readout_bias=0.0,
        vocabulary=vocab,
    )
    ids = _random_ids(30, 10, seed=1)
    tokens = ids[ids != 0]
    np.testing.assert_allclose(clf.baseline_input(ids), emb[tokens].mean(axis=0), atol=1e-14)
    assert (tokens == 1).any()  # [UNK] occurs and counts
    vector, n = mean_embedding(emb, ids)
    assert n == tokens.size
    np.testing.assert_allclose(vector, clf.baseline_input(ids))
    b = resolve_baseline("mean", input_dim=3, embedding=emb, ids=ids)
    norms = np.sort(np.linalg.norm(emb[tokens], axis=1))
    assert b.median_token_norm == pytest.approx(norms[(norms.size - 1) // 2], rel=0.05)
    assert b.relative_norm == pytest.approx(b.norm / b.median_token_norm)
    assert not b.meets_paper_condition


@pytest.mark.parametrize(
    "spec, message",
    [
        ([1.0, 2.0], "must have 3 entries"),
        ([np.nan, 0.0, 0.0], "NaN or infinite"),
        ("median", "must be 'mean', 'zero' or one input vector"),
        ([[1.0, 2.0, 3.0]], "one input vector"),
    ],
)
def test_a_bad_baseline_is_one_configuration_error(spec, message):
    with pytest.raises(ConfigurationError, match=message):
        resolve_baseline(spec, input_dim=3)


def test_mean_without_an_embedding_or_documents_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="needs an embedding"):
        resolve_baseline("mean", input_dim=3, ids=[[1, 2]])
    with pytest.raises(ConfigurationError, match="needs documents"):
        resolve_baseline("mean", input_dim=3, embedding=np.ones((4, 3)))
    with pytest.raises(ConfigurationError, match="only padding"):
        resolve_baseline("mean", input_dim=3, embedding=np.ones((4, 3)), ids=[[0, 0]])
    assert check_baseline((0.5, 1)) == (0.5, 1.0)


def test_line_attractor_rejects_a_baseline_of_the_wrong_width_before_any_work():
    from dynalyze.testing.toys import exact_integrator

    clf, traj = exact_integrator()
    with pytest.raises(ConfigurationError, match="must have 2 entries"):
        LineAttractor(baseline=[0.1, 0.2, 0.3]).analyze(clf, traj)
    with pytest.raises(ConfigurationError, match="NaN or infinite"):
        LineAttractor(baseline=[np.inf, 0.0])


def test_fixed_points_found_at_another_input_are_refused():
    from dynalyze.testing.toys import exact_integrator

    clf, traj = exact_integrator()
    found = find_fixed_points(clf.system, np.zeros((3, 2)), [0.5, 0.0])
    with pytest.raises(DataError, match=r"computed at an input of norm 0\.5"):
        LineAttractor(baseline="zero").analyze(clf, traj, fixed_points=found)


def test_input_shifted_system_is_the_original_at_the_offset():
    rng = np.random.default_rng(0)
    gru = GRUSystem(rng.normal(size=(3, 12)), rng.normal(size=(4, 12)), rng.normal(size=(2, 12)))
    lstm = LSTMSystem(rng.normal(size=(3, 16)), rng.normal(size=(4, 16)), rng.normal(size=16))
    for base in (gru, lstm):
        offset = rng.normal(size=3)
        system = InputShiftedSystem(base, offset)
        h = rng.uniform(-0.5, 0.5, size=(5, base.state_dim))
        u = rng.normal(size=(5, 3))
        np.testing.assert_array_equal(system.step(h, u), base.step(h, u + offset))
        np.testing.assert_array_equal(system.step(h), base.step(h, offset))
        for ours, theirs in zip(system.jacobians(h, u), base.jacobians(h, u + offset), strict=True):
            np.testing.assert_array_equal(ours, theirs)
        assert system.state_bounds is not None or base.state_bounds is None
        check_system(system, pipeline=False)
    assert at_input(gru, np.zeros(3)) is gru
    twice = at_input(at_input(gru, [1.0, 0.0, 0.0]), [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(twice.offset, [1.0, 2.0, 0.0])
    with pytest.raises(ConfigurationError, match="must have 3 entries"):
        InputShiftedSystem(gru, [1.0])


def _driven(system, emb, ids):
    """A 2-unit classifier reading e_0, and its trajectories on ``ids`` (stepped in NumPy)."""
    clf = RecurrentClassifier(
        system=system,
        embedding=emb,
        readout_weight=np.array([1.0, 0.0]),
        readout_bias=0.0,
        vocabulary=Vocabulary(TOKENS),
    )
    n, length = ids.shape
    states = np.zeros((n, length, 2), dtype=np.float32)
    h = np.zeros((n, 2))
    for t in range(length):
        h = system.step(h, emb[ids[:, t]])
        states[:, t] = h
    logit = clf.readout(h)
    traj = make_dataset(
        "trajectories",
        {
            "hidden_state": states,
            "token_id": ids,
            "valid": np.ones(ids.shape, dtype=np.int8),
            "length": np.full(n, length),
            "logit": logit,
            "label": (logit > 0).astype(np.int8),
        },
    )
    return clf, traj


def _bistable(scale: float, offset: float):
    """h0' = tanh(1.05 h0 + x0) beside a fast tanh unit; words push h0 by scale * valence."""
    valences = {
        "good": 0.7,
        "great": 1.2,
        "bad": -0.9,
        "awful": -1.0,
        "film": 0.0,
        "plot": 0.05,
        "the": 0.0,
        "a": 0.0,
    }
    emb = np.zeros((len(TOKENS), 2))
    for i, token in enumerate(TOKENS[2:], start=2):
        emb[i] = [scale * valences[token] + offset, 0.3 * (i % 2)]
    emb[1] = [offset, 0.0]
    system = SimpleRNNSystem(np.eye(2), np.diag([1.05, 0.3]), np.zeros(2))
    ids = np.random.default_rng(3).integers(1, len(TOKENS), size=(80, 40)).astype(np.int32)
    return _driven(system, emb, ids)


def test_structure_at_the_baseline_and_the_fold_on_the_way_from_zero():
    clf, traj = _bistable(scale=0.05, offset=0.02)
    c = float(clf.baseline_input(traj["token_id"].values)[0])
    a = 1.05
    root = np.sqrt(1 - 1 / a)
    x_fold = a * root - np.arctanh(root)  # h = tanh(a h + x) and a (1 - h^2) = 1
    assert c > x_fold  # the lower stable root and the saddle annihilate on the way
    result = LineAttractor(
        n_initial=200,
        evidence=Evidence(n_plot=500, n_null=200, relaxation_steps=5, n_relaxation=20),
    ).analyze(clf, traj)
    ds = result.attractor
    # At x_b: one stable root, the root of h = tanh(1.05 h + c) (brentq, independent).
    expected = brentq(lambda h: np.tanh(a * h + c) - h, 0.05, 1.0)
    roots = [r for r in structure_rows(ds) if r["kind"] != "slow_region"]
    assert [r["stability"] for r in roots] == ["stable"], roots
    np.testing.assert_allclose(ds["cluster_state"].values[:, 0], [expected], atol=1e-9)
    # At x = 0: the zero view has the two stable ends and the saddle.
    zero = result.zero_view
    assert [r["stability"] for r in structure_rows(zero)] == ["stable", "saddle", "stable"]
    # The continuation from 0 to x_b finds the fold at the known s = x* / c.
    cont = result.continuation
    assert int(cont["n_folds"]) == 1
    fold_s = cont["continuation_s"].values[cont["continuation_is_fold"].values == 1]
    np.testing.assert_allclose(fold_s, [x_fold / c], atol=1e-6)
    rows = branch_rows(cont)
    ends = sorted((r["start_stability"], r["status"]) for r in rows)
    assert ends == [("stable", "reached_end"), ("stable", "returned")], rows
    assert mechanism(zero).kind == "bistable"
    assert mechanism(ds).kind != "bistable"


def test_continuation_finds_roots_born_at_a_fold_between_the_ends():
    # h' = tanh(1.5 h + x) along x from 1 (one root) to 0 (three): two are born at x*.
    system = SimpleRNNSystem(np.eye(1), 1.5 * np.eye(1), np.zeros(1))
    a = 1.5
    root = np.sqrt(1 - 1 / a)
    x_fold = a * root - np.arctanh(root)
    start = brentq(lambda h: np.tanh(a * h + 1.0) - h, 0.1, 1.0)
    end = [brentq(lambda h: np.tanh(a * h) - h, lo, hi) for lo, hi in ((-1, -0.3), (0.3, 1))]
    ds = continue_fixed_points(
        system, [[start]], [1.0], [0.0], end_roots=[[end[0]], [0.0], [end[1]]]
    )
    rows = branch_rows(ds)
    born = [r for r in rows if r["origin"] == "end"]
    assert len(born) == 1 and born[0]["fold_s"] == pytest.approx([1.0 - x_fold], abs=1e-6)
    assert {r["start_stability"] for r in born} == {"stable"}
    assert int(ds["n_folds"]) == 1


def test_an_exact_integrator_whose_average_word_carries_evidence():
    """A line attractor read at a mean input that pushes along it: no root there, the
    line drifts by the mean valence, and streams of a zero-valence word do not move it."""
    valences = {
        "good": 0.7,
        "great": 1.2,
        "bad": -0.9,
        "awful": -1.5,
        "film": 0.0,
        "plot": 0.3,
        "the": 0.4,
        "a": 0.5,
    }
    emb = np.zeros((len(TOKENS), 2))
    for i, token in enumerate(TOKENS[2:], start=2):
        emb[i] = [0.2 * valences[token], 0.1]
    system = SimpleRNNSystem(np.eye(2), np.diag([1.0, 0.3]), np.zeros(2), activation="linear")
    ids = np.random.default_rng(0).integers(2, len(TOKENS), size=(60, 30)).astype(np.int32)
    clf, traj = _driven(system, emb, ids)
    x_b = clf.baseline_input(ids)
    comparison = BaselineComparison(neutral_share=0.01, neutral_min=1)
    result = LineAttractor(
        n_initial=100,
        evidence=Evidence(
            n_plot=500, n_null=100, relaxation_steps=5, n_relaxation=10, min_token_count=5
        ),
        comparison=comparison,
    ).analyze(clf, traj)
    ds = result.attractor
    assert int(ds["n_accepted"]) == 0  # F(h, x_b) = A h + x_b has no fixed point
    assert [r["kind"] for r in structure_rows(result.zero_view)] == ["continuum"]
    # The neutral word is the one whose effect relative to x_b is smallest: |v - mean|.
    neutral = ds["token"].values[ds["neutral_token"].values == 1].tolist()
    effects = {t: abs(0.2 * v - x_b[0]) for t, v in valences.items()}
    assert neutral == [min(effects, key=effects.get)]
    # At x_b every settled state moves by doc_length * x_b[0] along e_0.
    axis = ds["manifold_axis"].values
    length = int(ds["median_document_length"])
    drift = ds["manifold_drift"].values
    valid = np.isfinite(drift)
    expected = abs(length * x_b[0] * axis[0]) / float(ds["manifold_extent"])
    np.testing.assert_allclose(drift[valid], expected, rtol=0.05)
    # The zero view does not drift; streams of the neutral word drift by its valence only.
    np.testing.assert_allclose(ds["manifold_zero_drift"].values[valid], 0.0, atol=1e-6)
    assert float(ds["neutral_drift_error_zero"]) < float(ds["neutral_drift_error_baseline"])
