"""Any PyTorch cell gets torch.func Jacobians with no code from the user; stacks compose."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from dynalyze_torch import StackedSystem, TorchCellSystem, TorchGRUSystem
from torch import nn

import dynalyze
from dynalyze.systems import GRUSystem, LSTMSystem, SimpleRNNSystem
from dynalyze.testing import check_system


class LeakyCell(nn.Module):
    """``h' = (1 - a) h + a tanh(W x + U h + b)``: no analytic system exists for it."""

    def __init__(self, input_size: int = 3, hidden_size: int = 4, leak: float = 0.3) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.leak = input_size, hidden_size, leak
        self.inp = nn.Linear(input_size, hidden_size)
        self.rec = nn.Linear(hidden_size, hidden_size, bias=False)
        with torch.no_grad():
            self.rec.weight.mul_(4.0)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return (1 - self.leak) * h + self.leak * torch.tanh(self.inp(x) + self.rec(h))


class TwoPartCell(nn.Module):
    """An LSTM-like cell: state ``(h, c)`` in, ``(out, (h, c))`` out; no size attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.gates = nn.Linear(2 + 3, 2 * 3)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> Any:
        h, c = state
        f, g = self.gates(torch.cat([x, h], -1)).chunk(2, -1)
        c = torch.sigmoid(f) * c + torch.tanh(g)
        h = torch.tanh(c)
        return h, (h, c)


class OutAndState(LeakyCell):
    """Returns ``(out, h)``, as ``torch.nn.RNN`` modules do."""

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> Any:  # type: ignore[override]
        new = super().forward(x, h)
        return 2 * new, new


def _reference(module: nn.Module) -> Any:
    def step(h: np.ndarray, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.as_tensor(x), torch.as_tensor(h)).numpy()

    return step


def test_a_custom_cell_passes_the_conformance_checks() -> None:
    torch.manual_seed(0)
    cell = LeakyCell().double()
    system = dynalyze.wrap(cell)
    assert isinstance(system, TorchCellSystem)
    assert (system.state_dim, system.input_dim, system.jacobian_method) == (4, 3, "autodiff")
    report = check_system(system, reference_step=_reference(cell), step_rtol=1e-12, step_atol=1e-12)
    assert report.passed
    assert "analysis_pipeline" in [r.check for r in report.results]


def test_a_cell_with_a_two_part_state_and_an_output() -> None:
    torch.manual_seed(1)
    cell = TwoPartCell()
    with pytest.raises(dynalyze.errors.UnsupportedModelError, match="state_sizes"):
        TorchCellSystem(cell, input_dim=2)
    system = TorchCellSystem(cell, input_dim=2, state_sizes=(3, 3))
    assert system.layout.to_dict() == {"h": 3, "c": 3}
    check_system(system, pipeline=False)
    rng = np.random.default_rng(0)
    h, x = rng.normal(size=(4, 6)), rng.normal(size=(4, 2))
    with torch.no_grad():
        _, (h_new, c_new) = cell.double()(
            torch.as_tensor(x), (torch.as_tensor(h[:, :3]), torch.as_tensor(h[:, 3:]))
        )
    np.testing.assert_allclose(system.step(h, x), np.hstack([h_new, c_new]), rtol=0, atol=1e-12)


def test_a_cell_returning_out_and_state() -> None:
    torch.manual_seed(2)
    system = dynalyze.wrap(OutAndState())
    leaky = LeakyCell()
    leaky.load_state_dict(system.source_module.state_dict())
    rng = np.random.default_rng(0)
    h, x = rng.normal(size=(4, 4)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(system.step(h, x), _reference(leaky.double())(h, x), atol=1e-12)


def test_a_torch_cell_with_its_forward_overridden_gets_autodiff() -> None:
    class Scaled(nn.GRUCell):
        def forward(self, x: torch.Tensor, h: Any = None) -> torch.Tensor:
            return 0.5 * super().forward(x, h)

    torch.manual_seed(3)
    cell = Scaled(3, 4)
    system = dynalyze.wrap(cell)
    assert isinstance(system, TorchCellSystem)
    plain = nn.GRUCell(3, 4)
    plain.load_state_dict(cell.state_dict())
    rng = np.random.default_rng(0)
    h, x = rng.normal(size=(4, 4)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(system.step(h, x), 0.5 * dynalyze.wrap(plain).step(h, x), atol=1e-7)


def test_a_model_holding_one_recurrent_module_is_wrapped_as_that_module() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.GRU(3, 4))
    assert isinstance(dynalyze.wrap(model), TorchGRUSystem)
    forced = dynalyze.wrap(model, system="torch")
    assert isinstance(forced, TorchCellSystem) and forced.jacobian_method == "autodiff"
    assert isinstance(forced.source_module, nn.GRU)
    with pytest.raises(dynalyze.errors.AmbiguousModelError, match="several recurrent"):
        dynalyze.wrap(nn.Sequential(nn.GRU(3, 3), nn.GRU(3, 3)))


def test_a_stack_of_different_layers_composes_with_exact_jacobians() -> None:
    rng = np.random.default_rng(0)
    bottom = LSTMSystem(rng.normal(size=(2, 12)), rng.normal(size=(3, 12)))
    middle = SimpleRNNSystem(rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), rng.normal(size=4))
    top = GRUSystem(rng.normal(size=(4, 6)), rng.normal(size=(2, 6)), rng.normal(size=(2, 6)))
    stacked = StackedSystem([bottom, middle, top])
    assert stacked.layout.to_dict() == {"h0": 3, "c0": 3, "h1": 4, "h2": 2}
    assert stacked.describe()["layer_systems"] == ["lstm", "simple_rnn", "gru"]
    h, x = rng.normal(size=(5, 12)), rng.normal(size=(5, 2))
    s0 = bottom.step(h[:, :6], x)
    s1 = middle.step(h[:, 6:10], s0[:, :3])
    s2 = top.step(h[:, 10:], s1)
    np.testing.assert_allclose(stacked.step(h, x), np.hstack([s0, s1, s2]), rtol=0, atol=1e-15)
    check_system(stacked, pipeline=False)
    lower, upper = stacked.state_bounds
    assert np.isinf(lower[3:6]).all() and (upper[:3] == 1).all()


def test_stacked_layers_must_fit() -> None:
    rng = np.random.default_rng(0)
    a = SimpleRNNSystem(rng.normal(size=(2, 3)), rng.normal(size=(3, 3)))
    with pytest.raises(dynalyze.errors.InputShapeError, match="Layer 1 takes inputs of size 2"):
        StackedSystem([a, a])
    with pytest.raises(dynalyze.errors.ConfigurationError):
        StackedSystem([])
