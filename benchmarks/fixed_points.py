"""Default (Levenberg-Marquardt) fixed-point finder vs the Adam reference, side by side.

Every finder runs in the same process on the same starts. Systems: random GRUs
(Keras initialisation, recurrent kernel scaled by a gain) with 64 and 128 units
at gain 1 (easy) and 2 (strong recurrence, many slow points), a random LSTM-128,
and optionally a trained classifier saved by ``dynalyze run`` (``--model``),
started from states it visits on IMDB test documents.

Finders:

* ``LM (default)``: :class:`dynalyze.fixedpoints.LevenbergMarquardtFinder`
  with its defaults (tol 1e-20 on q = 1/2 ||F(h) - h||^2, at most 200 iterations).
* ``Adam lr=1.0 (classic)``: the FixedPointFinder-style reference: Adam with
  learning rate 1.0, x0.95 decay after 5 iterations without improvement, tol
  1e-12, up to ``--adam-iter`` (5,000) iterations, all points held together.
* ``Adam lr=0.05 (tuned)``: the same with learning rate 0.05.
* trained model only: ``LM (paper tol)`` and ``Adam lr=0.05 (paper tol)`` with
  the paper's acceptance criterion ||F(h) - h||^2 / N < 1e-8, i.e. tol = 0.5e-8 N.

Columns: ``speed max conv`` / ``speed max all`` are the largest speed q
recomputed here (with ``system.step``) at the returned states of the converged
candidates / of all candidates; ``true fp`` is the fraction of converged
candidates whose residual norm ||F(h) - h|| is below 1e-9; ``unique`` counts
converged, deduplicated, non-outlier fixed points; ``x LM`` is the wall time
relative to the LM row with the same tolerance group (default tol for the
classic rows, paper tol for the paper rows).

On a busy machine a multithreaded BLAS can make the many small matrix products
of the Adam loop (a network step and a vector-Jacobian product per iteration)
up to 20x slower than with one thread; ``--blas-threads 1`` pins BLAS for every
finder, for a comparison that does not depend on the load.

Usage::

    python benchmarks/fixed_points.py                      # all random systems, 1,024 starts
    python benchmarks/fixed_points.py --model runs/imdb/model --json fp.json
    python benchmarks/fixed_points.py --systems gru128-g2 --starts 4096
    python benchmarks/fixed_points.py --quick              # tiny smoke run (CI)
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    blas_threads,
    csv_strings,
    emit,
    make_parser,
    random_gru,
    random_lstm,
    recipe_keep,
    recipe_max_len,
    split_documents,
    visited_states,
)

from dynalyze.fixedpoints import (
    AdamFinder,
    FixedPointFinder,
    LevenbergMarquardtFinder,
    unique_fixed_points,
)
from dynalyze.systems.base import RecurrentSystem

#: Residual norm below which a converged candidate counts as a true fixed point.
TRUE_FP_RESIDUAL = 1e-9

RANDOM_SYSTEMS: dict[str, Callable[[], RecurrentSystem]] = {
    "gru64-g1": lambda: random_gru(64, 1.0),
    "gru64-g2": lambda: random_gru(64, 2.0),
    "gru128-g1": lambda: random_gru(128, 1.0),
    "gru128-g2": lambda: random_gru(128, 2.0),
    "lstm128": lambda: random_lstm(128, 1.0),
}
QUICK_SYSTEMS: dict[str, Callable[[], RecurrentSystem]] = {
    "gru16-g1": lambda: random_gru(16, 1.0),
    "gru16-g2": lambda: random_gru(16, 2.0),
    "lstm8": lambda: random_lstm(8, 1.0),
}
LABELS = {
    "gru64-g1": "GRU-64 gain 1",
    "gru64-g2": "GRU-64 gain 2",
    "gru128-g1": "GRU-128 gain 1",
    "gru128-g2": "GRU-128 gain 2",
    "lstm128": "LSTM-128",
    "gru16-g1": "GRU-16 gain 1",
    "gru16-g2": "GRU-16 gain 2",
    "lstm8": "LSTM-8",
}


def finders(adam_iter: int, paper_tol: float | None) -> list[tuple[str, str, FixedPointFinder]]:
    """(label, group, finder); the first finder of a group is its time reference."""
    out: list[tuple[str, str, FixedPointFinder]] = [
        ("LM (default)", "default", LevenbergMarquardtFinder()),
        (
            "Adam lr=1.0 (classic)",
            "default",
            AdamFinder(learning_rate=1.0, decay_factor=0.95, tol=1e-12, max_iter=adam_iter),
        ),
        (
            "Adam lr=0.05 (tuned)",
            "default",
            AdamFinder(learning_rate=0.05, decay_factor=0.95, tol=1e-12, max_iter=adam_iter),
        ),
    ]
    if paper_tol is not None:
        out += [
            ("LM (paper tol)", "paper", LevenbergMarquardtFinder(tol=paper_tol)),
            (
                "Adam lr=0.05 (paper tol)",
                "paper",
                AdamFinder(
                    learning_rate=0.05, decay_factor=0.95, tol=paper_tol, max_iter=adam_iter
                ),
            ),
        ]
    return out


def recomputed_speed(system: RecurrentSystem, h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """q = 1/2 ||F(h, x) - h||^2 recomputed at the returned states (inf where not finite)."""
    speed = np.full(h.shape[0], np.inf)
    finite = np.all(np.isfinite(h), axis=1)
    if finite.any():
        with np.errstate(over="ignore", invalid="ignore"):
            r = system.step(h[finite], x[finite]) - h[finite]
            speed[finite] = 0.5 * np.einsum("ni,ni->n", r, r)
    return np.where(np.isfinite(speed), speed, np.inf)


def _median(values: np.ndarray) -> float | int:
    med = float(np.median(values))
    return int(med) if med.is_integer() else med


def _max(values: np.ndarray) -> float:
    return float(np.max(values)) if values.size else float("nan")


def benchmark_system(
    label: str,
    system: RecurrentSystem,
    starts: np.ndarray,
    runs: list[tuple[str, str, FixedPointFinder]],
    threads: int | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per finder, and notes on the true fixed points of the LM rows."""
    x = np.zeros((starts.shape[0], system.input_dim))
    # Warm-up: one-time costs (thread pool, lazy imports) stay out of the timings.
    for _, _, finder in runs:
        attrs.evolve(finder, max_iter=2).find(system, starts[:4])
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    reference: dict[str, float] = {}
    for name, group, finder in runs:
        with blas_threads(threads):
            begin = time.perf_counter()
            ds = finder.find(system, starts)
            seconds = time.perf_counter() - begin
        reference.setdefault(group, seconds)
        status = ds["status"].values
        iterations = ds["iterations"].values
        h = ds["fixed_point_state"].values
        speed = recomputed_speed(system, h, x)
        converged = status == 0
        residual = np.sqrt(2.0 * speed[converged])
        true_fp = float(np.mean(residual < TRUE_FP_RESIDUAL)) if converged.any() else float("nan")
        rows.append(
            {
                "system": label,
                "finder": name,
                "tol": finder.tol,
                "wall s": seconds,
                "med iters": _median(iterations),
                "max iters": int(iterations.max()),
                "converged": float(np.mean(converged)),
                "slow": float(np.mean(status == 1)),
                "failed": float(np.mean(status == 2)),
                "speed max conv": _max(speed[converged]),
                "speed max all": _max(speed),
                "true fp": true_fp,
                "unique": int(unique_fixed_points(ds).sizes["fixed_point"]),
                "x LM": seconds / reference[group],
            }
        )
        if name.startswith("LM") and "gain 2" in label:
            verdict = "yes" if converged.any() and true_fp == 1.0 else "NO"
            notes.append(
                f"{label}, {name}: every converged point is a true fixed point "
                f"(||F(h) - h|| < {TRUE_FP_RESIDUAL:g}): {verdict} "
                f"({int(np.sum(residual < TRUE_FP_RESIDUAL))}/{int(converged.sum())}; "
                f"largest residual {_max(residual):.1e})"
            )
    return rows, notes


