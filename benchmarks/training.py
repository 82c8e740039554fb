"""Training of the default run vs the plain Keras baseline, same model, same data, same epochs.

Both sides train the same untrained model (``build_model`` with the recipe's
architecture, sizes and seed) on the same split and vocabulary, with the same
optimiser settings (Adam, the recipe's learning rate, clipnorm, batch size,
epochs), each on the same thread count:

* ``plain Keras``: what a Keras user writes -- every document padded (and cut)
  to the recipe's ``max_len``, ``model.fit(x, y, batch_size, epochs,
  validation_data, shuffle=True)`` on NumPy arrays, ``EarlyStopping`` on
  validation accuracy with the best weights restored (same patience and warm-up
  epochs as the recipe), ``model.evaluate`` on the padded test split.
* ``dynalyze``: :func:`dynalyze.keras.train_model`, what
  ``dynalyze run`` calls: batches bucketed by document length and trimmed to
  their longest document (the padding is masked either way), ``tf.data`` with
  autotuning off, deterministic ops.

Columns: wall time of the training call (fit + test evaluation), epochs run,
seconds per epoch, validation accuracy of the restored epoch, test accuracy,
and the ratio of wall times.

Usage::

    python benchmarks/training.py                       # IMDB GRU, the default run's recipe
    python benchmarks/training.py --dataset rotten_tomatoes --arch lstm
    python benchmarks/training.py --quick               # synthetic task, seconds (CI)
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, make_parser

from dynalyze.sentiment.defaults import default_recipe


def plain_keras(model: Any, data: Any, vocab: Any, recipe: Any, seed: int) -> dict[str, Any]:
    """The baseline: padded NumPy arrays into ``model.fit``."""
    import keras

    keras.utils.set_random_seed(seed)
    pad = {"keep": recipe.keep}
    x_train = vocab.encode(data.train_texts, recipe.max_len, **pad)
    x_val = vocab.encode(data.validation_texts, recipe.max_len, **pad)
    x_test = vocab.encode(data.test_texts, recipe.max_len, **pad)
    y = [np.asarray(v, dtype=np.float32) for v in (data.train_labels, data.validation_labels)]
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=recipe.learning_rate, clipnorm=recipe.clipnorm
        ),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_accuracy",
        mode="max",
        patience=recipe.patience,
        restore_best_weights=True,
        start_from_epoch=recipe.min_epochs,
    )
    begin = time.perf_counter()
    fit = model.fit(
        x_train,
        y[0],
        batch_size=recipe.batch_size,
        epochs=recipe.epochs,
        validation_data=(x_val, y[1]),
        shuffle=True,
        callbacks=[stop],
        verbose=0,
    )
    _, test_accuracy = model.evaluate(
        x_test,
        np.asarray(data.test_labels, dtype=np.float32),
        batch_size=recipe.batch_size,
        verbose=0,
    )
    seconds = time.perf_counter() - begin
    val = fit.history["val_accuracy"]
    best = recipe.min_epochs + int(np.argmax(val[recipe.min_epochs :]))
    return {
        "seconds": seconds,
        "epochs": len(val),
        "validation": float(val[best]),
        "test": float(test_accuracy),
    }


def ours(model: Any, data: Any, vocab: Any, recipe: Any, seed: int) -> dict[str, Any]:
    from dynalyze.keras import train_model

    begin = time.perf_counter()
    result = train_model(
        model,
        data,
        vocab,
        max_len=recipe.max_len,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        seed=seed,
        patience=recipe.patience,
        learning_rate=recipe.learning_rate,
        keep=recipe.keep,
        clipnorm=recipe.clipnorm,
        min_epochs=recipe.min_epochs,
        weight_decay=recipe.weight_decay,
        lr_schedule=recipe.lr_schedule,
        progress=False,
    )
    return {
        "seconds": time.perf_counter() - begin,
        "epochs": result.epochs_run,
        "validation": result.validation_accuracy,
        "test": result.test_accuracy,
    }


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--dataset", default="imdb")
    parser.add_argument("--arch", default=None, help="architecture (default: the recipe's)")
    parser.add_argument("--epochs", type=int, default=None, help="(default: the recipe's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--order",
        default="keras,dynalyze",
        help="which side trains first (comma list); the other order checks warm-up effects",
    )
    args = parser.parse_args(argv)
    logging.getLogger("dynalyze").setLevel(logging.WARNING)
    from dynalyze.keras import build_model
    from dynalyze.sentiment.datasets import load_dataset
    from dynalyze.vocabulary import Vocabulary

    dataset = "synthetic" if args.quick else args.dataset
    recipe = default_recipe(dataset)
    changes: dict[str, Any] = {}
    if args.arch:
        changes["arch"] = args.arch
    if args.epochs:
        changes["epochs"] = args.epochs
        changes["min_epochs"] = min(recipe.min_epochs, args.epochs - 1)
    if args.quick:
        changes.update(epochs=2, min_epochs=0, units=16, embedding_dim=8)
    recipe = attrs.evolve(recipe, **changes)
    data = load_dataset(
        dataset, seed=args.seed, max_train=recipe.max_train, synthetic=recipe.synthetic
    )
    vocab = Vocabulary.build(
        data.train_texts, max_tokens=recipe.max_tokens, min_count=recipe.min_count
    )

    def fresh() -> Any:
        return build_model(
            recipe.arch,
            len(vocab),
            units=recipe.units,
            embedding_dim=recipe.embedding_dim,
            seed=args.seed,
            dropout=recipe.dropout,
        )

    sides = {
        "keras": ("plain Keras (padded to max_len)", plain_keras),
        "dynalyze": ("dynalyze train_model (bucketed)", ours),
    }
    results: dict[str, dict[str, Any]] = {}
    for key in [k.strip() for k in args.order.split(",")]:
        label, fn = sides[key]
        results[key] = {"label": label, **fn(fresh(), data, vocab, recipe, args.seed)}
    base = results["keras"]["seconds"]
    rows = [
        {
            "dataset": dataset,
            "arch": recipe.arch,
            "training": r["label"],
            "wall s": r["seconds"],
            "epochs": r["epochs"],
            "s / epoch": r["seconds"] / r["epochs"],
            "val acc": r["validation"],
            "test acc": r["test"],
            "speed-up vs plain Keras": base / r["seconds"],
        }
        for r in results.values()
    ]
    notes = [
        f"recipe: max_len {recipe.max_len} (keep {recipe.keep}), batch {recipe.batch_size}, "
        f"up to {recipe.epochs} epochs (warm-up {recipe.min_epochs}, patience {recipe.patience}), "
        f"Adam lr {recipe.learning_rate}, clipnorm {recipe.clipnorm}, {recipe.units} units; "
        f"{data.sizes} documents; same seed and initial weights on both sides.",
        f"order: {args.order}.",
    ]
    emit({"Training: dynalyze vs plain Keras": rows}, args, notes=notes, script="training")


if __name__ == "__main__":
    main()
