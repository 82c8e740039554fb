"""Gated recurrent unit (Keras ``GRUCell``) with analytic float64 Jacobians.

Keras's weight layout and gate order ``z | r | h``: ``kernel`` W of shape
``(input_dim, 3 units)``, ``recurrent_kernel`` U of shape ``(units, 3 units)``.

With ``reset_after=True`` (the Keras default) the bias has shape ``(2, 3 units)``
(row 0 input bias ``b``, row 1 recurrent bias ``c``) and::

    z  = sig(x Wz + bz + h Uz + cz)
    r  = sig(x Wr + br + h Ur + cr)
    hh = act(x Wh + bh + r * (h Uh + ch))

With ``reset_after=False`` the bias has shape ``(3 units,)`` and
``hh = act(x Wh + bh + (r * h) Uh)``. In both cases ``h' = z h + (1 - z) hh``.
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

__all__ = ["GRUSystem"]


class _Forward(NamedTuple):
    """Intermediate values of one GRU step, shared by the Jacobians and the VJP."""

    z: FloatArray  # update gate
    r: FloatArray  # reset gate
    hh: FloatArray  # candidate state
    m: FloatArray  # reset_after: h Uh + ch (what r multiplies); otherwise unused
    dz: FloatArray  # sig'(a_z)
    dr: FloatArray  # sig'(a_r)
    dh: FloatArray  # act'(a_h)
    out: FloatArray  # h'


class GRUSystem(RecurrentSystem):
    """A Keras-compatible GRU ``h' = z h + (1 - z) hh`` in float64.

    Parameters
    ----------
    kernel : array_like, shape (input_dim, 3 units)
        Input weights, gates ``z | r | h`` side by side (Keras layout).
    recurrent_kernel : array_like, shape (units, 3 units)
        Recurrent weights, same gate order (``h @ U``).
    bias : array_like, optional
        Shape ``(2, 3 units)`` with ``reset_after=True`` (input bias row,
        recurrent bias row), shape ``(3 units,)`` with ``reset_after=False``.
        Zero if omitted.
    reset_after : bool
        Apply the reset gate after the recurrent matrix product (Keras default,
        cuDNN-compatible) or before it (original Cho et al. GRU).
    activation : str
        Candidate activation (``"tanh"`` by default).
    recurrent_activation : str
        Gate activation (``"sigmoid"`` by default).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> system = GRUSystem(rng.normal(size=(2, 9)), rng.normal(size=(3, 9)))
    >>> system.state_dim, system.input_dim
    (3, 2)
    >>> h = np.zeros((4, 3))
    >>> jh, jx = system.jacobians(h, rng.normal(size=(4, 2)))
    >>> jh.shape, jx.shape
    ((4, 3, 3), (4, 3, 2))
    >>> GRUSystem(np.zeros((1, 3)), np.zeros((1, 3))).step(np.ones((1, 1))).tolist()
    [[0.5]]
    """

    name: ClassVar[str] = "gru"

    def __init__(
        self,
        kernel: ArrayLike,
        recurrent_kernel: ArrayLike,
        bias: ArrayLike | None = None,
        *,
        reset_after: bool = True,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
    ) -> None:
        self.recurrent_kernel = as_weight(recurrent_kernel, "recurrent_kernel", ndim=2)
        units, width = self.recurrent_kernel.shape
        if width != 3 * units:
            raise InputShapeError(
                "Weight recurrent_kernel must have shape (units, 3 * units) with gates "
                f"z|r|h side by side; got {self.recurrent_kernel.shape}."
            )
        self.kernel = as_weight(kernel, "kernel", ndim=2, shape=(None, 3 * units))
        self.reset_after = bool(reset_after)
        if self.reset_after:
            self.bias = optional_bias(bias, (2, 3 * units))
            self.input_bias = self.bias[0]
            self.recurrent_bias = self.bias[1]
        else:
            self.bias = optional_bias(bias, (3 * units,))
            self.input_bias = self.bias
            self.recurrent_bias = np.zeros(3 * units)
        self.activation = get_activation(activation)
        self.recurrent_activation = get_activation(recurrent_activation)
        u = units
        # Transposed gate blocks: the map's matrices (rows = output units).
        uz_t, ur_t, uh_t = (
            np.ascontiguousarray(self.recurrent_kernel[:, k * u : (k + 1) * u].T) for k in range(3)
        )
        wz_t, wr_t, wh_t = (
            np.ascontiguousarray(self.kernel[:, k * u : (k + 1) * u].T) for k in range(3)
        )
        self._ur_t, self._uh_t, self._wr_t = ur_t, uh_t, wr_t
        # Gate blocks stacked per output unit, (u, gates, cols): row i of the Jacobian is
        # coef[n, i, :] @ rows[i], one batched matrix product over (point, unit) that
        # writes the (n, u, cols) result once (2x faster than an einsum over gates).
        if self.reset_after:
            self._u_rows = np.ascontiguousarray(np.stack([uz_t, uh_t, ur_t], axis=1))
            self._w_rows = np.ascontiguousarray(np.stack([wz_t, wh_t, wr_t], axis=1))
        else:
            self._u_rows = np.ascontiguousarray(uz_t[:, None, :])
            self._w_rows = np.ascontiguousarray(np.stack([wz_t, wh_t], axis=1))
        self._u_t = np.ascontiguousarray(self.recurrent_kernel.T)  # (3u, u)

    # --------------------------------------------------------------- shape
    @property
    def units(self) -> int:
        """Number of GRU units."""
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
    def _forward(self, h: FloatArray, x: FloatArray) -> _Forward:
        u = self.units
        sig, act = self.recurrent_activation, self.activation
        ax = x @ self.kernel + self.input_bias  # (n, 3u)
        if self.reset_after:
            ah = h @ self.recurrent_kernel + self.recurrent_bias  # (n, 3u)
            a_z = ax[:, :u] + ah[:, :u]
            a_r = ax[:, u : 2 * u] + ah[:, u : 2 * u]
            z, r = sig(a_z), sig(a_r)
            m = ah[:, 2 * u :]
            a_h = ax[:, 2 * u :] + r * m
        else:
            ah = h @ self.recurrent_kernel[:, : 2 * u]  # (n, 2u)
            a_z = ax[:, :u] + ah[:, :u]
            a_r = ax[:, u : 2 * u] + ah[:, u:]
            z, r = sig(a_z), sig(a_r)
            m = h
            a_h = ax[:, 2 * u :] + (r * h) @ self.recurrent_kernel[:, 2 * u :]
        hh = act(a_h)
        out = z * h + (1.0 - z) * hh
        return _Forward(
            z=z,
            r=r,
            hh=hh,
            m=m,
            dz=sig.grad(a_z, z),
            dr=sig.grad(a_r, r),
            dh=act.grad(a_h, hh),
            out=out,
        )

    def _step(self, h: FloatArray, x: FloatArray) -> FloatArray:
        # Cheaper than _forward: no derivatives.
        u = self.units
        sig, act = self.recurrent_activation, self.activation
        ax = x @ self.kernel + self.input_bias
        if self.reset_after:
            ah = h @ self.recurrent_kernel + self.recurrent_bias
            z = sig(ax[:, :u] + ah[:, :u])
            r = sig(ax[:, u : 2 * u] + ah[:, u : 2 * u])
            hh = act(ax[:, 2 * u :] + r * ah[:, 2 * u :])
        else:
            ah = h @ self.recurrent_kernel[:, : 2 * u]
            z = sig(ax[:, :u] + ah[:, :u])
            r = sig(ax[:, u : 2 * u] + ah[:, u:])
            hh = act(ax[:, 2 * u :] + (r * h) @ self.recurrent_kernel[:, 2 * u :])
        out: FloatArray = z * h + (1.0 - z) * hh
        return out

    def _state_jacobian(self, h: FloatArray, f: _Forward) -> tuple[FloatArray, FloatArray]:
        """``dh'/dh``, and the gate coefficients (or ``reset_after=False`` term) reused for dx.

        Row scalings of the gate matrices are summed with one batched matrix
        product (no ``(n, u, u)`` temporaries per gate); the ``reset_after=False``
        product is one large matrix product over all points.
        """
        n, u = h.shape[0], self.units
        a = (h - f.hh) * f.dz  # d h'/d a_z
        b = (1.0 - f.z) * f.dh  # d h'/d a_h
        if self.reset_after:
            coef = np.stack([a, b * f.r, b * f.m * f.dr], axis=2)  # (n, u, 3)
            jac: FloatArray = _row_sum(coef, self._u_rows)
            extra = coef
        else:
            # d a_h/d h = Uh^T diag(r) + Uh^T diag(h r') Ur^T, rows scaled by b.
            scaled = b[:, :, None] * self._uh_t[None]  # (n, u, u): diag(b) Uh^T
            extra = scaled * (h * f.dr)[:, None, :]  # diag(b) Uh^T diag(h r')
            jac = (extra.reshape(n * u, u) @ self._ur_t).reshape(n, u, u)
            scaled *= f.r[:, None, :]
            jac += scaled
            jac += a[:, :, None] * self._u_rows[:, 0]
        idx = np.arange(u)
        jac[:, idx, idx] += f.z
        return jac, extra

    def _input_jacobian(self, h: FloatArray, f: _Forward, extra: FloatArray | None) -> FloatArray:
        n, u = h.shape[0], self.units
        a = (h - f.hh) * f.dz
        b = (1.0 - f.z) * f.dh
        if self.reset_after:
            last = extra[:, :, 2] if extra is not None else b * f.m * f.dr
            out: FloatArray = _row_sum(np.stack([a, b, last], axis=2), self._w_rows)
            return out
        if extra is None:
            extra = (b[:, :, None] * self._uh_t[None]) * (h * f.dr)[:, None, :]
        out = (extra.reshape(n * u, u) @ self._wr_t).reshape(n, u, self.input_dim)
        out += _row_sum(np.stack([a, b], axis=2), self._w_rows)
        return out

    def _jacobians(self, h: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        f = self._forward(h, x)
        jh, extra = self._state_jacobian(h, f)
        return jh, self._input_jacobian(h, f, extra)

    def _jacobian_state(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self._state_jacobian(h, self._forward(h, x))[0]

    def _jacobian_input(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self._input_jacobian(h, self._forward(h, x), None)

    def _step_and_jacobian_state(
        self, h: FloatArray, x: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        f = self._forward(h, x)
        return f.out, self._state_jacobian(h, f)[0]

    def _vjp_state(self, h: FloatArray, x: FloatArray, v: FloatArray) -> FloatArray:
        # v^T dh'/dh without forming the Jacobian: O(n units^2).
        f = self._forward(h, x)
        u = self.units
        g_z = v * (h - f.hh) * f.dz  # gradient wrt a_z
        g_h = v * (1.0 - f.z) * f.dh  # gradient wrt a_h
        if self.reset_after:
            # a_h depends on h through r (a_r) and through m = h Uh + ch.
            grads = np.concatenate([g_z, g_h * f.m * f.dr, g_h * f.r], axis=1)
            out: FloatArray = v * f.z + grads @ self._u_t
            return out
        t = g_h @ self._uh_t  # gradient wrt (r * h)
        grads = np.concatenate([g_z, t * h * f.dr], axis=1)
        out = v * f.z + t * f.r + grads @ self._u_t[: 2 * u]
        return out

    def describe(self) -> dict[str, Any]:
        """Provenance, including the GRU variant and activations."""
        return {
            **super().describe(),
            "reset_after": self.reset_after,
            "activation": self.activation.name,
            "recurrent_activation": self.recurrent_activation.name,
        }


def _row_sum(coef: FloatArray, rows: FloatArray) -> FloatArray:
    """``out[n, i] = coef[n, i] @ rows[i]``: gate matrices scaled by row, summed over gates.

    ``coef`` is ``(n, units, gates)``, ``rows`` is ``(units, gates, cols)``; the result
    ``(n, units, cols)`` is ``sum_g diag(coef[:, :, g]) block_g`` for every point.
    """
    n, u, _ = coef.shape
    out: FloatArray = np.matmul(coef[:, :, None, :], rows).reshape(n, u, rows.shape[2])
    return out
