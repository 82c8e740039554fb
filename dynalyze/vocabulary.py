"""Tokenization and the token <-> id :class:`Vocabulary`.

The tokenizer is plain Python (no TensorFlow) and mirrors Keras
``TextVectorization(standardize="lower_and_strip_punctuation",
split="whitespace")``, so a vocabulary saved from a Keras ``TextVectorization``
layer (``layer.get_vocabulary()``, one token per line) encodes text the same way:

1. lowercase (Python's Unicode-aware :meth:`str.lower`; Keras lowercases with
   ``tf.strings.lower``, which only changes ASCII letters);
2. replace HTML line breaks (``<br />``, ``<br/>``, ``<br>``) by a space
   (Keras does not; IMDB reviews are full of them);
3. delete ASCII punctuation (:data:`string.punctuation`, the same characters as
   Keras' ``DEFAULT_STRIP_REGEX``), so ``"don't"`` becomes ``"dont"``;
4. split on whitespace.

Ids follow the Keras convention of ``TextVectorization.get_vocabulary()``:
id 0 is padding (the empty string ``""``), id 1 is the out-of-vocabulary token
``"[UNK]"``, then tokens by decreasing training count (ties alphabetically).
"""

from __future__ import annotations

import collections
import os
import re
import string
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from dynalyze._atomic import atomic_path
from dynalyze._validation import positive_int
from dynalyze.errors import ConfigurationError, DataError, OutputError

__all__ = ["OOV_ID", "OOV_TOKEN", "PAD_ID", "PAD_TOKEN", "Vocabulary", "tokenize"]

#: Id and token of padding (Keras' mask token).
PAD_ID, PAD_TOKEN = 0, ""
#: Id and token of out-of-vocabulary words.
OOV_ID, OOV_TOKEN = 1, "[UNK]"

_BR = re.compile(r"<br\s*/?>", flags=re.IGNORECASE)
_STRIP = str.maketrans("", "", string.punctuation)

Keep = Literal["first", "last"]


def tokenize(text: str) -> list[str]:
    """Split one text into tokens (lowercase, no ``<br />``, no punctuation).

    Parameters
    ----------
    text : str
        A document.

    Returns
    -------
    list of str
        Its tokens, in order.

    Examples
    --------
    >>> tokenize("A <br />GREAT film, isn't it?")
    ['a', 'great', 'film', 'isnt', 'it']
    """
    return _BR.sub(" ", text.lower()).translate(_STRIP).split()


def _check_token(token: object, position: int) -> str:
    if not isinstance(token, str):
        raise DataError(
            f"Vocabulary token {position} must be a string; got {type(token).__name__} {token!r}."
        )
    if position >= 2 and (token == "" or any(ch.isspace() for ch in token)):
        raise DataError(
            f"Vocabulary token {position} is {token!r}; expected a non-empty token without "
            "whitespace (only id 0, padding, is the empty string). Remove empty or "
            "multi-word entries from the vocabulary."
        )
    return token


def _tokens_converter(tokens: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tokens, str):
        raise DataError(
            "Vocabulary tokens must be a sequence of strings, not one string; "
            "pass e.g. ['', '[UNK]', 'good', 'bad']."
        )
    return tuple(tokens)


def _tokens_validator(_instance: object, _attribute: object, tokens: tuple[str, ...]) -> None:
    if len(tokens) < 2 or tokens[0] != PAD_TOKEN or tokens[1] != OOV_TOKEN:
        head = list(tokens[:2])
        raise DataError(
            f"A vocabulary must start with the padding token {PAD_TOKEN!r} (id 0) and the "
            f"out-of-vocabulary token {OOV_TOKEN!r} (id 1), like Keras "
            f"TextVectorization.get_vocabulary(); got first entries {head!r}. "
            f"Prepend {[PAD_TOKEN, OOV_TOKEN]!r} to the token list."
        )
    for position, token in enumerate(tokens):
        _check_token(token, position)
    if len(set(tokens)) != len(tokens):
        counts = collections.Counter(tokens)
        duplicates = sorted(t for t, c in counts.items() if c > 1)[:10]
        raise DataError(
            f"A vocabulary must not repeat tokens; these appear more than once: "
            f"{duplicates!r}. Remove the duplicates."
        )


