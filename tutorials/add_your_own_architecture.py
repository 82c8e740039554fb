"""Tutorial: add your own architecture to dynalyze.

dynalyze analyses any recurrent cell as a one-step map ``h' = F(h, x)``. This
script takes a cell that dynalyze has never heard of through the whole
analysis, twice:

1. with **no dynalyze code at all**: ``dynalyze.wrap`` falls back to the generic
   :class:`dynalyze.keras.KerasCellSystem`, which steps a float64 copy of the
   Keras cell and differentiates it with TensorFlow autodiff. Fixed points,
   linearization, saving and the conformance check all work;
2. with an **analytic system**: a small :class:`dynalyze.RecurrentSystem`
   subclass with hand-derived NumPy Jacobians (exact, and faster than autodiff),
   built from weight arrays, plus a :class:`dynalyze.keras.CellAdapter` that
   says how to read those arrays from the Keras cell; checked against the Keras
   cell and against autodiff with :mod:`dynalyze.testing`.

The last section shows how to ship the system and its adapter as a plugin
package that ``dynalyze.wrap`` discovers through an entry point; the complete,
tested package is ``tutorials/extension_example``.

Run it with ``python tutorials/add_your_own_architecture.py [output folder]``.
dynalyze's test suite runs it (``tests/test_tutorials.py``), so it cannot go
stale. It takes a few seconds on a laptop CPU.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np
import xarray as xr

import dynalyze
from dynalyze.keras import CellAdapter
from dynalyze.results import decode_flags
from dynalyze.systems.activations import get_activation
from dynalyze.testing import check_keras_cell, check_system, keras_reference_step

# ---------------------------------------------------------------------------
# The cell: a minimal gated unit (MGU; Zhou et al. 2016)
# ---------------------------------------------------------------------------
# One gate f decides both how much of the state to forget and how much of the
# candidate to write:
#
#     f  = sigmoid(x Wf + h Uf + bf)
#     hh = tanh(x Wh + (f * h) Uh + bh)
#     h' = (1 - f) * h + f * hh
#
# It is an ordinary Keras cell: ``state_size`` plus ``call(inputs, states)``.
# ``get_config`` returns every constructor argument, which lets dynalyze clone
# it in float64; registering it as serializable lets models that use it save
# and load as ``.keras`` files in Keras safe mode.


@keras.saving.register_keras_serializable(package="tutorial")
class MGUCell(keras.layers.Layer):
    """Minimal gated unit; weights laid out like Keras's GRU (gates ``f | h``)."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape: Any) -> None:
        u = self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], 2 * u), name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(u, 2 * u), initializer="orthogonal", name="recurrent_kernel"
        )
        self.bias = self.add_weight(shape=(2 * u,), initializer="zeros", name="bias")

    def call(self, inputs: Any, states: Any) -> Any:
        u, h = self.units, states[0]
        gate_in = keras.ops.matmul(inputs, self.kernel) + self.bias
        f = keras.ops.sigmoid(gate_in[:, :u] + keras.ops.matmul(h, self.recurrent_kernel[:, :u]))
        candidate = keras.ops.tanh(
            gate_in[:, u:] + keras.ops.matmul(f * h, self.recurrent_kernel[:, u:])
        )
        new = (1.0 - f) * h + f * candidate
        return new, [new]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


