"""Take a trained Keras classifier apart, and run its layers on token ids.

:class:`~dynalyze.RecurrentClassifier` keeps the pieces the analyses need as
float64 NumPy; the Keras-facing work happens here: finding the embedding, the
recurrent layer and the Dense readout (:func:`take_apart`), and compiling the
forward passes that return the readout's logit (:func:`logit_function`) and
every hidden state (:func:`state_function`).

Keras and TensorFlow are imported inside the functions only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
from numpy.typing import NDArray

from dynalyze._validation import FloatArray
from dynalyze.errors import UnsupportedModelError, VocabularyMismatchError
from dynalyze.keras import _introspect
from dynalyze.keras.registry import wrap
from dynalyze.systems.activations import activation_name
from dynalyze.systems.base import RecurrentSystem

if TYPE_CHECKING:  # pragma: no cover
    from dynalyze.vocabulary import Vocabulary

__all__ = ["ClassifierParts", "logit_function", "state_function", "take_apart"]

#: Activations a readout may have (its logit is recovered from each).
READOUT_ACTIVATIONS = ("linear", "sigmoid", "softmax")

#: Layers allowed between the recurrent layer and its Dense readout.
_PASSTHROUGH = {"Dropout", "SpatialDropout1D", "GaussianNoise", "Activation"}


@attrs.frozen(kw_only=True)
class ClassifierParts:
    """The pieces of an ``Embedding -> RNN -> Dense`` model, as :func:`take_apart` found them.

    Parameters
    ----------
    system : RecurrentSystem
        The recurrent cell, wrapped.
    embedding : ndarray, shape (vocab_size, input_dim)
        The embedding matrix, float64.
    readout_weight : ndarray, shape (state_dim,)
        Readout over the flat state (zeros where the Dense layer does not read).
    readout_bias : float or ndarray
        Its bias (one per class for an N-class readout).
    rnn_layer : keras.layers.Layer
        The recurrent layer.
    embedding_layer : keras.layers.Embedding
        The embedding layer.
    provenance : dict
        Model, layer and system names for the record.

    Examples
    --------
    >>> from dynalyze.keras.architectures import build_model
    >>> from dynalyze.vocabulary import Vocabulary
    >>> parts = take_apart(build_model("lstm", 4, units=3, embedding_dim=2),
    ...                    Vocabulary(["", "[UNK]", "a", "b"]))
    >>> type(parts).__name__, parts.readout_weight.shape
    ('ClassifierParts', (6,))
    """

    system: RecurrentSystem
    embedding: FloatArray
    readout_weight: FloatArray
    readout_bias: Any
    rnn_layer: Any
    embedding_layer: Any
    provenance: dict[str, Any]


def take_apart(
    model: Any, vocabulary: Vocabulary, *, layer: str | None = None, system: str | None = None
) -> ClassifierParts:
    """Find the embedding, the recurrent layer and the readout of a trained model.

    Parameters
    ----------
    model : keras.Model
        ``Embedding -> (Dropout...) -> recurrent layer -> Dense`` on the final state.
    vocabulary : Vocabulary
        Its vocabulary (id ``i`` is row ``i`` of the embedding).
    layer : str, optional
        Name of the recurrent layer when the model has several.
    system : str, optional
        Force a registered system (e.g. ``"keras"`` for autodiff Jacobians).

    Returns
    -------
    ClassifierParts

    Raises
    ------
    UnsupportedModelError
        Not a model, no (or a backwards or stateful) recurrent layer, not
        exactly one Embedding, or no Dense readout with one output.
    VocabularyMismatchError
        The vocabulary and the embedding differ in size.

    Examples
    --------
    >>> from dynalyze.keras.architectures import build_model
    >>> from dynalyze.vocabulary import Vocabulary
    >>> parts = take_apart(build_model("gru", 4, units=3, embedding_dim=2),
    ...                    Vocabulary(["", "[UNK]", "a", "b"]))
    >>> type(parts.system).__name__, parts.embedding.shape, parts.provenance["recurrent_layer"]
    ('GRUSystem', (4, 2), 'rnn')
    """
    if not _introspect.is_model(model):
        raise UnsupportedModelError(
            f"Expected a Keras model (Embedding -> recurrent layer -> Dense); got "
            f"{_introspect.describe_object(model)}."
        )
    rnn = _introspect.resolve(model, layer=layer)
    if not _introspect.is_rnn_layer(rnn):
        raise UnsupportedModelError(
            f"Expected a recurrent layer inside the model; got {_introspect.describe_object(rnn)}."
        )
    for flag in ("go_backwards", "stateful"):
        if getattr(rnn, flag, False):
            raise UnsupportedModelError(
                f"The recurrent layer {rnn.name!r} has {flag}=True, which the classifier "
                "analysis does not support. Analyse a forward, non-stateful layer."
            )
    rec = wrap(rnn, system=system)
    layers = [sub for _, sub in _introspect.all_layers(model)]
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
    full = np.zeros((rec.state_dim, *np.shape(weight)[1:]))
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
    return ClassifierParts(
        system=rec,
        embedding=embedding,
        readout_weight=full,
        readout_bias=bias,
        rnn_layer=rnn,
        embedding_layer=embeddings[0],
        provenance=provenance,
    )


def _readout(model: Any, rnn: Any, layers: list[Any]) -> tuple[FloatArray, Any, str]:
    """Find the Dense readout fed by the recurrent layer's final state.

    Returns the kernel column (one output) or the kernel (several), the bias and
    the activation name.
    """
    try:
        position = next(i for i, sub in enumerate(layers) if sub is rnn)
    except StopIteration:  # pragma: no cover - rnn comes from the model
        position = -1
    for sub in layers[position + 1 :]:
        kind = type(sub).__name__
        if kind == "Dense":
            kernel = np.asarray(sub.kernel.numpy(), dtype=np.float64)
            activation = activation_name(sub.activation)
            if activation not in READOUT_ACTIVATIONS:
                raise UnsupportedModelError(
                    f"The readout {sub.name!r} has activation {activation!r}; expected a "
                    "linear, sigmoid or softmax Dense layer on the final state."
                )
            outputs = kernel.shape[1]
            if outputs == 2:
                raise UnsupportedModelError(
                    f"The readout {sub.name!r} has 2 outputs; a binary classifier should have "
                    "one logit (Dense(1)), and N > 2 classes one output each."
                )
            bias = (
                np.asarray(sub.bias.numpy(), dtype=np.float64)
                if sub.use_bias
                else np.zeros(outputs)
            )
            if outputs == 1:
                return kernel[:, 0], float(bias[0]), activation
            return kernel, bias, activation
        if kind not in _PASSTHROUGH:
            break
    raise UnsupportedModelError(
        f"No Dense readout directly after the recurrent layer {rnn.name!r} in model "
        f"{model.name!r}. Expected Embedding -> recurrent layer -> Dense(1)."
    )


def logit_function(
    model: Any, *, readout_activation: str
) -> Callable[[NDArray[np.int32]], NDArray[np.float32]]:
    """A compiled ``ids (b, T) -> logit (b,)`` (binary) or ``(b, N)`` (N classes).

    A sigmoid readout's activation is inverted, so the result is always the logit;
    a softmax readout gives log-probabilities (the logits up to a constant).

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.keras.architectures import build_model
    >>> fn = logit_function(build_model("gru", 4, units=3, embedding_dim=2),
    ...                     readout_activation="linear")
    >>> fn(np.array([[2, 3, 0]], dtype=np.int32)).shape
    (1,)
    """
    import tensorflow as tf

    # One trace for every batch shape: documents are batched by length.
    compiled = tf.function(
        lambda ids: model(ids, training=False),
        input_signature=[tf.TensorSpec([None, None], tf.int32)],
    )

    def run(batch: NDArray[np.int32]) -> NDArray[np.float32]:
        values = np.asarray(compiled(tf.constant(batch)), dtype=np.float32)
        out = values.reshape(len(batch), -1)
        if readout_activation == "sigmoid":
            clipped = np.clip(out.astype(np.float64), 1e-7, 1 - 1e-7)
            out = np.log(clipped / (1 - clipped)).astype(np.float32)
        elif readout_activation == "softmax":  # log-probabilities: logits up to a constant
            out = np.log(np.clip(out.astype(np.float64), 1e-30, None)).astype(np.float32)
        return out[:, 0] if out.shape[1] == 1 else out

    return run


def state_function(
    parts: ClassifierParts, *, pad_id: int
) -> Callable[[NDArray[np.int32]], NDArray[np.float32]]:
    """A compiled ``ids (b, T) -> flat states (b, T, state_dim)`` reusing the trained layers.

    The recurrent layer's cell runs inside a ``keras.layers.RNN`` that emits the
    whole flat state (e.g. an LSTM's ``[h; c]``) at every step, vectorized over
    time, with the steps holding ``pad_id`` masked (they repeat the last state).

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.keras.architectures import build_model
    >>> from dynalyze.vocabulary import Vocabulary
    >>> parts = take_apart(build_model("lstm", 4, units=3, embedding_dim=2),
    ...                    Vocabulary(["", "[UNK]", "a", "b"]))
    >>> states = state_function(parts, pad_id=0)(np.array([[2, 3, 0]], dtype=np.int32))
    >>> states.shape, bool(np.all(states[0, 2] == states[0, 1]))
    ((1, 3, 6), True)
    """
    import tensorflow as tf

    full = _full_state_rnn(parts.rnn_layer.cell)
    embedding_layer = parts.embedding_layer

    # One trace for every batch shape: documents are batched by length.
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])  # type: ignore[untyped-decorator]
    def states(ids: Any) -> Any:
        x = embedding_layer(ids)
        mask = tf.not_equal(ids, pad_id)
        return full(x, mask=mask, training=False)

    def run(batch: NDArray[np.int32]) -> NDArray[np.float32]:
        return np.asarray(states(tf.constant(batch)), dtype=np.float32)

    return run


def _full_state_rnn(cell: Any) -> Any:
    """``keras.layers.RNN`` over a wrapper of ``cell`` whose step output is the flat state."""
    import keras

    from dynalyze.keras.cells import FullStateCell

    return keras.layers.RNN(FullStateCell(cell), return_sequences=True)
