"""Every PyTorch module type: steps equal the module's forward, Jacobians equal autograd's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from conftest import INPUT, module_step, random_module, reference_jacobians, state_dim
from dynalyze_torch import (
    StackedSystem,
    TorchCellSystem,
    TorchGRUSystem,
    TorchLSTMSystem,
    TorchRNNSystem,
)

import dynalyze

STEP_ATOL = 1e-12
JACOBIAN_ATOL = 1e-10

SEQUENCE = [
    ("RNN", {"nonlinearity": "tanh"}),
    ("RNN", {"nonlinearity": "relu"}),
    ("GRU", {}),
    ("LSTM", {}),
]
CASES: list[tuple[str, dict[str, Any]]] = [
    (kind, {**options, "num_layers": layers, "batch_first": batch_first})
    for kind, options in SEQUENCE
    for layers in (1, 3)
    for batch_first in (False, True)
]
CASES += [
    ("GRU", {"bias": False, "num_layers": 2}),
    ("LSTM", {"bias": False}),
    ("RNN", {"dropout": 0.5, "num_layers": 2}),  # dropout acts in training only
    ("RNNCell", {"nonlinearity": "tanh"}),
    ("RNNCell", {"nonlinearity": "relu"}),
    ("GRUCell", {}),
    ("GRUCell", {"bias": False}),
    ("LSTMCell", {}),
]
EXPECTED = {
    "RNN": TorchRNNSystem,
    "GRU": TorchGRUSystem,
    "LSTM": TorchLSTMSystem,
}


def _id(case: tuple[str, dict[str, Any]]) -> str:
    kind, options = case
    return "-".join([kind, *(f"{k}={v}" for k, v in options.items())])


def _points(module: torch.nn.Module, n: int = 5, seed: int = 1) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, state_dim(module))), rng.normal(size=(n, INPUT))


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_the_analytic_system_is_the_modules_step(case: tuple[str, dict[str, Any]]) -> None:
    kind, options = case
    module = random_module(kind, **options)
    system = dynalyze.wrap(module)
    layers = options.get("num_layers", 1)
    expected = EXPECTED[kind.removesuffix("Cell")]
    if layers == 1:
        assert type(system) is expected
    else:
        assert isinstance(system, StackedSystem)
        assert [type(layer) for layer in system.layers] == [expected] * layers
    assert system.jacobian_method == "analytic"
    h, x = _points(module)
    want = module_step(module, h, x).detach().numpy()
    np.testing.assert_allclose(system.step(h, x), want, rtol=0, atol=STEP_ATOL)
    jh, jx = reference_jacobians(module, h, x)
    got_h, got_x = system.jacobians(h, x)
    np.testing.assert_allclose(got_h, jh, rtol=0, atol=JACOBIAN_ATOL)
    np.testing.assert_allclose(got_x, jx, rtol=0, atol=JACOBIAN_ATOL)
    step, only_h = system.step_and_jacobian_state(h, x)
    np.testing.assert_allclose(step, want, rtol=0, atol=STEP_ATOL)
    np.testing.assert_allclose(only_h, jh, rtol=0, atol=JACOBIAN_ATOL)
    np.testing.assert_allclose(system.jacobian_input(h, x), jx, rtol=0, atol=JACOBIAN_ATOL)
    v = np.random.default_rng(2).normal(size=h.shape)
    np.testing.assert_allclose(
        system.vjp_state(h, x, v), np.einsum("ni,nij->nj", v, jh), rtol=0, atol=JACOBIAN_ATOL
    )


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_the_autodiff_system_is_the_modules_step(case: tuple[str, dict[str, Any]]) -> None:
    kind, options = case
    module = random_module(kind, **options)
    system = dynalyze.wrap(module, system="torch")
    assert isinstance(system, TorchCellSystem)
    assert system.jacobian_method == "autodiff"
    h, x = _points(module)
    want = module_step(module, h, x).detach().numpy()
    np.testing.assert_allclose(system.step(h, x), want, rtol=0, atol=STEP_ATOL)
    jh, jx = reference_jacobians(module, h, x)
    got_h, got_x = system.jacobians(h, x)
    np.testing.assert_allclose(got_h, jh, rtol=0, atol=JACOBIAN_ATOL)
    np.testing.assert_allclose(got_x, jx, rtol=0, atol=JACOBIAN_ATOL)
    step, only_h = system.step_and_jacobian_state(h, x)
    np.testing.assert_allclose(step, want, rtol=0, atol=STEP_ATOL)
    np.testing.assert_allclose(only_h, jh, rtol=0, atol=JACOBIAN_ATOL)
    np.testing.assert_allclose(system.jacobian_input(h, x), jx, rtol=0, atol=JACOBIAN_ATOL)
    v = np.random.default_rng(2).normal(size=h.shape)
    np.testing.assert_allclose(
        system.vjp_state(h, x, v), np.einsum("ni,nij->nj", v, jh), rtol=0, atol=JACOBIAN_ATOL
    )
    assert system.layout == dynalyze.wrap(module).layout


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_a_whole_sequence_is_the_modules_forward(kind: str, batch_first: bool) -> None:
    """Stepping the system T times reproduces the module's outputs and final states."""
    module = random_module(kind, num_layers=2, batch_first=batch_first)
    system = dynalyze.wrap(module)
    rng = np.random.default_rng(3)
    n, steps = 4, 7
    h = 0.5 * rng.normal(size=(n, system.state_dim))
    xs = rng.normal(size=(n, steps, INPUT))
    u = module.hidden_size
    width = system.state_dim // 2
    blocks = [torch.as_tensor(h[:, k * width : (k + 1) * width]) for k in range(2)]
    if kind == "LSTM":
        hx: Any = (torch.stack([b[:, :u] for b in blocks]), torch.stack([b[:, u:] for b in blocks]))
    else:
        hx = torch.stack(blocks)
    sequence = torch.as_tensor(xs if batch_first else xs.transpose(1, 0, 2))
    out, _ = module(sequence, hx)
    out = out.detach().numpy()
    if not batch_first:
        out = out.transpose(1, 0, 2)
    top = slice(width, width + u)  # the top layer's h
    for t in range(steps):
        h = system.step(h, xs[:, t])
        np.testing.assert_allclose(h[:, top], out[:, t], rtol=0, atol=STEP_ATOL)


def test_the_original_module_is_not_changed() -> None:
    torch.manual_seed(0)
    module = torch.nn.GRU(3, 4).train()
    before = [p.detach().clone() for p in module.parameters()]
    dynalyze.wrap(module)
    system = dynalyze.wrap(module, system="torch")
    assert module.training
    assert all(p.dtype == torch.float32 and p.requires_grad for p in module.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))
    assert system.describe()["torch_module_class"] == "torch.nn.modules.rnn.GRU"
    assert system.precision == "float64"
