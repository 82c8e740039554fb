"""The ``dynalyze`` command.

``dynalyze run`` trains a sentiment RNN on bundled data and reverse-engineers
it; ``dynalyze analyze MODEL`` runs the same analysis on an existing model;
``dynalyze sweep`` trains and analyses a grid of networks on Dask and compares
their mechanisms; ``dynalyze systems`` lists the installed recurrent systems and
``dynalyze analyses`` the installed analyses.

A user mistake ends with one clear line on stderr and a non-zero exit status,
never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

logger = logging.getLogger("dynalyze")

EXIT_USER_ERROR = 2
EXIT_JOBS_FAILED = 1
EXIT_INTERRUPTED = 130


def _count_or_all(value: str) -> int | None:
    if value.strip().lower() == "all":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'all'; got {value!r}") from None


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        default="imdb",
        help="imdb (default), rotten_tomatoes, synthetic, csv:PATH with text and label "
        "columns, or an N-class dataset: bbc_news (5 topics), synthetic_categorical, "
        "synthetic_ordered",
    )
    parser.add_argument(
        "--max-len",
        type=int,
        default=None,
        help="tokens kept per document (default: the dataset's recipe)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    parser.add_argument(
        "--out", default="dynalyze-output", help="output folder (default ./dynalyze-output)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output folder"
    )
    parser.add_argument(
        "--n-analysis",
        type=_count_or_all,
        default=1000,
        help="test documents analysed, or 'all' for the whole test split (states are "
        "streamed, so memory stays bounded; default 1000)",
    )
    parser.add_argument(
        "--n-initial", type=int, default=1000, help="fixed-point searches (default 1000)"
    )
    parser.add_argument(
        "--baseline",
        default="mean",
        help="input the dynamics are analysed at: mean (default; the mean token embedding of "
        "the training documents, the input the network runs at) or zero (the paper's x = 0); "
        "the other is reported beside it",
    )
    parser.add_argument(
        "--analyses",
        type=_names,
        default=None,
        help="comma-separated analyses to run (default: every installed analysis that applies "
        "to the network: line_attractor and modifier_words for two classes, "
        "simplex_attractor for more, and any plug-in's)",
    )
    parser.add_argument(
        "--max-train",
        type=int,
        default=None,
        help="use at most this many training documents (quick runs)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")


def _names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected analysis names separated by commas")
    return names


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``dynalyze`` command."""
    from dynalyze._version import __version__

    parser = argparse.ArgumentParser(
        prog="dynalyze",
        description="Reverse-engineer recurrent neural networks: fixed points, "
        "linearization and line attractors.",
    )
    parser.add_argument("--version", action="version", version=f"dynalyze {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="train a sentiment RNN on bundled data and reverse-engineer it",
        description="Train Embedding -> RNN -> Dense on a sentiment dataset and run the "
        "paper's analysis. With no options: a GRU on IMDB.",
    )
    run.add_argument("--arch", default="gru", help="gru (default), lstm, simple, ugrnn")
    run.add_argument("--units", type=int, default=None, help="recurrent units")
    run.add_argument("--embedding-dim", type=int, default=None, help="embedding size")
    run.add_argument("--vocab-size", type=int, default=None, help="vocabulary size")
    run.add_argument("--epochs", type=int, default=None, help="maximum training epochs")
    run.add_argument("--batch-size", type=int, default=None, help="training batch size")
    run.add_argument(
        "--window",
        type=int,
        default=None,
        help="train on random windows of this many tokens of each document (0: whole "
        "documents; default: the dataset's recipe)",
    )
    _add_common(run)

    analyze = sub.add_parser(
        "analyze",
        help="analyse an existing trained model (.keras + vocabulary)",
        description="Run the analysis on a trained Embedding -> RNN -> Dense model: a folder "
        "with model.keras and vocabulary.txt, or a .keras file with --vocabulary.",
    )
    analyze.add_argument("model", help="model folder or .keras file")
    analyze.add_argument(
        "--vocabulary", default=None, help="vocabulary file (one token per line, line i = id i)"
    )
    analyze.add_argument("--layer", default=None, help="recurrent layer to analyse")
    analyze.add_argument(
        "--unsafe-load",
        action="store_true",
        help="load models with code-carrying layers (Keras safe_mode=False); only for "
        "files you trust",
    )
    _add_common(analyze)

    sweep = sub.add_parser(
        "sweep",
        help="train and analyse a grid of networks on Dask; compare their mechanisms",
        description="Run `dynalyze run` for every architecture x dataset x seed (x "
        "hyperparameter values) on a Dask cluster, then write sweep.nc, universality.nc "
        "and a universality report. Lists are comma-separated. Running the same sweep "
        "again skips finished jobs.",
    )
    sweep.add_argument("--arch", default="gru,lstm,ugrnn,simple", help="architectures")
    sweep.add_argument("--dataset", default="rotten_tomatoes", help="datasets")
    sweep.add_argument("--seed", default="0,1", help="seeds (default 0,1)")
    for name, kind in (
        ("units", "int"),
        ("embedding-dim", "int"),
        ("epochs", "int"),
        ("max-len", "int"),
        ("max-train", "int"),
        ("batch-size", "int"),
        ("n-initial", "int"),
        ("n-analysis", "int"),
        ("learning-rate", "float"),
        ("window", "int"),
    ):
        sweep.add_argument(
            f"--{name}", default=None, help=f"{kind} value(s) of {name}; several make a dimension"
        )
    sweep.add_argument("--out", default="dynalyze-sweep", help="sweep folder")
    sweep.add_argument(
        "--workers", type=int, default=2, help="workers of the local Dask cluster (default 2)"
    )
    sweep.add_argument(
        "--scheduler",
        default=None,
        help="address of a running Dask scheduler (tcp://host:8786) instead of a local cluster",
    )
    sweep.add_argument(
        "--retries", type=int, default=2, help="retries of a job after an unexpected error"
    )
    sweep.add_argument(
        "--n-probe", type=int, default=200, help="probe documents for the geometry comparison"
    )
    sweep.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sweep.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sweep.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")

    sub.add_parser("systems", help="list the installed recurrent systems")
    sub.add_parser("analyses", help="list the installed analyses (built-in and plug-ins)")
    return parser


