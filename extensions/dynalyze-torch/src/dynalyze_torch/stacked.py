"""Stacked recurrent layers as one system: the composite one-step map.

A multi-layer RNN runs, at every time step, layer 0 on the input, layer 1 on
layer 0's new output, and so on. Its state is the concatenation of the layers'
states (bottom layer first) and its one-step map is the composite

.. math::

    s_0' = F_0(s_0, x), \\qquad s_k' = F_k(s_k, P_{k-1} s_{k-1}'),

where :math:`P_k` picks the part of layer :math:`k`'s state that feeds the next
layer (the whole state of an RNN or GRU, ``h`` of an LSTM). Its Jacobians follow
by the chain rule from the layers' own (analytic or autodiff) Jacobians
:math:`A_k = \\partial F_k / \\partial s_k` and :math:`B_k = \\partial F_k / \\partial x_k`:

.. math::

    \\frac{\\partial s_k'}{\\partial s_j} = B_k P_{k-1} \\frac{\\partial s_{k-1}'}{\\partial s_j}
    \\ (j < k), \\qquad \\frac{\\partial s_k'}{\\partial s_k} = A_k, \\qquad
    \\frac{\\partial s_k'}{\\partial x} = B_k P_{k-1} \\frac{\\partial s_{k-1}'}{\\partial x},

so the state Jacobian is block lower triangular. NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from dynalyze._validation import FloatArray
from dynalyze.errors import ConfigurationError, InputShapeError
from dynalyze.systems import RecurrentSystem, StateLayout

__all__ = ["StackedSystem", "output_slice", "stacked_layout"]


def output_slice(system: RecurrentSystem) -> slice:
    """The part of ``system``'s state that feeds the layer above: ``h`` if named, else all.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import LSTMSystem
    >>> output_slice(LSTMSystem(np.zeros((2, 12)), np.zeros((3, 12))))
    slice(0, 3, None)
    """
    layout = system.layout
    return layout.slice("h") if "h" in layout.names else slice(0, system.state_dim)


def stacked_layout(layouts: Sequence[StateLayout]) -> StateLayout:
    """Layer ``k``'s components renamed ``<name><k>`` (``h0``, ``c0``, ``h1``, ...), in order.

    Examples
    --------
    >>> layout = stacked_layout([StateLayout.single(2), StateLayout.single(3)])
    >>> layout.to_dict()
    {'h0': 2, 'h1': 3}
    """
    sizes: dict[str, int] = {}
    for k, layout in enumerate(layouts):
        for component in layout:
            sizes[f"{component.name}{k}"] = component.size
    return StateLayout.from_sizes(sizes)


def _as_slices(layers: Sequence[RecurrentSystem], outputs: Sequence[slice] | None) -> list[slice]:
    if outputs is None:
        return [output_slice(layer) for layer in layers]
    found = list(outputs)
    if len(found) != len(layers):
        raise ConfigurationError(
            f"outputs= needs one slice per layer ({len(layers)}); got {len(found)}."
        )
    return found


class StackedSystem(RecurrentSystem):
    """Recurrent layers stacked in depth, as one system on their concatenated states.

    Parameters
    ----------
    layers : sequence of RecurrentSystem
        Bottom layer first; layer ``k + 1``'s ``input_dim`` must equal the size
        of layer ``k``'s output.
    outputs : sequence of slice, optional
        The slice of each layer's state that is its output (fed to the layer
        above; the last one is unused). By default the ``h`` component if the
        layer's layout names one, else the whole state (:func:`output_slice`).

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> rng = np.random.default_rng(0)
    >>> bottom = SimpleRNNSystem(rng.normal(size=(2, 3)), rng.normal(size=(3, 3)))
    >>> top = SimpleRNNSystem(rng.normal(size=(3, 4)), rng.normal(size=(4, 4)))
    >>> stacked = StackedSystem([bottom, top])
    >>> stacked.state_dim, stacked.input_dim, stacked.layout.names
    (7, 2, ('h0', 'h1'))
    >>> h, x = rng.normal(size=(5, 7)), rng.normal(size=(5, 2))
    >>> new_bottom = bottom.step(h[:, :3], x)
    >>> bool(np.allclose(stacked.step(h, x)[:, 3:], top.step(h[:, 3:], new_bottom)))
    True
    >>> bool(stacked.jacobian_state(h, x)[:, :3, 3:].any())  # block lower triangular
    False
    """

    name: ClassVar[str] = "torch_stacked"

    def __init__(
        self, layers: Sequence[RecurrentSystem], *, outputs: Sequence[slice] | None = None
    ) -> None:
        self.layers: tuple[RecurrentSystem, ...] = tuple(layers)
        if not self.layers or not all(isinstance(s, RecurrentSystem) for s in self.layers):
            raise ConfigurationError(
                "StackedSystem needs a non-empty sequence of RecurrentSystem layers; got "
                f"{[type(s).__name__ for s in self.layers]}."
            )
        self.outputs = _as_slices(self.layers, outputs)
        for k in range(1, len(self.layers)):
            below = self.outputs[k - 1]
            width = len(range(*below.indices(self.layers[k - 1].state_dim)))
            if self.layers[k].input_dim != width:
                raise InputShapeError(
                    f"Layer {k} takes inputs of size {self.layers[k].input_dim} but layer "
                    f"{k - 1} outputs {width} units; stacked layers must fit together."
                )
        self._sizes = [layer.state_dim for layer in self.layers]
        self._offsets = np.concatenate([[0], np.cumsum(self._sizes)]).astype(int).tolist()

    # --------------------------------------------------------------- shape
    @property
    def state_dim(self) -> int:
        """Sum of the layers' state sizes."""
        return int(sum(self._sizes))

    @property
    def input_dim(self) -> int:
        """The bottom layer's input size."""
        return self.layers[0].input_dim

    @property
    def layout(self) -> StateLayout:
        """The layers' components, renamed ``<name><layer>`` (``h0``, ``c0``, ``h1``, ...)."""
        return stacked_layout([layer.layout for layer in self.layers])

    @property
    def state_bounds(self) -> tuple[FloatArray, FloatArray] | None:
        """The layers' bounds side by side (unbounded for a layer without any)."""
        bounds = [layer.state_bounds for layer in self.layers]
        if all(b is None for b in bounds):
            return None
        lower, upper = [], []
        for size, b in zip(self._sizes, bounds, strict=True):
            lower.append(np.full(size, -np.inf) if b is None else np.asarray(b[0], float))
            upper.append(np.full(size, np.inf) if b is None else np.asarray(b[1], float))
        return np.concatenate(lower), np.concatenate(upper)

    @property
    def jacobian_method(self) -> str:
        """The layers' method if they share one (``"analytic"``), else ``"mixed"``."""
        methods = {layer.jacobian_method for layer in self.layers}
        return methods.pop() if len(methods) == 1 else "mixed"

    def describe(self) -> dict[str, Any]:
        """Provenance, with each layer's system and sizes."""
        return {
            **super().describe(),
            "n_layers": len(self.layers),
            "layer_systems": [layer.name or type(layer).__name__ for layer in self.layers],
            "layer_state_dims": list(self._sizes),
        }

    def part(self, h: FloatArray, k: int) -> FloatArray:
        """Layer ``k``'s block of flat states ``h`` (shape ``(..., state_dim)``)."""
        out: FloatArray = h[..., self._offsets[k] : self._offsets[k + 1]]
        return out

    # ---------------------------------------------------------------- math
    def _step(self, h: FloatArray, x: FloatArray) -> FloatArray:
        out = np.empty_like(h)
        inputs = x
        for k, layer in enumerate(self.layers):
            new = layer._step(np.ascontiguousarray(self.part(h, k)), inputs)
            out[:, self._offsets[k] : self._offsets[k + 1]] = new
            inputs = np.ascontiguousarray(new[:, self.outputs[k]])
        return out

    def _chain(
        self, h: FloatArray, x: FloatArray, *, state: bool, inputs: bool
    ) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
        """The step and the requested Jacobians, one pass up the stack."""
        n = h.shape[0]
        out = np.empty_like(h)
        jh = np.zeros((n, self.state_dim, self.state_dim)) if state else None
        jx = np.empty((n, self.state_dim, self.input_dim)) if inputs else None
        layer_in = x
        for k, layer in enumerate(self.layers):
            rows = slice(self._offsets[k], self._offsets[k + 1])
            s_k = np.ascontiguousarray(self.part(h, k))
            out[:, rows] = layer._step(s_k, layer_in)
            a_k, b_k = layer._jacobians(s_k, layer_in)
            if jh is not None:
                jh[:, rows, rows] = a_k
            if k == 0:  # the bottom layer reads x directly
                if jx is not None:
                    jx[:, rows] = b_k
            else:
                # d s_k'/d(anything) through x_k = P_{k-1} s_{k-1}'.
                feed = np.arange(self._offsets[k - 1], self._offsets[k])[self.outputs[k - 1]]
                if jh is not None:
                    jh[:, rows, : rows.start] = b_k @ jh[:, feed, : rows.start]
                if jx is not None:
                    jx[:, rows] = b_k @ jx[:, feed]
            layer_in = np.ascontiguousarray(out[:, rows][:, self.outputs[k]])
        return out, jh, jx

    def _jacobians(self, h: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        _, jh, jx = self._chain(h, x, state=True, inputs=True)
        assert jh is not None and jx is not None
        return jh, jx

    def _jacobian_state(self, h: FloatArray, x: FloatArray) -> FloatArray:
        jh = self._chain(h, x, state=True, inputs=False)[1]
        assert jh is not None
        return jh

    def _jacobian_input(self, h: FloatArray, x: FloatArray) -> FloatArray:
        jx = self._chain(h, x, state=False, inputs=True)[2]
        assert jx is not None
        return jx

    def _step_and_jacobian_state(
        self, h: FloatArray, x: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        out, jh, _ = self._chain(h, x, state=True, inputs=False)
        assert jh is not None
        return out, jh

    def __repr__(self) -> str:
        names = ", ".join(type(layer).__name__ for layer in self.layers)
        return (
            f"StackedSystem([{names}], state_dim={self.state_dim}, input_dim={self.input_dim}, "
            f"layout={self.layout.to_dict()})"
        )
