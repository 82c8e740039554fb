"""The input a network actually runs at: its *baseline input* ``x_b``.

The paper analyses the dynamics at zero input, ``F(h, 0)``, and says why that
is meaningful: its networks' mean word embedding was within 8e-3 of zero, so
zero input *was* the typical input. A trained embedding need not meet that
condition (the default IMDB GRU's frequency-weighted mean embedding has about
half the norm of a typical token's), and the analysis at ``x = 0`` then
describes a system the network never runs.

The baseline input is the expected embedding of a token in the documents the
network reads, ``x_b = sum_w p(w) e_w`` over every non-padding occurrence
(``[UNK]`` included). Every analysis then looks at ``F(h, x_b)``: fixed points
and Jacobians there, token projections ``J_inp (e_w - x_b)``, and the one-step
linearization in the input's deviation from ``x_b``
(:class:`~dynalyze.systems.shifted.InputShiftedSystem`).

A baseline is given as ``"mean"`` (that expectation), ``"zero"`` (the paper's
literal choice) or an explicit vector; :func:`resolve_baseline` turns it into a
:class:`BaselineInput` that says what it is and how large it is, absolutely,
against the median token's embedding and against the paper's 8e-3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from dynalyze._validation import FloatArray
from dynalyze.errors import ConfigurationError

__all__ = [
    "BASELINE_KINDS",
    "PAPER_MEAN_EMBEDDING_NORM",
    "BaselineInput",
    "check_baseline",
    "classifier_baseline",
    "mean_embedding",
    "resolve_baseline",
]

#: The paper's footnote: its mean word embedding was within this of zero.
PAPER_MEAN_EMBEDDING_NORM = 8e-3

#: Flag value -> kind of baseline (stored as ``baseline_kind``).
BASELINE_KINDS: Mapping[int, str] = {0: "zero", 1: "mean", 2: "explicit"}

BaselineSpec = str | tuple[float, ...]


def check_baseline(value: Any) -> BaselineSpec:
    """Validate a baseline specification: ``"mean"``, ``"zero"`` or a finite 1-D vector.

    Returns the string, or the vector as a tuple of floats (so frozen
    configurations stay hashable and comparable).

    Raises
    ------
    dynalyze.errors.ConfigurationError
        Anything else.

    Examples
    --------
    >>> check_baseline("mean"), check_baseline([0.5, -1])
    ('mean', (0.5, -1.0))
    >>> check_baseline("median")
    Traceback (most recent call last):
    ...
    dynalyze.errors.ConfigurationError: baseline must be 'mean', 'zero' or ...
    """
    if isinstance(value, str):
        if value not in ("mean", "zero"):
            raise ConfigurationError(
                f"baseline must be 'mean', 'zero' or one input vector; got {value!r}. Use "
                "'mean' for the expected token embedding (default) or 'zero' for the paper's "
                "literal x = 0."
            )
        return value
    if isinstance(value, BaselineInput):
        return tuple(float(v) for v in value.vector)
    try:
        vector = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"baseline must be 'mean', 'zero' or one input vector; got {type(value).__name__}."
        ) from None
    if vector.ndim != 1 or vector.size == 0:
        raise ConfigurationError(
            f"An explicit baseline must be one input vector (1-D, one value per input unit); "
            f"got an array of shape {vector.shape}."
        )
    if not np.all(np.isfinite(vector)):
        raise ConfigurationError(
            "The baseline input holds NaN or infinite values; pass a finite vector "
            "(e.g. classifier.baseline_input(ids))."
        )
    return tuple(float(v) for v in vector)


def mean_embedding(
    embedding: ArrayLike, ids: ArrayLike, *, pad_id: int = 0
) -> tuple[FloatArray, int]:
    """The expected embedding of a token in ``ids`` (padding excluded) and the token count.

    Every non-padding occurrence counts once, so frequent tokens weigh more
    (``[UNK]`` included: the network reads its embedding too).

    Examples
    --------
    >>> emb = np.array([[9.0, 9.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> vector, n = mean_embedding(emb, [[2, 2, 3, 0], [2, 0, 0, 0]])
    >>> vector.tolist(), n
    ([0.75, 0.25], 4)
    """
    emb = np.asarray(embedding, dtype=np.float64)
    matrix = np.asarray(ids)
    counts = np.bincount(matrix.ravel().astype(np.int64), minlength=emb.shape[0])[: emb.shape[0]]
    counts = counts.astype(np.float64)
    counts[pad_id] = 0.0
    total = float(counts.sum())
    if total == 0:
        raise ConfigurationError(
            "The documents hold no token to average (only padding); pass documents with "
            "words, or baseline='zero' / an explicit vector."
        )
    return counts @ emb / total, int(total)


def _median_token_norm(
    embedding: FloatArray, ids: NDArray[Any] | None, pad_id: int, special: tuple[int, ...]
) -> float:
    """Median embedding norm over token occurrences (over the vocabulary without ids)."""
    norms = np.linalg.norm(embedding, axis=1)
    if ids is not None:
        counts = np.bincount(ids.ravel().astype(np.int64), minlength=norms.size)[: norms.size]
        counts[pad_id] = 0
        if counts.sum():
            order = np.argsort(norms, kind="stable")
            cumulative = np.cumsum(counts[order])
            return float(norms[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])
    keep = np.ones(norms.size, dtype=bool)
    keep[list(special)] = False
    return float(np.median(norms[keep])) if keep.any() else float("nan")


@attrs.frozen(eq=False)
class BaselineInput:
    """A resolved baseline input and what it is.

    Parameters
    ----------
    kind : str
        ``"mean"``, ``"zero"`` or ``"explicit"``.
    vector : ndarray, shape (input_dim,)
        ``x_b``.
    source : str
        Where it comes from, in words (e.g. "training documents").
    n_tokens : int
        Token occurrences averaged (0 unless ``kind == "mean"``).
    median_token_norm : float
        Median embedding norm of a token occurrence (NaN without an embedding).

    Examples
    --------
    >>> b = resolve_baseline("mean", input_dim=2, embedding=[[0.0, 0.0], [3.0, 4.0]],
    ...                      ids=[[1, 1, 0]])
    >>> b.kind, b.norm, b.relative_norm, b.meets_paper_condition
    ('mean', 5.0, 1.0, False)
    """

    kind: str
    vector: FloatArray
    source: str = ""
    n_tokens: int = 0
    median_token_norm: float = float("nan")

    @property
    def norm(self) -> float:
        """``||x_b||``."""
        return float(np.linalg.norm(self.vector))

    @property
    def relative_norm(self) -> float:
        """``||x_b||`` over the median token's embedding norm (NaN without an embedding)."""
        if not np.isfinite(self.median_token_norm) or self.median_token_norm <= 0:
            return float("nan")
        return self.norm / self.median_token_norm

    @property
    def meets_paper_condition(self) -> bool:
        """Whether ``||x_b|| < 8e-3``, the paper's condition for analysing at ``x = 0``."""
        return self.norm < PAPER_MEAN_EMBEDDING_NORM

    @property
    def flag(self) -> int:
        """``baseline_kind`` flag value (:data:`BASELINE_KINDS`)."""
        return {v: k for k, v in BASELINE_KINDS.items()}[self.kind]

    def variables(self) -> dict[str, Any]:
        """The schema variables that record the baseline in a result."""
        return {
            "baseline_input": self.vector,
            "baseline_kind": self.flag,
            "baseline_norm": self.norm,
            "baseline_relative_norm": self.relative_norm,
            "baseline_n_tokens": int(self.n_tokens),
        }


def resolve_baseline(
    spec: Any,
    *,
    input_dim: int,
    embedding: ArrayLike | None = None,
    ids: ArrayLike | None = None,
    pad_id: int = 0,
    special_ids: tuple[int, ...] = (0,),
    source: str = "the analysed documents",
) -> BaselineInput:
    """Turn ``"mean"``, ``"zero"`` or a vector into a :class:`BaselineInput`.

    Parameters
    ----------
    spec : str or array_like
        The baseline (see :func:`check_baseline`).
    input_dim : int
        The system's input width.
    embedding : array_like, shape (vocab, input_dim), optional
        Token embeddings (needed for ``"mean"``; gives the median token norm).
    ids : array_like of int, optional
        Documents whose tokens are averaged for ``"mean"``.
    pad_id : int
        The padding id (never counted).
    special_ids : tuple of int
        Ids that are not words (left out of the median token norm without ids).
    source : str
        Where ``ids`` come from, in words (stored with the result).

    Raises
    ------
    dynalyze.errors.ConfigurationError
        An unknown string, a vector of the wrong width or with non-finite
        values, or ``"mean"`` without an embedding or documents.

    Examples
    --------
    >>> resolve_baseline("zero", input_dim=3).vector.tolist()
    [0.0, 0.0, 0.0]
    >>> resolve_baseline([1.0, 2.0], input_dim=3)
    Traceback (most recent call last):
    ...
    dynalyze.errors.ConfigurationError: The baseline input must have 3 entries ...
    """
    checked = check_baseline(spec)
    emb = None if embedding is None else np.asarray(embedding, dtype=np.float64)
    matrix = None if ids is None else np.asarray(ids)
    typical = (
        _median_token_norm(emb, matrix, pad_id, special_ids) if emb is not None else float("nan")
    )
    if checked == "zero":
        return BaselineInput("zero", np.zeros(input_dim), "x = 0", 0, typical)
    if checked == "mean":
        if emb is None or matrix is None:
            missing = "an embedding" if emb is None else "documents (token ids)"
            raise ConfigurationError(
                f"baseline='mean' needs {missing} to average token embeddings over; this "
                "system has none given. Pass baseline='zero' or an explicit input vector "
                "(e.g. the mean of the inputs your network receives)."
            )
        if emb.ndim != 2 or emb.shape[1] != input_dim:
            raise ConfigurationError(
                f"The embedding must have shape (vocab, {input_dim}); got {emb.shape}."
            )
        vector, n = mean_embedding(emb, matrix, pad_id=pad_id)
        return BaselineInput("mean", vector, source, n, typical)
    vector = np.asarray(checked, dtype=np.float64)
    if vector.shape != (input_dim,):
        raise ConfigurationError(
            f"The baseline input must have {input_dim} entries (the system's input width); "
            f"got {vector.shape[0]}. Pass one value per input unit, 'mean' or 'zero'."
        )
    return BaselineInput("explicit", vector, "given by the caller", 0, typical)


def classifier_baseline(
    spec: Any, classifier: Any, ids: ArrayLike, *, given: bool
) -> BaselineInput:
    """:func:`resolve_baseline` for a classifier (its embedding and vocabulary conventions).

    ``ids`` are the documents averaged for ``"mean"``; ``given`` says whether the
    caller chose them (recorded as the source) or they are the analysed ones.

    Examples
    --------
    >>> from dynalyze.testing.toys import exact_integrator
    >>> clf, traj = exact_integrator()
    >>> classifier_baseline("mean", clf, traj["token_id"].values, given=False).source
    'the analysed documents'
    """
    vocabulary = classifier.vocabulary
    return resolve_baseline(
        spec,
        input_dim=classifier.system.input_dim,
        embedding=getattr(classifier, "embedding", None),
        ids=np.asarray(ids),
        pad_id=int(getattr(vocabulary, "pad_id", 0)),
        special_ids=tuple(int(i) for i in getattr(vocabulary, "special_ids", (0,))),
        source="the given documents" if given else "the analysed documents",
    )
