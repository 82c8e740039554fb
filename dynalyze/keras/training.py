"""Train and evaluate Keras classifiers of token ids (saving and loading: :mod:`dynalyze.keras.io`).

Training follows the paper: Adam on the logistic loss of the readout logit,
early stopping on validation accuracy with the best weights restored. Data are
fed through ``tf.data`` with autotuning disabled (``model.fit`` on plain arrays
can stall for seconds at the end of an epoch on CPU). Training batches are
bucketed by document length (documents of similar length share a batch and the
batch is only as long as its longest document), which roughly halves the cost
of an IMDB epoch; the padding is masked, so this changes nothing but speed.

With ``window=W`` each training document is replaced, every time it is drawn,
by a random window of ``W`` consecutive tokens labelled with the document's
label (random-crop augmentation); validation and test documents are whole. It
keeps a GRU from memorising the few long BBC News articles; on IMDB it trades
memory over a review for accuracy (measured in :mod:`dynalyze.sentiment.defaults`).

Keras and TensorFlow are imported inside the functions only. The models come
from :func:`dynalyze.keras.architectures.build_model`; the batches and their
``tf.data`` pipelines from :mod:`dynalyze.keras._batches`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
import numpy as np
from numpy.typing import NDArray

from dynalyze._validation import positive, positive_int
from dynalyze.errors import ConfigurationError, DataError
from dynalyze.keras._batches import eval_batches, eval_dataset, train_dataset
from dynalyze.keras._progress import progress_callback
from dynalyze.keras.io import check_vocabulary
from dynalyze.vocabulary import Keep, Vocabulary

if TYPE_CHECKING:  # pragma: no cover
    import keras


__all__ = [
    "LR_SCHEDULES",
    "LabelledSplits",
    "TrainingResult",
    "evaluate_accuracy",
    "n_outputs",
    "predict_logits",
    "train_model",
]


@runtime_checkable
class LabelledSplits(Protocol):
    """Labelled documents split for training (``SentimentData`` from ``load_dataset`` is one).

    Examples
    --------
    >>> from dynalyze.sentiment.datasets import load_dataset
    >>> isinstance(load_dataset("synthetic"), LabelledSplits)
    True
    """

    @property
    def name(self) -> str:
        """The dataset's name."""

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names, by label."""

    @property
    def n_classes(self) -> int:
        """Number of classes."""

    @property
    def train_texts(self) -> list[str]:
        """Training documents."""

    @property
    def train_labels(self) -> NDArray[np.int8]:
        """Their labels."""

    @property
    def validation_texts(self) -> list[str]:
        """Validation documents (early stopping)."""

    @property
    def validation_labels(self) -> NDArray[np.int8]:
        """Their labels."""

    @property
    def test_texts(self) -> list[str]:
        """Test documents."""

    @property
    def test_labels(self) -> NDArray[np.int8]:
        """Their labels."""

    @property
    def sizes(self) -> dict[str, int]:
        """Documents per split."""

    def split(self, which: Any) -> tuple[list[str], NDArray[np.int8]]:
        """Texts and labels of one split (``"train"``, ``"validation"`` or ``"test"``)."""

logger = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class TrainingResult:
    """What :func:`train_model` measured.

    Parameters
    ----------
    history : dict of str to list of float
        Per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``.
    best_epoch : int
        1-based epoch with the highest validation accuracy (its weights are the
        model's weights after training).
    epochs_run : int
        Epochs actually run (fewer than asked when early stopping triggered).
    train_accuracy, validation_accuracy, test_accuracy : float
        Accuracies of the restored (best) weights; ``train_accuracy`` is the
        running average during the best epoch.
    wall_time_s : float
        Seconds spent training and evaluating.
    settings : dict
        The training settings (``max_len``, ``keep``, ``epochs``, ``batch_size``,
        ``learning_rate``, ``patience``, ``seed``...), for the record.

    Examples
    --------
    >>> from dynalyze.sentiment import SyntheticConfig, Vocabulary, load_dataset
    >>> from dynalyze.keras.architectures import build_model
    >>> data = load_dataset("synthetic", synthetic=SyntheticConfig(n_examples=200))
    >>> vocab = Vocabulary.build(data.train_texts)
    >>> model = build_model("gru", len(vocab), units=4, embedding_dim=4, seed=0)
    >>> result = train_model(model, data, vocab, epochs=1, max_len=30, batch_size=32, seed=0,
    ...                      patience=1, progress=False)
    >>> result.epochs_run, sorted(result.history)
    (1, ['accuracy', 'loss', 'val_accuracy', 'val_loss'])
    """

    history: dict[str, list[float]]
    best_epoch: int
    epochs_run: int
    train_accuracy: float
    validation_accuracy: float
    test_accuracy: float
    wall_time_s: float
    settings: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        """A JSON-serializable dict of everything in the result."""
        return attrs.asdict(self)


# --------------------------------------------------------------------------- helpers


def n_outputs(model: keras.Model) -> int:
    """Logits the model produces: 1 for a binary classifier, N for N classes.

    Examples
    --------
    >>> from dynalyze.keras.architectures import build_model
    >>> n_outputs(build_model("gru", 5, units=2, embedding_dim=2, n_classes=4))
    4
    """
    return int(model.output_shape[-1])


def _deterministic_ops() -> None:
    """Make TensorFlow's ops deterministic (same seed, same machine: same weights).

    Measured here: no slower on CPU for these models. Once on, it stays on for
    the process (TensorFlow has no switch back), which only ever removes
    run-to-run noise.
    """
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigurationError(f"seed must be an integer >= 0; got {seed!r}.")


def _check_keep(keep: str) -> None:
    if keep not in ("first", "last"):
        raise ConfigurationError(f"keep must be 'first' or 'last'; got {keep!r}.")


#: Learning-rate schedules :func:`train_model` accepts.
LR_SCHEDULES = ("constant", "cosine")


def _compile(
    model: keras.Model,
    learning_rate: float,
    clipnorm: float | None,
    *,
    weight_decay: float = 0.0,
    lr_schedule: str = "constant",
    total_steps: int = 1,
) -> None:
    import keras

    rate: Any = learning_rate
    if lr_schedule == "cosine":
        # Cosine decay over the whole run down to a tenth of the initial rate.
        rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=learning_rate, decay_steps=max(1, total_steps), alpha=0.1
        )
    model.compile(
        # Keras 3 applies weight_decay decoupled from the gradient (AdamW).
        optimizer=keras.optimizers.Adam(
            learning_rate=rate, clipnorm=clipnorm, weight_decay=weight_decay or None
        ),
        loss=(
            keras.losses.BinaryCrossentropy(from_logits=True)
            if n_outputs(model) == 1
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        ),
        metrics=[
            keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)
            if n_outputs(model) == 1
            else keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        ],
    )


def _checked_settings(
    *,
    max_len: int,
    keep: str,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    min_epochs: int,
    clipnorm: float | None,
    weight_decay: float,
    lr_schedule: str,
    window: int | None,
    seed: int,
) -> dict[str, Any]:
    """Check :func:`train_model`'s settings; return them as the record kept in the result."""
    for name, value in (("max_len", max_len), ("epochs", epochs), ("batch_size", batch_size)):
        positive_int(name, value)
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
        raise ConfigurationError(f"patience must be an integer >= 0; got {patience!r}.")
    if (
        isinstance(min_epochs, bool)
        or not isinstance(min_epochs, (int, np.integer))
        or not 0 <= min_epochs < epochs
    ):
        raise ConfigurationError(
            f"min_epochs must be an integer in [0, epochs - 1] = [0, {epochs - 1}]; got "
            f"{min_epochs!r}."
        )
    positive("learning_rate", learning_rate)
    if not isinstance(weight_decay, (int, float)) or not 0.0 <= weight_decay < 1.0:
        raise ConfigurationError(f"weight_decay must be a number in [0, 1); got {weight_decay!r}.")
    if lr_schedule not in LR_SCHEDULES:
        raise ConfigurationError(
            f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}; got {lr_schedule!r}."
        )
    if clipnorm is not None:
        positive("clipnorm", clipnorm)
    _check_seed(seed)
    _check_keep(keep)
    if window is not None:
        positive_int("window", window)
    return {
        "max_len": max_len,
        "keep": keep,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "patience": patience,
        "min_epochs": int(min_epochs),
        "clipnorm": clipnorm,
        "weight_decay": float(weight_decay),
        "lr_schedule": lr_schedule,
        "window": None if window is None else int(window),
        "seed": int(seed),
        "optimizer": "adam",
        "batching": "bucketed by length",
    }