def build_model(units: int = 12, input_dim: int = 3, seed: int = 0) -> keras.Model:
    """A small model holding the cell. In practice: your trained model."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((None, input_dim)),
            keras.layers.RNN(MGUCell(units), name="mgu"),
            keras.layers.Dense(1, name="readout"),
        ]
    )
    # Stand-in for training: self-exciting candidate weights and an open gate
    # make each unit bistable, so the map has several stable fixed points
    # (memories) separated by saddles.
    cell = model.get_layer("mgu").cell
    rng = np.random.default_rng(seed)
    kernel, recurrent, bias = cell.get_weights()
    recurrent[:, units:] = 2.0 * np.eye(units) + 0.1 * rng.standard_normal((units, units))
    bias[:units] = 3.0
    cell.set_weights([kernel, recurrent, bias])
    return model


def visited_states(system: dynalyze.RecurrentSystem, seed: int = 0) -> np.ndarray:
    """States visited while the network reads random input sequences."""
    rng = np.random.default_rng(seed)
    h = np.zeros((64, system.state_dim))
    visited = []
    for _ in range(30):
        h = system.step(h, rng.standard_normal((64, system.input_dim)))
        visited.append(h)
    return np.concatenate(visited)


def _counts(labels: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(labels, return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


def analyse(system: dynalyze.RecurrentSystem, label: str) -> tuple[xr.Dataset, xr.Dataset]:
    """Fixed points and their linearization: the same code for every system."""
    initial = dynalyze.sample_initial_states(visited_states(system), 48, noise=0.05, seed=1)
    start = time.perf_counter()
    fps = dynalyze.find_fixed_points(system, initial)
    unique = dynalyze.unique_fixed_points(fps)
    lin = dynalyze.linearize(system, unique)
    elapsed = time.perf_counter() - start
    # Every search is reported (converged, slow point or failed), never dropped.
    status = _counts(decode_flags(fps["status"]).values)
    stability = _counts(decode_flags(lin["stability"]).values)
    print(
        f"[{label}] {system.jacobian_method} Jacobians, {elapsed:.2f} s: searches {status}; "
        f"{int(unique.sizes['fixed_point'])} unique fixed points {stability}"
    )
    return fps, lin


def part1_no_dynalyze_code(model: keras.Model, out: Path) -> xr.Dataset:
    """The autodiff fallback: nothing to write."""
    print("\n== Part 1: a Keras cell with no dynalyze code ==")
    system = dynalyze.wrap(model)  # finds the recurrent layer, then its cell
    print(f"wrap() gave {system!r}")
    print(f"  jacobian_method={system.jacobian_method!r}")
    assert type(system).__name__ == "KerasCellSystem"

    fps, lin = analyse(system, "autodiff")

    # Results are plain labelled xarray Datasets; save/load round-trips exactly.
    path = dynalyze.save(lin, out / "mgu_linearization.nc")
    xr.testing.assert_identical(dynalyze.load(path), lin)
    print(f"saved and reloaded {path.name}: identical")

    # The conformance check an extension author runs in their own test suite:
    # shapes/dtypes, step vs the Keras cell, Jacobians vs finite differences,
    # determinism, fixed points + linearization + save/load. It raises an
    # AssertionError listing what failed (and by how much) if anything does.
    print(check_keras_cell(model))
    return fps


# ---------------------------------------------------------------------------
# Part 2: an analytic system
# ---------------------------------------------------------------------------
# With a = x Wh + (f h) Uh + bh, sig' = f (1 - f), tanh'(a) = 1 - hh^2, and
# "rows" meaning the output unit i, the Jacobians are
#
#   dh'/dh = diag(1 - f) + diag((hh - h) sig') Uf^T
#            + diag(f tanh') Uh^T (diag(f) + diag(h sig') Uf^T)
#   dh'/dx = diag((hh - h) sig') Wf^T + diag(f tanh') (Wh^T + Uh^T diag(h sig') Wf^T)
#
# A RecurrentSystem needs ``state_dim``, ``input_dim`` and ``_step``; analytic
# ``_jacobians`` (or ``_jacobian_state`` + ``_jacobian_input``) make it exact
# and fast. It is a NumPy map built from weight arrays and knows nothing about
# Keras; a CellAdapter (below) lets ``dynalyze.wrap`` build it from the Keras
# cell once it is registered. dynalyze validates inputs in the public methods,
# so the hooks receive float64 arrays h (n, state_dim), x (n, input_dim).


class MGUSystem(dynalyze.RecurrentSystem):
    """The MGU map in float64 with analytic Jacobians."""

    name: ClassVar[str] = "mgu"

    def __init__(self, kernel: Any, recurrent_kernel: Any, bias: Any) -> None:
        self.kernel = np.array(kernel, dtype=np.float64)  # copy and upcast once
        self.recurrent_kernel = np.array(recurrent_kernel, dtype=np.float64)
        self.bias = np.array(bias, dtype=np.float64)
        u = self.recurrent_kernel.shape[0]
        self._uf_t, self._uh_t = self.recurrent_kernel[:, :u].T, self.recurrent_kernel[:, u:].T
        self._wf_t, self._wh_t = self.kernel[:, :u].T, self.kernel[:, u:].T
        self._sigmoid = get_activation("sigmoid")  # overflow-safe float64 sigmoid

    @property
    def state_dim(self) -> int:
        return int(self.recurrent_kernel.shape[0])

    @property
    def input_dim(self) -> int:
        return int(self.kernel.shape[0])

    def _forward(self, h: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, ...]:
        u = self.state_dim
        gate_in = x @ self.kernel + self.bias
        f = self._sigmoid(gate_in[:, :u] + h @ self.recurrent_kernel[:, :u])
        hh = np.tanh(gate_in[:, u:] + (f * h) @ self.recurrent_kernel[:, u:])
        return f, hh, (1.0 - f) * h + f * hh

    def _step(self, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self._forward(h, x)[2]

    def _jacobians(self, h: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, hh, _ = self._forward(h, x)
        sig_grad = f * (1.0 - f)
        a = (hh - h) * sig_grad  # coefficient of the gate path
        b = f * (1.0 - hh**2)  # coefficient of the candidate path
        m = b[:, :, None] * self._uh_t[None]  # diag(b) Uh^T, (n, u, u)
        through_gate = m * (h * sig_grad)[:, None, :]  # diag(b) Uh^T diag(h sig')
        jac_h = m * f[:, None, :] + through_gate @ self._uf_t + a[:, :, None] * self._uf_t[None]
        idx = np.arange(self.state_dim)
        jac_h[:, idx, idx] += 1.0 - f
        jac_x = a[:, :, None] * self._wf_t + b[:, :, None] * self._wh_t + through_gate @ self._wf_t
        return jac_h, jac_x


# The adapter: which Keras cell the system mirrors and how to read its weights.
# It claims only built, unmodified MGUCells (a subclass overriding ``call`` is
# left to autodiff). A plugin's adapter module names the cell class by path,
# "my_package.cell:MGUCell", so that it need not import Keras; here the class
# is at hand.
MGU_ADAPTER = CellAdapter(
    MGUSystem, MGUCell, lambda cell: MGUSystem(*(np.asarray(w) for w in cell.get_weights()))
)


def part2_analytic_system(model: keras.Model, autodiff_fps: xr.Dataset) -> None:
    print("\n== Part 2: an analytic RecurrentSystem subclass ==")
    layer = model.get_layer("mgu")
    assert MGU_ADAPTER.can_wrap(layer)
    system = MGU_ADAPTER.from_keras(layer)
    autodiff = dynalyze.wrap(layer, system="keras")  # the generic system, by name

    # Conformance: step against the Keras cell itself, Jacobians against
    # finite differences and against autodiff, and the analysis pipeline.
    report = check_system(
        system,
        reference_step=keras_reference_step(layer),
        reference_system=autodiff,
    )
    print(report)

    # Same map, same analysis; the analytic Jacobians are exact and faster.
    h = visited_states(system)[:512]
    for candidate in (system, autodiff):
        candidate.jacobians(h)  # warm up (autodiff traces a TensorFlow function)
        start = time.perf_counter()
        candidate.jacobians(h)
        elapsed = 1e3 * (time.perf_counter() - start)
        print(f"  {candidate.jacobian_method:>8} Jacobians at 512 states: {elapsed:.1f} ms")
    fps, _ = analyse(system, "analytic")
    # Same initial states, same Jacobians up to rounding: the same fixed points.
    difference = np.nanmax(
        np.abs(fps["fixed_point_state"].values - autodiff_fps["fixed_point_state"].values)
    )
    print(f"  largest difference from the fixed points found with autodiff: {difference:.1e}")


# ---------------------------------------------------------------------------
# Part 3: ship it as a plugin
# ---------------------------------------------------------------------------
# Put the cell, the system and its adapter in a package (the system and adapter
# modules must not import Keras: the adapter names the cell class by path,
# CellAdapter(MGUSystem, "my_package.cell:MGUCell", mgu_from_cell)) and
# register the adapter under the entry-point group "dynalyze.systems" in its
# pyproject.toml:
#
#     [project.entry-points."dynalyze.systems"]
#     mgu = "my_package.adapter:MGU_ADAPTER"
#
# Once the package is installed, ``dynalyze.list_systems()`` lists "mgu",
# ``dynalyze.wrap(model)`` builds an MGUSystem for models with an MGUCell
# (plugins are asked before the autodiff fallback), and
# ``dynalyze.wrap(model, system="mgu")`` forces it. A plugin that fails to
# import only triggers a DynalyzePluginWarning; dynalyze keeps working.
# In your package's tests, call ``dynalyze.testing.check_keras_cell(model)``.
# tutorials/extension_example is such a package (a leaky RNN), tested by
# dynalyze's CI in a fresh environment (``tox -e extension``).


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    print("installed systems:", list(dynalyze.list_systems()))
    model = build_model()
    autodiff_fps = part1_no_dynalyze_code(model, out)
    part2_analytic_system(model, autodiff_fps)

    # Models with the custom cell save and load in safe mode (it is registered).
    path = out / "mgu_model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(3).standard_normal((2, 5, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), rtol=1e-6)
    print(f"\nsaved and reloaded {path.name} in safe mode; outputs in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="dynalyze-")))
