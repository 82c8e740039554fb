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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import xarray as xr

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

__all__ = ["RunConfig", "RunResult", "analyze_model", "architecture_of", "run_pipeline"]

logger = logging.getLogger(__name__)

#: Documents whose full trajectories are written to ``results/trajectories.nc``.
TRAJECTORIES_SAVED = 100
#: Fixed points (spread along the manifold) whose full linearization is written.
LINEARIZATIONS_SAVED = 20


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
    analysis : LineAttractor, optional
        The analysis configuration; default ``LineAttractor(n_initial=n_initial,
        seed=seed, progress=progress)``.
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
    analysis: Any = None
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
        from dynalyze.sentiment.models import ARCHITECTURES

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


def _vader_lexicon() -> dict[str, float]:
    """VADER's human valence ratings (token -> mean rating), from the vaderSentiment package."""
    from importlib import resources

    text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8")
    ratings: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            try:
                ratings[parts[0]] = float(parts[1])
            except ValueError:
                continue
    return ratings


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
    from dynalyze.keras import save_model
    from dynalyze.sentiment.datasets import load_dataset
    from dynalyze.sentiment.models import build_model
    from dynalyze.sentiment.training import train_model
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
        untrained = _untrained_copy(clf.model, seed=cfg.seed + 1)
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


#: dynalyze system name -> the recipe's architecture name.
_SYSTEM_ARCH = {"gru": "gru", "lstm": "lstm", "simple_rnn": "simple", "ugrnn": "ugrnn"}


