"""Extensibility: the UGRNN built-in, the plugin registry and ``dynalyze.testing``.

Oracles: the Keras cell's own output, TensorFlow autodiff through the same cell
(:class:`~dynalyze.keras.KerasCellSystem`), and central finite differences.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _plugins import fake_entry_points

keras = pytest.importorskip("keras")

import dynalyze  # noqa: E402
from dynalyze.errors import DynalyzePluginWarning, UnsupportedModelError  # noqa: E402
from dynalyze.keras import KerasCellSystem, UGRNNCell, list_adapters, registry  # noqa: E402
from dynalyze.keras.adapters import CellAdapter  # noqa: E402
from dynalyze.systems import (  # noqa: E402
    GRUSystem,
    RecurrentSystem,
    SimpleRNNSystem,
    UGRNNSystem,
)
from dynalyze.systems.finite_differences import finite_difference_jacobians  # noqa: E402
from dynalyze.testing import (  # noqa: E402
    ConformanceError,
    check_keras_cell,
    check_system,
    keras_reference_step,
)

N_POINTS = 6


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
    """Norm-based relative error."""
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300))


def randomize(cell: Any, rng: np.random.Generator, gain: float = 1.2) -> None:
    """O(1) pre-activations: gates neither saturated nor linear."""
    weights = []
    for w in cell.get_weights():
        if w.ndim == 2:
            weights.append(gain * rng.standard_normal(w.shape) / np.sqrt(w.shape[0]))
        else:
            weights.append(0.5 * rng.standard_normal(w.shape))
    cell.set_weights([w.astype(np.float32) for w in weights])


def f32(a: np.ndarray) -> np.ndarray:
    """Float64 values exactly representable in float32 (what Keras sees)."""
    return np.asarray(a).astype(np.float32).astype(np.float64)


# ------------------------------------------------------------------------ UGRNN
UGRNN_CASES = [
    (1, 1, {}),
    (7, 5, {}),
    (32, 4, {}),
    (6, 3, {"use_bias": False}),
    (5, 2, {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
]


@pytest.fixture(
    scope="module",
    params=UGRNN_CASES,
    ids=[f"u{u}-in{i}" + "".join(f"-{k}={v}" for k, v in kw.items()) for u, i, kw in UGRNN_CASES],
)
def ugrnn(request: pytest.FixtureRequest) -> tuple[Any, UGRNNSystem, KerasCellSystem, Any, Any]:
    units, input_dim, kwargs = request.param
    rng = np.random.default_rng(10 * units + input_dim)
    cell = UGRNNCell(units, **kwargs)
    cell.build((None, input_dim))
    randomize(cell, rng)
    system = dynalyze.wrap(cell)
    oracle = dynalyze.wrap(cell, system="keras")
    h = f32(0.6 * rng.standard_normal((N_POINTS, units)))
    x = f32(rng.standard_normal((N_POINTS, input_dim)))
    return cell, system, oracle, h, x


def test_ugrnn_is_wrapped_analytically(ugrnn: Any) -> None:
    _, system, oracle, _, _ = ugrnn
    assert isinstance(system, UGRNNSystem)
    assert system.jacobian_method == "analytic"
    assert isinstance(oracle, KerasCellSystem) and oracle.precision == "float64"
    assert system.layout == oracle.layout


def test_ugrnn_step_matches_keras_cell(ugrnn: Any) -> None:
    cell, system, oracle, h, x = ugrnn
    want = keras_reference_step(cell)(h, x)
    np.testing.assert_allclose(system.step(h, x), want, rtol=1e-5, atol=1e-6)
    assert rel_err(system.step(h, x), oracle.step(h, x)) < 1e-12


def test_ugrnn_jacobians_match_autodiff_and_finite_differences(ugrnn: Any) -> None:
    _, system, oracle, h, x = ugrnn
    jh, jx = system.jacobians(h, x)
    ah, ax = oracle.jacobians(h, x)
    assert rel_err(jh, ah) < 1e-10
    assert rel_err(jx, ax) < 1e-10
    fh, fx = finite_difference_jacobians(system._step, h, x)
    assert rel_err(jh, fh) < 1e-6
    assert rel_err(jx, fx) < 1e-6
    if system.state_dim > 1:
        assert rel_err(jh[0], jh[1]) > 1e-2  # a non-trivial test point


def test_ugrnn_entry_points_and_vjp_agree(ugrnn: Any) -> None:
    _, system, _, h, x = ugrnn
    jh, jx = system.jacobians(h, x)
    np.testing.assert_allclose(system.jacobian_state(h, x), jh, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(system.jacobian_input(h, x), jx, rtol=1e-14, atol=1e-15)
    y, j2 = system.step_and_jacobian_state(h, x)
    np.testing.assert_allclose(y, system.step(h, x), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(j2, jh, rtol=1e-14, atol=1e-15)
    v = np.random.default_rng(3).standard_normal(h.shape)
    assert rel_err(system.vjp_state(h, x, v), np.einsum("ni,nij->nj", v, jh)) < 1e-12


def test_ugrnn_passes_the_keras_cell_conformance_check() -> None:
    cell = UGRNNCell(5)
    layer = keras.layers.RNN(cell)
    layer.build((None, None, 3))
    randomize(cell, np.random.default_rng(4))
    report = check_keras_cell(layer)
    assert report.passed
    assert [r.check for r in report.results] == [
        "shapes_and_dtypes",
        "consistency",
        "step_against_reference",
        "jacobians_finite_differences",
        "jacobians_against_reference",
        "determinism",
        "analysis_pipeline",
    ]
    assert report.result("jacobians_against_reference").error < 1e-10


def test_ugrnn_system_validates_weights() -> None:
    from dynalyze.errors import InputShapeError, NonFiniteError

    with pytest.raises(InputShapeError, match=r"2 \* units"):
        UGRNNSystem(np.zeros((2, 6)), np.zeros((2, 6)))
    with pytest.raises(InputShapeError, match="kernel"):
        UGRNNSystem(np.zeros((2, 4)), np.zeros((3, 6)))
    with pytest.raises(InputShapeError, match="bias"):
        UGRNNSystem(np.zeros((2, 4)), np.zeros((2, 4)), np.zeros(3))
    with pytest.raises(NonFiniteError):
        UGRNNSystem(np.full((1, 4), np.nan), np.zeros((2, 4)))
    adapter = list_adapters()["ugrnn"]
    with pytest.raises(UnsupportedModelError, match="UGRNNCell"):
        adapter.from_keras(keras.layers.GRUCell(2))
    unbuilt = UGRNNCell(2)
    assert not adapter.can_wrap(unbuilt)
    with pytest.raises(UnsupportedModelError, match="not built"):
        adapter.from_keras(unbuilt)


class HalvedUGRNNCell(UGRNNCell):
    """Overrides call: the analytic UGRNN system must not claim it."""

    def call(self, inputs: Any, states: Any, training: bool = False) -> Any:
        out, new = super().call(inputs, states, training=training)
        return 0.5 * out, [0.5 * s for s in new]


def test_ugrnn_subclass_with_other_math_falls_back_to_autodiff() -> None:
    cell = HalvedUGRNNCell(3)
    cell.build((None, 2))
    assert not list_adapters()["ugrnn"].can_wrap(cell)
    system = dynalyze.wrap(cell)
    assert isinstance(system, KerasCellSystem)
    h, x = np.full((1, 3), 0.5), np.ones((1, 2))
    np.testing.assert_allclose(
        system.step(h, x), keras_reference_step(cell)(h, x), rtol=1e-6, atol=1e-7
    )


def test_ugrnn_architecture_builds_masked_model() -> None:
    from dynalyze.sentiment.models import ARCHITECTURES, build_model

    assert "ugrnn" in ARCHITECTURES
    model = build_model("ugrnn", 30, units=4, embedding_dim=3, seed=1)
    again = build_model("ugrnn", 30, units=4, embedding_dim=3, seed=1)
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # seeded
    system = dynalyze.wrap(model)
    assert isinstance(system, UGRNNSystem)
    assert (system.state_dim, system.input_dim) == (4, 3)
    # Padding (id 0) at the end is masked: the final state is the one after the last token.
    padded = np.array([[5, 7, 9, 0, 0]], dtype="int32")
    trimmed = padded[:, :3]
    np.testing.assert_allclose(model(padded), model(trimmed), rtol=1e-6, atol=1e-7)


def test_ugrnn_model_saves_and_loads_in_safe_mode(tmp_path: Path) -> None:
    from dynalyze.keras import save_model
    from dynalyze.sentiment.models import build_model
    from dynalyze.vocabulary import Vocabulary

    model = build_model("ugrnn", 5, units=3, embedding_dim=2, seed=0)
    randomize(model.get_layer("rnn").cell, np.random.default_rng(5))
    vocab = Vocabulary(["", "[UNK]", "good", "bad", "fine"])
    folder = save_model(model, vocab, tmp_path / "model")
    tokens = np.array([[2, 3, 4, 0], [4, 4, 0, 0]], dtype="int32")
    np.save(tmp_path / "tokens.npy", tokens)
    np.save(tmp_path / "want.npy", np.asarray(model(tokens)))
    # A fresh interpreter that never imported dynalyze.keras.cells: load_model must do it,
    # and plain keras.saving.load_model (safe mode) works once it is imported.
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from dynalyze.keras import load_model
        assert "dynalyze.keras.cells" not in sys.modules
        model, vocab = load_model({str(folder)!r})
        tokens = np.load({str(tmp_path / "tokens.npy")!r})
        want = np.load({str(tmp_path / "want.npy")!r})
        np.testing.assert_allclose(np.asarray(model(tokens)), want, rtol=1e-6, atol=1e-7)
        import keras, dynalyze
        plain = keras.saving.load_model({str(Path(folder) / "model.keras")!r}, safe_mode=True)
        np.testing.assert_allclose(np.asarray(plain(tokens)), want, rtol=1e-6, atol=1e-7)
        print(type(dynalyze.wrap(model)).__name__, type(model.get_layer("rnn").cell).__name__)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split()[-2:] == ["UGRNNSystem", "UGRNNCell"]


# ----------------------------------------------------- a cell with no dynalyze code
class CoupledOscillatorCell(keras.layers.Layer):
    """Two state vectors (position, velocity) and no analytic Jacobian anywhere."""

    def __init__(self, units: int, damping: float = 0.2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units, self.damping = units, damping
        self.state_size = (units, units)
        self.output_size = units

    def build(self, input_shape: Any) -> None:
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.coupling = self.add_weight(shape=(self.units, self.units), name="coupling")

    def call(self, inputs: Any, states: Any) -> Any:
        pos, vel = states
        force = keras.ops.tanh(keras.ops.matmul(pos, self.coupling)) + keras.ops.matmul(
            inputs, self.kernel
        )
        vel = (1.0 - self.damping) * vel + 0.1 * force
        pos = pos + 0.1 * vel
        return pos, [pos, vel]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "damping": self.damping}


def test_custom_cell_without_dynalyze_code_passes_the_conformance_check() -> None:
    cell = CoupledOscillatorCell(3)
    layer = keras.layers.RNN(cell, name="oscillator")
    model = keras.Sequential([keras.Input((None, 2)), layer, keras.layers.Dense(1)])
    randomize(cell, np.random.default_rng(6), gain=0.8)
    system = dynalyze.wrap(model)
    assert isinstance(system, KerasCellSystem)
    assert system.jacobian_method == "autodiff" and system.precision == "float64"
    assert system.layout.to_dict() == {"h": 3, "c": 3}
    report = check_system(system, reference_step=keras_reference_step(model))
    assert report.passed, str(report)
    assert report.result("jacobians_finite_differences").error < 1e-6
    # The same through the one-call helper (the reference is the cell itself).
    assert check_keras_cell(model, pipeline=False).passed


def test_check_system_reports_what_failed_and_by_how_much() -> None:
    class SloppyUGRNN(UGRNNSystem):
        name = "sloppy"

        def _jacobians(self, h: Any, x: Any) -> tuple[Any, Any]:
            jh, jx = super()._jacobians(h, x)
            return 1.01 * jh, jx

    rng = np.random.default_rng(7)
    system = SloppyUGRNN(rng.normal(size=(2, 6)), rng.normal(size=(3, 6)))
    with pytest.raises(ConformanceError) as info:
        check_system(system, pipeline=False)
    assert isinstance(info.value, AssertionError)
    message = str(info.value)
    assert "FAIL consistency" in message and "FAIL jacobians_finite_differences" in message
    assert "jacobians()[0] differs from jacobian_state" in message
    assert "jacobian_state differs from central finite differences" in message
    assert "PASS determinism" in message
    failed = {r.check for r in info.value.results}
    assert failed == {"consistency", "jacobians_finite_differences"}
    report = check_system(system, pipeline=False, raise_on_failure=False)
    error = report.result("jacobians_finite_differences").error
    assert 5e-3 < error < 2e-2  # about the 1% that was injected


def test_check_system_turns_exceptions_into_failures() -> None:
    class Crashing(SimpleRNNSystem):
        def _jacobians(self, h: Any, x: Any) -> tuple[Any, Any]:
            raise RuntimeError("boom")

    system = Crashing(np.ones((1, 2)), np.zeros((2, 2)))
    report = check_system(system, pipeline=False, raise_on_failure=False)
    assert not report.passed
    assert "RuntimeError: boom" in report.result("shapes_and_dtypes").detail


def test_step_reference_mismatch_is_reported() -> None:
    cell = UGRNNCell(3)
    cell.build((None, 2))
    randomize(cell, np.random.default_rng(8))
    reference = keras_reference_step(cell)
    with pytest.raises(ConformanceError, match=r"step differs from the reference.*point"):
        check_system(
            dynalyze.wrap(cell),
            reference_step=lambda h, x: reference(h, x) + 1e-3,
            pipeline=False,
        )


# --------------------------------------------------------------------- registry
def test_unknown_object_error_lists_installed_systems_and_how_to_add_one() -> None:
    dense = keras.layers.Dense(3)
    dense.build((None, 2))
    for obj in (np.zeros((3, 3)), dense):
        with pytest.raises(UnsupportedModelError) as info:
            dynalyze.wrap(obj)
        message = str(info.value)
        assert "Installed systems:" in message
        for name in ("gru", "keras", "lstm", "simple_rnn", "ugrnn"):
            assert repr(name) in message
        assert "'dynalyze.systems'" in message and "RecurrentSystem" in message


def test_list_systems_has_ugrnn_and_warning_class_lives_in_errors() -> None:
    systems = dynalyze.list_systems()
    assert list(systems)[:4] == ["simple_rnn", "gru", "lstm", "ugrnn"]
    assert systems["ugrnn"] is UGRNNSystem and list(systems)[-1] == "keras"
    assert registry.DynalyzePluginWarning is DynalyzePluginWarning
    assert issubclass(DynalyzePluginWarning, UserWarning)


class TwinA(SimpleRNNSystem):
    name = "twin"


class TwinB(SimpleRNNSystem):
    name = "twin"


class ClashesWithGRU(GRUSystem):
    name = "gru"


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, specs: list[tuple[str, str]]) -> None:
    """Make importlib.metadata report these (name, "module:attr") plug-ins; forget found ones."""
    fake_entry_points(monkeypatch, registry.ENTRY_POINT_GROUP, specs)
    registry._reset_plugins()


@pytest.fixture
def fresh_registry() -> Any:
    registry._reset_plugins()
    yield
    registry._reset_plugins()


def test_broken_plugin_warns_and_dynalyze_keeps_working(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: Any
) -> None:
    _fake_entry_points(
        monkeypatch,
        [("broken", "dynalyze_no_such_plugin_module:System"), ("twin", f"{__name__}:TwinA")],
    )
    with pytest.warns(DynalyzePluginWarning, match=r"broken.*dynalyze_no_such_plugin_module"):
        systems = dynalyze.list_systems()
    assert list(systems) == ["simple_rnn", "gru", "lstm", "ugrnn", "twin", "keras"]
    cell = keras.layers.GRUCell(2)
    cell.build((None, 1))
    assert isinstance(dynalyze.wrap(cell), GRUSystem)  # discovery happened once, no new warning


def test_duplicate_plugin_names_warn_and_the_first_wins(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: Any
) -> None:
    _fake_entry_points(
        monkeypatch,
        [
            ("twin", f"{__name__}:TwinA"),
            ("twin", f"{__name__}:TwinB"),
            ("gru", f"{__name__}:ClashesWithGRU"),
        ],
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        systems = dynalyze.list_systems()
    messages = [str(w.message) for w in record if w.category is DynalyzePluginWarning]
    assert len(messages) == 2, messages
    assert any("Two systems are named 'twin'" in m and "TwinB" in m for m in messages)
    assert any("Two systems are named 'gru'" in m and "ClashesWithGRU" in m for m in messages)
    assert systems["twin"] is TwinA and systems["gru"] is GRUSystem


def test_broken_plugin_does_not_break_import_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """A real installed distribution whose plugin module fails to import."""
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[dynalyze.systems]\nbroken = broken_plugin_module:System\n"
    )
    (tmp_path / "broken_plugin_module.py").write_text(
        "raise ImportError('broken_plugin_module needs a package that is not installed')\n"
    )
    code = textwrap.dedent(
        """
        import json, sys, warnings
        import dynalyze
        import dynalyze.testing  # public test helpers stay TensorFlow-free too
        imported = "broken_plugin_module" in sys.modules
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            systems = dynalyze.list_systems()
        print(json.dumps({
            "imported_at_import": imported,
            "systems": list(systems),
            "warnings": [(w.category.__name__, str(w.message)) for w in record],
            "tensorflow": [m for m in ("tensorflow", "keras") if m in sys.modules],
        }))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["imported_at_import"] is False  # plugins are discovered lazily
    assert out["systems"] == ["simple_rnn", "gru", "lstm", "ugrnn", "keras"]
    assert out["tensorflow"] == []
    [(category, message)] = out["warnings"]
    assert category == "DynalyzePluginWarning"
    assert "broken = broken_plugin_module:System" in message and "not installed" in message


