"""The worker pool: every item computed once, in place, whatever the thread count."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from dynalyze._parallel import fill_batches, map_batches


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_fill_batches_covers_every_item_once_across_threads(
    threads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNALYZE_NUM_THREADS", threads)
    n = 1001
    hits = np.zeros(n, dtype=np.int64)
    parts: list[slice] = []
    lock = threading.Lock()

    def fill(part: slice) -> None:
        with lock:
            hits[part] += 1
            parts.append(part)

    fill_batches(fill, n, min_batch=16)
    assert hits.tolist() == [1] * n
    assert len(parts) == int(threads)  # one contiguous slice per worker
    sizes = [part.stop - part.start for part in parts]
    assert max(sizes) - min(sizes) <= 1


def test_fill_batches_inside_a_worker_does_not_fan_out_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DYNALYZE_NUM_THREADS", "2")
    out = np.zeros(64)
    inner_parts: list[slice] = []

    def inner(part: slice) -> None:
        inner_parts.append(part)
        out[part] = np.arange(64)[part] ** 2

    def outer(chunk: np.ndarray) -> np.ndarray:
        fill_batches(inner, 64, min_batch=1)
        return chunk

    map_batches(outer, [np.zeros(64)], min_batch=16)
    assert all(part == slice(0, 64) for part in inner_parts)  # never split from a worker
    assert out.tolist() == [float(k * k) for k in range(64)]


def test_map_batches_matches_the_serial_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(100, 5, 5)) + 5 * np.eye(5)
    monkeypatch.setenv("DYNALYZE_NUM_THREADS", "2")
    parallel = map_batches(np.linalg.inv, [a], min_batch=8)
    np.testing.assert_array_equal(parallel, np.linalg.inv(a))
