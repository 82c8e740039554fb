"""A trained token classifier seen as embedding -> recurrent system -> readout.

:class:`RecurrentClassifier` holds the pieces of a Keras model ``Embedding ->
RNN -> Dense`` that the analyses need, copied to float64 NumPy: the embedding
matrix (token -> input vector), the recurrent :class:`RecurrentSystem` and the
linear readout of the final state, together with the vocabulary so analyses can
speak in tokens. It also runs the recurrent layer's own vectorized forward pass
to collect hidden-state trajectories.

Works for our own models and for models trained elsewhere, as long as the
model is ``Embedding -> (Dropout...) -> recurrent layer -> Dense`` on the final
state.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dynalyze._validation import FloatArray, positive_int
from dynalyze.errors import (
    DataError,
    UnsupportedModelError,
    VocabularyMismatchError,
)
from dynalyze.results.build import make_dataset, state_coords
from dynalyze.systems.base import RecurrentSystem
from dynalyze.trajectories import TrajectoryBatch, TrajectorySource

if TYPE_CHECKING:  # pragma: no cover
    from dynalyze.vocabulary import Vocabulary

__all__ = ["ModelTrajectories", "RecurrentClassifier"]

logger = logging.getLogger(__name__)


class RecurrentClassifier:
    """Embedding, recurrent system and readout of a trained classifier.

    Build it with :meth:`from_model` (a Keras model and its vocabulary) or
    :meth:`load` (a saved model folder); the constructor takes the parts.

    Parameters
    ----------
    system : RecurrentSystem
        The recurrent cell as a float64 system.
    embedding : ndarray, shape (vocab_size, input_dim)
        Input vector of every token id.
    readout_weight : ndarray, shape (state_dim,) or (state_dim, n_classes)
        Readout over the flat state (zeros on state components the readout does
        not see, e.g. an LSTM's cell state): a vector for a binary classifier
        (one logit), a matrix with one column per class for N classes.
    readout_bias : float or ndarray, shape (n_classes,)
        Readout bias; ``logit = h @ readout_weight + readout_bias``.
    vocabulary : Vocabulary
        Token strings by id.
    model : keras.Model, optional
        The Keras model (needed for trajectories and predictions).
    provenance : dict, optional
        Where the classifier came from (stored in results).
    forward : callable, optional
        ``forward(ids) -> states``: the network's own forward pass in its own
        framework (e.g. a PyTorch module), token ids ``(n, T)`` padded with the
        vocabulary's ``pad_id`` to every step's flat state ``(n, T, state_dim)``,
        padding steps holding the last real state. Default: the Keras model's
        compiled pass, or (built from arrays) the system's own float64 steps.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> from dynalyze.vocabulary import Vocabulary
    >>> clf = RecurrentClassifier(
    ...     system=SimpleRNNSystem(np.eye(2), np.zeros((2, 2)), activation="linear"),
    ...     embedding=np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
    ...     readout_weight=np.array([1.0, -1.0]), readout_bias=0.0,
    ...     vocabulary=Vocabulary(["", "[UNK]", "good", "bad"]))
    >>> clf.token_inputs(["good"]).tolist()
    [[1.0, 0.0]]
    >>> clf.readout(np.array([[2.0, 0.5]])).tolist()
    [1.5]
    """

    def __init__(
        self,
        *,
        system: RecurrentSystem,
        embedding: ArrayLike,
        readout_weight: ArrayLike,
        readout_bias: float | ArrayLike,
        vocabulary: Vocabulary,
        model: Any = None,
        rnn_layer: Any = None,
        provenance: dict[str, Any] | None = None,
        forward: Callable[[NDArray[np.int32]], NDArray[np.float32]] | None = None,
    ) -> None:
        self.system = system
        self.embedding = np.array(embedding, dtype=np.float64)
        weight = np.array(readout_weight, dtype=np.float64)
        self.readout_weight = (
            weight.reshape(-1) if weight.ndim < 2 or weight.shape[1] == 1 else weight
        )
        bias = np.asarray(readout_bias, dtype=np.float64).reshape(-1)
        self.readout_bias: Any = float(bias[0]) if self.readout_weight.ndim == 1 else bias
        self.vocabulary = vocabulary
        self.model = model
        self.rnn_layer = rnn_layer
        self.provenance = dict(provenance or {})
        if self.embedding.ndim != 2 or self.embedding.shape[1] != system.input_dim:
            raise VocabularyMismatchError(
                f"The embedding must have shape (vocab_size, {system.input_dim}) to feed the "
                f"recurrent layer; got {self.embedding.shape}."
            )
        if self.embedding.shape[0] != len(vocabulary):
            raise VocabularyMismatchError(
                f"The vocabulary has {len(vocabulary)} tokens but the model's embedding has "
                f"{self.embedding.shape[0]} rows. Use the vocabulary the model was trained "
                "with (vocabulary.txt saved beside the model)."
            )
        if self.readout_weight.shape[0] != system.state_dim or (
            self.readout_weight.ndim == 2 and np.shape(self.readout_bias) != (self.n_outputs,)
        ):
            raise UnsupportedModelError(
                f"The readout must be a vector (or a matrix with one column per class) over "
                f"the {system.state_dim} state units with one bias per output; got weights of "
                f"shape {self.readout_weight.shape} and bias of shape "
                f"{np.shape(self.readout_bias)}."
            )
        self._parts: Any = None
        self._state_model: Any = forward
        self._logit_fn: Any = None

    # ------------------------------------------------------------ builders
    @classmethod
    def from_model(
        cls,
        model: Any,
        vocabulary: Vocabulary,
        *,
        layer: str | None = None,
        system: str | None = None,
    ) -> RecurrentClassifier:
        """Take a trained Keras ``Embedding -> RNN -> Dense`` model apart.

        Parameters
        ----------
        model : keras.Model
            The trained model.
        vocabulary : Vocabulary
            Its vocabulary (id ``i`` is row ``i`` of the embedding).
        layer : str, optional
            Name of the recurrent layer when the model has several.
        system : str, optional
            Force a registered system (e.g. ``"keras"`` for autodiff Jacobians).

        Returns
        -------
        RecurrentClassifier
        """
        from dynalyze.keras.model import take_apart

        parts = take_apart(model, vocabulary, layer=layer, system=system)
        clf = cls(
            system=parts.system,
            embedding=parts.embedding,
            readout_weight=parts.readout_weight,
            readout_bias=parts.readout_bias,
            vocabulary=vocabulary,
            model=model,
            rnn_layer=parts.rnn_layer,
            provenance=parts.provenance,
        )
        clf._parts = parts
        return clf

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        vocabulary: str | os.PathLike[str] | Vocabulary | None = None,
        *,
        layer: str | None = None,
        system: str | None = None,
        safe_mode: bool = True,
    ) -> RecurrentClassifier:
        """Load a saved model (folder with ``model.keras`` + ``vocabulary.txt``, or a file).

        Parameters
        ----------
        path : path-like
            Model folder or ``.keras`` file.
        vocabulary : path-like or Vocabulary, optional
            The vocabulary, if not ``vocabulary.txt`` beside the model.
        layer, system
            See :meth:`from_model`.
        safe_mode : bool
            Keras safe mode (default on). Models with code-carrying layers need
            ``safe_mode=False``, which runs code from the file: only for files
            you trust.
        """
        from dynalyze.keras.io import load_model

        model, vocab = load_model(path, vocabulary=vocabulary, safe_mode=safe_mode)
        clf = cls.from_model(model, vocab, layer=layer, system=system)
        clf.provenance["model_path"] = str(path)
        return clf

    # ------------------------------------------------------------- tokens
    def encode(self, texts: Sequence[str], max_len: int) -> NDArray[np.int32]:
        """Token ids of ``texts`` (padded at the end), see :meth:`Vocabulary.encode`."""
        return self.vocabulary.encode(texts, max_len)

    def token_inputs(self, tokens: Sequence[str] | ArrayLike) -> FloatArray:
        """Input vectors (embedding rows) of tokens given as strings or ids."""
        values: list[Any] = np.asarray(tokens, dtype=object).reshape(-1).tolist()
        ids = [self.vocabulary.index(t) if isinstance(t, str) else int(t) for t in values]
        out: FloatArray = self.embedding[np.asarray(ids, dtype=np.int64)]
        return out

    def baseline_input(self, ids: ArrayLike) -> FloatArray:
        """The network's baseline input: the expected embedding of a token in ``ids``.

        Every non-padding token occurrence counts once (``[UNK]`` included), so this
        is the input the network receives on average while reading these documents
        (:mod:`dynalyze.baseline`). Pass the training documents to get the input the
        network was trained at; analyse the dynamics at it with ``inputs=`` of
        :func:`dynalyze.find_fixed_points` and :func:`dynalyze.linearize`, or
        :meth:`at_input`.

        Parameters
        ----------
        ids : array_like of int, shape (n, T)
            Token ids padded with the vocabulary's ``pad_id``.

        Returns
        -------
        ndarray, shape (input_dim,)

        Examples
        --------
        >>> import numpy as np
        >>> from dynalyze.systems import SimpleRNNSystem
        >>> from dynalyze.vocabulary import Vocabulary
        >>> clf = RecurrentClassifier(
        ...     system=SimpleRNNSystem(np.eye(2), np.zeros((2, 2)), activation="linear"),
        ...     embedding=np.array([[5.0, 5.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
        ...     readout_weight=np.array([1.0, -1.0]), readout_bias=0.0,
        ...     vocabulary=Vocabulary(["", "[UNK]", "good", "bad"]))
        >>> clf.baseline_input(np.array([[2, 2, 3, 0]])).round(3).tolist()
        [0.667, 0.333]
        """
        from dynalyze.baseline import mean_embedding

        matrix = _as_ids(ids, len(self.vocabulary))
        vector, _ = mean_embedding(self.embedding, matrix, pad_id=self.vocabulary.pad_id)
        return vector

    def at_input(self, offset: ArrayLike) -> RecurrentClassifier:
        """The same network with its input origin moved to ``offset`` (e.g. the baseline).

        The system becomes ``G(h, u) = F(h, offset + u)``
        (:class:`~dynalyze.systems.shifted.InputShiftedSystem`) and every embedding
        row ``e_w - offset``: the network computes exactly what it did (same
        states, same logits, the same Keras model for forward passes), but its
        zero input is now ``offset``, so any analysis of the returned classifier
        looks at the dynamics at that input.

        Examples
        --------
        >>> import numpy as np
        >>> from dynalyze.systems import SimpleRNNSystem
        >>> from dynalyze.vocabulary import Vocabulary
        >>> clf = RecurrentClassifier(
        ...     system=SimpleRNNSystem(np.eye(2), 0.5 * np.eye(2), activation="linear"),
        ...     embedding=np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
        ...     readout_weight=np.array([1.0, -1.0]), readout_bias=0.0,
        ...     vocabulary=Vocabulary(["", "[UNK]", "good", "bad"]))
        >>> shifted = clf.at_input([0.5, 0.5])
        >>> h = np.array([[0.2, 0.4]])
        >>> bool(np.allclose(shifted.system.step(h, shifted.embedding[[2]]),
        ...                  clf.system.step(h, clf.embedding[[2]])))
        True
        >>> shifted.system.step(np.array([[1.0, 1.0]])).tolist()  # the fixed point at x_b
        [[1.0, 1.0]]
        """
        from dynalyze.systems.shifted import at_input

        vector = np.asarray(offset, dtype=np.float64).reshape(-1)
        system = at_input(self.system, vector)
        clf = RecurrentClassifier(
            system=system,
            embedding=self.embedding - vector,
            readout_weight=self.readout_weight,
            readout_bias=self.readout_bias,
            vocabulary=self.vocabulary,
            model=self.model,
            rnn_layer=self.rnn_layer,
            provenance={**self.provenance, "input_offset_norm": float(np.linalg.norm(vector))},
        )
        # Forward passes run the unchanged Keras model: share its compiled functions.
        clf._parts, clf._state_model, clf._logit_fn = (
            self._parts,
            self._state_model,
            self._logit_fn,
        )
        return clf

    @property
    def n_outputs(self) -> int:
        """Logits of the readout: 1 (binary) or the number of classes."""
        return 1 if self.readout_weight.ndim == 1 else int(self.readout_weight.shape[1])

    def readout(self, states: ArrayLike) -> FloatArray:
        """Readout logit(s) of flat states ``(..., state_dim)``: ``(...)`` or ``(..., N)``."""
        out: FloatArray = np.asarray(states, dtype=np.float64) @ self.readout_weight
        out = out + self.readout_bias
        return out

    # -------------------------------------------------------- forward pass
    def logits(self, ids: ArrayLike, *, batch_size: int = 256) -> NDArray[np.float32]:
        """The model's output logit for each document of an id matrix.

        Documents are batched by length; a sigmoid readout's activation is
        inverted so the result is always the logit. A classifier built from
        arrays (no model) runs its system's steps in float64 instead.
        """
        positive_int("batch_size", batch_size)
        matrix = _as_ids(ids, len(self.vocabulary))
        shape = (len(matrix),) if self.n_outputs == 1 else (len(matrix), self.n_outputs)
        out = np.empty(shape, dtype=np.float32)
        if self.model is None:  # its own forward pass, or the system's own steps
            for part in self.iter_states(matrix, batch_size=batch_size):
                out[part.index] = self.readout(part.states[:, -1])
            return out
        if self._logit_fn is None:
            from dynalyze.keras.model import logit_function

            activation = str(self.provenance.get("readout_activation", "linear"))
            self._logit_fn = logit_function(self.model, readout_activation=activation)
        pad = self.vocabulary.pad_id
        for index, batch in _length_batches(matrix, batch_size, pad_id=pad, sort_by_length=True):
            out[index] = self._logit_fn(batch)
        return out

    def _states_fn(self) -> Any:
        """A compiled function ids -> all flat states, reusing the trained layers."""
        if self._state_model is None and self.model is None:
            return self._numpy_states
        if self._state_model is None:
            from dynalyze.keras.model import state_function, take_apart

            if self._parts is None:
                self._parts = take_apart(self.model, self.vocabulary)
            self._state_model = state_function(self._parts, pad_id=self.vocabulary.pad_id)
        return self._state_model

    def _numpy_states(self, batch: NDArray[np.int32]) -> NDArray[np.float32]:
        """All states of a batch from the system's steps (float64; padding holds the last state)."""
        inputs = self.embedding[batch]
        valid = batch != self.vocabulary.pad_id
        h = np.zeros((len(batch), self.system.state_dim))
        out = np.empty((*batch.shape, self.system.state_dim), dtype=np.float32)
        for t in range(batch.shape[1]):
            h = np.where(valid[:, t, None], self.system.step(h, inputs[:, t]), h)
            out[:, t] = h
        return out

    def iter_states(
        self, ids: ArrayLike, *, batch_size: int = 128, sort_by_length: bool = True
    ) -> Iterator[TrajectoryBatch]:
        """Hidden states for batches of documents, from the recurrent layer's own pass.

        The recurrent layer runs vectorized over time (``return_sequences``) on
        each batch; no Python loop over time steps. Documents are batched by
        length (each batch only as long as its longest document), so memory is
        bounded by one batch.

        Parameters
        ----------
        ids : array_like of int, shape (n, T)
            Token ids padded at the end with the vocabulary's ``pad_id``.
        batch_size : int
            Documents per batch.
        sort_by_length : bool
            Group documents of similar length into batches (faster).

        Yields
        ------
        TrajectoryBatch
            States are float32 as computed by Keras; padding steps hold the last
            real state (mask them with ``valid``).
        """
        positive_int("batch_size", batch_size)
        matrix = _as_ids(ids, len(self.vocabulary))
        fn = self._states_fn()
        pad = self.vocabulary.pad_id
        batches = _length_batches(matrix, batch_size, pad_id=pad, sort_by_length=sort_by_length)
        for index, batch in batches:
            yield TrajectoryBatch(index, fn(batch), batch != pad, batch)

    def stream(
        self,
        ids: ArrayLike,
        *,
        labels: ArrayLike | None = None,
        example_index: ArrayLike | None = None,
        batch_size: int = 128,
        provenance: dict[str, Any] | None = None,
    ) -> ModelTrajectories:
        """Trajectories as a re-iterable stream of batches (memory: one batch).

        Use it instead of :meth:`trajectories` for many documents, e.g. a whole
        test split: analyses pass over the stream and keep only summaries.

        Parameters
        ----------
        ids : array_like of int, shape (n, T)
            Token ids padded at the end with the vocabulary's ``pad_id``.
        labels, example_index, batch_size, provenance
            See :meth:`trajectories`.

        Returns
        -------
        ModelTrajectories
        """
        matrix = _as_ids(ids, len(self.vocabulary))
        return ModelTrajectories(
            self,
            matrix,
            labels=labels,
            example_index=example_index,
            batch_size=batch_size,
            provenance=provenance,
        )

    def trajectories(
        self,
        ids: ArrayLike,
        *,
        labels: ArrayLike | None = None,
        example_index: ArrayLike | None = None,
        batch_size: int = 128,
        provenance: dict[str, Any] | None = None,
    ) -> xr.Dataset:
        """Hidden-state trajectories of documents as a labelled dataset.

        Parameters
        ----------
        ids : array_like of int, shape (n, T)
            Token ids padded at the end with the vocabulary's ``pad_id`` (from :meth:`encode`).
        labels : array_like, optional
            True labels, stored as ``label``.
        example_index : array_like of int, optional
            Positions of the documents in their split (the ``example`` coordinate).
        batch_size : int
            Documents per forward pass.
        provenance : dict, optional
            Extra provenance (dataset, split...).

        Returns
        -------
        xarray.Dataset
            A ``trajectories`` dataset: ``hidden_state`` (example, time, state),
            ``token_id``, ``step_token``, ``valid``, ``length``, ``logit`` (the
            readout of the final state), and ``label`` if given. Padding steps
            hold NaN states, id 0 and token ``""``.
        """
        matrix = _as_ids(ids, len(self.vocabulary))
        n, width = matrix.shape
        states = np.full((n, width, self.system.state_dim), np.nan, dtype=np.float32)
        for batch in self.iter_states(matrix, batch_size=batch_size):
            block = np.where(batch.valid[:, :, None], batch.states, np.nan)
            states[batch.index, : block.shape[1]] = block
        valid = matrix != self.vocabulary.pad_id
        lengths = valid.sum(axis=1)
        final = np.zeros((n, self.system.state_dim))
        has = lengths > 0
        final[has] = states[np.flatnonzero(has), lengths[has] - 1]
        tokens = np.asarray(self.vocabulary.tokens, dtype=object)[matrix].astype(str)
        variables: dict[str, Any] = {
            "hidden_state": states,
            "token_id": matrix,
            "valid": valid.astype(np.int8),
            "length": lengths,
        }
        if self.n_outputs == 1:  # an N-class readout's logits are readout(final states)
            variables["logit"] = self.readout(final).astype(np.float32)
        if labels is not None:
            label_array = np.asarray(labels)
            if label_array.shape != (n,):
                raise DataError(f"labels must have shape ({n},); got {label_array.shape}.")
            variables["label"] = label_array
        coords: dict[str, Any] = {
            **state_coords(
                self.system.layout.component_labels(), self.system.layout.unit_indices()
            ),
            "step_token": tokens,
        }
        if example_index is not None:
            coords["example"] = np.asarray(example_index, dtype=np.int64)
        return make_dataset(
            "trajectories",
            variables,
            coords,
            provenance={**self.provenance, **(provenance or {})},
            title="dynalyze hidden-state trajectories",
        )


def _length_batches(
    matrix: NDArray[np.int32], batch_size: int, *, pad_id: int, sort_by_length: bool
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int32]]]:
    """Batches of rows, each cut to its longest document (sorted by length: little padding)."""
    lengths = (matrix != pad_id).sum(axis=1)
    order = np.argsort(lengths, kind="stable") if sort_by_length else np.arange(len(matrix))
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size].astype(np.int64)
        width = max(1, int(lengths[index].max()))
        yield index, matrix[index, :width]


def _as_ids(ids: ArrayLike, vocab_size: int) -> NDArray[np.int32]:
    matrix = np.asarray(ids)
    if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.integer):
        raise DataError(
            f"Expected an integer id matrix (n_documents, max_len); got array of shape "
            f"{matrix.shape} and dtype {matrix.dtype}. Use classifier.encode(texts, max_len)."
        )
    if matrix.size and (matrix.min() < 0 or matrix.max() >= vocab_size):
        raise DataError(
            f"Token ids must lie in [0, {vocab_size - 1}]; got {matrix.min()}..{matrix.max()}."
        )
    return matrix.astype(np.int32, copy=False)


