"""The architecture registry and the classifiers built from it.

One table, :data:`ARCHITECTURES`, maps each architecture's recipe and CLI name
(``"gru"``, ``"lstm"``, ``"simple"``, ``"ugrnn"``) to an :class:`Architecture`:
the Keras layer factory that :func:`build_model` calls, and the registry name of
the system :func:`dynalyze.wrap` makes of that layer (``"simple"`` is the
``"simple_rnn"`` system). :func:`register_architecture` adds to it and
:func:`architecture_of` reads it backwards.

Every model built here has the same three named layers, the shape of the
paper's networks:

``"embedding"``
    ``keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True)``;
    id 0 is padding and is masked, so the recurrent layer's final state is its
    state after the last real token.
``"rnn"``
    The recurrent layer (``return_sequences=False``), from :data:`ARCHITECTURES`.
``"readout"``
    ``keras.layers.Dense(1)``: a linear readout of the final state giving the
    logit of the positive class (train with
    ``BinaryCrossentropy(from_logits=True)``), or ``Dense(N)`` for N classes.

Custom cells must be Keras-serializable
(``@keras.saving.register_keras_serializable``) so saved models load in safe
mode. Keras is imported inside the functions only; importing this module is
cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import attrs
import numpy as np

from dynalyze._validation import positive_int
from dynalyze.errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = [
    "ARCHITECTURES",
    "EMBEDDING_LAYER",
    "READOUT_LAYER",
    "RNN_LAYER",
    "Architecture",
    "ArchitectureFactory",
    "architecture_of",
    "build_model",
    "register_architecture",
    "untrained_copy",
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
    Any callable with this signature is a factory, e.g. a GRU with the other
    reset-gate convention:

    >>> import keras
    >>> def gru_v1(units, *, seed, name):
    ...     return keras.layers.GRU(units, reset_after=False, seed=seed, name=name)
    >>> register_architecture("gru_v1", gru_v1, system="gru", overwrite=True)
    >>> build_model("gru_v1", 10, units=3, embedding_dim=2).get_layer("rnn").reset_after
    False
    >>> del ARCHITECTURES["gru_v1"]
    """

    def __call__(self, units: int, *, seed: int, name: str) -> keras.layers.Layer: ...


@attrs.frozen
class Architecture:
    """One entry of :data:`ARCHITECTURES`: a layer factory and the system it becomes.

    Calling it calls the factory, so an entry is itself an
    :class:`ArchitectureFactory`.

    Parameters
    ----------
    name : str
        Recipe and CLI name (``"simple"``).
    factory : ArchitectureFactory
        Builds the recurrent layer.
    system : str or None
        Registry name of the system :func:`dynalyze.wrap` builds from the layer
        (``"simple_rnn"``); None when it is not known in advance.

    Examples
    --------
    >>> ARCHITECTURES["simple"].system, ARCHITECTURES["gru"].system
    ('simple_rnn', 'gru')
    >>> layer = ARCHITECTURES["lstm"](4, seed=0, name="rnn")
    >>> type(layer).__name__, layer.units
    ('LSTM', 4)
    """

    name: str
    factory: ArchitectureFactory
    system: str | None = None

    def __call__(self, units: int, *, seed: int, name: str) -> keras.layers.Layer:
        return self.factory(units, seed=seed, name=name)


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


#: Architecture name -> :class:`Architecture` (layer factory and system name).
#: Extend with :func:`register_architecture`.
ARCHITECTURES: dict[str, Architecture] = {
    entry.name: entry
    for entry in (
        Architecture("simple", _simple, "simple_rnn"),
        Architecture("gru", _gru, "gru"),
        Architecture("lstm", _lstm, "lstm"),
        Architecture("ugrnn", _ugrnn, "ugrnn"),
    )
}


def register_architecture(
    name: str,
    factory: ArchitectureFactory,
    *,
    system: str | None = None,
    overwrite: bool = False,
) -> None:
    """Make ``factory`` available to :func:`build_model` as ``arch=name``.

    Parameters
    ----------
    name : str
        Architecture name (lowercase, e.g. ``"ugrnn"``).
    factory : callable
        ``factory(units, *, seed, name) -> keras.layers.Layer``.
    system : str, optional
        Registry name of the system the layer is wrapped as, if known (for
        :func:`architecture_of`; the first architecture naming a system wins).
    overwrite : bool
        Replace an existing entry of the same name.

    Examples
    --------
    >>> def tiny_gru(units, *, seed, name):
    ...     import keras
    ...     return keras.layers.GRU(units, name=name, reset_after=False)
    >>> register_architecture("gru_v1", tiny_gru, system="gru")
    >>> "gru_v1" in ARCHITECTURES, ARCHITECTURES["gru_v1"].system
    (True, 'gru')
    >>> del ARCHITECTURES["gru_v1"]
    """
    if not isinstance(name, str) or not name or name != name.strip().lower():
        raise ConfigurationError(
            f"Architecture names are non-empty lowercase strings; got {name!r}."
        )
    if not callable(factory):
        raise ConfigurationError(f"factory must be callable; got {type(factory).__name__}.")
    if system is not None and (not isinstance(system, str) or not system):
        raise ConfigurationError(f"system must be a registry name or None; got {system!r}.")
    if name in ARCHITECTURES and not overwrite:
        raise ConfigurationError(
            f"Architecture {name!r} is already registered; pass overwrite=True to replace it."
        )
    ARCHITECTURES[name] = Architecture(name, factory, system)


