"""Save and load a Keras model with its vocabulary.

A model is saved as a folder holding ``model.keras`` (Keras v3 format) and
``vocabulary.txt`` (:meth:`~dynalyze.vocabulary.Vocabulary.save`), each written
atomically. :func:`load_model` loads in Keras safe mode: a model with
code-carrying layers (``Lambda``) is refused unless the caller passes
``safe_mode=False`` for that one call. dynalyze never calls
``keras.config.enable_unsafe_deserialization()``.

Keras is imported inside the functions only.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dynalyze._atomic import atomic_path
from dynalyze.errors import (
    ConfigurationError,
    ModelLoadError,
    OutputError,
    UnsupportedModelError,
    VocabularyMismatchError,
)
from dynalyze.keras import _introspect
from dynalyze.vocabulary import Vocabulary

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = [
    "MODEL_FILE",
    "VOCABULARY_FILE",
    "check_vocabulary",
    "embedding_input_dim",
    "load_model",
    "save_model",
]

logger = logging.getLogger(__name__)

#: File names inside a saved model folder.
MODEL_FILE, VOCABULARY_FILE = "model.keras", "vocabulary.txt"


def embedding_input_dim(model: keras.Model) -> int:
    """``input_dim`` of the model's (single) ``keras.layers.Embedding``.

    Raises
    ------
    UnsupportedModelError
        If the model has no Embedding layer or several.

    Examples
    --------
    >>> from dynalyze.keras.architectures import build_model
    >>> embedding_input_dim(build_model("simple", 12, units=2, embedding_dim=3))
    12
    """
    import keras

    embeddings = [
        layer
        for _, layer in _introspect.all_layers(model)
        if isinstance(layer, keras.layers.Embedding)
    ]
    if len(embeddings) != 1:
        found = "no Embedding layer" if not embeddings else f"{len(embeddings)} Embedding layers"
        raise UnsupportedModelError(
            f"Model {model.name!r} has {found}; a sentiment model needs exactly one "
            "keras.layers.Embedding mapping token ids to vectors."
        )
    return int(embeddings[0].input_dim)


def check_vocabulary(model: keras.Model, vocab: Vocabulary, where: str = "") -> None:
    """Raise unless ``vocab`` has one token per row of the model's embedding.

    Raises
    ------
    ConfigurationError
        ``vocab`` is not a :class:`~dynalyze.vocabulary.Vocabulary`.
    VocabularyMismatchError
        The sizes differ.

    Examples
    --------
    >>> from dynalyze.keras.architectures import build_model
    >>> model = build_model("gru", 3, units=2, embedding_dim=2)
    >>> check_vocabulary(model, Vocabulary(["", "[UNK]", "a"]))  # sizes agree: no error
    >>> check_vocabulary(model, Vocabulary(["", "[UNK]", "a", "b"]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.VocabularyMismatchError: The vocabulary has 4 tokens but ...
    """
    if not isinstance(vocab, Vocabulary):
        raise ConfigurationError(
            f"vocabulary must be a dynalyze Vocabulary; got {type(vocab).__name__}. Build one "
            "with Vocabulary.build(texts) or Vocabulary.load(path)."
        )
    input_dim = embedding_input_dim(model)
    if input_dim != len(vocab):
        raise VocabularyMismatchError(
            f"The vocabulary{where} has {len(vocab)} tokens but the model's embedding expects "
            f"input_dim={input_dim} token ids; they must be equal. Use the vocabulary the "
            "model was trained with (saved next to it as vocabulary.txt)."
        )


def save_model(model: keras.Model, vocab: Vocabulary, folder: str | os.PathLike[str]) -> Path:
    """Save ``model`` and ``vocab`` into ``folder`` (``model.keras`` + ``vocabulary.txt``).

    The folder is created if needed; existing files of the same names are
    replaced, each atomically (written to a temporary name beside it, then
    renamed: :func:`dynalyze._atomic.atomic_path`), with the usual permissions.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    VocabularyMismatchError
        If the vocabulary does not fit the model's embedding.
    OutputError
        If the folder cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> from dynalyze.keras.architectures import build_model
    >>> vocab = Vocabulary(["", "[UNK]", "good", "bad"])
    >>> model = build_model("gru", len(vocab), units=4, embedding_dim=3, seed=0)
    >>> folder = save_model(model, vocab, tempfile.mkdtemp())
    >>> sorted(p.name for p in folder.iterdir())
    ['model.keras', 'vocabulary.txt']
    """
    check_vocabulary(model, vocab)
    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
        with atomic_path(target / MODEL_FILE, keep_suffix=True) as tmp_model:
            model.save(tmp_model)
    except OSError as exc:
        raise OutputError(
            f"Cannot write the model to {str(target)!r}: {exc}. Choose a writable folder."
        ) from None
    vocab.save(target / VOCABULARY_FILE)  # atomic too; raises OutputError itself
    logger.info("Saved model and vocabulary to %s", target)
    return target


def _model_file(path: Path) -> Path:
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return path / MODEL_FILE
        candidates = sorted(p for p in path.iterdir() if p.suffix in (".keras", ".h5", ".hdf5"))
        if len(candidates) == 1:
            return candidates[0]
        found = f"{len(candidates)} model files" if candidates else "no .keras or .h5 file"
        raise ModelLoadError(
            f"Model folder {str(path)!r} holds {found}; expected {MODEL_FILE!r} (as written by "
            "save_model). Pass the path of the model file itself."
        )
    if not path.exists():
        raise ModelLoadError(
            f"Model file {str(path)!r} does not exist; expected a folder written by save_model "
            f"or a Keras .keras file. Check the path."
        )
    if path.suffix not in (".keras", ".h5", ".hdf5"):
        raise ModelLoadError(
            f"{str(path)!r} is not a Keras model file; expected a .keras file (Keras 3 format) "
            "or a legacy .h5 file."
        )
    return path


def load_model(
    path: str | os.PathLike[str],
    *,
    vocabulary: Vocabulary | str | os.PathLike[str] | None = None,
    safe_mode: bool = True,
    custom_objects: Mapping[str, Any] | None = None,
) -> tuple[keras.Model, Vocabulary]:
    """Load a model and its vocabulary, in Keras safe mode by default.

    Parameters
    ----------
    path : str or path
        A folder written by :func:`save_model` (``model.keras`` inside) or a
        ``.keras`` / ``.h5`` file.
    vocabulary : Vocabulary, path or None
        The vocabulary, or its file; by default ``vocabulary.txt`` next to the
        model file.
    safe_mode : bool
        Keras safe mode (default on): refuse layers that carry Python code
        (``Lambda``). Pass ``False`` only for a model file you trust; it applies
        to this call only.
    custom_objects : mapping or None
        Custom Keras classes the model needs (registered serializable classes
        are found without this).

    Returns
    -------
    model : keras.Model
        Uncompiled.
    vocabulary : Vocabulary

    Raises
    ------
    ModelLoadError
        The file is missing or corrupt, needs unsafe loading, or no vocabulary
        was found.
    VocabularyMismatchError
        The vocabulary's size differs from the embedding's ``input_dim``.
    UnsupportedModelError
        The model has no (or several) Embedding layers.
    DataError
        The vocabulary file is malformed.

    Examples
    --------
    >>> import tempfile
    >>> from dynalyze.keras.architectures import build_model
    >>> vocab = Vocabulary(["", "[UNK]", "good", "bad"])
    >>> folder = save_model(build_model("lstm", 4, units=3, embedding_dim=2), vocab,
    ...                     tempfile.mkdtemp())
    >>> model, loaded = load_model(folder)
    >>> model.get_layer("rnn").units, loaded.tokens == vocab.tokens
    (3, True)
    """
    import dynalyze.keras.cells  # noqa: F401  (registers UGRNNCell for safe-mode loading)

    if not isinstance(safe_mode, bool):
        raise ConfigurationError(f"safe_mode must be True or False; got {safe_mode!r}.")
    model_file = _model_file(Path(path).expanduser())

    if vocabulary is None:
        vocab_file = model_file.parent / VOCABULARY_FILE
        if not vocab_file.is_file():
            raise ModelLoadError(
                f"No vocabulary found for {str(model_file)!r}: expected {str(vocab_file)!r} "
                "(one token per line, as written by save_model), or pass vocabulary= "
                "(a Vocabulary or the path of its file)."
            )
        vocab = Vocabulary.load(vocab_file)
    elif isinstance(vocabulary, Vocabulary):
        vocab = vocabulary
    else:
        vocab = Vocabulary.load(vocabulary)

    import keras

    try:
        model = keras.saving.load_model(
            model_file,
            custom_objects=dict(custom_objects) if custom_objects else None,
            compile=False,
            safe_mode=safe_mode,
        )
    except Exception as exc:  # Keras raises ValueError/TypeError/OSError/zip errors
        message = str(exc)
        if safe_mode and ("safe_mode" in message or "unsafe" in message.lower()):
            raise ModelLoadError(
                f"Model {str(model_file)!r} contains code-carrying layers (e.g. a Lambda layer) "
                "that Keras refuses to load in safe mode, because loading them can run "
                "arbitrary Python code. If you trust the file, load it with "
                "safe_mode=False (the CLI's explicit unsafe-loading flag); otherwise rebuild "
                f"the model without such layers. Keras said: {message.splitlines()[0]}"
            ) from None
        if isinstance(exc, zipfile.BadZipFile) or "zip" in message.lower():
            detail = "it is not a valid .keras (zip) archive; it may be truncated or corrupt"
        else:
            detail = f"{type(exc).__name__}: {message.splitlines()[0] if message else ''}"
        raise ModelLoadError(
            f"Cannot load the Keras model {str(model_file)!r}: {detail}. Re-save the model "
            "with model.save('model.keras'), or pass custom_objects= for custom layers."
        ) from None
    if not isinstance(model, keras.Model):  # pragma: no cover - defensive
        raise ModelLoadError(f"{str(model_file)!r} did not contain a Keras model.")
    check_vocabulary(model, vocab, where=f" for {str(model_file)!r}")
    logger.info("Loaded model %s (%s) with %d tokens", model.name, model_file, len(vocab))
    return model, vocab
