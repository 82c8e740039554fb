"""What every analysis of a run is given: :class:`RunContext` and its :class:`AnalysisOptions`."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from dynalyze._validation import attrs_optional_positive_int, attrs_positive_int
from dynalyze.errors import ConfigurationError

__all__ = ["AnalysisOptions", "RunContext"]


@attrs.frozen(kw_only=True)
class AnalysisOptions:
    """The options every analysis of a run shares (``dynalyze run``'s analysis flags).

    Parameters
    ----------
    n_analysis : int or None
        Held-out documents whose trajectories are analysed (``None``: all).
    n_initial : int
        Fixed-point searches.
    baseline : {"mean", "zero"}
        The input the dynamics are analysed at (:mod:`dynalyze.baseline`).
    seed : int
        Seed of every random draw of the analyses.
    progress : bool
        Show progress bars.

    Examples
    --------
    >>> AnalysisOptions(n_initial=50).n_initial
    50
    """

    n_analysis: int | None = attrs.field(default=1000, validator=attrs_optional_positive_int)
    n_initial: int = attrs.field(default=1000, validator=attrs_positive_int)
    baseline: str = attrs.field(default="mean")
    seed: int = 0
    progress: bool = False

    @baseline.validator
    def _check_baseline(self, _attribute: Any, value: str) -> None:
        if value not in ("mean", "zero"):
            raise ConfigurationError(
                f"baseline must be 'mean' (the mean token embedding of the training "
                f"documents) or 'zero' (x = 0); got {value!r}."
            )


@attrs.define(slots=False, kw_only=True)
class RunContext:
    """A trained classifier, its data and the evidence shared by the analyses of a run.

    Parameters
    ----------
    classifier : dynalyze.RecurrentClassifier
        The trained network.
    data : object
        The data split (:class:`dynalyze.sentiment.datasets.SentimentData` or any
        object with ``train_texts``, ``validation_texts``/``_labels``,
        ``test_texts``/``_labels``, ``class_names`` and ``true_valences``).
    max_len : int
        Tokens kept per document when encoding.
    keep : {"first", "last"}
        Which end of a long document is kept.
    options : AnalysisOptions
        Sizes, seed, baseline and progress.
    bow : object, optional
        The fitted bag-of-words baseline (``weights``, ``C``, ``test_accuracy``).
    untrained_model : object, optional
        A freshly initialised copy of the network (the PCA comparison).
    outputs : dict
        Outputs of the analyses already run, by name (filled by the run loop).

    Examples
    --------
    :func:`dynalyze.testing.toys.integrator_context` builds one for a constructed
    line attractor:

    >>> from dynalyze.testing import toys
    >>> context = toys.integrator_context(n_documents=6)
    >>> context.analysed_ids.shape, context.test_accuracy
    ((6, 12), 1.0)
    """

    classifier: Any
    data: Any
    max_len: int = 400
    keep: str = "first"
    options: AnalysisOptions = attrs.field(factory=AnalysisOptions)
    bow: Any = None
    untrained_model: Any = None
    outputs: dict[str, Any] = attrs.field(factory=dict)

    def encode(self, texts: list[str]) -> NDArray[np.int64]:
        """Token ids of ``texts`` with the run's length limit."""
        ids: NDArray[np.int64] = self.classifier.vocabulary.encode(
            texts, self.max_len, keep=self.keep
        )
        return ids

    @property
    def n_analysed(self) -> int:
        """How many test documents the analyses trace (``options.n_analysis``, capped)."""
        n_test = len(self.data.test_texts)
        n = self.options.n_analysis
        return n_test if n is None else min(n, n_test)

    @cached_property
    def analysed_ids(self) -> NDArray[np.int64]:
        """Token ids of the analysed test documents."""
        return self.encode(self.data.test_texts[: self.n_analysed])

    @property
    def analysed_labels(self) -> NDArray[np.int8]:
        """Labels of the analysed test documents."""
        labels: NDArray[np.int8] = np.asarray(self.data.test_labels[: self.n_analysed])
        return labels

    @cached_property
    def test_ids(self) -> NDArray[np.int64]:
        """Token ids of the whole test split."""
        return self.encode(self.data.test_texts)

    @cached_property
    def train_ids(self) -> NDArray[np.int64]:
        """Token ids of the training split (the mean-embedding baseline is taken over them)."""
        return self.encode(self.data.train_texts)

    @cached_property
    def test_logits(self) -> NDArray[np.float64]:
        """The network's logits on the whole test split."""
        logits: NDArray[np.float64] = np.asarray(self.classifier.logits(self.test_ids))
        return logits

    @property
    def test_correct(self) -> NDArray[np.bool_]:
        """Whether the network classifies each test document correctly."""
        logits, labels = self.test_logits, np.asarray(self.data.test_labels)
        if logits.ndim > 1 and logits.shape[-1] > 1:
            correct: NDArray[np.bool_] = np.argmax(logits, axis=-1) == labels
            return correct
        binary: NDArray[np.bool_] = (logits.reshape(len(labels)) > 0) == (labels == 1)
        return binary

    @property
    def test_accuracy(self) -> float:
        """The network's accuracy on the whole test split."""
        return float(np.mean(self.test_correct))
