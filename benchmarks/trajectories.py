"""Collecting hidden states vs a plain ``model.predict`` on the same documents.

The same id matrix (IMDB test documents, padded at the end to ``max_len``)
goes through

* ``model.predict``: Keras's own batched inference, final logits only (the
  reference, batch size ``--batch-size``);
* ``clf.logits``: the same model, documents batched by length (no states);
* ``clf.iter_states``: every hidden state, streamed batch by batch (the
  recurrent layer's own vectorized pass, documents batched by length);
* ``clf.trajectories``: the same, assembled into the labelled ``trajectories``
  dataset (``documents x time x state`` float32 plus tokens).

``cold s`` is the first call (tracing included), ``warm s`` the best of
``--repeat`` further calls; ``x predict`` divides warm times by the warm
``model.predict`` time. Target (issue 4): trajectory collection at most 1.3x
``model.predict``.

With ``--model PATH`` (a ``dynalyze run`` ``model/`` folder) the trained
classifier is used, with the run's ``max_len``; without it, an untrained model
of the default shape (GRU, 64 units, embedding 64, vocabulary built from the
documents, at most 20,000 tokens): the cost does not depend on the weights.

Usage::

    python benchmarks/trajectories.py                         # whole IMDB test split, 400 tokens
    python benchmarks/trajectories.py --model runs/imdb/model --json traj.json
    python benchmarks/trajectories.py --quick                 # 64 short documents (CI)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, make_parser, recipe_keep, recipe_max_len, split_documents


def classifier(model: str | None, texts: list[str], seed: int) -> Any:
    from dynalyze.classifier import RecurrentClassifier

    if model is not None:
        return RecurrentClassifier.load(model)
    from dynalyze.keras import build_model
    from dynalyze.vocabulary import Vocabulary

    vocab = Vocabulary.build(texts, max_tokens=20000)
    keras_model = build_model("gru", len(vocab), units=64, embedding_dim=64, seed=seed)
    return RecurrentClassifier.from_model(keras_model, vocab)


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(first call, best of ``repeat`` further calls) in seconds."""
    start = time.perf_counter()
    fn()
    cold = time.perf_counter() - start
    warm = np.inf
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        warm = min(warm, time.perf_counter() - start)
    return cold, float(warm)


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--model", metavar="PATH", help="a `dynalyze run` model/ folder")
    parser.add_argument("--docs", type=int, default=None, help="documents (default: all test)")
    parser.add_argument("--max-len", type=int, default=None, help="tokens (default: run's/400)")
    parser.add_argument("--dataset", default="imdb")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=2, help="warm calls (best is reported)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.docs = 64 if args.docs is None else min(args.docs, 64)
        args.max_len = 50 if args.max_len is None else args.max_len
        args.repeat = 1
    max_len = args.max_len
    if max_len is None:
        max_len = recipe_max_len(args.model) if args.model else 400
    keep = recipe_keep(args.model) if args.model else "first"

    texts, _ = split_documents(args.dataset, args.docs if args.docs is not None else 10**9)
    clf = classifier(args.model, texts, args.seed)
    ids = clf.vocabulary.encode(texts, max_len, keep=keep)
    lengths = (ids != 0).sum(axis=1)
    batch = args.batch_size

    def stream() -> int:
        count = 0
        for part in clf.iter_states(ids, batch_size=batch):
            count += int(part.valid.sum())
        return count

    runs: dict[str, Callable[[], Any]] = {
        "model.predict": lambda: clf.model.predict(ids, batch_size=batch, verbose=0),
        "clf.logits (by length)": lambda: clf.logits(ids, batch_size=batch),
        "clf.iter_states (stream)": stream,
        "clf.trajectories (dataset)": lambda: clf.trajectories(ids, batch_size=batch),
    }
    times = {name: measure(fn, args.repeat) for name, fn in runs.items()}
    reference = times["model.predict"][1]
    state_dim = clf.system.state_dim
    rows = [
        {
            "method": name,
            "docs": len(texts),
            "max_len": max_len,
            "cold s": cold,
            "warm s": warm,
            "x predict": warm / reference,
            "docs/s": len(texts) / warm,
        }
        for name, (cold, warm) in times.items()
    ]
    worst = max(times["clf.iter_states (stream)"][1], times["clf.trajectories (dataset)"][1])
    notes = [
        f"model: {args.model or 'untrained GRU-64 (default shape)'}; {len(texts)} "
        f"{args.dataset} test documents, {int(lengths.sum())} tokens (median length "
        f"{int(np.median(lengths))}, max_len {max_len}); batch size {batch}; "
        f"states {state_dim} float32.",
        f"trajectory collection / model.predict = {worst / reference:.2f} "
        f"(target <= 1.3): {'met' if worst / reference <= 1.3 else 'MISSED'}",
    ]
    emit({"Trajectories vs model.predict": rows}, args, notes=notes, script="trajectories")


if __name__ == "__main__":
    main()