def architecture_of(system: Any) -> str:
    """The architecture name (``"gru"``, ``"lstm"``, ``"simple"``, ``"ugrnn"``) of a system.

    Read from :data:`ARCHITECTURES`, by the system's registry name or its base
    classes' (a subclass of ``GRUSystem``, e.g. dynalyze-torch's, is a ``"gru"``);
    other systems (custom cells) are named by their registry name or class.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> architecture_of(SimpleRNNSystem(np.eye(1), np.eye(1), np.zeros(1)))
    'simple'
    >>> class Custom:
    ...     name = ""
    >>> architecture_of(Custom())
    'Custom'
    >>> class TorchSimple(SimpleRNNSystem):
    ...     name = "torch_rnn"
    >>> architecture_of(TorchSimple(np.eye(1), np.eye(1), np.zeros(1)))
    'simple'
    """
    name = str(getattr(system, "name", "") or "")
    by_system: dict[Any, str] = {}
    for arch, entry in ARCHITECTURES.items():  # the first architecture naming a system wins
        by_system.setdefault(getattr(entry, "system", None), arch)
    # The system's own name first, then its base classes' (a PyTorch GRU system is a GRU).
    for cls in type(system).__mro__:
        own = name if cls is type(system) else cls.__dict__.get("name")
        if isinstance(own, str) and own in by_system:
            return by_system[own]
    return name or type(system).__name__


def _factory(arch: str) -> ArchitectureFactory:
    key = arch.strip().lower() if isinstance(arch, str) else arch
    if key not in ARCHITECTURES:
        raise ConfigurationError(
            f"Unknown architecture {arch!r}; expected one of {', '.join(sorted(ARCHITECTURES))}."
        )
    return ARCHITECTURES[key]


def _check_build_settings(seed: int, dropout: float, n_classes: int, vocab_size: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigurationError(f"seed must be an integer >= 0; got {seed!r}.")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ConfigurationError(f"dropout must be a number in [0, 1); got {dropout!r}.")
    if vocab_size < 3:
        raise ConfigurationError(
            f"vocab_size counts padding and [UNK], so it must be >= 3; got {vocab_size}."
        )
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ConfigurationError(f"n_classes must be an integer >= 2; got {n_classes!r}.")


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
        ``"lstm"``, ``"ugrnn"``, or one added with :func:`register_architecture`.
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
    _check_build_settings(seed, dropout, n_classes, vocab_size)

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
    state = factory(units, seed=seed + 10, name=RNN_LAYER)(embedded)
    logit = keras.layers.Dense(
        1 if n_classes == 2 else n_classes,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 20),
        name=READOUT_LAYER,
    )(state)
    return keras.Model(tokens, logit, name=f"{arch.strip().lower()}_sentiment")


def untrained_copy(model: keras.Model, seed: int) -> keras.Model:
    """A freshly initialised network of the same architecture (for the PCA comparison).

    ``keras.models.clone_model`` after seeding every random generator with
    ``seed``, built on one token-id batch. The clone's weights come from the
    layers' initializers: for a model from :func:`build_model`, whose
    initializers are seeded, these are the model's own weights before training
    (``seed`` then only matters to unseeded initializers).

    Examples
    --------
    >>> import numpy as np
    >>> model = build_model("gru", 20, units=3, embedding_dim=2, seed=0)
    >>> initial = model.get_weights()
    >>> model.set_weights([w + 1.0 for w in initial])  # stands in for training
    >>> copy = untrained_copy(model, seed=1)
    >>> [layer.name for layer in copy.layers[1:]]
    ['embedding', 'rnn', 'readout']
    >>> all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), initial))
    True
    """
    import keras

    keras.utils.set_random_seed(seed)
    clone = keras.models.clone_model(model)
    clone(np.ones((1, 2), dtype=np.int32))  # build the weights
    return clone