def trained_starts(
    path: str, n_starts: int, n_docs: int, max_len: int | None, dataset: str, seed: int
) -> tuple[RecurrentSystem, np.ndarray, str]:
    """The trained network's system and starts sampled from its test-document trajectories."""
    from dynalyze import sample_initial_states
    from dynalyze.classifier import RecurrentClassifier

    clf = RecurrentClassifier.load(path)
    length = max_len if max_len is not None else recipe_max_len(path)
    texts, _ = split_documents(dataset, n_docs)
    ids = clf.vocabulary.encode(texts, length, keep=recipe_keep(path))
    traj = clf.trajectories(ids)
    starts = sample_initial_states(
        traj["hidden_state"].values,
        n_starts,
        mask=traj["valid"].values.astype(bool),
        seed=seed,
    )
    kind = type(clf.system).__name__.removesuffix("System")
    folder = Path(path).resolve()
    run = folder.parent.name if folder.name == "model" else folder.name
    label = f"trained {kind}-{clf.system.state_dim} ({run})"
    return clf.system, starts, label


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument(
        "--systems",
        type=csv_strings,
        default=None,
        help=f"comma-separated subset of {', '.join(RANDOM_SYSTEMS)} (default: all; "
        "'none' for only --model)",
    )
    parser.add_argument("--starts", type=int, default=1024, help="initial states per system")
    parser.add_argument("--adam-iter", type=int, default=5000, help="Adam iteration budget")
    parser.add_argument("--model", metavar="PATH", help="a `dynalyze run` model/ folder")
    parser.add_argument("--docs", type=int, default=1000, help="test documents for --model")
    parser.add_argument(
        "--max-len", type=int, default=None, help="tokens per document (default: the run's)"
    )
    parser.add_argument("--dataset", default="imdb", help="documents for --model (imdb)")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="pin BLAS to this many threads around every finder (default: leave as is)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.getLogger("dynalyze").setLevel(logging.WARNING)

    catalogue = RANDOM_SYSTEMS
    if args.quick:
        catalogue = QUICK_SYSTEMS
        args.starts, args.adam_iter, args.docs = 64, 200, min(args.docs, 32)
    names = list(catalogue) if args.systems is None else args.systems
    names = [name for name in names if name != "none"]
    unknown = sorted(set(names) - set(catalogue))
    if unknown:
        parser.error(f"unknown systems {unknown}; choose from {', '.join(catalogue)}")

    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for name in names:
        system = catalogue[name]()
        starts = visited_states(system, args.starts, noise=0.05, seed=args.seed + 1)
        new_rows, new_notes = benchmark_system(
            LABELS[name], system, starts, finders(args.adam_iter, None), args.blas_threads
        )
        rows += new_rows
        notes += new_notes
    if args.model:
        system, starts, label = trained_starts(
            args.model, args.starts, args.docs, args.max_len, args.dataset, args.seed
        )
        paper_tol = 0.5e-8 * system.state_dim
        new_rows, new_notes = benchmark_system(
            label, system, starts, finders(args.adam_iter, paper_tol), args.blas_threads
        )
        rows += new_rows
        notes += new_notes
    threads = "default" if args.blas_threads is None else str(args.blas_threads)
    notes.append(
        f"{args.starts} starts per system; Adam budget {args.adam_iter} iterations; "
        "wall time of FixedPointFinder.find (solver, status, dedup); BLAS threads around "
        f"the finders: {threads} (LM pins BLAS to one thread inside and parallelises its "
        "batched solves itself)."
    )
    emit({"Fixed points: LM vs Adam": rows}, args, notes=notes, script="fixed_points")


if __name__ == "__main__":
    main()
