"""Vanilla RNN (Keras ``SimpleRNNCell``) with analytic float64 Jacobians.

``h' = act(x W + h U + b)`` with Keras's weight layout: ``kernel`` W of shape
``(input_dim, units)``, ``recurrent_kernel`` U of shape ``(units, units)``.
"""

from __future__ import annotations

from typing import ClassVar

from numpy.typing import ArrayLike

from dynalyze._validation import FloatArray
from dynalyze.systems._weights import as_weight, box, optional_bias
from dynalyze.systems.activations import get_activation
from dynalyze.systems.base import RecurrentSystem

__all__ = ["SimpleRNNSystem"]


class SimpleRNNSystem(RecurrentSystem):
    """A vanilla RNN ``h' = act(x W + h U + b)`` in float64.

    Parameters
    ----------
    kernel : array_like, shape (input_dim, units)
        Input weights W.
    recurrent_kernel : array_like, shape (units, units)
        Recurrent weights U (Keras layout: ``h @ U``, so the map's matrix is U^T).
    bias : array_like, shape (units,), optional
        Bias b (zero if omitted).
    activation : str
        ``"tanh"`` (default), ``"linear"``, ``"relu"``, ``"sigmoid"`` or
        ``"hard_sigmoid"``.

    Examples
    --------
    >>> import numpy as np
    >>> system = SimpleRNNSystem(np.ones((1, 2)), np.zeros((2, 2)), np.zeros(2))
    >>> system.step(np.zeros((1, 2)), np.ones((1, 1))).round(4).tolist()
    [[0.7616, 0.7616]]
    """

    name: ClassVar[str] = "simple_rnn"

    def __init__(
        self,
        kernel: ArrayLike,
        recurrent_kernel: ArrayLike,
        bias: ArrayLike | None = None,
        activation: str = "tanh",
    ) -> None:
        self.recurrent_kernel = as_weight(recurrent_kernel, "recurrent_kernel", ndim=2)
        units = self.recurrent_kernel.shape[0]
        as_weight(recurrent_kernel, "recurrent_kernel", shape=(units, units))
        self.kernel = as_weight(kernel, "kernel", ndim=2, shape=(None, units))
        self.bias = optional_bias(bias, (units,))
        self.activation = get_activation(activation)

    @property
    def state_dim(self) -> int:
        """Number of units."""
        return int(self.recurrent_kernel.shape[0])

    @property
    def input_dim(self) -> int:
        """Input size."""
        return int(self.kernel.shape[0])

    @property
    def state_bounds(self) -> tuple[FloatArray, FloatArray] | None:
        """The activation's range (with 0): every state after ``h = 0`` is an activation value."""
        lo, hi = self.activation.bounds
        return box([(min(lo, 0.0), max(hi, 0.0))], [self.state_dim])

    def _pre(self, h: FloatArray, x: FloatArray) -> FloatArray:
        z: FloatArray = x @ self.kernel + h @ self.recurrent_kernel + self.bias
        return z

    def _step(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self.activation(self._pre(h, x))

    def _jacobians(self, h: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        z = self._pre(h, x)
        d = self.activation.grad(z, self.activation(z))  # (n, units)
        return d[:, :, None] * self.recurrent_kernel.T[None], d[:, :, None] * self.kernel.T[None]

    def _jacobian_state(self, h: FloatArray, x: FloatArray) -> FloatArray:
        z = self._pre(h, x)
        d = self.activation.grad(z, self.activation(z))
        out: FloatArray = d[:, :, None] * self.recurrent_kernel.T[None]
        return out

    def _step_and_jacobian_state(
        self, h: FloatArray, x: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        z = self._pre(h, x)
        f = self.activation(z)
        return f, self.activation.grad(z, f)[:, :, None] * self.recurrent_kernel.T[None]

    def _vjp_state(self, h: FloatArray, x: FloatArray, v: FloatArray) -> FloatArray:
        z = self._pre(h, x)
        grad = v * self.activation.grad(z, self.activation(z))
        out: FloatArray = grad @ self.recurrent_kernel.T
        return out