#: An installed plugin written against the earlier API: the system class is the entry
#: point and builds itself with can_wrap/from_keras, using the old activation helper.
LEGACY_PLUGIN = """
import numpy as np
from dynalyze import RecurrentSystem
from dynalyze.systems.activations import get_activation, keras_activation_name


class LegacySystem(RecurrentSystem):
    name = "legacy"

    def __init__(self, kernel, recurrent_kernel, activation="tanh"):
        self.kernel = np.array(kernel, dtype=float)
        self.recurrent_kernel = np.array(recurrent_kernel, dtype=float)
        self.activation = get_activation(activation)

    @classmethod
    def can_wrap(cls, obj):
        cell = getattr(obj, "cell", obj)
        return type(cell).__name__ == "LegacyCell" and cell.built

    @classmethod
    def from_keras(cls, obj):
        cell = getattr(obj, "cell", obj)
        return cls(
            cell.kernel.numpy(), cell.recurrent_kernel.numpy(),
            keras_activation_name(cell.activation),
        )

    @property
    def state_dim(self):
        return self.recurrent_kernel.shape[0]

    @property
    def input_dim(self):
        return self.kernel.shape[0]

    def _step(self, h, x):
        return self.activation(x @ self.kernel + h @ self.recurrent_kernel)
"""