def architecture_of(system: Any) -> str:
    """The architecture name (``"gru"``, ``"lstm"``, ``"simple"``, ``"ugrnn"``) of a system.

    Other systems (custom cells) are named by their registry name or class.

    Examples
    --------
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> architecture_of(SimpleRNNSystem(np.eye(1), np.eye(1), np.zeros(1)))
    'simple'
    """
    name = str(getattr(system, "name", "") or "")
    return _SYSTEM_ARCH.get(name, name or type(system).__name__)


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
    from dynalyze.attractors import LineAttractor
    from dynalyze.classifier import RecurrentClassifier
    from dynalyze.plot import save_all
    from dynalyze.plot.modifiers import modifier_strength
    from dynalyze.results.io import save
    from dynalyze.sentiment.bow import fit_bow
    from dynalyze.sentiment.report import write_report

    max_len, keep = recipe.max_len, recipe.keep
    clf = classifier or RecurrentClassifier.from_model(model, vocab)
    clf.provenance.update(dataset=cfg.dataset, seed=cfg.seed)
    if clf.n_outputs > 1:
        from dynalyze.sentiment.classes_pipeline import analyze_classes

        return analyze_classes(clf, data, cfg, recipe, staging, stages, training=training)
    with stages("bag of words"):
        bow = fit_bow(data, vocab, max_len=max_len, keep=keep, seed=cfg.seed)
    with stages("trajectories"):
        n_test = len(data.test_texts)
        n = n_test if cfg.n_analysis is None else min(cfg.n_analysis, n_test)
        ids = vocab.encode(data.test_texts[:n], max_len, keep=keep)
        labels = data.test_labels[:n]
        stream = clf.stream(
            ids,
            labels=labels,
            example_index=np.arange(n),
            provenance={"split": "test", "n_documents": n},
        )
        n_saved = min(TRAJECTORIES_SAVED, n)
        saved_trajectories = clf.trajectories(
            ids[:n_saved],
            labels=labels[:n_saved],
            example_index=np.arange(n_saved),
            provenance={"split": "test"},
        )
        untrained_stream = RecurrentClassifier.from_model(untrained_model, vocab).stream(ids)
        test_ids = vocab.encode(data.test_texts, max_len, keep=keep)
        test_logits = clf.logits(test_ids)
        network_test_accuracy = float(np.mean((test_logits > 0) == (data.test_labels == 1)))
    analysis = cfg.analysis or LineAttractor(
        n_initial=cfg.n_initial, seed=cfg.seed, progress=cfg.progress, baseline=cfg.baseline
    )
    true_valence = None
    if data.true_valences is not None:
        true_valence = np.array([data.true_valences.get(t, np.nan) for t in vocab.tokens])
    n_cal = min(n, len(data.validation_texts))
    evidence: dict[str, Any] = {
        "untrained_states": untrained_stream,
        "bow_weights": bow.weights,
        "vader": _vader_lexicon(),
        "calibration_ids": vocab.encode(data.validation_texts[:n_cal], max_len, keep=keep),
        "calibration_labels": data.validation_labels[:n_cal],
    }
    if true_valence is not None:
        evidence["true_valence"] = true_valence
    # The baseline input is the mean token embedding of the documents the network was
    # trained on (padding excluded, [UNK] included): the input it runs at.
    evidence["baseline_ids"] = vocab.encode(data.train_texts, max_len, keep=keep)
    start = time.perf_counter()
    result = analysis.analyze(clf, stream, **evidence)  # keyword arguments, named above
    stages.timings.update({k: v for k, v in result.timings.items()})
    logger.info(
        "line-attractor analysis done in %.1f s (%s)",
        time.perf_counter() - start,
        ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()),
    )
    attractor, fixed_points, linearization = (
        result.attractor,
        result.fixed_points,
        result.linearization,
    )
    with stages("save results"):
        results = staging / "results"
        results.mkdir()
        save(fixed_points, results / "fixed_points.nc")
        save(attractor, results / "line_attractor.nc")
        save(saved_trajectories, results / "trajectories.nc")
        if linearization is not None:
            save(_spread_subset(linearization, attractor), results / "linearization.nc")
        if result.zero_view is not None:
            save(result.zero_view, results / "line_attractor_zero.nc")
        if result.continuation is not None:
            save(result.continuation, results / "continuation.nc")
    with stages("modifier words"):
        at_baseline = clf.at_input(attractor["baseline_input"].values)
        modifiers = _modifier_words(at_baseline, attractor, data, bow, test_logits, recipe, cfg)
    with stages("figures"):
        figures = save_all(
            staging / "figures",
            attractor,
            linearization,
            continuation=result.continuation,
        )
        if modifiers is not None:
            figures["modifiers"] = _save_figure(
                staging / "figures" / "modifiers.png", modifier_strength(modifiers)
            )
    summary = _summary(
        attractor,
        bow,
        training,
        network_test_accuracy,
        recipe,
        result.zero_view,
        result.continuation,
    )
    if modifiers is not None:
        save(modifiers, staging / "results" / "modifiers.nc")
        summary.update(_modifier_summary(modifiers))
    with stages("report"):
        write_report(staging / "report.md", summary, attractor, figures, recipe, cfg)
        write_run_record(staging, cfg, recipe, analysis, data, training, bow, summary, stages)
    return summary


def _modifier_words(
    clf: Any,
    attractor: xr.Dataset,
    data: Any,
    bow: Any,
    test_logits: Any,
    recipe: Recipe,
    cfg: RunConfig,
) -> xr.Dataset | None:
    """Modifier strengths on the network and the augmented BoW (None without modifiers)."""
    from dynalyze.attractors.modifiers import ModifierAnalysis, augmented_bow
    from dynalyze.errors import DataError

    vocab = clf.vocabulary
    valence = np.zeros(len(vocab))
    valence[attractor["token_index"].values] = np.nan_to_num(attractor["token_projection"].values)
    ids = vocab.encode(data.test_texts, recipe.max_len, keep=recipe.keep)
    try:
        modifiers = ModifierAnalysis(seed=cfg.seed).fit(clf, ids, valence)
    except DataError as exc:
        logger.info("No modifier-word analysis: %s", exc)
        return None
    rnn_correct = (np.asarray(test_logits) > 0) == (data.test_labels == 1)
    recovered = augmented_bow(
        modifiers,
        data,
        vocab,
        max_len=recipe.max_len,
        rnn_correct=rnn_correct,
        Cs=(bow.C,),
        seed=cfg.seed,
    )
    names = {
        "bow_accuracy": "plain_bow_accuracy",
        "augmented_accuracy": "augmented_bow_accuracy",
        "recovered_fraction": "recovered_fraction",
        "recovered_low": "recovered_fraction_low",
        "recovered_high": "recovered_fraction_high",
    }
    return modifiers.assign({names[k]: v for k, v in recovered.items() if k in names})


