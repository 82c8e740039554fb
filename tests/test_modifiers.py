"""Modifier words on a synthetic task with planted negation and intensification.

"not" flips the valence of the next 3 words and "very" doubles it before the label is
decided; a trained GRU must show a strength below 0 for "not" at separations 0-2 (back
near 1 afterwards), above 1 for "very", 1 for a neutral word, and the ablation of the
modifier subspace must remove the effect.
"""

from __future__ import annotations

import numpy as np
import pytest

from dynalyze.analyses.modifiers.measure import ModifierAnalysis, augmented_bow, fit_decay
from dynalyze.errors import DataError
from dynalyze.sentiment.datasets import load_dataset
from dynalyze.sentiment.sources import SyntheticConfig, make_synthetic


def test_fit_decay_recovers_a_planted_time_constant() -> None:
    s = np.arange(8.0)
    amplitude, tau = fit_decay(s, 1 + 0.8 * np.exp(-s / 2.5))
    assert amplitude == pytest.approx(0.8) and tau == pytest.approx(2.5)
    assert np.isnan(fit_decay(s, np.ones(8))[1])


def test_planted_modifiers_change_the_labels() -> None:
    config = SyntheticConfig(n_examples=400, negators=("not",), intensifiers=("very",))
    texts, labels, valences = make_synthetic(config, seed=1)

    def label(text: str) -> int:
        words = text.split()
        total = 0.0
        for t, word in enumerate(words):
            factor = 1.0
            for prev in words[max(0, t - 3) : t]:
                factor *= -1.0 if prev == "not" else 2.0 if prev == "very" else 1.0
            total += factor * valences[word]
        return int(total > 0)

    assert [label(t) for t in texts] == labels.tolist()
    assert sum("not" in t.split() for t in texts) > 50
    # Without modifiers the generator is unchanged.
    plain = make_synthetic(SyntheticConfig(n_examples=50), seed=1)
    assert all("not" not in t for t in plain[0])


def test_a_linear_integrator_has_strength_one_even_when_the_modifier_relaxes_on_the_readout() -> (
    None
):
    """Closed form: in ``h' = A h + x`` with a linear readout no word changes another's effect.

    The modifier pushes a fast mode (eigenvalue 0.5) that the readout also reads, so its
    push relaxes on the readout whatever word comes next: a word's change of the logit
    differs after the modifier by that relaxation, but its effect against a neutral word in
    the same slot does not. Every strength, for each sign of word, must be exactly 1.
    """
    from dynalyze.classifier import RecurrentClassifier
    from dynalyze.systems import SimpleRNNSystem
    from dynalyze.vocabulary import Vocabulary

    valences = {"good": 1.0, "great": 2.0, "bad": -1.0, "awful": -2.0, "the": 0.0, "film": 0.0}
    vocab = Vocabulary(["", "[UNK]", *valences, "not"])
    embedding = np.zeros((len(vocab), 2))
    for token, v in valences.items():
        embedding[vocab.index(token)] = [v, 0.0]
    embedding[vocab.index("not")] = [0.0, 3.0]
    system = SimpleRNNSystem(np.eye(2), np.diag([1.0, 0.5]), np.zeros(2), activation="linear")
    clf = RecurrentClassifier(
        system=system,
        embedding=embedding,
        readout_weight=np.array([1.0, 1.0]),
        readout_bias=0.0,
        vocabulary=vocab,
    )
    valence = np.array([valences.get(t, 0.0) for t in vocab.tokens])
    contexts = np.random.default_rng(0).integers(2, len(vocab) - 1, size=(30, 6))
    ds = ModifierAnalysis(
        modifiers=["not"], max_separation=3, context_length=6, n_valence=2, n_reference=2
    ).fit(clf, contexts, valence)
    np.testing.assert_allclose(ds["modifier_strength"], 1.0, atol=1e-12)
    np.testing.assert_allclose(ds["modifier_strength_by_sign"], 1.0, atol=1e-12)
    np.testing.assert_allclose(ds["modifier_strength_low"], 1.0, atol=1e-12)
    np.testing.assert_allclose(ds["modifier_strength_high"], 1.0, atol=1e-12)
    assert list(ds["word_sign"].values) == ["positive", "negative"]


