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

__all__ = ["RunConfig", "RunResult", "analyze_classifier", "analyze_model", "run_pipeline"]

logger = logging.getLogger(__name__)



def _check_dataset(value: str) -> None:
    from dynalyze.sentiment.datasets import DATASET_NAMES

    if value.startswith("csv:"):
        if len(value) == 4:
            raise ConfigurationError("csv: needs a path, e.g. --dataset csv:reviews.csv.")
        return
    if value not in DATASET_NAMES:
        names = [n for n in DATASET_NAMES if n != "csv:PATH"] + ["csv:PATH"]
        raise ConfigurationError(f"Unknown dataset {value!r}; choose one of {names}.")


def _check_arch(value: str) -> None:
    from dynalyze.keras.architectures import ARCHITECTURES

    if value not in ARCHITECTURES:
        raise ConfigurationError(
            f"Unknown architecture {value!r}; choose one of {sorted(ARCHITECTURES)}."
        )


def _check_window(value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ConfigurationError(
            f"window must be an integer >= 0 (0: whole documents); got {value!r}."
        )


def _check_recipe(_instance: Any, _attribute: Any, value: Recipe) -> None:
    if not isinstance(value, Recipe):
        raise ConfigurationError(f"recipe must be a Recipe; got {type(value).__name__}.")
    _check_dataset(value.dataset)
    _check_arch(value.arch)


def _check_analyses(_instance: Any, _attribute: Any, value: tuple[Any, ...] | None) -> None:
    from dynalyze.analyses import Analysis
    from dynalyze.analyses.registry import check_names

    bad = [item for item in value or () if not isinstance(item, (str, Analysis))]
    if bad:
        raise ConfigurationError(
            f"analyses must be analysis names or dynalyze.analyses.Analysis instances; "
            f"got {bad!r}."
        )
    check_names([item for item in value or () if isinstance(item, str)])


def _options() -> AnalysisOptions:
    from dynalyze.analyses import AnalysisOptions

    return AnalysisOptions(progress=True)


@attrs.frozen(kw_only=True)
class RunConfig:
    """What ``dynalyze run`` / ``dynalyze analyze`` do: a recipe, analyses, options, an output.

    Change one part with :func:`attrs.evolve` (``attrs.evolve(config,
    recipe=attrs.evolve(config.recipe, units=64))``); :meth:`build` takes the
    command line's flat options.

    Parameters
    ----------
    recipe : Recipe
        What to train, on which dataset (:func:`dynalyze.sentiment.defaults.default_recipe`;
        default IMDB's).
    analyses : tuple of str or Analysis, optional
        Which analyses to run: names (``"line_attractor"``, ``"modifier_words"``,
        ``"simplex_attractor"`` or a plug-in's) and configured
        :class:`~dynalyze.analyses.Analysis` instances (e.g.
        ``LineAttractorAnalysis(config=LineAttractor(n_initial=200))``). Default:
        every installed analysis that applies to the classifier
        (:func:`dynalyze.analyses.analyses_for`).
    options : AnalysisOptions
        Documents analysed, fixed-point searches, baseline input, seed (of the
        split, the initialisation, training and the analyses) and progress bars.
    out : str
        Output folder.
    overwrite : bool
        Replace an existing output folder.

    Examples
    --------
    >>> config = RunConfig.build(dataset="synthetic", arch="gru", n_initial=50)
    >>> config.recipe.units, config.options.n_initial, config.dataset
    (16, 50, 'synthetic')
    >>> attrs.evolve(config, out="elsewhere").out
    'elsewhere'
    """

    recipe: Recipe = attrs.field(factory=lambda: default_recipe("imdb"), validator=_check_recipe)
    analyses: tuple[Any, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(tuple), validator=_check_analyses
    )
    options: AnalysisOptions = attrs.field(factory=_options)
    out: str = "dynalyze-output"
    overwrite: bool = False

    @classmethod
    def build(
        cls,
        *,
        dataset: str = "imdb",
        base_recipe: Recipe | None = None,
        analyses: Any = None,
        n_analysis: int | None = 1000,
        n_initial: int = 1000,
        baseline: str = "mean",
        seed: int = 0,
        progress: bool = True,
        out: str = "dynalyze-output",
        overwrite: bool = False,
        window: int | None = None,
        **recipe: Any,
    ) -> RunConfig:
        """A configuration from flat options, as the command line gives them.

        Parameters
        ----------
        dataset : str
            ``"imdb"``, ``"rotten_tomatoes"``, ``"synthetic"``, an N-class dataset
            or ``"csv:PATH"``.
        base_recipe : Recipe, optional
            Start from this recipe instead of the dataset's default.
        analyses, out, overwrite
            See the class.
        n_analysis, n_initial, baseline, seed, progress
            The :class:`~dynalyze.analyses.AnalysisOptions`.
        window : int, optional
            Train on random windows of this many tokens (0: whole documents;
            ``None``: the recipe's choice).
        **recipe
            Recipe options left at ``None`` keep the recipe's value: ``arch``,
            ``units``, ``embedding_dim``, ``vocab_size``, ``max_len``, ``epochs``,
            ``batch_size``, ``learning_rate``, ``patience``, ``max_train``.

        Returns
        -------
        RunConfig

        Raises
        ------
        dynalyze.errors.ConfigurationError
            An unknown dataset, architecture, analysis or option, or a bad value.

        Examples
        --------
        >>> RunConfig.build(dataset="synthetic", window=12).recipe.window
        12
        >>> RunConfig.build(dataset="nope")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dynalyze.errors.ConfigurationError: Unknown dataset 'nope'; choose one of ...
        """
        from dynalyze.analyses import AnalysisOptions

        _check_dataset(dataset)
        _check_window(window)
        if "vocab_size" in recipe:
            recipe["max_tokens"] = recipe.pop("vocab_size")
        known = {field.name for field in attrs.fields(Recipe)}
        unknown = sorted(set(recipe) - known)
        if unknown:
            raise ConfigurationError(f"Unknown recipe option(s) {unknown}; known: {sorted(known)}.")
        chosen = (base_recipe or default_recipe(dataset)).with_overrides(**recipe)
        if window is not None:
            chosen = attrs.evolve(chosen, window=window or None)
        options = AnalysisOptions(
            n_analysis=n_analysis,
            n_initial=n_initial,
            baseline=baseline,
            seed=seed,
            progress=progress,
        )
        return cls(recipe=chosen, analyses=analyses, options=options, out=out, overwrite=overwrite)

    @property
    def dataset(self) -> str:
        """The recipe's dataset."""
        return self.recipe.dataset

    @property
    def seed(self) -> int:
        """The seed of the split, the initialisation, training and the analyses."""
        return self.options.seed

    @property
    def progress(self) -> bool:
        """Whether progress bars are shown."""
        return self.options.progress

    def describe(self) -> dict[str, Any]:
        """The run's settings for ``run.json`` (flat; the whole recipe is recorded apart).

        Examples
        --------
        >>> described = RunConfig.build(dataset="synthetic", seed=3).describe()
        >>> described["dataset"], described["arch"], described["seed"], described["analyses"]
        ('synthetic', 'gru', 3, None)
        """
        return {
            "dataset": self.dataset,
            "arch": self.recipe.arch,
            "seed": self.seed,
            **{k: v for k, v in attrs.asdict(self.options).items() if k != "seed"},
            "analyses": self.analysis_names(),
            "out": self.out,
            "overwrite": self.overwrite,
        }

    def analysis_names(self) -> list[str] | None:
        """Names of the analyses asked for (None: every one that applies)."""
        if self.analyses is None:
            return None
        return [item if isinstance(item, str) else item.name for item in self.analyses]

    def configured_analyses(self) -> list[Any]:
        """The configured Analysis instances among :attr:`analyses`."""
        return [item for item in self.analyses or () if not isinstance(item, str)]


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


def _check_output(out: str | os.PathLike[str], overwrite: bool) -> Path:
    """The output folder, refused if it is a file or holds results (without ``overwrite``)."""
    target = Path(out).resolve()
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target} exists and is not a folder; choose another --out.")
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"Output folder {target} already holds results; pass --overwrite to replace "
            "them or choose another --out."
        )
    return target