def _configure_logging(quiet: bool, debug: bool) -> tuple[logging.Handler, int]:
    """Add the command's handler to the ``dynalyze`` logger for this run only.

    Propagation is left alone, so an application's own handlers keep receiving
    the library's records; :func:`main` removes the handler and restores the
    level when it returns.
    """
    level = logging.DEBUG if debug else (logging.WARNING if quiet else logging.INFO)
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter(
            "%(levelname)s %(name)s: %(message)s" if debug else "dynalyze: %(message)s"
        )
    )
    handler.setLevel(level)
    logger = logging.getLogger("dynalyze")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(min(level, previous) if previous else level)
    return handler, previous


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover
        pass


def _config(args: argparse.Namespace, **extra: Any) -> Any:
    from dynalyze.sentiment.pipeline import RunConfig

    return RunConfig.build(
        dataset=args.dataset,
        max_len=args.max_len,
        seed=args.seed,
        out=args.out,
        overwrite=args.overwrite,
        n_analysis=args.n_analysis,
        n_initial=args.n_initial,
        baseline=args.baseline,
        analyses=args.analyses,
        max_train=args.max_train,
        progress=not args.no_progress,
        **extra,
    )


def _summary_line(result: Any, seconds: float) -> str:
    s = result.summary
    acc = s.get("test_accuracy")
    clusters = s.get("n_fixed_point_clusters")
    slow = s.get("slow_fraction")
    where = {"mean": "at the mean-embedding baseline: ", "zero": "at x = 0: "}.get(
        str(s.get("baseline")), ""
    )
    zero = s.get("mechanism_at_zero")
    parts = [
        f"{s.get('arch')} on {s.get('dataset')}",
        f"test accuracy {100 * acc:.1f}%" if acc is not None else "",
        f"{where}{s.get('n_accepted')} approximate fixed points in {clusters} clusters "
        f"({s.get('n_stable_clusters')} stable, {s.get('n_unstable_clusters')} unstable)"
        if clusters is not None
        else f"{where}{s.get('n_accepted')} approximate fixed points",
        f"slow over a document on {100 * slow:.0f}% of the line" if slow is not None else "",
        str(s.get("mechanism", "")).replace("_", " "),
        f"at x = 0: {str(zero).replace('_', ' ')}" if zero else "",
    ]
    described = ", ".join(p for p in parts if p)
    model = ", model/" if (Path(result.out) / "model").exists() else ""
    return (
        f"Done in {seconds / 60:.1f} min ({described}). Results in {result.out}: "
        f"report.md, results/*.nc, figures/*.png{model}."
    )


