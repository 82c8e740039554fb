"""Modifier words: how "not" and "very" change the effect of the words after them.

Maheswaranathan & Sussillo (ICML 2020) found that modifiers push the state into
a low-dimensional subspace of fast, transient modes, and that while the state
is there the effect of the next valence words is flipped (negators) or
amplified (intensifiers) for a few tokens. :class:`ModifierAnalysis` measures
this on the network itself, in NumPy through its :class:`RecurrentSystem`:

strength
    Real contexts (prefixes of real documents) are extended by
    ``modifier, filler x s, valence word`` and by the control
    ``filler, filler x s, valence word`` (the modifier replaced by a neutral
    filler). The valence word's effect is the readout logit after it minus the
    logit after a neutral word in the same slot (so the relaxation of the
    modifier's own push, which happens whatever word comes next, cancels); the
    strength is the ratio of its mean signed effect after the modifier to its
    mean signed effect in the control (1: no effect, < 0: a flip, > 1:
    amplification), with a bootstrap interval over contexts, and separately
    for the positive and the negative valence words (a flip or an
    amplification changes both alike; an offset would move them apart).
timescale
    ``strength(s) - 1`` against the separation ``s``, fitted by
    ``a exp(-s / tau)``.
modifier subspace
    The principal directions of the modifier's push (state after the modifier
    minus state after the filler, over contexts), their share inside the span of
    the fast eigenmodes (``|lambda| < slow_magnitude``) of the linearization at
    the nearest fixed point, and an ablation: the push's component inside the
    subspace is removed right after the modifier; the strength should return to 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dynalyze._validation import FloatArray, attrs_positive, attrs_positive_int
from dynalyze.analyses.geometry import eigenvector_span
from dynalyze.analyses.simplex.attractor import dimension_for, subspace_share
from dynalyze.errors import ConfigurationError, DataError
from dynalyze.results.build import make_dataset

if TYPE_CHECKING:  # pragma: no cover
    from dynalyze.classifier import RecurrentClassifier

__all__ = ["INTENSIFIERS", "NEGATORS", "ModifierAnalysis", "augmented_bow", "fit_decay"]

#: The default candidate negators and intensifiers (Maheswaranathan & Sussillo 2020).
NEGATORS = ("not", "never", "no")
INTENSIFIERS = ("very", "extremely", "really", "incredibly")


def fit_decay(separation: ArrayLike, strength: ArrayLike) -> tuple[float, float]:
    """Fit ``strength(s) - 1 = a exp(-s / tau)``; return ``(a, tau)`` (NaN if no decay).

    Examples
    --------
    >>> s = np.arange(6.0)
    >>> a, tau = fit_decay(s, 1 - 2.0 * np.exp(-s / 1.5))
    >>> round(a, 6), round(tau, 6)
    (-2.0, 1.5)
    """
    s = np.asarray(separation, dtype=np.float64)
    y = np.asarray(strength, dtype=np.float64) - 1.0
    keep = np.isfinite(y) & (np.abs(y) > 1e-9)
    if keep.sum() < 2 or len(set(np.sign(y[keep]))) > 1:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(s[keep], np.log(np.abs(y[keep])), 1)
    if slope >= 0:
        return float(np.sign(y[keep][0]) * np.exp(intercept)), float("inf")
    return float(np.sign(y[keep][0]) * np.exp(intercept)), float(-1.0 / slope)


@attrs.frozen(kw_only=True)
class ModifierAnalysis:
    """Strength, timescale and subspace of modifier words, measured on the network.

    Parameters
    ----------
    modifiers : sequence of str
        Candidate modifiers (those missing from the vocabulary are skipped).
    max_separation : int
        Largest number of filler tokens between modifier and valence word.
    n_contexts : int
        Real contexts (document prefixes) per measurement.
    context_length : int
        Tokens of each context.
    n_valence : int
        Valence words of each sign (the most positive / negative by ``valence``).
    subspace_variance : float
        Share of the push's variance the modifier subspace keeps.
    slow_magnitude : float
        ``|lambda|`` separating slow from fast modes.
    n_reference : int
        Neutral words whose mean logit is the reference of a valence word's effect.
    n_boot : int
        Bootstrap resamples of the contexts for the strength's 95% interval.
    seed : int
        Seed of the choice of contexts and fillers and of the bootstrap.

    Examples
    --------
    >>> ModifierAnalysis(modifiers=["not"]).max_separation
    6
    """

    modifiers: tuple[str, ...] = attrs.field(default=NEGATORS + INTENSIFIERS, converter=tuple)
    max_separation: int = attrs.field(default=6, validator=attrs_positive_int)
    n_contexts: int = attrs.field(default=200, validator=attrs_positive_int)
    context_length: int = attrs.field(default=10, validator=attrs_positive_int)
    n_valence: int = attrs.field(default=20, validator=attrs_positive_int)
    subspace_variance: float = attrs.field(default=0.9, validator=attrs_positive)
    slow_magnitude: float = attrs.field(default=0.9, validator=attrs_positive)
    n_reference: int = attrs.field(default=8, validator=attrs_positive_int)
    n_boot: int = attrs.field(default=200, validator=attrs_positive_int)
    seed: int = 0

    def fit(
        self,
        classifier: RecurrentClassifier,
        contexts: ArrayLike,
        valence: ArrayLike,
    ) -> xr.Dataset:
        """Measure every modifier of ``self.modifiers`` in the classifier's vocabulary.

        Parameters
        ----------
        classifier : RecurrentClassifier
            A binary classifier.
        contexts : array_like of int, shape (n, T)
            Token ids of real documents (padded with the vocabulary's pad id);
            their first ``context_length`` tokens are the contexts.
        valence : array_like, shape (vocab,)
            A valence per token id (e.g. the line attractor's token projections or
            BoW weights): picks the valence words (largest ``|valence|``) and the
            fillers (smallest).

        Returns
        -------
        xarray.Dataset
            A ``modifiers`` dataset: ``modifier_strength`` (with its bootstrap
            ``modifier_strength_low`` / ``_high``) and ``ablated_modifier_strength``
            on ``(modifier, separation)``, ``modifier_strength_by_sign`` on
            ``(modifier, separation, word_sign)``; the decay
            amplitude and time constant, the subspace dimension and its fast- and
            slow-mode shares per ``modifier``.
        """
        if getattr(classifier, "n_outputs", 1) != 1:
            raise ConfigurationError("ModifierAnalysis needs a binary classifier (one logit).")
        vocab = classifier.vocabulary
        present = [m for m in self.modifiers if m in vocab]
        if not present:
            raise DataError(
                f"None of the modifiers {list(self.modifiers)} is in the vocabulary; pass "
                "modifiers= with words the network knows."
            )
        ids = np.asarray(contexts)
        pad = int(vocab.pad_id)
        full = ids[(ids[:, : self.context_length] != pad).all(axis=1), : self.context_length]
        if full.shape[0] == 0:
            raise DataError(
                f"No context has {self.context_length} real tokens; pass longer documents or "
                "a smaller context_length."
            )
        rng = np.random.default_rng(self.seed)
        full = full[rng.permutation(full.shape[0])[: self.n_contexts]]
        values = np.asarray(valence, dtype=np.float64)
        special = set(getattr(vocab, "special_ids", (pad,)))
        modifier_ids = {vocab.index(m) for m in present}
        usable = np.array([i not in special and i not in modifier_ids for i in range(len(vocab))])
        order = np.argsort(values)
        positive = [i for i in order[::-1] if usable[i] and values[i] > 0][: self.n_valence]
        negative = [i for i in order if usable[i] and values[i] < 0][: self.n_valence]
        quiet = np.argsort(np.where(usable, np.abs(values), np.inf))[
            : max(20, self.n_valence, self.n_reference)
        ]
        words = np.array(positive + negative)
        signs = np.sign(values[words])
        start = _run(classifier, None, full)  # (n, d) states after each context
        fillers = rng.choice(quiet, size=(full.shape[0], self.max_separation + 1))
        reference = quiet[: self.n_reference]
        shape = (len(present), self.max_separation + 1)
        strength, ablated = np.full(shape, np.nan), np.full(shape, np.nan)
        low, high = np.full(shape, np.nan), np.full(shape, np.nan)
        by_sign = np.full((*shape, 2), np.nan)
        subspace_dim = np.zeros(len(present), dtype=np.int64)
        fast_share = np.full(len(present), np.nan)
        slow_share = np.full(len(present), np.nan)
        fast, slow = _mode_bases(classifier, start, self.slow_magnitude)
        boot = rng.integers(0, full.shape[0], size=(self.n_boot, full.shape[0]))
        for k, name in enumerate(present):
            m = vocab.index(name)
            after_mod = _step_tokens(classifier, start, np.full(full.shape[0], m))
            after_fill = _step_tokens(classifier, start, fillers[:, 0])
            push = after_mod - after_fill
            basis = _principal_basis(push, self.subspace_variance)
            subspace_dim[k] = basis.shape[0]
            fast_share[k] = subspace_share(basis, fast)
            slow_share[k] = subspace_share(basis, slow)
            ablated_start = after_mod - (push @ basis.T) @ basis
            for s in range(self.max_separation + 1):
                filler_seq = fillers[:, 1 : s + 1]
                with_mod = _effects(classifier, after_mod, filler_seq, words, reference)
                control = _effects(classifier, after_fill, filler_seq, words, reference)
                without = _effects(classifier, ablated_start, filler_seq, words, reference)
                strength[k, s] = _ratio(with_mod, control, signs)
                ablated[k, s] = _ratio(without, control, signs)
                for j, sign in enumerate((1.0, -1.0)):
                    chosen = signs == sign
                    by_sign[k, s, j] = _ratio(
                        with_mod[:, chosen], control[:, chosen], signs[chosen]
                    )
                # Bootstrap over contexts (the same resamples for every cell).
                per_mod = (with_mod * signs).mean(axis=1)
                per_ctrl = (control * signs).mean(axis=1)
                ratios = per_mod[boot].mean(axis=1) / per_ctrl[boot].mean(axis=1)
                low[k, s], high[k, s] = np.percentile(ratios, [2.5, 97.5])
        amplitude = np.full(len(present), np.nan)
        tau = np.full(len(present), np.nan)
        separation = np.arange(self.max_separation + 1)
        for k in range(len(present)):
            amplitude[k], tau[k] = fit_decay(separation, strength[k])
        return make_dataset(
            "modifiers",
            {
                "modifier_strength": strength,
                "modifier_strength_low": low,
                "modifier_strength_high": high,
                "modifier_strength_by_sign": by_sign,
                "ablated_modifier_strength": ablated,
                "modifier_decay_amplitude": amplitude,
                "modifier_time_constant": tau,
                "modifier_subspace_dim": subspace_dim,
                "modifier_fast_mode_share": fast_share,
                "modifier_slow_mode_share": slow_share,
            },
            {"modifier": present, "separation": separation, "word_sign": ["positive", "negative"]},
            config=self,
            provenance={
                **classifier.provenance,
                "n_contexts": int(full.shape[0]),
                "n_valence_words": int(words.size),
            },
            title="dynalyze modifier words",
        )


def _step_tokens(classifier: RecurrentClassifier, h: FloatArray, tokens: ArrayLike) -> FloatArray:
    x = classifier.embedding[np.asarray(tokens, dtype=np.int64)]
    return classifier.system.step(h, x)


def _run(classifier: RecurrentClassifier, h: FloatArray | None, ids: NDArray[Any]) -> FloatArray:
    state = np.zeros((ids.shape[0], classifier.system.state_dim)) if h is None else h
    for t in range(ids.shape[1]):
        state = _step_tokens(classifier, state, ids[:, t])
    return state


def _effects(
    classifier: RecurrentClassifier,
    start: FloatArray,
    fillers: NDArray[Any],
    words: NDArray[Any],
    reference: NDArray[Any],
) -> FloatArray:
    """Logit change of each valence word against a neutral word in its slot, shape (n, words).

    ``start`` is stepped through ``fillers``; then each word of ``words`` and of
    ``reference`` (neutral words) is stepped once from there; a word's effect is
    its logit minus the mean logit of the reference words.
    """
    before = _run(classifier, start, fillers)
    n = before.shape[0]
    base = np.mean(
        [classifier.readout(_step_tokens(classifier, before, np.full(n, r))) for r in reference],
        axis=0,
    )
    out = np.empty((n, len(words)))
    for j, word in enumerate(words):
        out[:, j] = classifier.readout(_step_tokens(classifier, before, np.full(n, word))) - base
    return out


def _ratio(effects: FloatArray, control: FloatArray, signs: FloatArray) -> float:
    """Mean signed effect over mean signed control effect (NaN without words)."""
    if effects.shape[1] == 0:
        return float("nan")
    return float(np.mean(effects * signs) / np.mean(control * signs))


def _principal_basis(push: FloatArray, level: float) -> FloatArray:
    """Directions holding ``level`` of the push's energy (uncentred: the push is the signal)."""
    _, s, vt = np.linalg.svd(push, full_matrices=False)
    energy = s**2 / max(float(np.sum(s**2)), 1e-300)
    return vt[: max(1, dimension_for(energy, level))]


def _mode_bases(
    classifier: RecurrentClassifier, states: FloatArray, threshold: float
) -> tuple[FloatArray, FloatArray]:
    """Fast and slow eigenvector spans at the fixed point nearest the contexts' mean."""
    from dynalyze.fixedpoints import find_fixed_points, unique_fixed_points
    from dynalyze.linearization import linearize

    fps = unique_fixed_points(find_fixed_points(classifier.system, states[:100]))
    points = fps["fixed_point_state"].values
    centre = states.mean(axis=0)
    point = points[np.argmin(np.linalg.norm(points - centre, axis=1))] if len(points) else centre
    lin = linearize(classifier.system, point[None])
    magnitude = np.abs(lin["eigenvalue"].values[0])
    vectors = lin["right_eigenvector"].values[0]
    return (
        eigenvector_span(vectors, magnitude < threshold),
        eigenvector_span(vectors, magnitude >= threshold),
    )


def augmented_bow(
    modifiers: xr.Dataset,
    data: Any,
    vocab: Any,
    *,
    max_len: int,
    rnn_correct: ArrayLike,
    Cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0),
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Bag of words with modifier-scaled words, and the share of the RNN's gain it recovers.

    Every word is counted with the product of the measured strengths of the
    modifiers in front of it (``strength[m, s]`` for a modifier ``s + 1`` tokens
    before it, up to ``max_separation``); plain BoW counts every word once. Both
    are logistic regressions with ``C`` chosen on the validation split. The
    recovered fraction is ``(acc_aug - acc_bow) / (acc_rnn - acc_bow)`` on the
    test split, with a bootstrap 95% interval over test documents (wide when the
    RNN's gain over BoW is small, as on IMDB).

    Parameters
    ----------
    modifiers : xarray.Dataset
        From :meth:`ModifierAnalysis.fit`.
    data : SentimentData
        The split the network was trained on.
    vocab : Vocabulary
        Its vocabulary.
    max_len : int
        Tokens kept per document (as for the network).
    rnn_correct : array_like of bool, shape (n_test,)
        Whether the network classifies each test document correctly.
    Cs : sequence of float
        Candidate inverse regularisation strengths.
    n_boot : int
        Bootstrap resamples.
    seed : int
        Seed of the bootstrap and the regressions.

    Returns
    -------
    dict
        ``bow_accuracy``, ``augmented_accuracy``, ``rnn_accuracy``,
        ``recovered_fraction``, ``recovered_low``, ``recovered_high``.

    Examples
    --------
    With the planted rule itself ("not" flips the next three words), the augmented
    BoW beats plain BoW on a task with negation:

    >>> from dynalyze.sentiment import SyntheticConfig, Vocabulary, load_dataset
    >>> data = load_dataset("synthetic", synthetic=SyntheticConfig(n_examples=2000,
    ...                                                           negators=("not",)))
    >>> vocab = Vocabulary.build(data.train_texts)
    >>> planted = xr.Dataset({"modifier_strength": (("modifier", "separation"),
    ...                                             [[-1.0, -1.0, -1.0]])},
    ...                      coords={"modifier": ["not"], "separation": [0, 1, 2]})
    >>> out = augmented_bow(planted, data, vocab, max_len=30,
    ...                     rnn_correct=np.ones(len(data.test_texts), bool), n_boot=100)
    >>> out["augmented_accuracy"] > out["bow_accuracy"] + 0.03
    True
    """
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    names = [str(m) for m in modifiers["modifier"].values]
    strength = np.nan_to_num(modifiers["modifier_strength"].values, nan=1.0)
    span = strength.shape[1]
    mod_ids = {vocab.index(m): k for k, m in enumerate(names)}

    def matrices(texts: Sequence[str]) -> tuple[Any, Any]:
        ids = vocab.encode(list(texts), max_len)
        weights = np.ones(ids.shape, dtype=np.float64)
        for lag in range(1, span + 1):
            for m, k in mod_ids.items():
                hit = np.zeros(ids.shape, dtype=bool)
                hit[:, lag:] = ids[:, :-lag] == m
                weights[hit] *= strength[k, lag - 1]
        valid = ids != vocab.pad_id
        rows = np.repeat(np.arange(ids.shape[0]), ids.shape[1])[valid.ravel()]
        cols = ids.ravel()[valid.ravel()]
        shape = (ids.shape[0], len(vocab))
        plain = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=shape)
        scaled = sp.csr_matrix((weights.ravel()[valid.ravel()], (rows, cols)), shape=shape)
        return plain, scaled

    train, val, test = (matrices(data.split(s)[0]) for s in ("train", "validation", "test"))
    y_train, y_val, y_test = (data.split(s)[1] for s in ("train", "validation", "test"))

    def fit(which: int) -> NDArray[np.bool_]:
        best, best_model = -1.0, None
        for c in Cs:
            model = LogisticRegression(C=c, solver="liblinear", max_iter=2000, random_state=seed)
            model.fit(train[which], y_train)
            score = float(np.mean(model.predict(val[which]) == y_val))
            if score > best:
                best, best_model = score, model
        assert best_model is not None
        out: NDArray[np.bool_] = best_model.predict(test[which]) == y_test
        return out

    bow, aug = fit(0), fit(1)
    rnn = np.asarray(rnn_correct, dtype=bool)
    if rnn.shape != bow.shape:
        raise DataError(f"rnn_correct must have one flag per test document ({bow.size}).")

    def recovered(index: NDArray[np.int64]) -> float:
        gain = rnn[index].mean() - bow[index].mean()
        return float((aug[index].mean() - bow[index].mean()) / gain) if gain > 0 else np.nan

    rng = np.random.default_rng(seed)
    everything = np.arange(bow.size)
    boots = np.array([recovered(rng.choice(everything, bow.size)) for _ in range(n_boot)])
    boots = boots[np.isfinite(boots)]
    low, high = np.percentile(boots, [2.5, 97.5]) if boots.size else (np.nan, np.nan)
    return {
        "bow_accuracy": float(bow.mean()),
        "augmented_accuracy": float(aug.mean()),
        "rnn_accuracy": float(rnn.mean()),
        "recovered_fraction": recovered(everything),
        "recovered_low": float(low),
        "recovered_high": float(high),
    }