@attrs.frozen(eq=False)
class Vocabulary:
    """An ordered token list: id ``i`` is ``tokens[i]``.

    Parameters
    ----------
    tokens : sequence of str
        All tokens, starting with ``""`` (padding, id 0) and ``"[UNK]"``
        (out of vocabulary, id 1); no duplicates, no whitespace inside tokens.
        Build one from texts with :meth:`build`.

    Examples
    --------
    >>> vocab = Vocabulary.build(["good good film", "bad film"])
    >>> vocab.tokens
    ('', '[UNK]', 'film', 'good', 'bad')
    >>> vocab.index("good"), len(vocab)
    (3, 5)
    >>> vocab.encode(["a good film", "bad"], max_len=4)
    array([[1, 3, 2, 0],
           [4, 0, 0, 0]], dtype=int32)
    """

    tokens: tuple[str, ...] = attrs.field(converter=_tokens_converter, validator=_tokens_validator)
    _ids: dict[str, int] = attrs.field(init=False, repr=False)

    @_ids.default
    def _make_ids(self) -> dict[str, int]:
        return {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(
        cls, texts: Iterable[str], *, max_tokens: int | None = None, min_count: int = 1
    ) -> Vocabulary:
        """Count the tokens of ``texts`` and keep the most frequent ones.

        Parameters
        ----------
        texts : iterable of str
            Training documents (never validation or test documents).
        max_tokens : int or None
            Size of the vocabulary *including* padding and ``[UNK]`` (as Keras'
            ``TextVectorization(max_tokens=...)``); ``None`` keeps every token.
        min_count : int
            Keep only tokens seen at least this many times.

        Returns
        -------
        Vocabulary
            Tokens sorted by decreasing count, ties alphabetically.

        Examples
        --------
        >>> Vocabulary.build(["b a", "a c", "a b"], max_tokens=4).tokens
        ('', '[UNK]', 'a', 'b')
        """
        if max_tokens is not None:
            positive_int("max_tokens", max_tokens)
            if max_tokens < 3:
                raise ConfigurationError(
                    f"max_tokens counts padding and [UNK], so it must be >= 3; got {max_tokens}."
                )
        positive_int("min_count", min_count)
        counts: collections.Counter[str] = collections.Counter()
        for text in texts:
            counts.update(tokenize(text))
        ranked = sorted(
            (tok for tok, count in counts.items() if count >= min_count),
            key=lambda tok: (-counts[tok], tok),
        )
        if max_tokens is not None:
            ranked = ranked[: max_tokens - 2]
        return cls((PAD_TOKEN, OOV_TOKEN, *ranked))

    @property
    def pad_id(self) -> int:
        """The id that pads documents (``0``; decoding drops it).

        Examples
        --------
        >>> Vocabulary(["", "[UNK]", "good"]).pad_id
        0
        """
        return PAD_ID

    @property
    def special_ids(self) -> tuple[int, ...]:
        """Ids that are not words (padding and ``[UNK]``): analyses never report them as words.

        Examples
        --------
        >>> Vocabulary(["", "[UNK]", "good"]).special_ids
        (0, 1)
        """
        return (PAD_ID, OOV_ID)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    @property
    def size(self) -> int:
        """Number of ids, padding and ``[UNK]`` included (the embedding's ``input_dim``)."""
        return len(self.tokens)

    def index(self, token: str) -> int:
        """Id of ``token``.

        Raises
        ------
        KeyError
            If ``token`` is not in the vocabulary (:meth:`encode` maps such
            tokens to ``[UNK]``, id 1; test membership with ``token in vocab``).

        Examples
        --------
        >>> Vocabulary(["", "[UNK]", "good"]).index("good")
        2
        """
        try:
            return self._ids[token]
        except KeyError:
            raise KeyError(
                f"Token {token!r} is not in the vocabulary of {len(self)} tokens; check with "
                f"`token in vocabulary` (encode() maps unknown tokens to {OOV_TOKEN!r})."
            ) from None

    def lookup(self, tokens: Sequence[str]) -> NDArray[np.int32]:
        """Ids of already tokenized ``tokens``; unknown tokens map to ``[UNK]`` (1).

        Examples
        --------
        >>> Vocabulary(["", "[UNK]", "good"]).lookup(["good", "zzz"])
        array([2, 1], dtype=int32)
        """
        get = self._ids.get
        return np.fromiter((get(t, OOV_ID) for t in tokens), dtype=np.int32, count=len(tokens))

    def encode(
        self, texts: Sequence[str], max_len: int, *, keep: Keep = "first"
    ) -> NDArray[np.int32]:
        """Tokenize ``texts`` into a padded id matrix.

        Parameters
        ----------
        texts : sequence of str
            Documents.
        max_len : int
            Number of columns. Shorter documents are padded at the *end* with 0
            (so an ``Embedding(mask_zero=True)`` masks the padding and the RNN's
            final state is its state after the last real token).
        keep : {"first", "last"}
            Which tokens of a longer document to keep: its first ``max_len``
            tokens (as Keras ``TextVectorization(output_sequence_length=...)``)
            or its last ``max_len`` (the readout then sees the end of the review).

        Returns
        -------
        ndarray of int32, shape (len(texts), max_len)

        Examples
        --------
        >>> vocab = Vocabulary(["", "[UNK]", "a", "b", "c"])
        >>> vocab.encode(["a b c", "c"], max_len=2, keep="last")
        array([[3, 4],
               [4, 0]], dtype=int32)
        """
        positive_int("max_len", max_len)
        if keep not in ("first", "last"):
            raise ConfigurationError(f"keep must be 'first' or 'last'; got {keep!r}.")
        if isinstance(texts, str):
            raise DataError("encode() takes a sequence of documents; wrap one text in a list.")
        out = np.zeros((len(texts), max_len), dtype=np.int32)
        get = self._ids.get
        for row, text in enumerate(texts):
            tokens = tokenize(text)
            tokens = tokens[:max_len] if keep == "first" else tokens[-max_len:]
            if tokens:
                out[row, : len(tokens)] = [get(t, OOV_ID) for t in tokens]
        return out

    def decode(self, ids: NDArray[np.integer] | Sequence[Sequence[int]]) -> list[list[str]]:
        """Token strings of each row of an id matrix, padding (id 0) removed.

        Examples
        --------
        >>> Vocabulary(["", "[UNK]", "good"]).decode([[2, 1, 0]])
        [['good', '[UNK]']]
        """
        array = np.asarray(ids)
        if array.ndim != 2:
            raise DataError(f"decode() expects a 2-D id matrix; got shape {array.shape}.")
        if array.size and (array.min() < 0 or array.max() >= len(self)):
            raise DataError(
                f"Ids must lie in [0, {len(self) - 1}]; got values from {array.min()} to "
                f"{array.max()}."
            )
        return [[self.tokens[i] for i in row if i != PAD_ID] for row in array.tolist()]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the vocabulary as UTF-8 text, one token per line (line ``i`` = id ``i``).

        The first line is empty (padding), the second is ``[UNK]``; the file is
        written to a temporary name and renamed into place.

        Returns
        -------
        pathlib.Path
            The path written.

        Examples
        --------
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "vocabulary.txt")
        >>> vocab = Vocabulary(["", "[UNK]", "good"])
        >>> Vocabulary.load(vocab.save(path)).tokens == vocab.tokens
        True
        """
        target = Path(path)
        text = "\n".join(self.tokens) + "\n"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(target) as tmp:
                with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
                    handle.write(text)
        except OSError as exc:
            raise OutputError(
                f"Cannot write the vocabulary to {str(target)!r}: {exc}. Choose a writable folder."
            ) from None
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocabulary:
        """Read a vocabulary written by :meth:`save` (or Keras' ``get_vocabulary()``).

        Raises
        ------
        DataError
            If the file is missing, not UTF-8, or not one token per line starting
            with an empty line and ``[UNK]``.

        Examples
        --------
        See :meth:`save`.
        """
        source = Path(path)
        try:
            raw = source.read_bytes()
        except FileNotFoundError:
            raise DataError(
                f"Vocabulary file {str(source)!r} does not exist; expected a UTF-8 text file "
                "with one token per line (as written by Vocabulary.save)."
            ) from None
        except OSError as exc:
            raise DataError(f"Cannot read vocabulary file {str(source)!r}: {exc}.") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"Vocabulary file {str(source)!r} is not valid UTF-8 (byte {exc.start}); "
                "expected UTF-8 text with one token per line. Re-save it as UTF-8."
            ) from None
        if text.endswith("\n"):
            text = text[:-1]
        lines = [line.removesuffix("\r") for line in text.split("\n")]
        try:
            return cls(lines)
        except DataError as exc:
            raise DataError(
                f"Vocabulary file {str(source)!r} is malformed: {exc} Expected one token per "
                "line: an empty first line (padding, id 0), '[UNK]' on the second line, then "
                "one distinct token per line."
            ) from None
