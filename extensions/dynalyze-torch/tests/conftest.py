"""Shared helpers: random PyTorch modules and the module's own step as the reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

INPUT, HIDDEN = 3, 5


def random_module(kind: str, *, seed: int = 0, gain: float = 3.0, **options: Any) -> nn.Module:
    """``torch.nn.<kind>(INPUT, HIDDEN, **options)`` in float64 with O(1) random weights.

    PyTorch initialises weights in ``[-1/sqrt(H), 1/sqrt(H)]``; ``gain`` scales
    them up so that gates and activations are far from linear.
    """
    torch.manual_seed(seed)
    module = getattr(nn, kind)(INPUT, HIDDEN, **options)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.mul_(gain)
    return module.double().eval()  # eval: dropout off, as in the analyses


def module_step(module: nn.Module, h: Any, x: Any) -> torch.Tensor:
    """New flat states by the module's own forward (one time step), for float64 batches.

    The flat state is the layers' states side by side, an LSTM layer's ``h`` then ``c``.
    """
    states = torch.as_tensor(np.asarray(h) if not torch.is_tensor(h) else h)
    inputs = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x)
    if isinstance(module, nn.RNNBase):
        lstm = isinstance(module, nn.LSTM)
        u = module.hidden_size
        width = 2 * u if lstm else u
        blocks = [states[:, k * width : (k + 1) * width] for k in range(module.num_layers)]
        if lstm:
            hx: Any = (
                torch.stack([b[:, :u] for b in blocks]),
                torch.stack([b[:, u:] for b in blocks]),
            )
        else:
            hx = torch.stack(blocks)
        sequence = inputs[:, None] if module.batch_first else inputs[None]
        _, h_n = module(sequence, hx)
        if lstm:
            return torch.cat(
                [torch.cat([h_n[0][k], h_n[1][k]], 1) for k in range(module.num_layers)], 1
            )
        return torch.cat(list(h_n), 1)
    if isinstance(module, nn.LSTMCell):
        u = module.hidden_size
        return torch.cat(module(inputs, (states[:, :u], states[:, u:])), 1)
    return module(inputs, states)


def reference_jacobians(module: nn.Module, h: np.ndarray, x: np.ndarray) -> tuple[Any, Any]:
    """``dF/dh`` and ``dF/dx`` at each point by ``torch.autograd.functional.jacobian``."""
    jh, jx = [], []
    for state, inp in zip(torch.as_tensor(h), torch.as_tensor(x), strict=True):
        a, b = torch.autograd.functional.jacobian(
            lambda s, i: module_step(module, s[None], i[None])[0], (state, inp)
        )
        jh.append(a.numpy())
        jx.append(b.numpy())
    return np.stack(jh), np.stack(jx)


def state_dim(module: nn.Module) -> int:
    """Flat state size of a PyTorch RNN module or cell."""
    lstm = isinstance(module, (nn.LSTM, nn.LSTMCell))
    return getattr(module, "num_layers", 1) * module.hidden_size * (2 if lstm else 1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
