"""Any Keras RNN cell as a recurrent system, with TensorFlow autodiff Jacobians.

:class:`KerasCellSystem` is the generic fallback of :func:`dynalyze.wrap`: it
works for every Keras cell with vector states, including a user's own cell
class (a ``keras.layers.Layer`` with ``state_size`` and
``call(inputs, states)``). It steps a float64 clone of the cell and
differentiates it with ``tf.GradientTape.batch_jacobian``
(:mod:`dynalyze.keras.autodiff`). This is the only system with autodiff
Jacobians: :class:`~dynalyze.systems.RecurrentSystem` itself knows only analytic
Jacobians and finite differences.

TensorFlow is imported only when such a system is built (which requires a
Keras cell, so TensorFlow is loaded by then anyway).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from dynalyze._validation import FloatArray, positive_int
from dynalyze.errors import UnsupportedModelError
from dynalyze.keras import _introspect
from dynalyze.keras.autodiff import import_tensorflow, tape_functions
from dynalyze.systems.base import RecurrentSystem, StateLayout

__all__ = ["KerasCellSystem"]

logger = logging.getLogger(__name__)

#: Largest relative difference tolerated between the float64 clone and the
#: original cell on a random probe before the clone is rejected, by the
#: original cell's compute dtype (mixed-precision cells are coarser).
_CLONE_TOLERANCE = {"float64": 1e-8, "float32": 1e-4, "float16": 3e-2, "bfloat16": 3e-2}


def _component_names(count: int) -> list[str]:
    if count == 1:
        return ["h"]
    if count == 2:
        return ["h", "c"]
    return [f"s{k}" for k in range(count)]


class KerasCellSystem(RecurrentSystem):
    """A Keras RNN cell's one-step map, differentiated by TensorFlow autodiff.

    The cell is cloned in float64 (``from_config`` with ``dtype="float64"``, then
    the trained weights copied and upcast), so steps and Jacobians are float64.
    If a cell cannot be cloned faithfully, the original float32 cell is used and
    a warning says that precision is reduced (:attr:`precision` tells which).

    The flat state concatenates the cell's states in order; they are named
    ``"h"`` for one state, ``"h"``, ``"c"`` for two (LSTM-like cells) and
    ``"s0"``, ``"s1"``, ... otherwise. Cells are always called with
    ``training=False``.

    Parameters
    ----------
    cell : keras.layers.Layer
        A built Keras RNN cell (``state_size`` and ``call(inputs, states)``).
        Use :meth:`from_keras` (or :func:`dynalyze.wrap`) to pass an RNN layer.
    input_dim : int, optional
        Input size; by default read from the cell's kernel or from the shape the
        cell was built with.
    float64 : bool
        Clone the cell in float64 (default). ``False`` steps the original cell
        in its own precision.

    Examples
    --------
    >>> import keras, numpy as np
    >>> cell = keras.layers.GRUCell(3)
    >>> cell.build((None, 2))
    >>> system = KerasCellSystem(cell)
    >>> system.state_dim, system.input_dim, system.jacobian_method, system.precision
    (3, 2, 'autodiff', 'float64')
    >>> system.jacobian_state(np.zeros((4, 3))).shape
    (4, 3, 3)
    """

    name: ClassVar[str] = "keras"

    def __init__(self, cell: Any, *, input_dim: int | None = None, float64: bool = True) -> None:
        if not _introspect.is_keras_cell(cell):
            raise UnsupportedModelError(
                "KerasCellSystem expects a Keras RNN cell (a keras.layers.Layer with "
                f"state_size and call(inputs, states)); got {_introspect.describe_object(cell)}. "
                "Use KerasCellSystem.from_keras(layer) or dynalyze.wrap(...) for layers "
                "and models."
            )
        if _introspect.is_stacked_cells(cell):
            raise UnsupportedModelError(
                f"{_introspect.describe_object(cell)} stacks several cells; wrap one cell at a "
                "time, e.g. KerasCellSystem(cells.cells[0])."
            )
        _introspect.check_built(cell)
        _introspect.check_finite_weights(cell)
        self._state_sizes = _introspect.state_sizes(cell)
        if input_dim is not None:
            positive_int("input_dim", input_dim)
        dim = _introspect.cell_input_dim(cell) if input_dim is None else input_dim
        if dim is None:
            raise UnsupportedModelError(
                f"Cannot tell the input size of {_introspect.describe_object(cell)}: it has no "
                "2-D kernel and no recorded build shape. Pass it explicitly, e.g. "
                "KerasCellSystem(cell, input_dim=8)."
            )
        self._input_dim = int(dim)
        self.source_cell = cell
        self.cell: Any = cell
        self.precision: str = str(getattr(cell, "compute_dtype", "float32"))
        self._check_call(cell)
        if float64:
            # Cloning also snapshots the weights, as the analytic systems do.
            clone = self._float64_clone(cell, warn=self.precision != "float64")
            if clone is not None:
                self.cell, self.precision = clone, "float64"

    # ------------------------------------------------------------ wrapping
    @classmethod
    def can_wrap(cls, obj: object) -> bool:
        """True for any built Keras cell with vector states (or RNN layer holding one)."""
        try:
            cell = _introspect.cell_of(obj)
            if not _introspect.is_keras_cell(cell) or _introspect.is_stacked_cells(cell):
                return False
            if not getattr(cell, "built", False):
                return False
            _introspect.state_sizes(cell)
            return _introspect.cell_input_dim(cell) is not None
        except Exception:
            return False

    @classmethod
    def from_keras(cls, obj: Any, *, input_dim: int | None = None) -> KerasCellSystem:
        """Build from a Keras cell or an RNN layer holding one (``layer.cell``)."""
        target = _introspect.resolve(obj)
        return cls(_introspect.cell_of(target), input_dim=input_dim)

    # --------------------------------------------------------------- shape
    @property
    def state_dim(self) -> int:
        """Total state size (all of the cell's states, concatenated)."""
        return sum(self._state_sizes)

    @property
    def input_dim(self) -> int:
        """Input size."""
        return self._input_dim

    @property
    def layout(self) -> StateLayout:
        """One component per cell state: ``h``; ``h``, ``c``; or ``s0``, ``s1``, ..."""
        names = _component_names(len(self._state_sizes))
        return StateLayout.from_sizes(dict(zip(names, self._state_sizes, strict=True)))

    @property
    def jacobian_method(self) -> str:
        """Always ``"autodiff"``."""
        return "autodiff"

    def describe(self) -> dict[str, Any]:
        """Provenance, including the Keras cell class and the precision used."""
        cls = type(self.source_cell)
        return {
            **super().describe(),
            "keras_cell_class": f"{cls.__module__}.{cls.__qualname__}",
            "precision": self.precision,
        }

    # ------------------------------------------------------------- cloning
    def _call(self, cell: Any, h: Any, x: Any) -> Any:
        """``F(h, x)`` as a float64 tensor, calling ``cell`` in its own dtype."""
        tf = import_tensorflow()
        dtype = getattr(cell, "compute_dtype", "float32")
        h_in = tf.cast(h, dtype)
        x_in = tf.cast(x, dtype)
        sizes = list(self._state_sizes)
        states = tf.split(h_in, sizes, axis=-1) if len(sizes) > 1 else [h_in]
        result = cell(x_in, states, training=False)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise UnsupportedModelError(
                f"Expected {_introspect.describe_object(cell)}.call(inputs, states) to return "
                f"(output, new_states); got {type(result).__name__}."
            )
        new_states = tf.nest.flatten(result[1])
        if len(new_states) != len(sizes):
            raise UnsupportedModelError(
                f"{_introspect.describe_object(cell)} has state_size {sizes} but returned "
                f"{len(new_states)} new state tensor(s); expected {len(sizes)}."
            )
        flat = new_states[0] if len(new_states) == 1 else tf.concat(new_states, axis=-1)
        return tf.cast(flat, tf.float64)

    def _probe(self, cell: Any) -> FloatArray:
        rng = np.random.default_rng(0)
        h = 0.5 * rng.standard_normal((3, self.state_dim))
        x = rng.standard_normal((3, self._input_dim))
        return np.asarray(self._call(cell, h, x), dtype=np.float64)

    def _check_call(self, cell: Any) -> None:
        try:
            out = self._probe(cell)
        except UnsupportedModelError:
            raise
        except Exception as exc:
            raise UnsupportedModelError(
                f"Calling {_introspect.describe_object(cell)} as cell(inputs, states, "
                f"training=False) with inputs of size {self._input_dim} and states of sizes "
                f"{list(self._state_sizes)} failed ({type(exc).__name__}: {exc}). Expected "
                "a Keras RNN cell returning (output, new_states); check input_dim."
            ) from exc
        if out.shape != (3, self.state_dim):
            raise UnsupportedModelError(
                f"{_introspect.describe_object(cell)} returned new states of total shape "
                f"{out.shape}; expected (batch, {self.state_dim}) from its state_size "
                f"{list(self._state_sizes)}."
            )

    def _float64_clone(self, cell: Any, *, warn: bool) -> Any | None:
        try:
            config = {**cell.get_config(), "dtype": "float64"}
            clone = type(cell).from_config(config)
            if not clone.built:
                clone.build((None, self._input_dim))
            weights = cell.get_weights()
            if len(clone.weights) != len(weights):
                raise ValueError(
                    f"the clone has {len(clone.weights)} weights, the cell {len(weights)}"
                )
            clone.set_weights(
                [
                    np.asarray(w, dtype=np.float64) if np.issubdtype(w.dtype, np.floating) else w
                    for w in weights
                ]
            )
            if str(getattr(clone, "compute_dtype", "")) != "float64":
                raise ValueError(f"the clone computes in {clone.compute_dtype}")
            ref, got = self._probe(cell), self._probe(clone)
            err = float(np.max(np.abs(got - ref)) / (1.0 + np.max(np.abs(ref))))
            tolerance = _CLONE_TOLERANCE.get(self.precision, _CLONE_TOLERANCE["float32"])
            if not np.isfinite(err) or err > tolerance:
                raise ValueError(f"the clone's output differs from the cell's by {err:.2g}")
        except Exception as exc:
            if not warn:
                logger.debug("No float64 clone of %s: %s", _introspect.describe_object(cell), exc)
                return None
            logger.warning(
                "Could not build a float64 copy of %s (%s: %s); stepping the original "
                "cell in %s, so steps and Jacobians have reduced precision (about 1e-7 "
                "relative). Make the cell's get_config() return every constructor "
                "argument (and accept dtype=) to get float64.",
                _introspect.describe_object(cell),
                type(exc).__name__,
                exc,
                self.precision,
            )
            return None
        return clone

    # ------------------------------------------------------- the step map
    def _step_tensor(self, h: Any, x: Any) -> Any:
        """``F(h, x)`` on float64 tensors: what :func:`tape_functions` differentiates."""
        return self._call(self.cell, h, x)

    # ---------------------------------------------------------------- math
    def _step(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return tape_functions(self).step(h, x)

    def _jacobians(self, h: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        _, jh, jx = tape_functions(self).jacobians("both", h, x)
        return jh, jx

    def _jacobian_state(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return tape_functions(self).jacobians("state", h, x)[1]

    def _jacobian_input(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return tape_functions(self).jacobians("input", h, x)[2]

    def _step_and_jacobian_state(
        self, h: FloatArray, x: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        y, jh, _ = tape_functions(self).jacobians("state", h, x)
        return y, jh

    def _vjp_state(self, h: FloatArray, x: FloatArray, v: FloatArray) -> FloatArray:
        return tape_functions(self).vjp(h, x, v)

    def __repr__(self) -> str:
        return (
            f"KerasCellSystem({type(self.source_cell).__name__} "
            f"{getattr(self.source_cell, 'name', '?')!r}, state_dim={self.state_dim}, "
            f"input_dim={self.input_dim}, precision={self.precision!r})"
        )