@contextmanager
def _output_folder(out: str | os.PathLike[str], overwrite: bool) -> Iterator[Path]:
    """A staging folder that becomes ``out`` only if the block succeeds (atomic_folder)."""
    target = _check_output(out, overwrite)
    with _os_errors(target), atomic_folder(target) as staging:
        yield staging


@contextmanager
def _os_errors(target: Path) -> Iterator[None]:
    """An OSError as the dynalyze error it is: writing the output, or reading an input."""
    try:
        yield
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
    ...     config = RunConfig.build(dataset="synthetic", out=out)
    ...     run_pipeline(config)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.OutputExistsError: Output folder ... already holds results; pass --overwrite ...
    """
    from dynalyze.keras import build_model, save_model, train_model
    from dynalyze.sentiment.datasets import load_dataset
    from dynalyze.vocabulary import Vocabulary

    cfg = config
    recipe = cfg.recipe
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
    >>> config = RunConfig.build(dataset="synthetic", n_analysis=20, n_initial=20,
    ...                          out=str(Path(tmp.name) / "out"), progress=False)
    >>> result = analyze_model(folder, config)
    >>> sorted(path.name for path in result.out.iterdir())
    ['figures', 'report.md', 'results', 'run.json']
    >>> result.summary["arch"], result.summary["n_candidates"]
    ('gru', 20)
    >>> tmp.cleanup()
    """
    from dynalyze.classifier import RecurrentClassifier

    target = _check_output(config.out, config.overwrite)  # before loading anything
    stages = Stopwatch(logger)
    with stages("load model"), _os_errors(target):
        clf = RecurrentClassifier.load(model_path, vocabulary, layer=layer, safe_mode=safe_mode)
    return analyze_classifier(
        clf, config, training={"model_path": str(model_path)}, stopwatch=stages
    )