keras = pytest.importorskip("keras")

from dynalyze.classifier import RecurrentClassifier  # noqa: E402
from dynalyze.sentiment.models import build_model  # noqa: E402
from dynalyze.sentiment.training import train_model  # noqa: E402
from dynalyze.vocabulary import Vocabulary  # noqa: E402


def test_modifier_strength_timescale_subspace_and_ablation() -> None:
    config = SyntheticConfig(
        n_examples=6000, negators=("not",), intensifiers=("very",), n_neutral=20
    )
    data = load_dataset("synthetic", seed=0, synthetic=config)
    vocab = Vocabulary.build(data.train_texts)
    model = build_model("gru", len(vocab), units=32, embedding_dim=16, seed=0)
    result = train_model(
        model,
        data,
        vocab,
        max_len=30,
        epochs=15,
        batch_size=64,
        seed=0,
        patience=4,
        learning_rate=5e-3,
        clipnorm=5.0,
        progress=False,
    )
    assert result.test_accuracy > 0.95
    clf = RecurrentClassifier.from_model(model, vocab)
    assert data.true_valences is not None
    valence = np.array([data.true_valences.get(t, 0.0) for t in vocab.tokens])
    ds = ModifierAnalysis(
        modifiers=["not", "very", "neu00", "absent"],
        max_separation=5,
        context_length=5,
        n_valence=10,
    ).fit(clf, clf.encode(data.test_texts, 30), valence)
    assert list(ds["modifier"].values) == ["not", "very", "neu00"]  # absent words skipped
    strength = ds["modifier_strength"]
    assert (strength.sel(modifier="not", separation=[0, 1, 2]) < 0).all()  # flipped
    # ... for positive and for negative words alike, and the whole interval is below 0.
    assert (ds["modifier_strength_by_sign"].sel(modifier="not", separation=0) < 0).all()
    assert float(ds["modifier_strength_high"].sel(modifier="not", separation=0)) < 0
    assert (ds["modifier_strength_low"] <= strength + 1e-12).all()
    assert (ds["modifier_strength_high"] >= strength - 1e-12).all()
    assert float(strength.sel(modifier="not", separation=5)) > 0.5  # span of 3 is over
    assert float(strength.sel(modifier="very", separation=0)) > 1.5  # amplified
    np.testing.assert_allclose(strength.sel(modifier="neu00"), 1.0, atol=0.1)
    ablated = ds["ablated_modifier_strength"].sel(modifier=["not", "very"], separation=[0, 1, 2])
    np.testing.assert_allclose(ablated, 1.0, atol=0.25)  # the subspace carries the effect
    assert float(ds["modifier_fast_mode_share"].sel(modifier="not")) > 0.8  # fast, transient modes
    assert np.isfinite(float(ds["modifier_time_constant"].sel(modifier="very")))
    # A BoW with the measured strengths recovers most of the RNN's gain over plain BoW.
    texts, labels = data.split("test")
    rnn_correct = (clf.logits(clf.encode(texts, 30)) > 0) == (labels == 1)
    bow = augmented_bow(
        ds.sel(modifier=["not", "very"]), data, vocab, max_len=30, rnn_correct=rnn_correct
    )
    assert bow["rnn_accuracy"] > bow["bow_accuracy"] + 0.03
    assert bow["recovered_fraction"] > 0.7 and bow["recovered_low"] > 0.5
    with pytest.raises(DataError, match="None of the modifiers"):
        ModifierAnalysis(modifiers=["zzz"]).fit(clf, clf.encode(data.test_texts, 30), valence)