def _check_data(model: keras.Model, data: LabelledSplits, vocab: Vocabulary) -> None:
    """The data are a non-empty split with the model's classes, encoded by ``vocab``."""
    # A protocol: dynalyze.keras does not import the sentiment application.
    if not isinstance(data, LabelledSplits):
        raise ConfigurationError(
            "data must be a split of documents like dynalyze.sentiment.datasets.SentimentData "
            f"(load_dataset), with split(), n_classes and class_names; got {type(data).__name__}."
        )
    check_vocabulary(model, vocab)
    for split in ("train", "validation"):
        if not data.split(split)[0]:
            raise DataError(f"The {split} split is empty; nothing to train or select on.")
    outputs = n_outputs(model)
    if (outputs == 1 and data.n_classes != 2) or (outputs > 1 and outputs != data.n_classes):
        raise ConfigurationError(
            f"The model has {outputs} output(s) but {data.name!r} has {data.n_classes} "
            f"classes {list(data.class_names)}; build it with "
            f"build_model(..., n_classes={data.n_classes})."
        )


def _fit(
    model: keras.Model,
    data: LabelledSplits,
    vocab: Vocabulary,
    settings: Mapping[str, Any],
    progress: bool,
) -> dict[str, list[float]]:
    """Compile and fit ``model`` with early stopping; the per-epoch history."""
    import keras

    max_len, keep, batch_size = settings["max_len"], settings["keep"], settings["batch_size"]
    epochs = settings["epochs"]
    x_train = vocab.encode(data.train_texts, max_len, keep=keep)
    x_val = vocab.encode(data.validation_texts, max_len, keep=keep)
    outputs = n_outputs(model)
    train_ds = train_dataset(
        x_train, data.train_labels, batch_size, settings["seed"], outputs, window=settings["window"]
    )
    val_ds = eval_dataset(x_val, data.validation_labels, batch_size, outputs)
    steps = math.ceil(x_train.shape[0] / batch_size)
    _compile(
        model,
        settings["learning_rate"],
        settings["clipnorm"],
        weight_decay=settings["weight_decay"],
        lr_schedule=settings["lr_schedule"],
        total_steps=steps * epochs,
    )
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_accuracy",
            mode="max",
            patience=settings["patience"],
            restore_best_weights=True,
            start_from_epoch=settings["min_epochs"],
        ),
        progress_callback(epochs, steps, progress),
    ]
    logger.info(
        "Training %s on %s: %s examples, max_len %d, batch %d, up to %d epochs",
        model.name,
        data.name,
        data.sizes,
        max_len,
        batch_size,
        epochs,
    )
    fit = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=callbacks,
        shuffle=False,
        verbose=0,
    )
    return {key: [float(v) for v in values] for key, values in fit.history.items()}


