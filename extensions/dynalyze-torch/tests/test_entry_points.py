"""dynalyze finds the PyTorch systems through the installed entry points, and only there."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap

ANALYTIC = ["torch_gru", "torch_lstm", "torch_rnn", "torch_stacked"]


def test_the_autodiff_fallback_is_consulted_after_every_other_adapter() -> None:
    found = {
        ep.name: ep.value
        for ep in importlib.metadata.entry_points(group="dynalyze.systems")
        if ep.value.startswith("dynalyze_torch.")
    }
    assert sorted(found) == sorted([*ANALYTIC, "torch"])
    # The fallback claims every nn.Module: it says so, and dynalyze orders it after the
    # analytic adapters (and after any other plugin's), just before the Keras fallback.
    import dynalyze
    from dynalyze.keras.registry import list_adapters

    assert getattr(list_adapters()["torch"], "fallback", False) is True
    names = list(dynalyze.list_systems())
    assert names[-2:] == ["torch", "keras"]
    assert all(names.index(name) < names.index("torch") for name in ANALYTIC)


def test_dynalyze_wraps_pytorch_modules_through_the_entry_points() -> None:
    # A fresh interpreter: the user imports dynalyze and torch, never dynalyze_torch.
    code = textwrap.dedent(
        """
        import json, sys, warnings
        import dynalyze
        from dynalyze.errors import DynalyzePluginWarning
        warnings.simplefilter("error", DynalyzePluginWarning)  # a broken plugin fails here
        names = list(dynalyze.list_systems())
        torch_loaded = "torch" in sys.modules
        import torch

        class Leaky(torch.nn.Module):
            input_size, hidden_size = 2, 3
            def __init__(self):
                super().__init__()
                self.lin = torch.nn.Linear(5, 3)
            def forward(self, x, h):
                return 0.5 * h + 0.5 * torch.tanh(self.lin(torch.cat([x, h], -1)))

        modules = {
            "gru": torch.nn.GRU(2, 3, batch_first=True),
            "lstm_cell": torch.nn.LSTMCell(2, 3),
            "stacked_rnn": torch.nn.RNN(2, 3, num_layers=2, nonlinearity="relu"),
            "leaky": Leaky(),
        }
        systems = {key: dynalyze.wrap(module) for key, module in modules.items()}
        print(json.dumps({
            "names": names,
            "torch_loaded_by_listing": torch_loaded,
            "classes": {k: f"{type(s).__module__}.{type(s).__qualname__}"
                        for k, s in systems.items()},
            "methods": {k: s.jacobian_method for k, s in systems.items()},
            "forced": type(dynalyze.wrap(modules["gru"], system="torch")).__name__,
        }))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    names = out["names"]
    assert [n for n in names if n.startswith("torch")] == [*ANALYTIC, "torch"]
    assert names.index("torch") < names.index("keras")  # dynalyze's own fallback stays last
    assert out["torch_loaded_by_listing"] is False
    assert out["classes"] == {
        "gru": "dynalyze_torch.systems.TorchGRUSystem",
        "lstm_cell": "dynalyze_torch.systems.TorchLSTMSystem",
        "stacked_rnn": "dynalyze_torch.stacked.StackedSystem",
        "leaky": "dynalyze_torch.cell_system.TorchCellSystem",
    }
    assert out["methods"] == {
        "gru": "analytic",
        "lstm_cell": "analytic",
        "stacked_rnn": "analytic",
        "leaky": "autodiff",
    }
    assert out["forced"] == "TorchCellSystem"
