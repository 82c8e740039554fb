"""The system is found through the installed entry point, and only through it."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap


def test_the_package_declares_the_entry_point() -> None:
    found = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="dynalyze.systems")}
    assert found.get("leaky") == "dynalyze_leaky.adapter:ADAPTER"


def test_dynalyze_discovers_the_system_through_the_entry_point_only() -> None:
    # A fresh interpreter: nothing has imported dynalyze_leaky.system. The user
    # only imports the Keras cell (to build a model) and dynalyze.
    code = textwrap.dedent(
        """
        import json, sys, warnings
        import dynalyze
        from dynalyze.errors import DynalyzePluginWarning
        warnings.simplefilter("error", DynalyzePluginWarning)  # a broken plugin fails here
        from dynalyze_leaky.cell import LeakyRNNCell
        import keras
        plugin = ("dynalyze_leaky.adapter", "dynalyze_leaky.system")
        before = [m for m in plugin if m in sys.modules]
        names = list(dynalyze.list_systems())
        layer = keras.layers.RNN(LeakyRNNCell(3))
        layer.build((None, None, 2))
        system = dynalyze.wrap(layer)
        print(json.dumps({
            "imported_before": before,
            "names": names,
            "class": f"{type(system).__module__}.{type(system).__qualname__}",
            "jacobian_method": system.jacobian_method,
            "sizes": [system.state_dim, system.input_dim],
        }))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["imported_before"] == []
    assert "leaky" in out["names"]
    assert out["names"].index("leaky") < out["names"].index("keras")  # before the fallback
    assert out["class"] == "dynalyze_leaky.system.LeakyRNNSystem"
    assert out["jacobian_method"] == "analytic"
    assert out["sizes"] == [3, 2]
