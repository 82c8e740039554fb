"""One atomic-write helper for every file dynalyze writes."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_folder", "atomic_path"]


@contextmanager
def atomic_path(target: str | os.PathLike[str], *, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    The temporary file is flushed to disk, given the permissions a plain
    ``open(target, "w")`` would give (``0o666`` minus the umask, not
    ``mkstemp``'s ``0o600``) and renamed over ``target``, so readers see either
    the old file or the new one, never half of one. On any error the temporary
    file is removed and ``target`` is untouched. ``OSError`` propagates; callers
    turn it into their own :class:`~dynalyze.errors.OutputError`. With
    ``keep_suffix`` the temporary name ends in ``target``'s suffix (for writers
    that insist on one, e.g. Keras's ``.keras``).

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
    suffix = f".tmp{final.suffix}" if keep_suffix else ".tmp"
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix, dir=final.parent)
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


@contextmanager
def atomic_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; on success it becomes ``target``.

    The staging folder gets the usual permissions (``0o777`` minus the umask).
    When the block succeeds an existing ``target`` is moved aside, the staging
    folder renamed into place and the old one deleted; when it fails (or is
    interrupted) the staging folder is removed and ``target`` is untouched. So
    a reader sees the complete old folder or the complete new one. ``OSError``
    propagates; callers turn it into their own
    :class:`~dynalyze.errors.OutputError`.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "run"
    >>> with atomic_folder(target) as staging:
    ...     _ = (staging / "a.txt").write_text("complete")
    >>> sorted(p.name for p in target.iterdir()), (target / "a.txt").read_text()
    (['a.txt'], 'complete')
    >>> try:
    ...     with atomic_folder(target) as staging:
    ...         _ = (staging / "half.txt").write_text("half")
    ...         raise KeyboardInterrupt
    ... except KeyboardInterrupt:
    ...     pass
    >>> sorted(p.name for p in target.parent.iterdir())
    ['run']
    >>> sorted(p.name for p in target.iterdir())
    ['a.txt']
    """
    final = Path(target)
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=parent))
    staging.chmod(0o777 & ~_umask())
    try:
        yield staging
        old = None
        if final.exists():
            old = parent / f".{final.name}.old-{os.getpid()}"
            os.replace(final, old)
        os.replace(staging, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