class ModelTrajectories(TrajectorySource):
    """Batches recomputed by the network on every pass (memory: one batch).

    Parameters
    ----------
    classifier : RecurrentClassifier
        The network (with its Keras model).
    ids : ndarray of int, shape (n, T)
        Token ids padded with the vocabulary's ``pad_id``.
    labels : array_like, optional
        True labels.
    example_index : array_like of int, optional
        Coordinate values of the documents.
    batch_size : int
        Documents per forward pass.
    provenance : dict, optional
        Extra provenance.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.sentiment.models import build_model
    >>> from dynalyze.vocabulary import Vocabulary
    >>> vocab = Vocabulary(["", "[UNK]", "good", "bad"])
    >>> clf = RecurrentClassifier.from_model(build_model("gru", 4, units=3, embedding_dim=2), vocab)
    >>> stream = clf.stream(np.array([[2, 3, 0], [3, 0, 0]]), batch_size=1)
    >>> stream.n_examples, [batch.states.shape for batch in stream.batches()]
    (2, [(1, 1, 3), (1, 2, 3)])
    """

    def __init__(
        self,
        classifier: RecurrentClassifier,
        ids: NDArray[np.integer],
        *,
        labels: Any = None,
        example_index: Any = None,
        batch_size: int = 128,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        positive_int("batch_size", batch_size)
        self._classifier = classifier
        self._batch_size = batch_size
        self.token_ids = np.asarray(ids, dtype=np.int32)
        if self.token_ids.ndim != 2:
            raise DataError(f"ids must be a (n, T) id matrix; got shape {self.token_ids.shape}.")
        n = self.token_ids.shape[0]
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None and self.labels.shape != (n,):
            raise DataError(f"labels must have shape ({n},); got {self.labels.shape}.")
        self.example_index = (
            np.arange(n, dtype=np.int64)
            if example_index is None
            else np.asarray(example_index, dtype=np.int64)
        )
        self.state_dim = classifier.system.state_dim
        self.provenance = {**classifier.provenance, **(provenance or {})}

    def batches(self) -> Iterator[TrajectoryBatch]:
        for batch in self._classifier.iter_states(self.token_ids, batch_size=self._batch_size):
            yield TrajectoryBatch(
                batch.index,
                batch.states,
                batch.valid,
                self.token_ids[batch.index, : batch.states.shape[1]],
            )