def _modifier_summary(modifiers: xr.Dataset) -> dict[str, Any]:
    def value(name: str) -> float | None:
        item = float(modifiers[name])
        return None if np.isnan(item) else item

    per = {
        str(name): {
            "strength": modifiers["modifier_strength"].values[k].tolist(),
            "strength_low": modifiers["modifier_strength_low"].values[k].tolist(),
            "strength_high": modifiers["modifier_strength_high"].values[k].tolist(),
            "strength_positive": modifiers["modifier_strength_by_sign"].values[k, :, 0].tolist(),
            "strength_negative": modifiers["modifier_strength_by_sign"].values[k, :, 1].tolist(),
            "ablated": modifiers["ablated_modifier_strength"].values[k].tolist(),
            "time_constant": float(modifiers["modifier_time_constant"].values[k]),
            "fast_share": float(modifiers["modifier_fast_mode_share"].values[k]),
        }
        for k, name in enumerate(modifiers["modifier"].values)
    }
    return {
        "modifiers": per,
        **{
            name: value(name)
            for name in (
                "plain_bow_accuracy",
                "augmented_bow_accuracy",
                "recovered_fraction",
                "recovered_fraction_low",
                "recovered_fraction_high",
            )
        },
    }


def _save_figure(path: Path, fig: Any) -> Path:
    from dynalyze._atomic import atomic_path

    with atomic_path(path, keep_suffix=True) as tmp:
        fig.savefig(tmp, dpi=120)
    return path


def write_run_record(
    staging: Path,
    cfg: RunConfig,
    recipe: Recipe,
    analysis: Any,
    data: Any,
    training: dict[str, Any],
    bow: Any,
    summary: dict[str, Any],
    stages: Stopwatch,
) -> None:
    """Write ``run.json``: configuration, data, training, baseline, summary and timings."""
    record = {
        "dynalyze_version": __version__,
        "python": platform.python_version(),
        "config": attrs.asdict(cfg),
        "recipe": recipe.describe(),
        "analysis": attrs.asdict(analysis),
        "data": data.describe(),
        "training": training,
        "bow": {"test_accuracy": bow.test_accuracy, "C": bow.C, "features": bow.features},
        "summary": summary,
        "timings_s": stages.timings,
    }
    (staging / "run.json").write_text(json.dumps(record, indent=2, default=_json_default))


def _untrained_copy(model: Any, seed: int) -> Any:
    """A freshly initialised network of the same architecture (for the PCA comparison)."""
    import keras

    keras.utils.set_random_seed(seed)
    clone = keras.models.clone_model(model)
    clone(np.ones((1, 2), dtype=np.int32))  # build the weights
    return clone


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def _spread_subset(linearization: xr.Dataset, attractor: xr.Dataset) -> xr.Dataset:
    """The linearization at up to LINEARIZATIONS_SAVED points spread along the manifold."""
    n = linearization.sizes["fixed_point"]
    if n <= LINEARIZATIONS_SAVED:
        return linearization
    order = np.argsort(attractor["manifold_coordinate"].values)
    pick = order[np.linspace(0, n - 1, LINEARIZATIONS_SAVED).round().astype(int)]
    return linearization.isel(fixed_point=np.sort(pick))


#: Scalars of the zero-input view copied into the summary with the suffix ``_at_zero``.
ZERO_VIEW_NAMES = (
    "n_accepted",
    "n_fixed_point_clusters",
    "n_stable_clusters",
    "n_unstable_clusters",
    "n_marginal_clusters",
    "n_slow_regions",
    "n_continua",
    "n_isolated_roots",
    "slow_fraction",
    "slow_fraction_visited",
    "median_drift_per_document",
    "middle_drift_per_document",
    "max_drift_per_document",
    "tokens_to_cross",
    "median_slow_subspace_dim",
    "median_alignment_readout_slow",
    "median_alignment_tangent_slow",
    "stable_median_alignment_r1_tangent",
    "stable_median_alignment_readout_r1",
    "fixed_point_pc1_variance",
    "manifold_coverage",
)