def analyze_classifier(
    classifier: Any,
    config: RunConfig,
    *,
    training: dict[str, Any] | None = None,
    stopwatch: Stopwatch | None = None,
) -> RunResult:
    """Run every analysis that applies on a classifier you already hold (any framework).

    What :func:`analyze_model` does after loading: the data split, the bag of
    words, the analyses, the report and ``run.json``. The classifier may come
    from :meth:`RecurrentClassifier.load`, a PyTorch model
    (``dynalyze_torch.from_torch``) or arrays; without a Keras model the
    untrained-network comparison is left out and forward passes are the
    system's own float64 steps.

    Parameters
    ----------
    classifier : RecurrentClassifier
        The trained network with its vocabulary.
    config : RunConfig
        Dataset, options and output folder (the recipe's ``max_len`` and
        ``keep`` encode the documents).
    training : dict, optional
        What to record about where the network came from.
    stopwatch : Stopwatch, optional
        Stage timings to continue.

    Returns
    -------
    RunResult

    Examples
    --------
    A classifier built from arrays (here the exact integrator; a PyTorch model
    through ``dynalyze_torch.from_torch`` is the same) is analysed like a loaded
    one; an output folder that holds results is refused before any work:

    >>> import tempfile
    >>> from dynalyze.testing.toys import exact_integrator
    >>> clf, _ = exact_integrator()
    >>> with tempfile.TemporaryDirectory() as out:
    ...     _ = (Path(out) / "report.md").write_text("an earlier run")
    ...     analyze_classifier(clf, RunConfig.build(dataset="synthetic", out=out))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.OutputExistsError: Output folder ... already holds results; pass --overwrite ...
    """
    from dynalyze.keras import architecture_of, untrained_copy
    from dynalyze.sentiment.datasets import load_dataset

    cfg, clf = config, classifier
    recipe = cfg.recipe
    stages = stopwatch if stopwatch is not None else Stopwatch(logger)
    with _output_folder(cfg.out, cfg.overwrite) as staging:
        arch = architecture_of(clf.system)
        if arch != recipe.arch:
            logger.info("the model's recurrent layer is %s; reporting it as such", arch)
            recipe = attrs.evolve(recipe, arch=arch)
        with stages("data"):
            data = load_dataset(
                cfg.dataset, seed=cfg.seed, max_train=recipe.max_train, synthetic=recipe.synthetic
            )
        model = getattr(clf, "model", None)
        untrained = None if model is None else untrained_copy(model, seed=cfg.seed + 1)
        summary = _analyze(
            model,
            untrained,
            clf.vocabulary,
            data,
            cfg,
            recipe,
            staging,
            stages,
            training=training or {},
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
        options=cfg.options,
        bow=bow,
        untrained_model=untrained_model,
    )
    with stages("test accuracy"):
        test_accuracy = context.test_accuracy
    run = run_analyses(analyses, context, staging, stage=stages)
    stages.timings.update(run.timings)
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
        "config": cfg.describe(),
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
