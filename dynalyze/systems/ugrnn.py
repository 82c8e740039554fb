"""Update-gate RNN (:class:`dynalyze.keras.UGRNNCell`) with analytic float64 Jacobians.

The UGRNN of Collins, Sohl-Dickstein & Sussillo (2016), in the Keras weight
layout of :class:`dynalyze.keras.UGRNNCell`: ``kernel`` W of shape
``(input_dim, 2 units)``, ``recurrent_kernel`` U of shape ``(units, 2 units)``,
``bias`` of shape ``(2 units,)``, gate blocks ``u | c``::

    u  = sig(x Wu + h Uu + bu)
    c  = act(x Wc + h Uc + bc)
    h' = u h + (1 - u) c

With ``alpha = (h - c) sig'(a_u)`` and ``beta = (1 - u) act'(a_c)`` the
Jacobians are ``dh'/dh = diag(u) + diag(alpha) Uu^T + diag(beta) Uc^T`` and
``dh'/dx = diag(alpha) Wu^T + diag(beta) Wc^T``.

The system is built from arrays; :func:`dynalyze.wrap` builds it from a trained
``UGRNNCell`` (:mod:`dynalyze.keras.adapters`).
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from dynalyze._validation import FloatArray
from dynalyze.errors import InputShapeError
from dynalyze.systems._weights import as_weight, box, optional_bias
from dynalyze.systems.activations import get_activation
from dynalyze.systems.base import RecurrentSystem

__all__ = ["UGRNNSystem"]


class _Forward(NamedTuple):
    """Intermediate values of one UGRNN step, shared by the Jacobians and the VJP."""

    u: FloatArray  # update gate
    alpha: FloatArray  # d h' / d a_u = (h - c) sig'(a_u)
    beta: FloatArray  # d h' / d a_c = (1 - u) act'(a_c)
    out: FloatArray  # h'


class UGRNNSystem(RecurrentSystem):
    """An update-gate RNN ``h' = u h + (1 - u) c`` in float64 (Keras layout).

    Parameters
    ----------
    kernel : array_like, shape (input_dim, 2 units)
        Input weights, gates ``u | c`` side by side.
    recurrent_kernel : array_like, shape (units, 2 units)
        Recurrent weights, same gate order (``h @ U``).
    bias : array_like, shape (2 units,), optional
        Gate biases (zero if omitted).
    activation : str
        Candidate activation (``"tanh"`` by default).
    recurrent_activation : str
        Update-gate activation (``"sigmoid"`` by default).

    Examples
    --------
    With zero weights the gate is 1/2 and the candidate 0, so ``h' = h / 2``:

    >>> import numpy as np
    >>> from dynalyze.systems import UGRNNSystem
    >>> system = UGRNNSystem(np.zeros((1, 4)), np.zeros((2, 4)))
    >>> system.step(np.ones((1, 2))).tolist()
    [[0.5, 0.5]]
    >>> system.jacobian_state(np.ones((1, 2)))[0].tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    >>> rng = np.random.default_rng(0)
    >>> system = UGRNNSystem(rng.normal(size=(3, 8)), rng.normal(size=(4, 8)), np.ones(8))
    >>> jh, jx = system.jacobians(rng.normal(size=(5, 4)), rng.normal(size=(5, 3)))
    >>> jh.shape, jx.shape
    ((5, 4, 4), (5, 4, 3))
    """

    name: ClassVar[str] = "ugrnn"

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
        if width != 2 * units:
            raise InputShapeError(
                "Weight recurrent_kernel must have shape (units, 2 * units) with gates "
                f"u|c side by side; got {self.recurrent_kernel.shape}."
            )
        self.kernel = as_weight(kernel, "kernel", ndim=2, shape=(None, 2 * units))
        self.bias = optional_bias(bias, (2 * units,))
        self.activation = get_activation(activation)
        self.recurrent_activation = get_activation(recurrent_activation)
        u = units
        # Transposed gate blocks stacked per output unit, (u, 2, cols): Jacobian row i
        # is coef[n, i, :] @ rows[i], one batched matrix product (2x faster than einsum).
        self._u_rows = np.ascontiguousarray(
            np.stack([self.recurrent_kernel[:, :u].T, self.recurrent_kernel[:, u:].T], axis=1)
        )
        self._w_rows = np.ascontiguousarray(
            np.stack([self.kernel[:, :u].T, self.kernel[:, u:].T], axis=1)
        )
        self._u_t = np.ascontiguousarray(self.recurrent_kernel.T)  # (2u, u)

    # --------------------------------------------------------------- shape
    @property
    def units(self) -> int:
        """Number of UGRNN units."""
        return int(self.recurrent_kernel.shape[0])

    @property
    def state_dim(self) -> int:
        """Number of units."""
        return self.units

    @property
    def input_dim(self) -> int:
        """Input size."""
        return int(self.kernel.shape[0])

    @property
    def state_bounds(self) -> tuple[FloatArray, FloatArray] | None:
        """The activation's range (with 0): ``h'`` is a convex combination of ``h`` and an
        activation value, so from ``h = 0`` the state never leaves it."""
        lo, hi = self.activation.bounds
        return box([(min(lo, 0.0), max(hi, 0.0))], [self.state_dim])

    # ---------------------------------------------------------------- math
    def _pre(self, h: FloatArray, x: FloatArray) -> FloatArray:
        a: FloatArray = x @ self.kernel + h @ self.recurrent_kernel + self.bias
        return a

    def _forward(self, h: FloatArray, x: FloatArray) -> _Forward:
        u = self.units
        a = self._pre(h, x)
        a_u, a_c = a[:, :u], a[:, u:]
        gate = self.recurrent_activation(a_u)
        cand = self.activation(a_c)
        return _Forward(
            u=gate,
            alpha=(h - cand) * self.recurrent_activation.grad(a_u, gate),
            beta=(1.0 - gate) * self.activation.grad(a_c, cand),
            out=gate * h + (1.0 - gate) * cand,
        )

    def _step(self, h: FloatArray, x: FloatArray) -> FloatArray:
        u = self.units
        a = self._pre(h, x)
        gate = self.recurrent_activation(a[:, :u])
        out: FloatArray = gate * h + (1.0 - gate) * self.activation(a[:, u:])
        return out

    def _row_sum(self, f: _Forward, rows: FloatArray) -> FloatArray:
        """``diag(alpha) block_u + diag(beta) block_c`` for every point."""
        n, u = f.u.shape
        coef = np.stack([f.alpha, f.beta], axis=2)  # (n, u, 2)
        out: FloatArray = np.matmul(coef[:, :, None, :], rows).reshape(n, u, rows.shape[2])
        return out

    def _state_jacobian(self, f: _Forward) -> FloatArray:
        jac = self._row_sum(f, self._u_rows)
        idx = np.arange(self.units)
        jac[:, idx, idx] += f.u
        return jac

    def _input_jacobian(self, f: _Forward) -> FloatArray:
        return self._row_sum(f, self._w_rows)

    def _jacobians(self, h: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        f = self._forward(h, x)
        return self._state_jacobian(f), self._input_jacobian(f)

    def _jacobian_state(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self._state_jacobian(self._forward(h, x))

    def _jacobian_input(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self._input_jacobian(self._forward(h, x))

    def _step_and_jacobian_state(
        self, h: FloatArray, x: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        f = self._forward(h, x)
        return f.out, self._state_jacobian(f)

    def _vjp_state(self, h: FloatArray, x: FloatArray, v: FloatArray) -> FloatArray:
        # v^T dh'/dh = v u + [v alpha, v beta] U^T, without forming the Jacobian.
        f = self._forward(h, x)
        grads = np.concatenate([v * f.alpha, v * f.beta], axis=1)  # (n, 2u)
        out: FloatArray = v * f.u + grads @ self._u_t
        return out

    def describe(self) -> dict[str, Any]:
        """Provenance, including the activations."""
        return {
            **super().describe(),
            "activation": self.activation.name,
            "recurrent_activation": self.recurrent_activation.name,
        }
