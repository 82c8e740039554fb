"""The paper's analysis end to end: train (or load) a sentiment RNN and reverse-engineer it.

:func:`run_pipeline` is what ``dynalyze run`` executes: load the data, build the
vocabulary, train the network and the bag-of-words baseline, collect hidden
states of held-out documents, find the approximate fixed points, linearize,
fit the line attractor, and write the model, netCDF results, PNG figures and a
Markdown report that puts every number beside the paper's. ``dynalyze analyze``
runs the same analysis on an existing model (:func:`analyze_model`).

The output folder is assembled in a temporary sibling folder and moved into
place at the end, so a failed run never leaves half a result and never touches
an existing output folder unless ``overwrite`` is set.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from dynalyze._atomic import atomic_folder
from dynalyze._timing import Stopwatch
from dynalyze._validation import (
    attrs_optional_positive,
    attrs_optional_positive_int,
    attrs_positive_int,
)
from dynalyze._version import __version__
from dynalyze.errors import (
    ConfigurationError,
    DataError,
    DynalyzeError,
    OutputError,
    OutputExistsError,
)
from dynalyze.sentiment.defaults import Recipe, default_recipe

if TYPE_CHECKING:
    from dynalyze.analyses import AnalysisOptions

__all__ = ["RunConfig", "RunResult", "analyze_model", "run_pipeline"]

logger = logging.getLogger(__name__)



@attrs.frozen(kw_only=True)
class RunConfig:
    """Everything ``dynalyze run`` / ``dynalyze analyze`` can be told.

    Options left at ``None`` take the dataset's recipe
    (:func:`dynalyze.sentiment.defaults.default_recipe`).

    Parameters
    ----------
    dataset : str
        ``"imdb"``, ``"rotten_tomatoes"``, ``"synthetic"`` or ``"csv:PATH"``.
    arch : str
        Recurrent architecture (``"gru"``, ``"lstm"``, ``"simple"``, ...).
    units, embedding_dim, vocab_size, max_len, epochs, batch_size : int, optional
        Network and training sizes.
    learning_rate : float, optional
        Adam learning rate.
    patience : int, optional
        Early-stopping patience (epochs without a better validation accuracy).
    max_train : int, optional
        Use at most this many training documents (quick runs).
    window : int, optional
        Train on random windows of this many tokens (0: whole documents; ``None``:
        the recipe's choice).
    n_analysis : int or None
        Held-out (test) documents whose trajectories are analysed (``None``: the
        whole test split; memory stays bounded, states are streamed).
    n_initial : int
        Fixed-point searches.
    baseline : {"mean", "zero"}
        The input the dynamics are analysed at: ``"mean"``, the mean token
        embedding of the training documents (the input the network runs at), or
        ``"zero"``, the paper's literal ``x = 0`` (:mod:`dynalyze.baseline`). The
        other one is reported beside it.
    base_recipe : Recipe, optional
        A whole training recipe (weight decay, dropout, schedule, ...) to start
        from instead of the dataset's default; the options above still override
        its fields.
    analyses : tuple of str or Analysis, optional
        Which analyses to run: names (``"line_attractor"``, ``"modifier_words"``,
        ``"simplex_attractor"`` or a plug-in's) and configured
        :class:`~dynalyze.analyses.Analysis` instances (e.g.
        ``LineAttractorAnalysis(config=LineAttractor(n_initial=200))``). Default:
        every installed analysis that applies to the classifier
        (:func:`dynalyze.analyses.analyses_for`).
    seed : int
        Seed of the split, the initialisation, training and the analysis.
    out : str
        Output folder.
    overwrite : bool
        Replace an existing output folder.
    progress : bool
        Show progress bars.

    Examples
    --------
    >>> RunConfig(dataset="synthetic", arch="gru").recipe().units
    16
    """

    dataset: str = attrs.field(default="imdb")
    arch: str = attrs.field(default="gru")
    units: int | None = attrs.field(default=None, validator=attrs_optional_positive_int)
    embedding_dim: int | None = attrs.field(default=None, validator=attrs_optional_positive_int)
    vocab_size: int | None = attrs.field(default=None, validator=attrs_optional_positive_int)
    max_len: int | None = attrs.field(default=None, validator=attrs_optional_positive_int)
    epochs: int | None = attrs.field(default=None, validator=attrs_optional_positive_int)
    batch_size: int | None = attrs.field(default=None, validator=attrs_optional_positive_int)
    learning_rate: float | None = attrs.field(default=None, validator=attrs_optional_positive)
    patience: int | None = attrs.field(default=None, validator=attrs_optional_positive_int)
    max_train: int | None = attrs.field(default=None, validator=attrs_optional_positive_int)
    window: int | None = attrs.field(default=None)
    n_analysis: int | None = attrs.field(default=1000, validator=attrs_optional_positive_int)
    n_initial: int = attrs.field(default=1000, validator=attrs_positive_int)
    baseline: str = attrs.field(default="mean")
    base_recipe: Recipe | None = None
    analyses: tuple[Any, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(tuple)
    )
    seed: int = 0
    out: str = "dynalyze-output"
    overwrite: bool = False
    progress: bool = True

    @window.validator
    def _check_window(self, _attribute: Any, value: int | None) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ConfigurationError(
                f"window must be an integer >= 0 (0: whole documents); got {value!r}."
            )

    @baseline.validator
    def _check_baseline(self, _attribute: Any, value: str) -> None:
        if value not in ("mean", "zero"):
            raise ConfigurationError(
                f"baseline must be 'mean' (the mean token embedding of the training "
                f"documents) or 'zero' (x = 0); got {value!r}."
            )

    @arch.validator
    def _check_arch(self, _attribute: Any, value: str) -> None:
        from dynalyze.keras.architectures import ARCHITECTURES

        if value not in ARCHITECTURES:
            raise ConfigurationError(
                f"Unknown architecture {value!r}; choose one of {sorted(ARCHITECTURES)}."
            )

    @dataset.validator
    def _check_dataset(self, _attribute: Any, value: str) -> None:
        from dynalyze.sentiment.datasets import DATASET_NAMES

        if value.startswith("csv:"):
            if len(value) == 4:
                raise ConfigurationError("csv: needs a path, e.g. --dataset csv:reviews.csv.")
            return
        if value not in DATASET_NAMES:
            names = [n for n in DATASET_NAMES if n != "csv:PATH"] + ["csv:PATH"]
            raise ConfigurationError(f"Unknown dataset {value!r}; choose one of {names}.")

    @analyses.validator
    def _check_analyses(self, _attribute: Any, value: tuple[Any, ...] | None) -> None:
        from dynalyze.analyses import Analysis, list_analyses

        bad = [item for item in value or () if not isinstance(item, (str, Analysis))]
        if bad:
            raise ConfigurationError(
                f"analyses must be analysis names or dynalyze.analyses.Analysis instances; "
                f"got {bad!r}."
            )
        names = [item for item in value or () if isinstance(item, str)]
        installed = list_analyses() if names else {}
        unknown = [name for name in names if name not in installed]
        if unknown:
            raise ConfigurationError(
                f"Unknown analysis {unknown}; installed: {', '.join(installed)} "
                "(a plug-in package adds its own; see tutorials/add_your_own_analysis.py)."
            )

    def options(self) -> AnalysisOptions:
        """The options every analysis shares (sizes, baseline, seed, progress)."""
        from dynalyze.analyses import AnalysisOptions

        return AnalysisOptions(
            n_analysis=self.n_analysis,
            n_initial=self.n_initial,
            baseline=self.baseline,
            seed=self.seed,
            progress=self.progress,
        )

    def analysis_names(self) -> list[str] | None:
        """Names of the analyses asked for (None: every one that applies)."""
        if self.analyses is None:
            return None
        return [item if isinstance(item, str) else item.name for item in self.analyses]

    def configured_analyses(self) -> list[Any]:
        """The configured Analysis instances among :attr:`analyses`."""
        return [item for item in self.analyses or () if not isinstance(item, str)]

    def recipe(self) -> Recipe:
        """The dataset's default recipe with this configuration's options applied."""
        base = self.base_recipe or default_recipe(self.dataset)
        recipe = base.with_overrides(
            arch=self.arch,
            units=self.units,
            embedding_dim=self.embedding_dim,
            max_tokens=self.vocab_size,
            max_len=self.max_len,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            patience=self.patience,
            max_train=self.max_train,
        )
        if self.window is not None:
            recipe = attrs.evolve(recipe, window=self.window or None)
        return recipe


@attrs.frozen
class RunResult:
    """Where a run wrote its outputs and its headline numbers.

    Parameters
    ----------
    out : pathlib.Path
        The output folder.
    summary : dict
        Headline numbers (accuracies, fixed points, spectra...).
    timings : dict
        Seconds per stage.

    Examples
    --------
    :func:`run_pipeline` and :func:`analyze_model` return one (see the example of
    :func:`analyze_model`); it is a frozen attrs class:

    >>> import attrs
    >>> [field.name for field in attrs.fields(RunResult)]
    ['out', 'summary', 'timings']
    >>> result = RunResult(Path("dynalyze-output"), {"arch": "gru"}, {"training": 6.5})
    >>> attrs.evolve(result, summary={"arch": "lstm"}).summary, result.summary
    ({'arch': 'lstm'}, {'arch': 'gru'})
    """

    out: Path
    summary: dict[str, Any]
    timings: dict[str, float]


@contextmanager
def _output_folder(out: str | os.PathLike[str], overwrite: bool) -> Iterator[Path]:
    """A staging folder that becomes ``out`` only if the block succeeds (atomic_folder)."""
    target = Path(out).resolve()
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target} exists and is not a folder; choose another --out.")
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"Output folder {target} already holds results; pass --overwrite to replace "
            "them or choose another --out."
        )
    try:
        with atomic_folder(target) as staging:
            yield staging
    except DynalyzeError:
        raise  # already says what happened (e.g. a model that cannot be loaded)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = Path(exc.filename).resolve() if exc.filename else None
        if where is None or where == target.parent or target.parent in where.parents:
            raise OutputError(f"Cannot write to {target.parent}: {reason}.") from None
        raise DataError(f"Cannot read {where}: {reason}.") from None


def run_pipeline(config: RunConfig) -> RunResult:
    """Train a sentiment RNN and reverse-engineer it (``dynalyze run``).

    Parameters
    ----------
    config : RunConfig
        What to run; see :class:`RunConfig`.

    Returns
    -------
    RunResult

    Raises
    ------
    dynalyze.errors.OutputExistsError
        ``config.out`` already holds files and ``config.overwrite`` is not set.
    dynalyze.errors.OutputError
        ``config.out`` is a file, or its folder cannot be written.

    Examples
    --------
    A run trains a network first, which takes more than 10 s even for a tiny
    one on the synthetic task (the example of :func:`analyze_model` analyses a
    saved model instead). The output folder is checked before any work is
    done, and an existing one is never touched without ``overwrite=True``:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as out:
    ...     _ = (Path(out) / "report.md").write_text("an earlier run")
    ...     config = RunConfig(dataset="synthetic", out=out)
    ...     run_pipeline(config)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.OutputExistsError: Output folder ... already holds results; pass --overwrite ...
    """
    from dynalyze.keras import build_model, save_model, train_model
    from dynalyze.sentiment.datasets import load_dataset
    from dynalyze.vocabulary import Vocabulary

    cfg = config
    recipe = cfg.recipe()
    stages = Stopwatch(logger)
    with _output_folder(cfg.out, cfg.overwrite) as staging:
        with stages("data"):
            data = load_dataset(
                cfg.dataset, seed=cfg.seed, max_train=recipe.max_train, synthetic=recipe.synthetic
            )
            vocab = Vocabulary.build(
                data.train_texts, max_tokens=recipe.max_tokens, min_count=recipe.min_count
            )
            logger.info(
                "%s: %s documents, vocabulary of %d tokens", cfg.dataset, data.sizes, len(vocab)
            )
        with stages("training"):
            model = build_model(
                recipe.arch,
                len(vocab),
                units=recipe.units,
                embedding_dim=recipe.embedding_dim,
                seed=cfg.seed,
                dropout=recipe.dropout,
                n_classes=data.n_classes,
            )
            training = train_model(
                model,
                data,
                vocab,
                max_len=recipe.max_len,
                epochs=recipe.epochs,
                batch_size=recipe.batch_size,
                seed=cfg.seed,
                patience=recipe.patience,
                learning_rate=recipe.learning_rate,
                keep=recipe.keep,
                clipnorm=recipe.clipnorm,
                min_epochs=min(recipe.min_epochs, recipe.epochs - 1),
                weight_decay=recipe.weight_decay,
                lr_schedule=recipe.lr_schedule,
                window=recipe.window,
                progress=cfg.progress,
            )
            save_model(model, vocab, staging / "model")
        untrained = build_model(
            recipe.arch,
            len(vocab),
            units=recipe.units,
            embedding_dim=recipe.embedding_dim,
            seed=cfg.seed + 1,
            n_classes=data.n_classes,
        )
        summary = _analyze(
            model,
            untrained,
            vocab,
            data,
            cfg,
            recipe,
            staging,
            stages,
            training=training.describe(),
        )
        result = RunResult(Path(cfg.out).resolve(), summary, dict(stages.timings))
    return result


def analyze_model(
    model_path: str | os.PathLike[str],
    config: RunConfig,
    *,
    vocabulary: str | os.PathLike[str] | None = None,
    safe_mode: bool = True,
    layer: str | None = None,
) -> RunResult:
    """Run the analysis on an existing trained model (``dynalyze analyze``).

    Parameters
    ----------
    model_path : path-like
        A model folder (``model.keras`` + ``vocabulary.txt``) or ``.keras`` file.
    config : RunConfig
        Dataset, analysis sizes, seed and output folder (training options are
        ignored; ``max_len`` is used to encode documents).
    vocabulary : path-like, optional
        Vocabulary file if not beside the model.
    safe_mode : bool
        Keras safe mode when loading (default on).
    layer : str, optional
        Name of the recurrent layer when the model has several.

    Returns
    -------
    RunResult

    Examples
    --------
    A tiny untrained GRU saved with its vocabulary, analysed on 20 synthetic
    documents (a few seconds once Keras is imported; a trained model is
    analysed the same way):

    >>> import tempfile
    >>> from dynalyze.keras import save_model
    >>> from dynalyze.sentiment.datasets import load_dataset
    >>> from dynalyze.sentiment.models import build_model
    >>> from dynalyze.vocabulary import Vocabulary
    >>> tmp = tempfile.TemporaryDirectory()
    >>> vocab = Vocabulary.build(load_dataset("synthetic").train_texts)
    >>> model = build_model("gru", len(vocab), units=4, embedding_dim=3)
    >>> folder = save_model(model, vocab, Path(tmp.name) / "model")
    >>> config = RunConfig(dataset="synthetic", n_analysis=20, n_initial=20,
    ...                    out=str(Path(tmp.name) / "out"), progress=False)
    >>> result = analyze_model(folder, config)
    >>> sorted(path.name for path in result.out.iterdir())
    ['figures', 'report.md', 'results', 'run.json']
    >>> result.summary["arch"], result.summary["n_candidates"]
    ('gru', 20)
    >>> tmp.cleanup()
    """
    from dynalyze.classifier import RecurrentClassifier
    from dynalyze.keras import architecture_of, untrained_copy
    from dynalyze.sentiment.datasets import load_dataset

    cfg = config
    recipe = cfg.recipe()
    stages = Stopwatch(logger)
    with _output_folder(cfg.out, cfg.overwrite) as staging:
        with stages("load model"):
            clf = RecurrentClassifier.load(model_path, vocabulary, layer=layer, safe_mode=safe_mode)
        arch = architecture_of(clf.system)
        if arch != recipe.arch:
            logger.info("the model's recurrent layer is %s; reporting it as such", arch)
            recipe = attrs.evolve(recipe, arch=arch)
        with stages("data"):
            data = load_dataset(
                cfg.dataset, seed=cfg.seed, max_train=recipe.max_train, synthetic=recipe.synthetic
            )
        untrained = untrained_copy(clf.model, seed=cfg.seed + 1)
        summary = _analyze(
            clf.model,
            untrained,
            clf.vocabulary,
            data,
            cfg,
            recipe,
            staging,
            stages,
            training={"model_path": str(model_path)},
            classifier=clf,
        )
        result = RunResult(Path(cfg.out).resolve(), summary, dict(stages.timings))
    return result


def _analyze(
    model: Any,
    untrained_model: Any,
    vocab: Any,
    data: Any,
    cfg: RunConfig,
    recipe: Recipe,
    staging: Path,
    stages: Stopwatch,
    *,
    training: dict[str, Any],
    classifier: Any = None,
) -> dict[str, Any]:
    """The bag-of-words baseline, then every analysis that applies, then the report."""
    from dynalyze.analyses import RunContext, analyses_for
    from dynalyze.analyses.report import write_report
    from dynalyze.analyses.run import run_analyses
    from dynalyze.classifier import RecurrentClassifier
    from dynalyze.sentiment.bow import fit_bow

    clf = classifier or RecurrentClassifier.from_model(model, vocab)
    clf.provenance.update(dataset=cfg.dataset, seed=cfg.seed)
    analyses = analyses_for(clf, names=cfg.analysis_names(), overrides=cfg.configured_analyses())
    with stages("bag of words"):
        bow = fit_bow(data, vocab, max_len=recipe.max_len, keep=recipe.keep, seed=cfg.seed)
    context = RunContext(
        classifier=clf,
        data=data,
        max_len=recipe.max_len,
        keep=recipe.keep,
        options=cfg.options(),
        bow=bow,
        untrained_model=untrained_model,
    )
    with stages("test accuracy"):
        test_accuracy = context.test_accuracy
    run = run_analyses(analyses, context, staging, stage=stages)
    for output in run.outputs.values():
        stages.timings.update(output.timings)
    summary = {
        **run.summary,
        "dataset": recipe.dataset,
        "arch": recipe.arch,
        "units": recipe.units,
        "test_accuracy": test_accuracy,
        "bow_test_accuracy": float(bow.test_accuracy),
        "best_epoch": training.get("best_epoch"),
        "epochs_run": training.get("epochs_run"),
    }
    with stages("report"):
        write_report(staging / "report.md", summary, run.sections, run.figures, recipe, cfg)
        write_run_record(staging, cfg, recipe, run.record(), data, training, bow, summary, stages)
    return summary


def write_run_record(
    staging: Path,
    cfg: RunConfig,
    recipe: Recipe,
    analyses: dict[str, Any],
    data: Any,
    training: dict[str, Any],
    bow: Any,
    summary: dict[str, Any],
    stages: Stopwatch,
) -> None:
    """Write ``run.json``: configuration, data, training, each analysis, summary and timings."""
    record = {
        "dynalyze_version": __version__,
        "python": platform.python_version(),
        "config": attrs.asdict(cfg),
        "recipe": recipe.describe(),
        "analyses": analyses,
        "data": data.describe(),
        "training": training,
        "bow": {"test_accuracy": bow.test_accuracy, "C": bow.C, "features": bow.features},
        "summary": summary,
        "timings_s": stages.timings,
    }
    (staging / "run.json").write_text(json.dumps(record, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return repr(value)
