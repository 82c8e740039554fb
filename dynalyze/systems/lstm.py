"""Long short-term memory (Keras ``LSTMCell``) with analytic float64 Jacobians.

Keras's weight layout and gate order ``i | f | c | o``: ``kernel`` W of shape
``(input_dim, 4 units)``, ``recurrent_kernel`` U of shape ``(units, 4 units)``,
``bias`` of shape ``(4 units,)``::

    i  = sig(x Wi + h Ui + bi)        f = sig(x Wf + h Uf + bf)
    g  = act(x Wc + h Uc + bc)        o = sig(x Wo + h Uo + bo)
    c' = f c + i g                    h' = o act(c')

The state is ``[h, c]`` flattened as ``h`` then ``c`` (``2 units`` long), and the
Jacobians are those of the full map ``(h, c) -> (h', c')``.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from dynalyze._validation import FloatArray
from dynalyze.errors import InputShapeError
from dynalyze.systems._weights import as_weight, box, optional_bias
from dynalyze.systems.activations import get_activation
from dynalyze.systems.base import RecurrentSystem, StateLayout

__all__ = ["LSTMSystem"]


class _Forward(NamedTuple):
    """Intermediate values of one LSTM step, shared by the Jacobians and the VJP."""

    i: FloatArray
    f: FloatArray
    g: FloatArray
    o: FloatArray
    c_new: FloatArray
    tc: FloatArray  # act(c')
    di: FloatArray  # sig'(a_i)
    df: FloatArray
    dg: FloatArray  # act'(a_c)
    do: FloatArray
    dtc: FloatArray  # act'(c')
    h_new: FloatArray


class LSTMSystem(RecurrentSystem):
    """A Keras-compatible LSTM on the concatenated state ``[h, c]``, in float64.

    Parameters
    ----------
    kernel : array_like, shape (input_dim, 4 units)
        Input weights, gates ``i | f | c | o`` side by side (Keras layout).
    recurrent_kernel : array_like, shape (units, 4 units)
        Recurrent weights, same gate order (``h @ U``).
    bias : array_like, shape (4 units,), optional
        Gate biases (zero if omitted).
    activation : str
        Cell-input and output activation (``"tanh"`` by default).
    recurrent_activation : str
        Gate activation (``"sigmoid"`` by default).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> system = LSTMSystem(rng.normal(size=(2, 12)), rng.normal(size=(3, 12)))
    >>> system.state_dim, system.layout.to_dict()
    (6, {'h': 3, 'c': 3})
    >>> system.jacobian_state(np.zeros((5, 6)), np.ones(2)).shape
    (5, 6, 6)
    """

    name: ClassVar[str] = "lstm"

    def __init__(
        self,
        kernel: ArrayLike,
        recurrent_kernel: ArrayLike,
        bias: ArrayLike | None = None,
        *,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
    ) -> None:
        self.recurrent_kernel = as_weight(recurrent_kernel, "recurrent_kernel", ndim=2)
        units, width = self.recurrent_kernel.shape
        if width != 4 * units:
            raise InputShapeError(
                "Weight recurrent_kernel must have shape (units, 4 * units) with gates "
                f"i|f|c|o side by side; got {self.recurrent_kernel.shape}."
            )
        self.kernel = as_weight(kernel, "kernel", ndim=2, shape=(None, 4 * units))
        self.bias = optional_bias(bias, (4 * units,))
        self.activation = get_activation(activation)
        self.recurrent_activation = get_activation(recurrent_activation)
        u = units
        # Transposed gate blocks i, f, c, o stacked per output unit, (u, 4, cols), twice
        # (rows of h' then of c', which has no output-gate term: its coefficient is 0):
        # Jacobian row i = coef[n, i, :] @ rows2[i], one batched matrix product
        # (2x faster than an einsum over gates).
        u_rows = np.stack([self.recurrent_kernel[:, k * u : (k + 1) * u].T for k in range(4)], 1)
        w_rows = np.stack([self.kernel[:, k * u : (k + 1) * u].T for k in range(4)], 1)
        self._u_rows2 = np.concatenate([u_rows, u_rows])  # (2u, 4, u)
        self._w_rows2 = np.concatenate([w_rows, w_rows])  # (2u, 4, input_dim)
        self._u_t = np.ascontiguousarray(self.recurrent_kernel.T)  # (4u, u)

    # --------------------------------------------------------------- shape
    @property
    def units(self) -> int:
        """Number of LSTM units (half the state size)."""
        return int(self.recurrent_kernel.shape[0])

    @property
    def state_dim(self) -> int:
        """``2 * units``: hidden state ``h`` then cell state ``c``."""
        return 2 * self.units

    @property
    def input_dim(self) -> int:
        """Input size."""
        return int(self.kernel.shape[0])

    @property
    def state_bounds(self) -> tuple[FloatArray, FloatArray] | None:
        """``h = o * act(c)`` lies in the activation's range (with 0); ``c`` is unbounded."""
        lo, hi = self.activation.bounds
        return box([(min(lo, 0.0), max(hi, 0.0)), (-np.inf, np.inf)], [self.units, self.units])

    @property
    def layout(self) -> StateLayout:
        """Components ``h`` and ``c``, each ``units`` long."""
        return StateLayout.from_sizes({"h": self.units, "c": self.units})

    # ---------------------------------------------------------------- math
    def _forward(self, h: FloatArray, x: FloatArray) -> _Forward:
        u = self.units
        hid, c = h[:, :u], h[:, u:]
        sig, act = self.recurrent_activation, self.activation
        a = x @ self.kernel + hid @ self.recurrent_kernel + self.bias
        a_i, a_f, a_c, a_o = a[:, :u], a[:, u : 2 * u], a[:, 2 * u : 3 * u], a[:, 3 * u :]
        i, f, g, o = sig(a_i), sig(a_f), act(a_c), sig(a_o)
        c_new = f * c + i * g
        tc = act(c_new)
        return _Forward(
            i=i,
            f=f,
            g=g,
            o=o,
            c_new=c_new,
            tc=tc,
            di=sig.grad(a_i, i),
            df=sig.grad(a_f, f),
            dg=act.grad(a_c, g),
            do=sig.grad(a_o, o),
            dtc=act.grad(c_new, tc),
            h_new=o * tc,
        )

    def _step(self, h: FloatArray, x: FloatArray) -> FloatArray:
        u = self.units
        hid, c = h[:, :u], h[:, u:]
        sig, act = self.recurrent_activation, self.activation
        a = x @ self.kernel + hid @ self.recurrent_kernel + self.bias
        c_new = sig(a[:, u : 2 * u]) * c + sig(a[:, :u]) * act(a[:, 2 * u : 3 * u])
        return np.concatenate([sig(a[:, 3 * u :]) * act(c_new), c_new], axis=1)

    def _gate_sum(self, h: FloatArray, fw: _Forward, rows2: FloatArray, out: FloatArray) -> None:
        """``dh'/dy`` and ``dc'/dy`` through the gates, for y = h or x (``_u_rows2``/``_w_rows2``).

        Written into ``out[:, :u]`` and ``out[:, u:]`` (shape ``(n, 2 units, cols)``),
        each row ``i`` as ``coef[n, i, :] @ rows2[i]``: one batched matrix product.
        """
        n, u = h.shape[0], self.units
        coef = np.empty((n, 2, u, 4))  # [dh'/da, dc'/da] for the gates i, f, c, o
        coef[:, 1, :, 0] = fw.g * fw.di
        coef[:, 1, :, 1] = h[:, u:] * fw.df
        coef[:, 1, :, 2] = fw.i * fw.dg
        coef[:, 1, :, 3] = 0.0
        np.multiply((fw.o * fw.dtc)[:, :, None], coef[:, 1], out=coef[:, 0])  # through c'
        coef[:, 0, :, 3] = fw.tc * fw.do
        np.matmul(
            coef.reshape(n, 2 * u, 1, 4),
            rows2[None],
            out=out[:, :, None, :],
        )

    def _state_jacobian(self, h: FloatArray, fw: _Forward) -> FloatArray:
        n, u = h.shape[0], self.units
        jac = np.zeros((n, 2 * u, 2 * u))
        self._gate_sum(h, fw, self._u_rows2, jac[:, :, :u])
        idx = np.arange(u)
        jac[:, idx, u + idx] = fw.o * fw.dtc * fw.f  # dh'/dc
        jac[:, u + idx, u + idx] = fw.f  # dc'/dc
        return jac

    def _input_jacobian(self, h: FloatArray, fw: _Forward) -> FloatArray:
        out = np.empty((h.shape[0], 2 * self.units, self.input_dim))
        self._gate_sum(h, fw, self._w_rows2, out)
        return out

    def _jacobians(self, h: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        fw = self._forward(h, x)
        return self._state_jacobian(h, fw), self._input_jacobian(h, fw)

    def _jacobian_state(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self._state_jacobian(h, self._forward(h, x))

    def _jacobian_input(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self._input_jacobian(h, self._forward(h, x))

    def _step_and_jacobian_state(
        self, h: FloatArray, x: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        fw = self._forward(h, x)
        return np.concatenate([fw.h_new, fw.c_new], axis=1), self._state_jacobian(h, fw)

    def _vjp_state(self, h: FloatArray, x: FloatArray, v: FloatArray) -> FloatArray:
        # v^T d(h', c')/d(h, c) without forming the Jacobian: O(n units^2).
        fw = self._forward(h, x)
        u = self.units
        v_h, v_c = v[:, :u], v[:, u:]
        g_c = v_c + v_h * fw.o * fw.dtc  # gradient wrt c'
        grads = np.concatenate(
            [g_c * fw.g * fw.di, g_c * h[:, u:] * fw.df, g_c * fw.i * fw.dg, v_h * fw.tc * fw.do],
            axis=1,
        )
        return np.concatenate([grads @ self._u_t, g_c * fw.f], axis=1)

    def describe(self) -> dict[str, Any]:
        """Provenance, including the activations."""
        return {
            **super().describe(),
            "activation": self.activation.name,
            "recurrent_activation": self.recurrent_activation.name,
        }
