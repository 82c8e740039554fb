"""Batches of token ids for training and evaluation, and their ``tf.data`` pipelines.

Training batches are bucketed by document length (documents of similar length
share a batch, trimmed to its longest document); with a window each drawn
document is a random slice of itself. Used by :mod:`dynalyze.keras.training`.
TensorFlow is imported inside the functions only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

__all__ = [
    "batch_dataset",
    "eval_batches",
    "eval_dataset",
    "document_lengths",
    "train_batches",
    "train_dataset",
    "windows",
]

#: Batches per length-sorting chunk of :func:`train_batches`.
CHUNK_BATCHES = 32


def document_lengths(ids: NDArray[np.int32]) -> NDArray[np.int64]:
    """Number of real (non-padding) tokens of each row of end-padded ids."""
    out: NDArray[np.int64] = np.count_nonzero(ids, axis=1).astype(np.int64)
    return out


def eval_batches(
    ids: NDArray[np.int32], batch_size: int
) -> tuple[list[NDArray[np.int32]], NDArray[np.int64]]:
    """Batches of documents sorted by length, each trimmed to its longest document."""
    lengths = document_lengths(ids)
    order = np.argsort(lengths, kind="stable")
    batches = []
    for start in range(0, order.size, batch_size):
        rows = order[start : start + batch_size]
        width = max(1, int(lengths[rows].max()))
        batches.append(ids[rows, :width])
    return batches, order


def dataset_options() -> tf.data.Options:
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    options.deterministic = True
    return options


def train_batches(
    lengths: NDArray[np.int64], batch_size: int, rng: np.random.Generator
) -> list[NDArray[np.int64]]:
    """One epoch of row indices, bucketed by length.

    Rows are shuffled, cut into chunks of ``CHUNK_BATCHES * batch_size`` rows,
    sorted by length within each chunk and cut into batches; the batch order
    is shuffled. An epoch always has ``ceil(n / batch_size)`` batches.
    """
    order = rng.permutation(lengths.size)
    chunk = CHUNK_BATCHES * batch_size
    batches: list[NDArray[np.int64]] = []
    for start in range(0, order.size, chunk):
        rows = order[start : start + chunk]
        rows = rows[np.argsort(lengths[rows], kind="stable")]
        batches.extend(rows[i : i + batch_size] for i in range(0, rows.size, batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def batch_dataset(
    ids: NDArray[np.int32],
    labels: NDArray[np.int8],
    batches_of_epoch: Any,
    n_batches: int,
    outputs: int = 1,
    cut: Any = None,
) -> tf.data.Dataset:
    """A tf.data pipeline over precomputed index batches, each trimmed to its longest row.

    Targets are float 0/1 of shape ``(b, 1)`` for one logit, class indices ``(b,)``
    for several. ``cut``, if given, maps a batch's rows to its token ids (see
    :func:`windows`) instead of the rows' whole documents.
    """
    import tensorflow as tf

    lengths = document_lengths(ids)
    if outputs == 1:
        targets: Any = labels.astype(np.float32)[:, None]
        target_spec = tf.TensorSpec(shape=(None, 1), dtype=tf.float32)
    else:
        targets = labels.astype(np.int32)
        target_spec = tf.TensorSpec(shape=(None,), dtype=tf.int32)

    def generate() -> Any:
        for rows in batches_of_epoch():
            if cut is not None:
                yield cut(rows), targets[rows]
                continue
            width = max(1, int(lengths[rows].max()))
            yield ids[rows, :width], targets[rows]

    ds = tf.data.Dataset.from_generator(
        generate,
        output_signature=(tf.TensorSpec(shape=(None, None), dtype=tf.int32), target_spec),
    )
    ds = ds.apply(tf.data.experimental.assert_cardinality(n_batches))
    return ds.with_options(dataset_options())


def windows(ids: NDArray[np.int32], width: int, rng: np.random.Generator) -> Any:
    """A function of a batch's rows: one random window of ``width`` tokens of each document.

    A document of at most ``width`` tokens is kept whole; the window's start is
    uniform over the positions where it fits. Windows keep the padding at the end
    and the batch is as long as its longest window.
    """
    lengths = document_lengths(ids)

    def cut(rows: NDArray[np.int64]) -> NDArray[np.int32]:
        n = lengths[rows]
        starts = (rng.random(rows.size) * np.maximum(n - width + 1, 1)).astype(np.int64)
        sizes = np.minimum(n, width)
        out = np.zeros((rows.size, max(1, int(sizes.max()))), dtype=np.int32)
        for i, (row, start, size) in enumerate(zip(rows, starts, sizes, strict=True)):
            out[i, :size] = ids[row, start : start + size]
        return out

    return cut


def train_dataset(
    ids: NDArray[np.int32],
    labels: NDArray[np.int8],
    batch_size: int,
    seed: int,
    outputs: int,
    window: int | None = None,
) -> tf.data.Dataset:
    """One pass over the training rows per epoch: shuffled, bucketed, optionally windowed."""
    lengths = document_lengths(ids)
    rng = np.random.default_rng([seed, 7])
    n_batches = math.ceil(ids.shape[0] / batch_size)
    cut = None if window is None else windows(ids, window, np.random.default_rng([seed, 8]))
    return batch_dataset(
        ids, labels, lambda: train_batches(lengths, batch_size, rng), n_batches, outputs, cut
    )


def eval_dataset(
    ids: NDArray[np.int32], labels: NDArray[np.int8], batch_size: int, outputs: int
) -> tf.data.Dataset:
    """Whole documents in a fixed order, batched by length (validation during training)."""
    order = np.argsort(document_lengths(ids), kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, order.size, batch_size)]
    return batch_dataset(ids, labels, lambda: batches, len(batches), outputs)
