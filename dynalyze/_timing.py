"""Seconds spent in named parts of a computation (the pipeline's and analyses' stage timings)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Stopwatch"]


class Stopwatch:
    """Accumulate wall-clock seconds per named part; optionally log each part.

    Examples
    --------
    >>> watch = Stopwatch()
    >>> with watch("work"):
    ...     pass
    >>> list(watch.timings)
    ['work']
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.start = time.perf_counter()
        self.timings: dict[str, float] = {}
        self._logger = logger

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self._logger is not None:
            self._logger.info("stage %s ...", name)
        begin = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - begin
            self.timings[name] = round(self.timings.get(name, 0.0) + elapsed, 3)
        if self._logger is not None:
            self._logger.info("stage %s done in %.1f s", name, self.timings[name])
