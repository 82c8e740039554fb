"""Random systems shared by the finder tests."""

from __future__ import annotations

import numpy as np

from dynalyze.systems.gru import GRUSystem


def random_gru(units: int, gain: float, seed: int = 0, *, bias_scale: float = 0.0) -> GRUSystem:
    """Keras's default GRU initialisation (Glorot kernel, 4 inputs, orthogonal recurrent
    kernel times ``gain``); the recurrent bias is zero or normal with ``bias_scale``."""
    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(3):
        q, r = np.linalg.qr(rng.normal(size=(units, units)))
        blocks.append(q * np.sign(np.diag(r)))
    limit = np.sqrt(6.0 / (4 + 3 * units))
    kernel = rng.uniform(-limit, limit, size=(4, 3 * units))
    bias = (
        rng.normal(scale=bias_scale, size=(2, 3 * units))
        if bias_scale
        else np.zeros((2, 3 * units))
    )
    return GRUSystem(kernel, gain * np.concatenate(blocks, axis=1), bias)
