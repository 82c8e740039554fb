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
from collections.abc import Iterator, Sequence
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
from dynalyze.trajectories import ModelTrajectories, TrajectoryBatch

if TYPE_CHECKING:  # pragma: no cover
    from dynalyze.sentiment.vocabulary import Vocabulary

__all__ = ["RecurrentClassifier"]

logger = logging.getLogger(__name__)

_READOUT_ACTIVATIONS = ("linear", "sigmoid", "softmax")


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
    readout_weight : ndarray, shape (state_dim,)
        Readout over the flat state (zeros on state components the readout does
        not see, e.g. an LSTM's cell state).
    readout_bias : float
        Readout bias; ``logit = readout_weight . h + readout_bias``.
    vocabulary : Vocabulary
        Token strings by id.
    model : keras.Model, optional
        The Keras model (needed for trajectories and predictions).
    provenance : dict, optional
        Where the classifier came from (stored in results).

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> from dynalyze.sentiment.vocabulary import Vocabulary
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
        readout_bias: float,
        vocabulary: Vocabulary,
        model: Any = None,
        rnn_layer: Any = None,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        self.system = system
        self.embedding = np.array(embedding, dtype=np.float64)
        self.readout_weight = np.array(readout_weight, dtype=np.float64).reshape(-1)
        self.readout_bias = float(readout_bias)
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
        if self.readout_weight.shape != (system.state_dim,):
            raise UnsupportedModelError(
                f"The readout must be a vector over the {system.state_dim} state units; got "
                f"shape {self.readout_weight.shape}."
            )
        self._state_model: Any = None
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
        from dynalyze.systems import _keras
        from dynalyze.systems.registry import wrap

        if not _keras.is_model(model):
            raise UnsupportedModelError(
                f"Expected a Keras model (Embedding -> recurrent layer -> Dense); got "
                f"{_keras.describe_object(model)}."
            )
        rnn = _keras.resolve(model, layer=layer)
        if not _keras.is_rnn_layer(rnn):
            raise UnsupportedModelError(
                f"Expected a recurrent layer inside the model; got {_keras.describe_object(rnn)}."
            )
        for flag in ("go_backwards", "stateful"):
            if getattr(rnn, flag, False):
                raise UnsupportedModelError(
                    f"The recurrent layer {rnn.name!r} has {flag}=True, which the classifier "
                    "analysis does not support. Analyse a forward, non-stateful layer."
                )
        rec = wrap(rnn, system=system)
        layers = [sub for _, sub in _keras._all_layers(model)]
        embeddings = [sub for sub in layers if type(sub).__name__ == "Embedding"]
        if len(embeddings) != 1:
            raise UnsupportedModelError(
                "Expected exactly one Embedding layer feeding the recurrent layer; found "
                f"{len(embeddings)} in model {model.name!r}. The classifier analysis needs "
                "Embedding -> recurrent layer -> Dense."
            )
        embedding = np.asarray(embeddings[0].embeddings.numpy(), dtype=np.float64)
        if embedding.shape[0] != len(vocabulary):
            raise VocabularyMismatchError(
                f"The vocabulary has {len(vocabulary)} tokens but the model's Embedding "
                f"{embeddings[0].name!r} expects {embedding.shape[0]} (input_dim). Use the "
                "vocabulary file saved with this model."
            )
        weight, bias, activation = _readout(model, rnn, layers)
        h_size = int(np.asarray(weight).shape[0])
        full = np.zeros(rec.state_dim)
        h_slice = rec.layout.slice(rec.layout.names[0])
        if h_slice.stop - h_slice.start != h_size:
            raise UnsupportedModelError(
                f"The readout reads {h_size} values but the recurrent layer's output state "
                f"{rec.layout.names[0]!r} has {h_slice.stop - h_slice.start} units."
            )
        full[h_slice] = weight
        provenance = {
            "model_name": str(model.name),
            "recurrent_layer": str(rnn.name),
            "recurrent_class": type(rnn).__name__,
            "readout_activation": activation,
            "vocabulary_size": len(vocabulary),
            "embedding_dim": int(embedding.shape[1]),
            **{f"system_{k}": v for k, v in rec.describe().items()},
        }
        return cls(
            system=rec,
            embedding=embedding,
            readout_weight=full,
            readout_bias=bias,
            vocabulary=vocabulary,
            model=model,
            rnn_layer=rnn,
            provenance=provenance,
        )

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
        from dynalyze.sentiment.training import load_model

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

    def readout(self, states: ArrayLike) -> FloatArray:
        """Readout logit of flat states ``(..., state_dim)``."""
        out: FloatArray = np.asarray(states, dtype=np.float64) @ self.readout_weight
        return out + self.readout_bias

    # -------------------------------------------------------- forward pass
    def logits(self, ids: ArrayLike, *, batch_size: int = 256) -> NDArray[np.float32]:
        """The Keras model's output logit for each document of an id matrix.

        Documents are batched by length; a sigmoid readout's activation is
        inverted so the result is always the logit.
        """
        import tensorflow as tf

        self._require_model()
        positive_int("batch_size", batch_size)
        matrix = _as_ids(ids, len(self.vocabulary))
        out = np.empty(len(matrix), dtype=np.float32)
        if self._logit_fn is None:
            model = self.model
            self._logit_fn = tf.function(
                lambda ids: model(ids, training=False), reduce_retracing=True
            )
        for index, batch in _length_batches(matrix, batch_size, sort_by_length=True):
            values = np.asarray(self._logit_fn(tf.constant(batch)))
            out[index] = values.reshape(len(index), -1)[:, 0]
        if self.provenance.get("readout_activation") == "sigmoid":
            clipped = np.clip(out.astype(np.float64), 1e-7, 1 - 1e-7)
            out = np.log(clipped / (1 - clipped)).astype(np.float32)
        return out

    def _require_model(self) -> None:
        if self.model is None:
            raise UnsupportedModelError(
                "This classifier was built from arrays and has no Keras model; build it "
                "with RecurrentClassifier.from_model or .load to run the network."
            )

    def _states_fn(self) -> Any:
        """A compiled function ids -> all flat states, reusing the trained layers."""
        if self._state_model is None:
            self._require_model()
            self._state_model = _build_state_function(self)
        return self._state_model

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
            Token ids padded at the end with 0.
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
        for index, batch in _length_batches(matrix, batch_size, sort_by_length=sort_by_length):
            states = np.asarray(fn(batch), dtype=np.float32)
            yield TrajectoryBatch(index, states, batch != 0, batch)

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
            Token ids padded at the end with 0.
        labels, example_index, batch_size, provenance
            See :meth:`trajectories`.

        Returns
        -------
        dynalyze.trajectories.ModelTrajectories
        """
        matrix = _as_ids(ids, len(self.vocabulary))
        self._require_model()
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
            Token ids padded at the end with 0 (from :meth:`encode`).
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
        valid = matrix != 0
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
            "logit": self.readout(final).astype(np.float32),
        }
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
    matrix: NDArray[np.int32], batch_size: int, *, sort_by_length: bool
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int32]]]:
    """Batches of rows, each cut to its longest document (sorted by length: little padding)."""
    lengths = (matrix != 0).sum(axis=1)
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


def _readout(model: Any, rnn: Any, layers: list[Any]) -> tuple[FloatArray, float, str]:
    """Find the Dense readout fed by the recurrent layer's final state."""
    from dynalyze.systems.activations import keras_activation_name

    try:
        position = next(i for i, sub in enumerate(layers) if sub is rnn)
    except StopIteration:  # pragma: no cover - rnn comes from the model
        position = -1
    after = layers[position + 1 :]
    passthrough = {"Dropout", "SpatialDropout1D", "GaussianNoise", "Activation"}
    for sub in after:
        kind = type(sub).__name__
        if kind == "Dense":
            kernel = np.asarray(sub.kernel.numpy(), dtype=np.float64)
            activation = keras_activation_name(sub.activation)
            if activation not in _READOUT_ACTIVATIONS:
                raise UnsupportedModelError(
                    f"The readout {sub.name!r} has activation {activation!r}; expected a "
                    "linear, sigmoid or softmax Dense layer on the final state."
                )
            if kernel.shape[1] != 1:
                raise UnsupportedModelError(
                    f"The readout {sub.name!r} has {kernel.shape[1]} outputs; the classifier "
                    "analysis handles binary classifiers with one logit (Dense(1))."
                )
            bias = float(sub.bias.numpy()[0]) if sub.use_bias else 0.0
            return kernel[:, 0], bias, activation
        if kind not in passthrough:
            break
    raise UnsupportedModelError(
        f"No Dense readout directly after the recurrent layer {rnn.name!r} in model "
        f"{model.name!r}. Expected Embedding -> recurrent layer -> Dense(1)."
    )


def _build_state_function(clf: RecurrentClassifier) -> Any:
    """ids (b, T) -> flat states (b, T, state_dim), reusing the trained layers' weights."""
    import keras
    import tensorflow as tf

    from dynalyze.systems._keras import _all_layers, state_sizes

    rnn = clf.rnn_layer
    cell = rnn.cell
    sizes = state_sizes(cell)
    embedding_layer = next(
        sub for _, sub in _all_layers(clf.model) if type(sub).__name__ == "Embedding"
    )

    class _FullStateCell(keras.layers.Layer):
        """Emit the whole flat state (e.g. LSTM [h; c]) as the step output."""

        def __init__(self, inner: Any) -> None:
            super().__init__(dtype=inner.dtype_policy)
            self.inner = inner
            self.state_size = inner.state_size
            self.output_size = int(sum(sizes))

        def call(self, inputs: Any, states: Any, training: bool = False) -> Any:
            _, new_states = self.inner(inputs, states, training=False)
            flat = new_states if isinstance(new_states, (list, tuple)) else [new_states]
            return keras.ops.concatenate(list(flat), axis=-1), new_states

    full = keras.layers.RNN(_FullStateCell(cell), return_sequences=True)

    @tf.function(reduce_retracing=True)
    def states(ids: Any) -> Any:
        x = embedding_layer(ids)
        mask = tf.not_equal(ids, 0)
        return full(x, mask=mask, training=False)

    def run(batch: NDArray[np.int32]) -> NDArray[np.float32]:
        return np.asarray(states(tf.constant(batch)))

    return run
