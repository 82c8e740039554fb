"""Shared helpers for the benchmark scripts: random Keras-like cells, timing, tables."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dynalyze.systems.base import RecurrentSystem
from dynalyze.systems.gru import GRUSystem
from dynalyze.systems.lstm import LSTMSystem


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def orthogonal_blocks(rng: np.random.Generator, units: int, blocks: int) -> np.ndarray:
    """Keras-like orthogonal recurrent kernel: one orthogonal (units, units) block per gate."""
    out = []
    for _ in range(blocks):
        q, r = np.linalg.qr(rng.normal(size=(units, units)))
        out.append(q * np.sign(np.diag(r)))
    return np.concatenate(out, axis=1)


def random_gru(units: int, gain: float = 1.0, *, input_dim: int = 32, seed: int = 0) -> GRUSystem:
    """A GRU with Keras's default initialisation, recurrent kernel scaled by ``gain``."""
    rng = np.random.default_rng(seed)
    return GRUSystem(
        glorot_uniform(rng, (input_dim, 3 * units)),
        gain * orthogonal_blocks(rng, units, 3),
        rng.normal(scale=0.1, size=(2, 3 * units)),
    )


def random_lstm(units: int, gain: float = 1.0, *, input_dim: int = 32, seed: int = 0) -> LSTMSystem:
    """An LSTM with Keras's default initialisation (forget bias 1), recurrent kernel scaled."""
    rng = np.random.default_rng(seed)
    bias = rng.normal(scale=0.1, size=4 * units)
    bias[units : 2 * units] += 1.0
    return LSTMSystem(
        glorot_uniform(rng, (input_dim, 4 * units)), gain * orthogonal_blocks(rng, units, 4), bias
    )


def visited_states(
    system: RecurrentSystem, n: int, *, steps: int = 50, noise: float = 0.0, seed: int = 0
) -> np.ndarray:
    """States visited by driving the system with random inputs, plus optional noise."""
    rng = np.random.default_rng(seed)
    h = np.zeros((n, system.state_dim))
    for _ in range(steps):
        h = system.step(h, rng.normal(size=(n, system.input_dim)))
    return h + noise * rng.normal(size=h.shape)


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls and the last result."""
    best = np.inf
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def table(rows: Sequence[dict[str, Any]]) -> str:
    """Format rows as a Markdown table."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    cells = [[_fmt(row.get(k)) for k in keys] for row in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = [
        "| " + " | ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) + " |"
        for cell in cells
    ]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.3g}" if abs(value) < 100 else f"{value:.1f}"
        return f"{value:.2e}"
    return str(value)