def _scalar(ds: xr.Dataset, name: str) -> Any:
    if name not in ds:
        return None
    item = ds[name].values.item()
    return None if isinstance(item, float) and np.isnan(item) else item


def _zero_view_summary(zero_view: xr.Dataset | None) -> dict[str, Any]:
    """The zero-input view's structure, slowness, alignments and verdict (``*_at_zero``)."""
    from dynalyze.attractors.mechanism import mechanism, structure_rows

    if zero_view is None:
        return {}
    out: dict[str, Any] = {f"{name}_at_zero": _scalar(zero_view, name) for name in ZERO_VIEW_NAMES}
    verdict = mechanism(zero_view)
    out["fixed_point_structure_at_zero"] = structure_rows(zero_view)
    out["mechanism_at_zero"] = verdict.kind
    out["headline_at_zero"] = verdict.headline
    return out


def _summary(
    attractor: xr.Dataset,
    bow: Any,
    training: dict[str, Any],
    test_accuracy: float,
    recipe: Recipe,
    zero_view: xr.Dataset | None = None,
    continuation: xr.Dataset | None = None,
) -> dict[str, Any]:
    def value(name: str) -> Any:
        return _scalar(attractor, name)

    from dynalyze.attractors.mechanism import mechanism, structure_rows
    from dynalyze.baseline import BASELINE_KINDS
    from dynalyze.fixedpoints.continuation import branch_rows

    names = [
        *ZERO_VIEW_NAMES,
        "baseline_norm",
        "baseline_relative_norm",
        "baseline_n_tokens",
        "n_neutral_tokens",
        "median_neutral_drift_per_document",
        "middle_neutral_drift_per_document",
        "neutral_drift_error_baseline",
        "neutral_drift_error_zero",
        "matched_null_informative",
        "matched_null_tangent_informative",
        "matched_null_subspace_informative",
        "n_candidates",
        "manifold_extent",
        "manifold_pc1_variance",
        "manifold_curvature",
        "median_document_length",
        "drift_tolerance",
        "state_dim_95",
        "matched_null_alignment_median",
        "matched_null_alignment_p95",
        "matched_null_tangent_alignment_p95",
        "manifold_low",
        "manifold_high",
        "manifold_visited_low",
        "manifold_visited_high",
        "null_subspace_alignment_p95",
        "matched_null_subspace_alignment_p95",
        "saddle_token_gain_ratio",
        "valence_share_near_unstable",
        "token_count_floor",
        "median_third_time_constant",
        "state_top3_variance",
        "untrained_state_top3_variance",
        "n_fixed_point_groups",
        "median_top_eigenvalue_magnitude",
        "median_slow_time_constant",
        "median_second_time_constant",
        "median_alignment_r1_tangent",
        "median_alignment_readout_tangent",
        "median_alignment_readout_r1",
        "null_alignment_median",
        "null_alignment_p95",
        "bow_pearson_r",
        "bow_sign_agreement",
        "vader_pearson_r",
        "vader_n_shared",
        "true_valence_pearson_r",
        "linearization_error_median",
        "linearization_error_mean",
        "network_accuracy",
        "reduced_accuracy",
        "reduced_agreement",
        "reduced_logit_pearson_r",
    ]
    out: dict[str, Any] = {name: value(name) for name in names}
    kind = value("baseline_kind")
    out["baseline"] = BASELINE_KINDS.get(int(kind), "zero") if kind is not None else "zero"
    out["baseline_kind"] = kind
    out["fixed_point_structure"] = structure_rows(attractor)
    verdict = mechanism(attractor)
    out["mechanism"] = verdict.kind
    out["headline"] = verdict.headline
    out.update(_zero_view_summary(zero_view))
    if continuation is not None:
        out["n_folds"] = int(continuation["n_folds"])
        out["continuation_branches"] = branch_rows(continuation)
    out.update(
        dataset=recipe.dataset,
        arch=recipe.arch,
        units=recipe.units,
        test_accuracy=test_accuracy,
        bow_test_accuracy=float(bow.test_accuracy),
        best_epoch=training.get("best_epoch"),
        epochs_run=training.get("epochs_run"),
    )
    return out
