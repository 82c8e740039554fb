"""Constructed networks whose answers are known, for tests and examples.

:func:`exact_integrator` is a linear two-unit classifier with an exact line
attractor: every analysis of :mod:`dynalyze.analyses.line_attractor` must recover its line,
its unit eigenvalue and its word valences exactly. Its documents meet the
paper's condition for analysing at zero input: their mean token embedding is
zero (to rounding), so the baseline input and ``x = 0`` coincide.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import xarray as xr
from numpy.typing import NDArray

from dynalyze.classifier import RecurrentClassifier
from dynalyze.results.build import make_dataset
from dynalyze.systems.simple_rnn import SimpleRNNSystem
from dynalyze.vocabulary import Vocabulary

__all__ = [
    "INTEGRATOR_FAST",
    "INTEGRATOR_VALENCES",
    "ToyData",
    "exact_integrator",
    "integrator_context",
]

#: Word valences of :func:`exact_integrator` (its words, in vocabulary order; they sum to 0).
INTEGRATOR_VALENCES = {"good": 0.7, "great": 1.2, "bad": -0.9, "awful": -1.0, "film": 0.0}
#: Each word's push along the fast unit ``e_1`` (they sum to 0).
INTEGRATOR_FAST = {"good": 0.3, "great": -0.3, "bad": 0.3, "awful": -0.3, "film": 0.0}


def exact_integrator(
    vocabulary: Any = None, *, n_documents: int = 40, max_len: int = 12, seed: int = 0
) -> tuple[RecurrentClassifier, xr.Dataset]:
    """A linear 2-D classifier with an exact line attractor, and its trajectories.

    ``h' = diag(1, 0.3) h + x``: each word moves the state by its valence along
    ``e_0`` (and a little along the fast ``e_1``); the readout reads ``e_0``.
    Token projections therefore equal :data:`INTEGRATOR_VALENCES` exactly, and
    every point of the ``e_0`` axis is a marginally stable fixed point.

    The documents are a shuffled pool in which the four valenced words occur
    equally often ("film" fills the rest), so the mean token embedding is zero
    (the paper's condition) and the analysis at the mean baseline input is the
    analysis at ``x = 0``.

    Parameters
    ----------
    vocabulary : Vocabulary-like, optional
        Tokens ``special tokens..., "good", "great", "bad", "awful", "film"``
        (its ``special_ids`` come first and ``pad_id`` pads); by default
        ``Vocabulary(["", "[UNK]", *INTEGRATOR_VALENCES])``.
    n_documents, max_len : int
        Number of random documents, and their padded length (every third
        document is cut after 8 tokens).
    seed : int
        Seed of the documents.

    Returns
    -------
    classifier : RecurrentClassifier
        Built from arrays (no Keras model).
    trajectories : xarray.Dataset
        A ``trajectories`` dataset of the documents, labelled by the sign of the
        final logit.

    Examples
    --------
    >>> clf, traj = exact_integrator()
    >>> clf.system.state_dim, dict(traj.sizes)
    (2, {'example': 40, 'time': 12, 'state': 2})
    >>> float(clf.readout(clf.system.step(np.zeros((1, 2)), clf.token_inputs(["great"])))[0])
    1.2
    """
    vocab = (
        vocabulary if vocabulary is not None else Vocabulary(["", "[UNK]", *INTEGRATOR_VALENCES])
    )
    tokens = list(vocab.tokens)
    first = len(tuple(vocab.special_ids))
    pad = int(vocab.pad_id)
    embedding = np.zeros((len(tokens), 2))
    for i, token in enumerate(tokens[first:], start=first):
        embedding[i] = [INTEGRATOR_VALENCES[token], INTEGRATOR_FAST[token]]
    system = SimpleRNNSystem(np.eye(2), np.diag([1.0, 0.3]), np.zeros(2), activation="linear")
    clf = RecurrentClassifier(
        system=system,
        embedding=embedding,
        readout_weight=np.array([1.0, 0.0]),
        readout_bias=0.0,
        vocabulary=vocab,
    )
    rng = np.random.default_rng(seed)
    valid = np.ones((n_documents, max_len), dtype=bool)
    valid[::3, 8:] = False
    # A balanced pool: each valenced word equally often, "film" (valence 0) the rest.
    words = [i for i in range(first, len(tokens)) if tokens[i] != "film"]
    film = tokens.index("film")
    each = int(valid.sum()) // len(words)
    pool = np.concatenate(
        [np.repeat(words, each), np.full(int(valid.sum()) - each * len(words), film)]
    )
    ids = np.full((n_documents, max_len), pad, dtype=np.int32)
    ids[valid] = rng.permutation(pool)
    lengths = valid.sum(axis=1)
    states = np.full((n_documents, max_len, 2), np.nan, dtype=np.float32)
    for row in range(n_documents):
        h = np.zeros((1, 2))
        for t in range(int(lengths[row])):
            h = system.step(h, embedding[ids[row, t]][None])
            states[row, t] = h[0]
    final = states[np.arange(n_documents), lengths - 1]
    trajectories = make_dataset(
        "trajectories",
        {
            "hidden_state": states,
            "token_id": ids,
            "valid": valid.astype(np.int8),
            "length": lengths,
            "logit": final[:, 0],
            "label": (final[:, 0] > 0).astype(np.int8),
        },
    )
    return clf, trajectories


@attrs.frozen(kw_only=True)
class ToyData:
    """Documents of :func:`exact_integrator` split like a dataset (``SentimentData``'s fields).

    Labels are the sign of the network's final logit, so the network is right on
    every document.

    Examples
    --------
    >>> data = integrator_context(n_documents=4).data
    >>> data.describe()
    {'name': 'exact_integrator', 'train': 4, 'validation': 4, 'test': 4}
    """

    name: str
    train_texts: list[str]
    train_labels: NDArray[np.int8]
    validation_texts: list[str]
    validation_labels: NDArray[np.int8]
    test_texts: list[str]
    test_labels: NDArray[np.int8]
    class_names: tuple[str, ...] = ("negative", "positive")
    true_valences: dict[str, float] | None = None

    def describe(self) -> dict[str, Any]:
        """Sizes of the splits (for ``run.json``)."""
        return {
            "name": self.name,
            "train": len(self.train_texts),
            "validation": len(self.validation_texts),
            "test": len(self.test_texts),
        }


def _texts(clf: RecurrentClassifier, trajectories: xr.Dataset) -> tuple[list[str], Any]:
    tokens = clf.vocabulary.tokens
    ids, valid = trajectories["token_id"].values, trajectories["valid"].values.astype(bool)
    texts = [" ".join(tokens[i] for i in row[mask]) for row, mask in zip(ids, valid, strict=True)]
    return texts, trajectories["label"].values.astype(np.int8)


def integrator_context(*, n_documents: int = 40, seed: int = 0, n_initial: int = 40) -> Any:
    """A :class:`~dynalyze.analyses.RunContext` of :func:`exact_integrator` and its documents.

    Train, validation and test documents are three independent draws of
    ``n_documents`` balanced documents (mean token embedding zero).

    Examples
    --------
    >>> context = integrator_context()
    >>> len(context.data.test_texts), context.test_accuracy
    (40, 1.0)
    >>> context.data.test_texts[0].split()[0] in INTEGRATOR_VALENCES
    True
    """
    from dynalyze.analyses.context import AnalysisOptions, RunContext

    clf, test = exact_integrator(n_documents=n_documents, seed=seed)
    splits = {
        "train": _texts(clf, exact_integrator(n_documents=n_documents, seed=seed + 1)[1]),
        "validation": _texts(clf, exact_integrator(n_documents=n_documents, seed=seed + 2)[1]),
        "test": _texts(clf, test),
    }
    data = ToyData(
        name="exact_integrator",
        train_texts=splits["train"][0],
        train_labels=splits["train"][1],
        validation_texts=splits["validation"][0],
        validation_labels=splits["validation"][1],
        test_texts=splits["test"][0],
        test_labels=splits["test"][1],
        true_valences=dict(INTEGRATOR_VALENCES),
    )
    options = AnalysisOptions(n_analysis=None, n_initial=n_initial, seed=seed)
    return RunContext(classifier=clf, data=data, max_len=12, options=options)