# --------------------------------------------------------------------------- public


def train_model(
    model: keras.Model,
    data: LabelledSplits,
    vocab: Vocabulary,
    *,
    max_len: int,
    epochs: int,
    batch_size: int,
    seed: int,
    patience: int,
    learning_rate: float = 1e-3,
    keep: Keep = "first",
    clipnorm: float | None = None,
    min_epochs: int = 0,
    weight_decay: float = 0.0,
    lr_schedule: str = "constant",
    window: int | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Train ``model`` on ``data`` with Adam and early stopping; evaluate on test.

    Parameters
    ----------
    model : keras.Model
        A model from :func:`dynalyze.keras.architectures.build_model` (or any
        model mapping padded token ids to one logit); it is compiled here.
    data : SentimentData
        The split to train (train), select (validation) and test on.
    vocab : Vocabulary
        Built from ``data.train_texts``; its size must equal the embedding's
        ``input_dim``.
    max_len : int
        Documents are cut to ``max_len`` tokens (see ``keep``).
    epochs : int
        Maximum number of epochs.
    batch_size : int
        Documents per batch.
    seed : int
        Seeds Python, NumPy and TensorFlow (``keras.utils.set_random_seed``)
        and the shuffling.
    patience : int
        Stop after this many epochs without a better validation accuracy; the
        weights of the best epoch are restored.
    learning_rate : float
        Adam's learning rate.
    keep : {"first", "last"}
        Keep the first or the last ``max_len`` tokens of longer documents.
    clipnorm : float or None
        Clip each gradient to this norm (``None``: no clipping).
    min_epochs : int
        Warm-up: always train this many epochs before early stopping starts
        watching; the restored "best" epoch is chosen among the later ones.
        Validation accuracy can peak early while the network's dynamics are
        still changing (on IMDB a GRU forms its line attractor only after ~5
        epochs while accuracy plateaus after 2), so an analysis of how trained
        networks compute wants the warm-up.
    weight_decay : float
        Decoupled weight decay of Adam (AdamW); 0 turns it off.
    lr_schedule : {"constant", "cosine"}
        Constant learning rate, or cosine decay over ``epochs`` down to a tenth.
    window : int or None
        Train on random windows: every time a training document is drawn it is
        replaced by ``window`` consecutive tokens of it at a random position,
        labelled with the document's label (documents no longer than ``window``
        stay whole). Validation, early stopping and test use whole documents.
        ``None`` (default): whole documents.
    progress : bool
        Show a progress bar per epoch (tqdm, on stderr).

    Returns
    -------
    TrainingResult

    Raises
    ------
    VocabularyMismatchError
        If ``len(vocab)`` differs from the embedding's ``input_dim``.
    ConfigurationError
        Invalid settings.

    Examples
    --------
    Training is too slow for a doctest; see ``tests/test_sentiment_data.py``:

    >>> from dynalyze.sentiment import load_dataset, SyntheticConfig, Vocabulary
    >>> from dynalyze.keras.architectures import build_model
    >>> data = load_dataset("synthetic", synthetic=SyntheticConfig(n_examples=1000))
    >>> vocab = Vocabulary.build(data.train_texts)
    >>> model = build_model("gru", len(vocab), units=16, embedding_dim=8, seed=0)
    >>> result = train_model(model, data, vocab, max_len=30, epochs=10, batch_size=32,
    ...                      seed=0, patience=3, progress=False)  # doctest: +SKIP
    >>> result.test_accuracy > 0.9  # doctest: +SKIP
    True
    """
    settings = _checked_settings(
        max_len=max_len,
        keep=keep,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        patience=patience,
        min_epochs=min_epochs,
        clipnorm=clipnorm,
        weight_decay=weight_decay,
        lr_schedule=lr_schedule,
        window=window,
        seed=seed,
    )
    _check_data(model, data, vocab)

    import keras

    started = time.perf_counter()
    _deterministic_ops()
    keras.utils.set_random_seed(int(seed))
    history = _fit(model, data, vocab, settings, progress)
    val_acc = history.get("val_accuracy", [])
    if not val_acc:  # pragma: no cover - fit always reports val metrics here
        raise DataError("Training produced no validation accuracy; is the validation split empty?")
    best = int(min_epochs) + int(np.argmax(val_acc[min_epochs:]))
    test_accuracy = (
        evaluate_accuracy(
            model,
            vocab,
            data.test_texts,
            data.test_labels,
            max_len=max_len,
            keep=keep,
            batch_size=batch_size,
        )
        if data.test_texts
        else math.nan
    )
    result = TrainingResult(
        history=history,
        best_epoch=best + 1,
        epochs_run=len(val_acc),
        train_accuracy=history["accuracy"][best],
        validation_accuracy=val_acc[best],
        test_accuracy=test_accuracy,
        wall_time_s=time.perf_counter() - started,
        settings=settings,
    )
    logger.info(
        "Trained %s: best epoch %d of %d, validation accuracy %.4f, test accuracy %.4f, %.1f s",
        model.name,
        result.best_epoch,
        result.epochs_run,
        result.validation_accuracy,
        result.test_accuracy,
        result.wall_time_s,
    )
    return result


def predict_logits(
    model: keras.Model,
    vocab: Vocabulary,
    texts: Sequence[str],
    *,
    max_len: int,
    keep: Keep = "first",
    batch_size: int = 256,
) -> NDArray[np.float64]:
    """Logits for ``texts`` (in the order given): ``(n,)`` binary, ``(n, N)`` for N classes.

    Documents are batched by length (shorter batches run faster; the padding is
    masked either way).

    Examples
    --------
    >>> from dynalyze.keras.architectures import build_model
    >>> vocab = Vocabulary(["", "[UNK]", "good", "bad"])
    >>> model = build_model("gru", len(vocab), units=4, embedding_dim=3, seed=0)
    >>> predict_logits(model, vocab, ["good", "bad bad", "good bad good"], max_len=5).shape
    (3,)
    """
    positive_int("max_len", max_len)
    positive_int("batch_size", batch_size)
    _check_keep(keep)
    check_vocabulary(model, vocab)
    ids = vocab.encode(list(texts), max_len, keep=keep)
    outputs = n_outputs(model)
    out = np.empty((ids.shape[0], outputs), dtype=np.float64)
    if ids.shape[0]:
        batches, order = eval_batches(ids, batch_size)
        start = 0
        for batch in batches:
            logits = np.asarray(model.predict_on_batch(batch), dtype=np.float64)
            out[order[start : start + batch.shape[0]]] = logits.reshape(batch.shape[0], -1)
            start += batch.shape[0]
    return out[:, 0] if outputs == 1 else out


def evaluate_accuracy(
    model: keras.Model,
    vocab: Vocabulary,
    texts: Sequence[str],
    labels: NDArray[np.integer],
    *,
    max_len: int,
    keep: Keep = "first",
    batch_size: int = 256,
) -> float:
    """Fraction of ``texts`` whose predicted label (logit > 0) equals ``labels``.

    Examples
    --------
    >>> from dynalyze.keras.architectures import build_model
    >>> vocab = Vocabulary(["", "[UNK]", "good", "bad"])
    >>> model = build_model("gru", len(vocab), units=4, embedding_dim=3, seed=0)
    >>> 0.0 <= evaluate_accuracy(model, vocab, ["good", "bad"], [1, 0], max_len=3) <= 1.0
    True
    """
    labels = np.asarray(labels)
    if labels.shape != (len(texts),):
        raise DataError(
            f"Got {len(texts)} texts but labels of shape {labels.shape}; pass one label each."
        )
    logits = predict_logits(model, vocab, texts, max_len=max_len, keep=keep, batch_size=batch_size)
    if not labels.size:
        return math.nan
    predicted = (logits > 0).astype(int) if logits.ndim == 1 else np.argmax(logits, axis=1)
    return float(np.mean(predicted == labels))