def test_an_installed_old_style_plugin_still_works(tmp_path: Path) -> None:
    """A real distribution registering a system class with can_wrap/from_keras classmethods."""
    dist = tmp_path / "legacy_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: legacy-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[dynalyze.systems]\nlegacy = legacy_plugin_module:LegacySystem\n"
    )
    (tmp_path / "legacy_plugin_module.py").write_text(LEGACY_PLUGIN)
    code = textwrap.dedent(
        """
        import json, warnings
        import keras, numpy as np
        import dynalyze

        class LegacyCell(keras.layers.Layer):
            def __init__(self, units, **kwargs):
                super().__init__(**kwargs)
                self.units = self.state_size = self.output_size = units
                self.activation = keras.activations.tanh

            def build(self, input_shape):
                self.kernel = self.add_weight(shape=(input_shape[-1], self.units))
                self.recurrent_kernel = self.add_weight(shape=(self.units, self.units))

            def call(self, inputs, states):
                h = self.activation(inputs @ self.kernel + states[0] @ self.recurrent_kernel)
                return h, [h]

        cell = LegacyCell(3)
        cell.build((None, 2))
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            system = dynalyze.wrap(cell)
            forced = dynalyze.wrap(cell, system="legacy")
        h, x = np.full((1, 3), 0.2), np.ones((1, 2))
        want = np.tanh(x @ cell.kernel.numpy() + h @ cell.recurrent_kernel.numpy())
        print(json.dumps({
            "systems": list(dynalyze.list_systems()),
            "classes": [type(system).__name__, type(forced).__name__],
            "jacobian_method": system.jacobian_method,
            "step_error": float(np.max(np.abs(system.step(h, x) - want))),
            "warnings": sorted({w.category.__name__ for w in record}),
        }))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["systems"] == ["simple_rnn", "gru", "lstm", "ugrnn", "legacy", "keras"]
    assert out["classes"] == ["LegacySystem", "LegacySystem"]
    assert out["jacobian_method"] == "finite-difference"
    assert out["step_error"] < 1e-6
    assert "DeprecationWarning" in out["warnings"]  # keras_activation_name, renamed
    assert "DynalyzePluginWarning" not in out["warnings"]


def test_old_style_plugin_with_classmethods_is_used_by_wrap_and_by_name(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: Any
) -> None:
    _fake_entry_points(monkeypatch, [("oscillator", f"{__name__}:OscillatorSystem")])
    cell = CoupledOscillatorCell(2)
    cell.build((None, 1))
    system = dynalyze.wrap(cell)
    assert isinstance(system, OscillatorSystem)
    assert isinstance(dynalyze.wrap(cell, system="keras"), KerasCellSystem)
    assert isinstance(dynalyze.wrap(cell, system="oscillator"), OscillatorSystem)


def test_plugin_adapter_is_used_by_wrap_and_by_name(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: Any
) -> None:
    """The current recipe: a pure system plus a CellAdapter registered as the entry point."""
    _fake_entry_points(monkeypatch, [("pure_oscillator", f"{__name__}:OSCILLATOR_ADAPTER")])
    systems = dynalyze.list_systems()
    assert list(systems) == ["simple_rnn", "gru", "lstm", "ugrnn", "pure_oscillator", "keras"]
    assert systems["pure_oscillator"] is PureOscillatorSystem
    cell = CoupledOscillatorCell(2)
    layer = keras.layers.RNN(cell)
    layer.build((None, None, 1))
    for obj in (cell, layer):
        system = dynalyze.wrap(obj)
        assert isinstance(system, PureOscillatorSystem)
        assert (system.state_dim, system.input_dim) == (4, 1)
    assert isinstance(dynalyze.wrap(cell, system="pure_oscillator"), PureOscillatorSystem)
    assert isinstance(dynalyze.wrap(cell, system="keras"), KerasCellSystem)
    # An unbuilt cell or a subclass with other math is not claimed.
    assert not OSCILLATOR_ADAPTER.can_wrap(CoupledOscillatorCell(2))
    other = StifferOscillatorCell(2)
    other.build((None, 1))
    assert isinstance(dynalyze.wrap(other), KerasCellSystem)
    with pytest.raises(UnsupportedModelError, match="CoupledOscillatorCell"):
        OSCILLATOR_ADAPTER.from_keras(other)


def test_plugin_system_without_an_adapter_is_listed_but_wraps_nothing(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: Any
) -> None:
    _fake_entry_points(monkeypatch, [("pure_oscillator", f"{__name__}:PureOscillatorSystem")])
    assert dynalyze.list_systems()["pure_oscillator"] is PureOscillatorSystem
    cell = CoupledOscillatorCell(2)
    cell.build((None, 1))
    assert isinstance(dynalyze.wrap(cell), KerasCellSystem)
    with pytest.raises(UnsupportedModelError, match=r"system='pure_oscillator'.*cannot wrap"):
        dynalyze.wrap(cell, system="pure_oscillator")


class PureOscillatorSystem(RecurrentSystem):
    """A plugin system in the current style: built from arrays, no Keras knowledge."""

    name = "pure_oscillator"

    def __init__(self, units: int, input_dim: int) -> None:
        self.units, self._input_dim = units, input_dim

    @property
    def state_dim(self) -> int:
        return 2 * self.units

    @property
    def input_dim(self) -> int:
        return self._input_dim

    def _step(self, h: Any, x: Any) -> Any:
        return 0.5 * h


class StifferOscillatorCell(CoupledOscillatorCell):
    """Overrides call: other math than the adapter's system."""

    def call(self, inputs: Any, states: Any) -> Any:
        out, new = super().call(inputs, states)
        return 2.0 * out, [2.0 * s for s in new]


#: The plugin's adapter: the cell class by path (the adapter's module imports no Keras).
OSCILLATOR_ADAPTER = CellAdapter(
    PureOscillatorSystem,
    f"{__name__}:CoupledOscillatorCell",
    lambda cell: PureOscillatorSystem(cell.units, int(cell.kernel.shape[0])),
)


class OscillatorSystem(RecurrentSystem):
    """A (deliberately trivial) plugin that claims CoupledOscillatorCell.

    The earlier recipe, still supported: ``can_wrap``/``from_keras`` classmethods
    on the system class registered as the entry point.
    """

    name = "oscillator"

    def __init__(self, units: int, input_dim: int) -> None:
        self.units, self._input_dim = units, input_dim

    @classmethod
    def can_wrap(cls, obj: object) -> bool:
        return isinstance(getattr(obj, "cell", obj), CoupledOscillatorCell)

    @classmethod
    def from_keras(cls, obj: Any) -> OscillatorSystem:
        cell = getattr(obj, "cell", obj)
        return cls(cell.units, int(cell.kernel.shape[0]))

    @property
    def state_dim(self) -> int:
        return 2 * self.units

    @property
    def input_dim(self) -> int:
        return self._input_dim

    def _step(self, h: Any, x: Any) -> Any:
        return 0.5 * h