def _run(args: argparse.Namespace) -> int:
    from dynalyze.sentiment.pipeline import run_pipeline

    config = _config(
        args,
        arch=args.arch,
        units=args.units,
        embedding_dim=args.embedding_dim,
        vocab_size=args.vocab_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        window=args.window,
    )
    start = time.perf_counter()
    result = run_pipeline(config)
    print(_summary_line(result, time.perf_counter() - start))
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from dynalyze.sentiment.pipeline import analyze_model

    config = _config(args)
    start = time.perf_counter()
    result = analyze_model(
        args.model,
        config,
        vocabulary=args.vocabulary,
        safe_mode=not args.unsafe_load,
        layer=args.layer,
    )
    print(_summary_line(result, time.perf_counter() - start))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from dynalyze.sweep import SweepGrid, parse_list, run_sweep
    from dynalyze.sweep.grid import HYPERPARAMETERS

    hyper = {
        name: parse_list(getattr(args, name), kind)
        for name, kind in HYPERPARAMETERS.items()
        if getattr(args, name, None) is not None
    }
    grid = SweepGrid(
        architectures=parse_list(args.arch),
        datasets=parse_list(args.dataset),
        seeds=parse_list(args.seed, int),
        hyperparameters=hyper,
    )
    if not args.debug:
        logging.getLogger("distributed").setLevel(logging.WARNING)
    start = time.perf_counter()
    result = run_sweep(
        grid,
        out=args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        retries=args.retries,
        n_probe=args.n_probe,
        progress=not args.no_progress,
    )
    print(
        f"Sweep done in {(time.perf_counter() - start) / 60:.1f} min: "
        f"{len(result.outcomes)} jobs, {result.n_trained} trained now, "
        f"{result.n_skipped} finished before, {result.n_failed} failed. Results in "
        f"{result.out}: report.md, sweep.nc, universality.nc, figures/, jobs/."
    )
    for outcome in result.outcomes:
        if outcome.status == "failed":
            print(f"dynalyze: job {outcome.key} failed: {outcome.error}", file=sys.stderr)
    return EXIT_JOBS_FAILED if result.n_failed else 0


def _systems() -> int:
    from dynalyze.keras import list_systems

    for name, cls in list_systems().items():
        doc = (cls.__doc__ or "").strip().splitlines()
        print(f"{name:12s} {cls.__module__}.{cls.__qualname__}  {doc[0] if doc else ''}")
    return 0


def _analyses() -> int:
    from dynalyze.analyses import list_analyses

    for name, cls in list_analyses().items():
        doc = (cls.__doc__ or "").strip().splitlines()
        needs = f" (after {', '.join(cls.requires)})" if cls.requires else ""
        print(f"{name:18s} {cls.__module__}.{cls.__qualname__}{needs}  {doc[0] if doc else ''}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dynalyze`` command; returns the exit status.

    Examples
    --------
    >>> main(["systems"])  # doctest: +ELLIPSIS
    simple_rnn ...
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USER_ERROR
    debug = bool(getattr(args, "debug", False))
    handler, previous_level = _configure_logging(bool(getattr(args, "quiet", False)), debug)
    _quiet_tensorflow()
    from dynalyze.errors import DynalyzeError

    try:
        if args.command == "run":
            return _run(args)
        if args.command == "analyze":
            return _analyze(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "analyses":
            return _analyses()
        return _systems()
    except DynalyzeError as exc:
        if debug:
            raise
        print(f"dynalyze: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("dynalyze: interrupted; no results were written.", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        logger = logging.getLogger("dynalyze")
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
