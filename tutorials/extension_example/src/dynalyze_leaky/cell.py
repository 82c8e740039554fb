"""``LeakyRNNCell``: a leaky-integrator RNN cell for Keras.

``h' = (1 - a) h + a act(x W + h U + b)`` with a fixed leak ``a`` in (0, 1]
(``a = 1`` is a vanilla RNN). Weight layout as Keras's ``SimpleRNNCell``:
``kernel`` W ``(input_dim, units)``, ``recurrent_kernel`` U ``(units, units)``,
``bias`` b ``(units,)``.
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["LeakyRNNCell"]


@keras.saving.register_keras_serializable(package="dynalyze_leaky")
class LeakyRNNCell(keras.layers.Layer):
    """Leaky RNN cell; use it as ``keras.layers.RNN(LeakyRNNCell(units))``.

    Parameters
    ----------
    units : int
        Size of the state.
    leak : float
        Leak ``a`` in (0, 1]: the fraction of the state replaced each step.
    activation : str
        Activation of the update (``"tanh"``).
    use_bias : bool
        Whether the update has a bias.
    kernel_initializer, recurrent_initializer, bias_initializer : str or initializer
        Initializers of ``kernel``, ``recurrent_kernel`` and ``bias``.
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ``dtype``...).
    """

    def __init__(
        self,
        units: int,
        leak: float = 0.5,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 < float(leak) <= 1.0:
            raise ValueError(f"leak must be in (0, 1]; got {leak!r}.")
        self.units = int(units)
        self.leak = float(leak)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape: Any) -> None:
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer=self.kernel_initializer, name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units),
            initializer=self.recurrent_initializer,
            name="recurrent_kernel",
        )
        self.bias = (
            self.add_weight(shape=(self.units,), initializer=self.bias_initializer, name="bias")
            if self.use_bias
            else None
        )
        self.built = True

    def call(self, inputs: Any, states: Any, training: bool = False) -> Any:
        h = states[0] if isinstance(states, (list, tuple)) else states
        z = keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(h, self.recurrent_kernel)
        if self.bias is not None:
            z = z + self.bias
        new = (1.0 - self.leak) * h + self.leak * self.activation(z)
        return new, [new]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "leak": self.leak,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
