"""One atomic-write helper for every file dynalyze writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path"]


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    The temporary file is flushed to disk, given the permissions a plain
    ``open(target, "w")`` would give (``0o666`` minus the umask, not
    ``mkstemp``'s ``0o600``) and renamed over ``target``, so readers see either
    the old file or the new one, never half of one. On any error the temporary
    file is removed and ``target`` is untouched. ``OSError`` propagates; callers
    turn it into their own :class:`~dynalyze.errors.OutputError`.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_path(path) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> path.read_text(), oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    ('hello', True)
    """
    final = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
