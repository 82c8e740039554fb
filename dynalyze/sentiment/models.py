"""Keras sentiment models: Embedding -> recurrent layer -> linear readout.

Every model built here has the same three named layers, the shape of the
paper's networks:

``"embedding"``
    ``keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True)``;
    id 0 is padding and is masked, so the recurrent layer's final state is its
    state after the last real token.
``"rnn"``
    The recurrent layer (``return_sequences=False``), from the architecture
    registry :data:`ARCHITECTURES`.
``"readout"``
    ``keras.layers.Dense(1)``: a linear readout of the final state giving the
    logit of the positive class (train with
    ``BinaryCrossentropy(from_logits=True)``).

New architectures are added with :func:`register_architecture`: a factory
``factory(units, *, seed, name) -> keras.layers.Layer`` returning a recurrent
layer with ``return_sequences=False``. Custom cells must be Keras-serializable
(``@keras.saving.register_keras_serializable``) so saved models load in safe
mode.

Keras is imported inside the functions only; importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from dynalyze._validation import positive_int
from dynalyze.errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = [
    "ARCHITECTURES",
    "EMBEDDING_LAYER",
    "READOUT_LAYER",
    "RNN_LAYER",
    "ArchitectureFactory",
    "build_model",
    "register_architecture",
]

#: Names of the three layers of every model built by :func:`build_model`.
EMBEDDING_LAYER, RNN_LAYER, READOUT_LAYER = "embedding", "rnn", "readout"


class ArchitectureFactory(Protocol):
    """Build a recurrent layer: ``factory(units, *, seed, name) -> keras.layers.Layer``.

    The layer must return only the final hidden state (``return_sequences=False``)
    and respect the input mask; initializers should be seeded from ``seed`` so
    the same seed builds the same weights.

    Examples
    --------
    Any callable with this signature is a factory, e.g. a bidirectional-free
    GRU with a different reset-gate convention:

    >>> import keras
    >>> def gru_v1(units, *, seed, name):
    ...     return keras.layers.GRU(units, reset_after=False, seed=seed, name=name)
    >>> register_architecture("gru_v1", gru_v1, overwrite=True)
    >>> build_model("gru_v1", 10, units=3, embedding_dim=2).get_layer("rnn").reset_after
    False
    >>> del ARCHITECTURES["gru_v1"]
    """

    def __call__(self, units: int, *, seed: int, name: str) -> keras.layers.Layer: ...


def _initializers(seed: int) -> dict[str, Any]:
    import keras

    return {
        "kernel_initializer": keras.initializers.GlorotUniform(seed=seed),
        "recurrent_initializer": keras.initializers.Orthogonal(seed=seed + 1),
    }


def _simple(units: int, *, seed: int, name: str) -> keras.layers.Layer:
    import keras

    return keras.layers.SimpleRNN(units, name=name, **_initializers(seed))


def _gru(units: int, *, seed: int, name: str) -> keras.layers.Layer:
    import keras

    return keras.layers.GRU(units, name=name, **_initializers(seed))


def _lstm(units: int, *, seed: int, name: str) -> keras.layers.Layer:
    import keras

    return keras.layers.LSTM(units, name=name, **_initializers(seed))


def _ugrnn(units: int, *, seed: int, name: str) -> keras.layers.Layer:
    import keras

    from dynalyze.keras.cells import UGRNNCell

    return keras.layers.RNN(UGRNNCell(units, **_initializers(seed)), name=name)


#: Architecture name -> layer factory. Extend with :func:`register_architecture`.
ARCHITECTURES: dict[str, ArchitectureFactory] = {
    "simple": _simple,
    "gru": _gru,
    "lstm": _lstm,
    "ugrnn": _ugrnn,
}


def register_architecture(
    name: str, factory: ArchitectureFactory, *, overwrite: bool = False
) -> None:
    """Make ``factory`` available to :func:`build_model` as ``arch=name``.

    Parameters
    ----------
    name : str
        Architecture name (lowercase, e.g. ``"ugrnn"``).
    factory : callable
        ``factory(units, *, seed, name) -> keras.layers.Layer``.
    overwrite : bool
        Replace an existing entry of the same name.

    Examples
    --------
    >>> def tiny_gru(units, *, seed, name):
    ...     import keras
    ...     return keras.layers.GRU(units, name=name, reset_after=False)
    >>> register_architecture("gru_v1", tiny_gru)
    >>> "gru_v1" in ARCHITECTURES
    True
    >>> del ARCHITECTURES["gru_v1"]
    """
    if not isinstance(name, str) or not name or name != name.strip().lower():
        raise ConfigurationError(
            f"Architecture names are non-empty lowercase strings; got {name!r}."
        )
    if not callable(factory):
        raise ConfigurationError(f"factory must be callable; got {type(factory).__name__}.")
    if name in ARCHITECTURES and not overwrite:
        raise ConfigurationError(
            f"Architecture {name!r} is already registered; pass overwrite=True to replace it."
        )
    ARCHITECTURES[name] = factory


def _factory(arch: str) -> Callable[..., Any]:
    key = arch.strip().lower() if isinstance(arch, str) else arch
    if key not in ARCHITECTURES:
        raise ConfigurationError(
            f"Unknown architecture {arch!r}; expected one of {', '.join(sorted(ARCHITECTURES))}."
        )
    return ARCHITECTURES[key]


def build_model(
    arch: str,
    vocab_size: int,
    *,
    units: int,
    embedding_dim: int,
    seed: int = 0,
    dropout: float = 0.0,
    n_classes: int = 2,
) -> keras.Model:
    """Build an untrained Embedding -> RNN -> Dense classifier (Dense(1) when binary).

    Parameters
    ----------
    arch : str
        A key of :data:`ARCHITECTURES`: ``"simple"`` (SimpleRNN), ``"gru"``,
        ``"lstm"``, or one added with :func:`register_architecture`.
    vocab_size : int
        Number of token ids (``len(vocabulary)``, padding and ``[UNK]`` included).
    units : int
        Size of the recurrent state.
    embedding_dim : int
        Size of the token embedding vectors.
    seed : int
        Seed of every weight initializer; the same seed builds the same weights
        (independently of the global random state).
    dropout : float
        Dropout rate on the embedded tokens during training (a
        ``keras.layers.Dropout`` named ``"embedding_dropout"`` between the
        embedding and the recurrent layer; inactive at inference). 0: no layer.
    n_classes : int
        2 (default): one logit, of the positive class; N > 2: N logits (softmax
        readout, trained with sparse categorical cross-entropy).

    Returns
    -------
    keras.Model
        Uncompiled; input: int token ids of shape ``(batch, time)`` padded at
        the end with 0; output: the logit of the positive class, ``(batch, 1)``, or
        the ``n_classes`` logits ``(batch, N)``.

    Raises
    ------
    ConfigurationError
        Unknown architecture or non-positive sizes.

    Examples
    --------
    >>> model = build_model("gru", 50, units=8, embedding_dim=4, seed=0)
    >>> [layer.name for layer in model.layers[1:]]
    ['embedding', 'rnn', 'readout']
    >>> model.get_layer("rnn").units, model.output_shape
    (8, (None, 1))
    """
    factory = _factory(arch)
    positive_int("vocab_size", vocab_size)
    positive_int("units", units)
    positive_int("embedding_dim", embedding_dim)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigurationError(f"seed must be an integer >= 0; got {seed!r}.")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ConfigurationError(f"dropout must be a number in [0, 1); got {dropout!r}.")
    if vocab_size < 3:
        raise ConfigurationError(
            f"vocab_size counts padding and [UNK], so it must be >= 3; got {vocab_size}."
        )

    import keras

    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    embedded = keras.layers.Embedding(
        vocab_size,
        embedding_dim,
        mask_zero=True,
        embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=seed),
        name=EMBEDDING_LAYER,
    )(tokens)
    if dropout:
        embedded = keras.layers.Dropout(dropout, seed=seed + 30, name="embedding_dropout")(embedded)
    rnn = factory(units, seed=seed + 10, name=RNN_LAYER)
    state = rnn(embedded)
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ConfigurationError(f"n_classes must be an integer >= 2; got {n_classes!r}.")
    logit = keras.layers.Dense(
        1 if n_classes == 2 else n_classes,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 20),
        name=READOUT_LAYER,
    )(state)
    return keras.Model(tokens, logit, name=f"{arch.strip().lower()}_sentiment")
