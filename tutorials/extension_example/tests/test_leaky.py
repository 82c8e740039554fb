"""The leaky RNN system passes dynalyze's conformance checks and works in analyses."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from dynalyze_leaky.cell import LeakyRNNCell
from dynalyze_leaky.system import LeakyRNNSystem

import dynalyze
from dynalyze.testing import check_keras_cell, check_system, keras_reference_step


def trained_like(layer: keras.layers.Layer, seed: int = 0, gain: float = 1.2) -> None:
    """Random O(1) weights, so the tests see a non-trivial map."""
    rng = np.random.default_rng(seed)
    cell = layer.cell
    weights = [
        gain * rng.standard_normal(w.shape) / np.sqrt(w.shape[0])
        if w.ndim == 2
        else 0.3 * rng.standard_normal(w.shape)
        for w in cell.get_weights()
    ]
    cell.set_weights([w.astype("float32") for w in weights])


@pytest.fixture(scope="module")
def model() -> keras.Model:
    layer = keras.layers.RNN(LeakyRNNCell(6, leak=0.3), name="leaky")
    model = keras.Sequential([keras.Input((None, 4)), layer, keras.layers.Dense(1)])
    trained_like(layer)
    return model


def test_wrap_picks_the_plugin(model: keras.Model) -> None:
    system = dynalyze.wrap(model)
    assert isinstance(system, LeakyRNNSystem)
    assert (system.state_dim, system.input_dim, system.leak) == (6, 4, pytest.approx(0.3))
    assert dynalyze.list_systems()["leaky"] is LeakyRNNSystem
    assert isinstance(dynalyze.wrap(model, system="leaky"), LeakyRNNSystem)


def test_the_adapter_leaves_other_cells_to_autodiff() -> None:
    from dynalyze_leaky.adapter import ADAPTER

    gelu = keras.layers.RNN(LeakyRNNCell(3, activation="gelu"))  # no analytic gelu
    gelu.build((None, None, 2))
    assert not ADAPTER.can_wrap(gelu)
    assert type(dynalyze.wrap(gelu)).__name__ == "KerasCellSystem"
    assert not ADAPTER.can_wrap(LeakyRNNCell(3))  # not built


def test_conformance_against_the_keras_cell_and_autodiff(model: keras.Model) -> None:
    # Step vs the Keras cell, Jacobians vs finite differences and vs TensorFlow
    # autodiff, determinism, fixed points, linearization and save/load.
    report = check_keras_cell(model)
    assert report.passed, str(report)
    assert report.result("jacobians_against_reference").error < 1e-10


def test_conformance_of_a_directly_built_system() -> None:
    rng = np.random.default_rng(1)
    system = LeakyRNNSystem(
        rng.normal(size=(3, 5)), rng.normal(size=(5, 5)) / 2, rng.normal(size=5), leak=0.7
    )

    def reference(h: np.ndarray, x: np.ndarray) -> np.ndarray:  # the textbook formula
        z = x @ system.kernel + h @ system.recurrent_kernel + system.bias
        return 0.3 * h + 0.7 * np.tanh(z)

    check_system(system, reference_step=reference, n_points=5, seed=3)


def test_model_saves_and_loads_in_safe_mode(model: keras.Model, tmp_path: Path) -> None:
    path = tmp_path / "leaky.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(2).standard_normal((2, 7, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)
    system = dynalyze.wrap(loaded)
    np.testing.assert_array_equal(system.kernel, dynalyze.wrap(model).kernel)


def test_fixed_points_and_linearization(model: keras.Model) -> None:
    system = dynalyze.wrap(model)
    reference = keras_reference_step(model)
    # Visited states: run the cell on random inputs.
    rng = np.random.default_rng(4)
    h = np.zeros((16, 6))
    visited = []
    for _ in range(10):
        h = reference(h, rng.standard_normal((16, 4)))
        visited.append(h)
    initial = dynalyze.sample_initial_states(np.concatenate(visited), 12, seed=0)
    fps = dynalyze.find_fixed_points(system, initial)
    unique = dynalyze.unique_fixed_points(fps)
    assert unique.sizes["fixed_point"] >= 1
    lin = dynalyze.linearize(system, unique)
    # At a fixed point of a leaky RNN every eigenvalue is (1 - a) + a * (eigenvalue of diag(d) U^T).
    lam = lin["eigenvalue"].values[0]
    d = (
        1.0
        - np.tanh(unique["fixed_point_state"].values[0] @ system.recurrent_kernel + system.bias)
        ** 2
    )
    inner = np.linalg.eigvals(d[:, None] * system.recurrent_kernel.T)
    np.testing.assert_allclose(
        np.sort_complex(lam), np.sort_complex(0.7 + 0.3 * inner), rtol=1e-8, atol=1e-10
    )
