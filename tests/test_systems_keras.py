"""Keras-facing recurrent systems: analytic cells vs Keras, autodiff and finite differences.

The oracles are Keras's own cells (their outputs) and
:class:`dynalyze.keras.KerasCellSystem` (TensorFlow autodiff through the same
cells, in float64), plus central finite differences.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any, NamedTuple

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import dynalyze  # noqa: E402
from dynalyze.errors import (  # noqa: E402
    AmbiguousModelError,
    ConfigurationError,
    InputShapeError,
    NonFiniteError,
    UnsupportedModelError,
)
from dynalyze.keras import (  # noqa: E402
    KerasCellSystem,
    list_adapters,
    list_systems,
    registry,
    wrap,
)
from dynalyze.systems import (  # noqa: E402
    GRUSystem,
    LSTMSystem,
    RecurrentSystem,
    SimpleRNNSystem,
    finite_differences,
)
from dynalyze.systems.finite_differences import finite_difference_jacobians  # noqa: E402

N_POINTS = 6


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
    """Norm-based relative error."""
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300))


def randomize(cell: Any, rng: np.random.Generator, gain: float = 1.2) -> None:
    """Non-trivial weights: O(1) pre-activations (gates neither saturated nor linear)."""
    weights = []
    for w in cell.get_weights():
        if w.ndim == 2:
            weights.append(gain * rng.standard_normal(w.shape) / np.sqrt(w.shape[0]))
        else:  # biases
            weights.append(0.5 * rng.standard_normal(w.shape))
    cell.set_weights([w.astype(np.float32) for w in weights])


def keras_step(cell: Any, h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The Keras cell's own next state, called on float32 arrays (flat state)."""
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    splits = np.split(h.astype(np.float32), np.cumsum(sizes)[:-1], axis=1)
    _, new_states = cell(x.astype(np.float32), splits, training=False)
    if not isinstance(new_states, (list, tuple)):
        new_states = [new_states]
    return np.concatenate([np.asarray(s, dtype=np.float64) for s in new_states], axis=1)


class Case(NamedTuple):
    cell: Any
    system: RecurrentSystem
    oracle: KerasCellSystem
    h: np.ndarray  # float64 values exactly representable in float32
    x: np.ndarray
    expected_class: type


# kind, units, input_dim, cell kwargs
CASES = [
    ("simple_rnn", 1, 1, {}),
    ("simple_rnn", 7, 5, {}),
    ("gru", 1, 1, {}),
    ("gru", 7, 5, {}),
    ("gru", 32, 5, {}),
    ("gru", 7, 5, {"reset_after": False}),
    ("gru", 32, 1, {"reset_after": False}),
    ("gru", 7, 5, {"use_bias": False}),
    ("lstm", 1, 1, {}),
    ("lstm", 7, 5, {}),
    ("lstm", 32, 5, {}),
]
CELLS = {
    "simple_rnn": (keras.layers.SimpleRNNCell, SimpleRNNSystem),
    "gru": (keras.layers.GRUCell, GRUSystem),
    "lstm": (keras.layers.LSTMCell, LSTMSystem),
}


def _case_id(case: tuple[str, int, int, dict[str, Any]]) -> str:
    kind, units, input_dim, kwargs = case
    extra = "-".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{kind}-u{units}-in{input_dim}" + (f"-{extra}" if extra else "")


