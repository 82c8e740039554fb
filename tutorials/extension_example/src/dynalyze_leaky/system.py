"""``LeakyRNNSystem``: the dynalyze recurrent system of :class:`~dynalyze_leaky.cell.LeakyRNNCell`.

A NumPy map built from weight arrays: it knows nothing about Keras. How it is
built from a trained ``LeakyRNNCell`` is :mod:`dynalyze_leaky.adapter`, the
object registered under dynalyze's entry-point group.

The map and its Jacobians, with ``z = x W + h U + b`` and ``d = act'(z)``::

    F(h, x) = (1 - a) h + a act(z)
    dF/dh   = (1 - a) I + a diag(d) U^T
    dF/dx   = a diag(d) W^T
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dynalyze import RecurrentSystem
from dynalyze.errors import InputShapeError
from dynalyze.systems.activations import get_activation

__all__ = ["LeakyRNNSystem"]

FloatArray = NDArray[np.float64]


class LeakyRNNSystem(RecurrentSystem):
    """Leaky RNN ``h' = (1 - a) h + a act(x W + h U + b)`` in float64.

    Parameters
    ----------
    kernel : array_like, shape (input_dim, units)
        Input weights W.
    recurrent_kernel : array_like, shape (units, units)
        Recurrent weights U (``h @ U``).
    bias : array_like, shape (units,), optional
        Bias b (zero if omitted).
    leak : float
        Leak ``a`` in (0, 1].
    activation : str
        Activation name (any of ``dynalyze.systems.activations.ACTIVATIONS``).

    Examples
    --------
    >>> import numpy as np
    >>> system = LeakyRNNSystem(np.zeros((1, 2)), np.zeros((2, 2)), leak=0.25)
    >>> system.step(np.ones((1, 2))).tolist()
    [[0.75, 0.75]]
    """

    #: The name users pass as ``dynalyze.wrap(obj, system="leaky")``.
    name: ClassVar[str] = "leaky"

    def __init__(
        self,
        kernel: ArrayLike,
        recurrent_kernel: ArrayLike,
        bias: ArrayLike | None = None,
        *,
        leak: float = 0.5,
        activation: str = "tanh",
    ) -> None:
        # Copy and upcast once: the system never shares memory with Keras.
        self.recurrent_kernel = np.array(recurrent_kernel, dtype=np.float64)
        units = self.recurrent_kernel.shape[0]
        if self.recurrent_kernel.shape != (units, units):
            raise InputShapeError(
                "recurrent_kernel must be square (units, units); "
                f"got {self.recurrent_kernel.shape}."
            )
        self.kernel = np.array(kernel, dtype=np.float64)
        if self.kernel.ndim != 2 or self.kernel.shape[1] != units:
            raise InputShapeError(
                f"kernel must have shape (input_dim, {units}); got {self.kernel.shape}."
            )
        self.bias = np.zeros(units) if bias is None else np.array(bias, dtype=np.float64)
        if self.bias.shape != (units,):
            raise InputShapeError(f"bias must have shape ({units},); got {self.bias.shape}.")
        if not 0.0 < float(leak) <= 1.0:
            raise InputShapeError(f"leak must be in (0, 1]; got {leak!r}.")
        self.leak = float(leak)
        self.activation = get_activation(activation)

    # --------------------------------------------------------------- shape
    @property
    def state_dim(self) -> int:
        return int(self.recurrent_kernel.shape[0])

    @property
    def input_dim(self) -> int:
        return int(self.kernel.shape[0])

    def describe(self) -> dict[str, Any]:
        """Provenance stored in results: add the leak and activation."""
        return {**super().describe(), "leak": self.leak, "activation": self.activation.name}

    # ---------------------------------------------------------------- math
    # dynalyze validates inputs in the public methods and calls these hooks
    # with float64 arrays h (n, state_dim) and x (n, input_dim).
    def _pre(self, h: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        z = x @ self.kernel + h @ self.recurrent_kernel + self.bias
        f = self.activation(z)
        return f, self.activation.grad(z, f)

    def _step(self, h: FloatArray, x: FloatArray) -> FloatArray:
        f, _ = self._pre(h, x)
        out: FloatArray = (1.0 - self.leak) * h + self.leak * f
        return out

    def _jacobians(self, h: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        _, d = self._pre(h, x)
        scale = self.leak * d[:, :, None]  # (n, units, 1): rows scaled by a act'(z)
        jac_h = scale * self.recurrent_kernel.T[None]
        idx = np.arange(self.state_dim)
        jac_h[:, idx, idx] += 1.0 - self.leak
        return jac_h, scale * self.kernel.T[None]

    def _jacobian_state(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self._jacobians(h, x)[0]

    def _jacobian_input(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self._jacobians(h, x)[1]

    def _vjp_state(self, h: FloatArray, x: FloatArray, v: FloatArray) -> FloatArray:
        # v^T dF/dh without forming the (n, units, units) Jacobian.
        _, d = self._pre(h, x)
        out: FloatArray = (1.0 - self.leak) * v + (self.leak * v * d) @ self.recurrent_kernel.T
        return out