@pytest.fixture(scope="module", params=CASES, ids=[_case_id(c) for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    kind, units, input_dim, kwargs = request.param
    rng = np.random.default_rng(units * 100 + input_dim)
    cell_cls, expected = CELLS[kind]
    cell = cell_cls(units, **kwargs)
    cell.build((None, input_dim))
    randomize(cell, rng)
    system = wrap(cell)
    oracle = wrap(cell, system="keras")
    assert isinstance(oracle, KerasCellSystem)
    state_dim = system.state_dim
    h = rng.standard_normal((N_POINTS, state_dim)) * 0.6
    x = rng.standard_normal((N_POINTS, input_dim))
    # Keras sees float32; make the float64 inputs exactly the same numbers.
    h, x = h.astype(np.float32).astype(np.float64), x.astype(np.float32).astype(np.float64)
    return Case(cell, system, oracle, h, x, expected)


# ------------------------------------------------------------------ analytic cells
def test_wrap_picks_analytic_system(case: Case) -> None:
    assert type(case.system) is case.expected_class
    assert case.system.jacobian_method == "analytic"
    assert case.oracle.jacobian_method == "autodiff"
    assert case.oracle.precision == "float64"
    assert case.system.layout == case.oracle.layout


def test_step_matches_keras_cell(case: Case) -> None:
    want = keras_step(case.cell, case.h, case.x)
    np.testing.assert_allclose(case.system.step(case.h, case.x), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(case.oracle.step(case.h, case.x), want, rtol=1e-5, atol=1e-6)
    # The float64 clone and the analytic float64 map agree to rounding.
    assert rel_err(case.system.step(case.h, case.x), case.oracle.step(case.h, case.x)) < 1e-12


def test_jacobians_match_autodiff(case: Case) -> None:
    jh, jx = case.system.jacobians(case.h, case.x)
    ah, ax = case.oracle.jacobians(case.h, case.x)
    assert jh.shape == (N_POINTS, case.system.state_dim, case.system.state_dim)
    assert jx.shape == (N_POINTS, case.system.state_dim, case.system.input_dim)
    assert rel_err(jh, ah) < 1e-6
    assert rel_err(jx, ax) < 1e-6
    if case.system.state_dim > 1:
        # Non-trivial test point: the Jacobian changes from point to point.
        assert rel_err(jh[0], jh[1]) > 1e-2


def test_jacobians_match_finite_differences(case: Case) -> None:
    jh, jx = case.system.jacobians(case.h, case.x)
    fh, fx = finite_difference_jacobians(case.system._step, case.h, case.x)
    assert rel_err(jh, fh) < 1e-6
    assert rel_err(jx, fx) < 1e-6


def test_jacobian_entry_points_agree(case: Case) -> None:
    s, h, x = case.system, case.h, case.x
    jh, jx = s.jacobians(h, x)
    np.testing.assert_allclose(s.jacobian_state(h, x), jh, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(s.jacobian_input(h, x), jx, rtol=1e-13, atol=1e-14)
    y, j2 = s.step_and_jacobian_state(h, x)
    np.testing.assert_allclose(y, s.step(h, x), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(j2, jh, rtol=1e-13, atol=1e-14)
    y, a2 = case.oracle.step_and_jacobian_state(h, x)
    np.testing.assert_allclose(y, s.step(h, x), rtol=1e-10, atol=1e-12)
    assert rel_err(case.oracle.jacobian_input(h, x), jx) < 1e-6
    assert rel_err(a2, jh) < 1e-6


def test_vjp_equals_vector_times_jacobian(case: Case) -> None:
    rng = np.random.default_rng(7)
    v = rng.standard_normal(case.h.shape)
    want = np.einsum("ni,nij->nj", v, case.system.jacobian_state(case.h, case.x))
    assert rel_err(case.system.vjp_state(case.h, case.x, v), want) < 1e-12
    assert rel_err(case.oracle.vjp_state(case.h, case.x, v), want) < 1e-6


# ------------------------------------------------------------- layers and models
@pytest.fixture(scope="module")
def gru_layer() -> Any:
    layer = keras.layers.GRU(4, name="gru")
    layer.build((None, None, 3))
    randomize(layer.cell, np.random.default_rng(1))
    return layer


@pytest.fixture(scope="module")
def lstm_layer() -> Any:
    layer = keras.layers.LSTM(3, return_state=True, name="lstm")
    layer.build((None, None, 2))
    randomize(layer.cell, np.random.default_rng(2))
    return layer


def test_wrap_rnn_layer_reproduces_one_layer_step(gru_layer: Any) -> None:
    system = wrap(gru_layer)
    assert isinstance(system, GRUSystem)
    rng = np.random.default_rng(3)
    h = rng.standard_normal((5, 4)).astype(np.float32)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    out = np.asarray(gru_layer(x[:, None, :], initial_state=[h]))
    np.testing.assert_allclose(system.step(h, x), out, rtol=1e-5, atol=1e-6)


def test_lstm_layout_and_layer_step(lstm_layer: Any) -> None:
    system = wrap(lstm_layer)
    assert isinstance(system, LSTMSystem)
    assert system.layout.names == ("h", "c")
    assert system.layout.component_labels().tolist() == ["h"] * 3 + ["c"] * 3
    assert system.layout.slice("c") == slice(3, 6)
    assert wrap(lstm_layer, system="keras").layout == system.layout
    rng = np.random.default_rng(4)
    h = rng.standard_normal((5, 3)).astype(np.float32)
    c = rng.standard_normal((5, 3)).astype(np.float32)
    x = rng.standard_normal((5, 2)).astype(np.float32)
    _, h_new, c_new = lstm_layer(x[:, None, :], initial_state=[h, c])
    want = np.concatenate([np.asarray(h_new), np.asarray(c_new)], axis=1)
    got = system.step(np.concatenate([h, c], axis=1), x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_wrap_sequential_functional_and_nested_models() -> None:
    sequential = keras.Sequential(
        [keras.Input((None, 3)), keras.layers.SimpleRNN(4, name="rnn"), keras.layers.Dense(1)]
    )
    assert isinstance(wrap(sequential), SimpleRNNSystem)

    tokens = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(20, 3, mask_zero=True)(tokens)
    hidden = keras.layers.LSTM(5, name="encoder")(hidden)
    functional = keras.Model(tokens, keras.layers.Dense(1)(hidden))
    system = wrap(functional)
    assert isinstance(system, LSTMSystem)
    assert (system.state_dim, system.input_dim) == (10, 3)

    inner = keras.Sequential([keras.Input((None, 2)), keras.layers.GRU(3, name="inner_gru")])
    outer = keras.Sequential([keras.Input((None, 2)), inner, keras.layers.Dense(1)])
    system = wrap(outer)
    assert isinstance(system, GRUSystem)
    np.testing.assert_array_equal(system.recurrent_kernel, inner.layers[0].cell.recurrent_kernel)
    assert isinstance(wrap(outer, layer=f"{inner.name}/inner_gru"), GRUSystem)


def test_model_with_several_recurrent_layers_needs_a_name() -> None:
    model = keras.Sequential(
        [
            keras.Input((None, 2)),
            keras.layers.GRU(3, return_sequences=True, name="first"),
            keras.layers.LSTM(4, name="second"),
        ]
    )
    with pytest.raises(AmbiguousModelError, match=r"first.*second") as info:
        wrap(model)
    assert "layer=" in str(info.value)
    assert isinstance(wrap(model, layer="first"), GRUSystem)
    system = wrap(model, layer="second")
    assert isinstance(system, LSTMSystem) and system.input_dim == 3
    with pytest.raises(ConfigurationError, match=r"no layer named 'third'.*first.*second"):
        wrap(model, layer="third")


# ------------------------------------------------------------------- custom cells
class MinimalGatedCell(keras.layers.Layer):
    """h' = (1 - g) h + g tanh(x W + h U), g = sigmoid(x Wg + h Ug + b)."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape: Any) -> None:
        dim, u = input_shape[-1], self.units
        self.w = self.add_weight(shape=(dim, 2 * u), name="w")
        self.u = self.add_weight(shape=(u, 2 * u), name="u")
        self.b = self.add_weight(shape=(u,), name="b", initializer="zeros")

    def call(self, inputs: Any, states: Any) -> Any:
        h = states[0]
        a = keras.ops.matmul(inputs, self.w) + keras.ops.matmul(h, self.u)
        gate = keras.ops.sigmoid(a[:, : self.units] + self.b)
        new = (1.0 - gate) * h + gate * keras.ops.tanh(a[:, self.units :])
        return new, [new]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


class ThreeStateCell(keras.layers.Layer):
    """A linear cell with three states of sizes 1, 2, 1, and no kernel attribute."""

    state_size = (1, 2, 1)

    def build(self, input_shape: Any) -> None:
        self.mix = self.add_weight(shape=(input_shape[-1], 4), name="mix")

    def call(self, inputs: Any, states: Any) -> Any:
        flat = keras.ops.concatenate(list(states), axis=-1)
        new = 0.5 * flat + keras.ops.matmul(inputs, self.mix)
        parts = [new[:, :1], new[:, 1:3], new[:, 3:]]
        return parts[0], parts


class NoConfigCell(keras.layers.Layer):
    """A cell that cannot be re-created from its config (no **kwargs)."""

    def __init__(self, units: int) -> None:
        super().__init__()
        self.units = units
        self.state_size = units

    def build(self, input_shape: Any) -> None:
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")

    def call(self, inputs: Any, states: Any) -> Any:
        new = keras.ops.tanh(keras.ops.matmul(inputs, self.kernel) + states[0])
        return new, [new]

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, "name": self.name}


class TweakedGRUCell(keras.layers.GRUCell):
    """A GRUCell subclass that changes the math: analytic GRU must not claim it."""

    def call(self, inputs: Any, states: Any, training: bool = False) -> Any:
        out, new_states = super().call(inputs, states, training=training)
        return 0.5 * out, [0.5 * s for s in new_states]


def test_custom_cell_gets_autodiff_system_matching_finite_differences() -> None:
    cell = MinimalGatedCell(4)
    layer = keras.layers.RNN(cell, name="custom_rnn")
    model = keras.Sequential([keras.Input((None, 3)), layer, keras.layers.Dense(1)])
    randomize(cell, np.random.default_rng(5))
    system = wrap(model)
    assert isinstance(system, KerasCellSystem)
    assert system.jacobian_method == "autodiff"
    assert system.precision == "float64"
    assert (system.state_dim, system.input_dim) == (4, 3)
    assert system.layout.names == ("h",)
    rng = np.random.default_rng(6)
    h, x = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    np.testing.assert_allclose(system.step(h, x), keras_step(cell, h, x), rtol=1e-5, atol=1e-6)
    jh, jx = system.jacobians(h, x)
    fh, fx = finite_difference_jacobians(system._step, h, x)
    assert rel_err(jh, fh) < 1e-6
    assert rel_err(jx, fx) < 1e-6
    v = rng.standard_normal((5, 4))
    assert rel_err(system.vjp_state(h, x, v), np.einsum("ni,nij->nj", v, jh)) < 1e-12
    assert system.describe()["keras_cell_class"].endswith("MinimalGatedCell")


def test_multi_state_cell_layout_and_build_shape_input_dim() -> None:
    cell = ThreeStateCell()
    cell.build((None, 2))
    system = wrap(cell)
    assert isinstance(system, KerasCellSystem)
    assert system.input_dim == 2  # from the recorded build shape (no kernel)
    assert system.layout.to_dict() == {"s0": 1, "s1": 2, "s2": 1}
    jh = system.jacobian_state(np.ones((2, 4)), np.ones((2, 2)))
    np.testing.assert_allclose(jh, np.broadcast_to(0.5 * np.eye(4), (2, 4, 4)), atol=1e-15)
    assert KerasCellSystem(cell, input_dim=2).input_dim == 2
    with pytest.raises(UnsupportedModelError, match="check input_dim"):
        KerasCellSystem(cell, input_dim=5)


def test_uncloneable_cell_falls_back_to_float32_with_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cell = NoConfigCell(2)
    cell.build((None, 3))
    with caplog.at_level(logging.WARNING, logger="dynalyze"):
        system = wrap(cell)
    assert isinstance(system, KerasCellSystem)
    assert system.precision == "float32"
    assert "reduced precision" in caplog.text
    h, x = np.full((1, 2), 0.25), np.ones((1, 3))
    np.testing.assert_allclose(system.step(h, x), keras_step(cell, h, x), rtol=1e-6, atol=1e-7)
    assert system.step(h, x).dtype == np.float64


def test_overridden_or_unsupported_keras_cells_fall_back_to_autodiff() -> None:
    tweaked = TweakedGRUCell(3)
    tweaked.build((None, 2))
    randomize(tweaked, np.random.default_rng(8))
    system = wrap(tweaked)
    assert isinstance(system, KerasCellSystem)
    h, x = np.full((1, 3), 0.5), np.ones((1, 2))
    np.testing.assert_allclose(system.step(h, x), keras_step(tweaked, h, x), rtol=1e-5, atol=1e-6)

    gelu = keras.layers.GRUCell(3, activation="gelu")
    gelu.build((None, 2))
    assert not list_adapters()["gru"].can_wrap(gelu)
    assert list_adapters()["keras"].can_wrap(gelu)
    assert isinstance(wrap(gelu), KerasCellSystem)
    with pytest.raises(UnsupportedModelError, match=r"cannot wrap.*'keras'"):
        wrap(gelu, system="gru")


def test_a_system_without_analytic_jacobians_uses_finite_differences_not_tensorflow() -> None:
    """The tape lives in KerasCellSystem alone: a RecurrentSystem's fallback is NumPy."""

    class TanhOnly(RecurrentSystem):
        name = "tanh_only"

        @property
        def state_dim(self) -> int:
            return 2

        @property
        def input_dim(self) -> int:
            return 1

        def _step(self, h: Any, x: Any) -> Any:
            return np.tanh(h + x)

        def _step_tensor(self, h: Any, x: Any) -> Any:  # no longer differentiated
            raise AssertionError("RecurrentSystem must not call _step_tensor")

    system = TanhOnly()
    assert system.jacobian_method == "finite-difference"
    h, x = np.array([[0.1, -0.3]]), np.array([[0.2]])
    jh, jx = system.jacobians(h, x)
    np.testing.assert_allclose(jh[0], np.diag(1 - np.tanh(h + x)[0] ** 2), rtol=1e-7)
    np.testing.assert_allclose(jx[0, :, 0], 1 - np.tanh(h + x)[0] ** 2, rtol=1e-7)
    assert not any(hasattr(RecurrentSystem, n) for n in ("can_wrap", "from_keras", "_step_tensor"))


def test_the_adapter_table_builds_every_builtin_system() -> None:
    from dynalyze.keras.adapters import BUILTIN_ADAPTERS

    adapters = list_adapters()
    assert [a.name for a in BUILTIN_ADAPTERS] == list(adapters)[:4]
    assert all(adapters[a.name] is a for a in BUILTIN_ADAPTERS)
    assert {name: a.system for name, a in adapters.items()} == list_systems()
    for cls in (GRUSystem, LSTMSystem, SimpleRNNSystem):
        assert not any(hasattr(cls, n) for n in ("can_wrap", "from_keras"))


def test_keras_activation_name_is_a_deprecated_alias() -> None:
    from dynalyze.systems.activations import activation_name, keras_activation_name

    with pytest.warns(DeprecationWarning, match="activation_name"):
        assert keras_activation_name(keras.activations.tanh) == "tanh"
    assert activation_name(keras.activations.hard_sigmoid) == "hard_sigmoid"


def test_autodiff_chunking_gives_the_same_jacobians(
    gru_layer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    oracle = wrap(gru_layer, system="keras")
    rng = np.random.default_rng(9)
    h, x = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    whole = oracle.jacobians(h, x)
    monkeypatch.setattr(finite_differences, "_CHUNK_ENTRIES", 20)  # one point per chunk
    parts = oracle.jacobians(h, x)
    for a, b in zip(whole, parts, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(oracle.jacobian_state(h, x), whole[0], rtol=1e-14, atol=1e-15)


# ------------------------------------------------------------------------ errors
def test_dense_layer_is_rejected() -> None:
    dense = keras.layers.Dense(3)
    dense.build((None, 2))
    with pytest.raises(UnsupportedModelError, match=r"Expected a Keras recurrent layer.*Dense"):
        wrap(dense)


def test_non_keras_object_is_rejected() -> None:
    with pytest.raises(UnsupportedModelError, match="Expected a Keras recurrent layer"):
        wrap(np.zeros((3, 3)))


def test_bidirectional_is_rejected_with_directions_hint() -> None:
    bi = keras.layers.Bidirectional(keras.layers.GRU(3), name="bi")
    model = keras.Sequential([keras.Input((None, 2)), bi])
    for obj in (bi, model):
        with pytest.raises(UnsupportedModelError, match=r"forward_layer.*backward_layer"):
            wrap(obj)
    assert isinstance(wrap(bi.forward_layer), GRUSystem)
    assert isinstance(wrap(bi.backward_layer), GRUSystem)


def test_stacked_cells_are_rejected() -> None:
    cells = [keras.layers.GRUCell(3), keras.layers.GRUCell(2)]
    layer = keras.layers.RNN(cells)
    layer.build((None, None, 2))
    with pytest.raises(UnsupportedModelError, match=r"StackedRNNCells.*wrap.*cell"):
        wrap(layer)
    with pytest.raises(UnsupportedModelError, match="StackedRNNCells"):
        wrap(layer.cell)
    assert isinstance(wrap(layer.cell.cells[1]), GRUSystem)


def test_model_without_recurrent_layer_is_rejected() -> None:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="only_dense")])
    with pytest.raises(UnsupportedModelError, match=r"no recurrent layer.*only_dense"):
        wrap(model)


def test_unbuilt_cell_and_model_are_rejected() -> None:
    with pytest.raises(UnsupportedModelError, match="not built"):
        wrap(keras.layers.LSTMCell(3))
    with pytest.raises(UnsupportedModelError, match="not built"):
        wrap(keras.Sequential([keras.layers.GRU(3)]))


def test_non_finite_weights_are_rejected() -> None:
    cell = keras.layers.GRUCell(2)
    cell.build((None, 2))
    weights = cell.get_weights()
    weights[1][0, 0] = np.nan
    cell.set_weights(weights)
    for system in (None, "keras"):
        with pytest.raises(NonFiniteError, match="NaN"):
            wrap(cell, system=system)


def test_unknown_system_and_misplaced_layer_argument() -> None:
    cell = keras.layers.SimpleRNNCell(2)
    cell.build((None, 1))
    with pytest.raises(ConfigurationError, match=r"Unknown system='nope'.*'gru'.*'keras'"):
        wrap(cell, system="nope")
    with pytest.raises(UnsupportedModelError, match=r"system='lstm'.*cannot wrap"):
        wrap(cell, system="lstm")
    with pytest.raises(ConfigurationError, match="layer= selects a layer inside"):
        wrap(cell, layer="x")
    model = keras.Sequential(
        [
            keras.Input((None, 1)),
            keras.layers.SimpleRNN(2, name="r"),
            keras.layers.Dense(1, name="head"),
        ]
    )
    with pytest.raises(UnsupportedModelError, match="names a Dense, not a recurrent layer"):
        wrap(model, layer="head")


def test_weight_shapes_are_checked() -> None:
    with pytest.raises(InputShapeError, match="3 \\* units"):
        GRUSystem(np.zeros((2, 6)), np.zeros((2, 4)))
    with pytest.raises(InputShapeError, match="bias"):
        GRUSystem(np.zeros((2, 6)), np.zeros((2, 6)), np.zeros(6), reset_after=True)
    with pytest.raises(InputShapeError, match="4 \\* units"):
        LSTMSystem(np.zeros((2, 8)), np.zeros((2, 6)))
    with pytest.raises(NonFiniteError):
        LSTMSystem(np.full((1, 4), np.inf), np.zeros((1, 4)))


# ----------------------------------------------------------------------- registry
class ToySystem(SimpleRNNSystem):
    """A plugin system that claims MinimalGatedCell instances."""

    name = "toy"

    @classmethod
    def can_wrap(cls, obj: object) -> bool:
        return isinstance(getattr(obj, "cell", obj), MinimalGatedCell)

    @classmethod
    def from_keras(cls, obj: Any) -> ToySystem:
        return cls(np.zeros((3, 4)), np.zeros((4, 4)))


class DuplicateGRU(GRUSystem):
    name = "gru"


class FakeEntryPoint:
    def __init__(self, name: str, target: Any) -> None:
        self.name, self.value, self._target = name, f"fake:{name}", target

    def load(self) -> Any:
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def test_plugins_are_discovered_and_failures_only_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = [
        FakeEntryPoint("broken", ImportError("no module named 'missing_dep'")),
        FakeEntryPoint("toy", ToySystem),
        FakeEntryPoint("gru", DuplicateGRU),
        FakeEntryPoint("junk", object),
    ]
    monkeypatch.setattr(registry, "_entry_points", lambda: fakes)
    registry._reset_plugins()
    try:
        with pytest.warns(registry.DynalyzePluginWarning) as record:
            systems = list_systems()
        messages = " | ".join(str(w.message) for w in record)
        assert "missing_dep" in messages
        assert "Two systems are named 'gru'" in messages
        assert "RecurrentSystem subclass" in messages
        assert list(systems) == ["simple_rnn", "gru", "lstm", "ugrnn", "toy", "keras"]
        assert systems["gru"] is GRUSystem
        # Plugins are consulted before the generic fallback.
        cell = MinimalGatedCell(4)
        cell.build((None, 3))
        assert isinstance(wrap(cell), ToySystem)
        assert isinstance(wrap(cell, system="keras"), KerasCellSystem)
    finally:
        monkeypatch.undo()
        registry._reset_plugins()
    assert "toy" not in list_systems()


def test_list_systems_and_exports() -> None:
    systems = dynalyze.list_systems()
    assert systems["gru"] is GRUSystem and systems["lstm"] is LSTMSystem
    assert systems["simple_rnn"] is SimpleRNNSystem and systems["keras"] is KerasCellSystem
    assert dynalyze.wrap is wrap


def test_import_dynalyze_does_not_import_tensorflow() -> None:
    code = (
        "import sys, dynalyze, dynalyze.systems; dynalyze.list_systems(); "
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
