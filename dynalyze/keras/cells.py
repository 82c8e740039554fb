"""Keras RNN cells that dynalyze provides (imports Keras; not imported by ``import dynalyze``).

:class:`FullStateCell` wraps any cell so that its step output is its whole flat
state; :func:`dynalyze.keras.model.state_function` runs it to stream hidden states.

:class:`UGRNNCell` is the update-gate RNN of Collins, Sohl-Dickstein & Sussillo
(2016), one of the four architectures of the line-attractor paper::

    u  = recurrent_activation(x W_u + h U_u + b_u)      (update gate, sigmoid)
    c  = activation(x W_c + h U_c + b_c)                (candidate, tanh)
    h' = u * h + (1 - u) * c

It uses the Keras weight layout: ``kernel`` of shape ``(input_dim, 2 units)``,
``recurrent_kernel`` of shape ``(units, 2 units)`` and ``bias`` of shape
``(2 units,)``, with the gate blocks ``u | c`` side by side.

The cell is registered as Keras-serializable (``"dynalyze>UGRNNCell"``), so a
model using ``keras.layers.RNN(UGRNNCell(...))`` saves as ``.keras`` and loads
back in Keras safe mode, provided this module has been imported first
(:func:`dynalyze.keras.load_model` does that). Wrap a trained
cell with :func:`dynalyze.wrap` to get the analytic float64
:class:`dynalyze.systems.UGRNNSystem`.

Examples
--------
>>> import keras, numpy as np
>>> from dynalyze.keras import UGRNNCell
>>> layer = keras.layers.RNN(UGRNNCell(4))
>>> tuple(layer(np.zeros((2, 5, 3), dtype="float32")).shape)
(2, 4)
"""

from __future__ import annotations

from typing import Any

import keras

from dynalyze.keras._introspect import state_sizes

__all__ = ["FullStateCell", "UGRNNCell"]


# keras.layers.Layer is untyped (Any) for mypy; subclassing it is the point here.
@keras.saving.register_keras_serializable(package="dynalyze")
class UGRNNCell(keras.layers.Layer):  # type: ignore[misc]
    """Update-gate RNN cell ``h' = u h + (1 - u) c`` (Collins et al. 2016).

    Use it inside ``keras.layers.RNN``; the layer then respects input masks
    like Keras's own recurrent layers.

    Parameters
    ----------
    units : int
        Size of the state.
    activation : str or callable
        Candidate activation (``"tanh"``).
    recurrent_activation : str or callable
        Update-gate activation (``"sigmoid"``).
    use_bias : bool
        Whether the gates have a bias.
    kernel_initializer, recurrent_initializer, bias_initializer : str or initializer
        Initializers of ``kernel`` (input weights), ``recurrent_kernel`` and ``bias``.
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ``dtype``...).

    Examples
    --------
    >>> import numpy as np
    >>> cell = UGRNNCell(3)
    >>> cell.build((None, 2))
    >>> [tuple(w.shape) for w in cell.weights]
    [(2, 6), (3, 6), (6,)]
    >>> out, states = cell(np.zeros((1, 2), "float32"), [np.zeros((1, 3), "float32")])
    >>> np.asarray(out).tolist()
    [[0.0, 0.0, 0.0]]
    """

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"UGRNNCell needs a positive integer number of units; got {units!r}.")
        self.units = units
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape: Any) -> None:
        """Create ``kernel`` ``(input_dim, 2 units)``, ``recurrent_kernel`` and ``bias``."""
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, 2 * self.units),
            initializer=self.kernel_initializer,
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 2 * self.units),
            initializer=self.recurrent_initializer,
            name="recurrent_kernel",
        )
        self.bias = (
            self.add_weight(shape=(2 * self.units,), initializer=self.bias_initializer, name="bias")
            if self.use_bias
            else None
        )
        self.built = True

    def call(self, inputs: Any, states: Any, training: bool = False) -> Any:
        """One step: returns ``(h', [h'])``."""
        h = states[0] if isinstance(states, (list, tuple)) else states
        z = keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(h, self.recurrent_kernel)
        if self.bias is not None:
            z = z + self.bias
        gate = self.recurrent_activation(z[:, : self.units])
        candidate = self.activation(z[:, self.units :])
        new = gate * h + (1.0 - gate) * candidate
        return new, [new]

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument (so the cell saves, loads and clones exactly)."""
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


class FullStateCell(keras.layers.Layer):  # type: ignore[misc]  # Layer is untyped
    """A cell whose step output is the whole flat state of ``inner`` (e.g. LSTM ``[h; c]``).

    Parameters
    ----------
    inner : keras.layers.Layer
        A built Keras RNN cell; it is called with ``training=False``.

    Examples
    --------
    >>> import keras, numpy as np
    >>> inner = keras.layers.LSTMCell(3)
    >>> inner.build((None, 2))
    >>> layer = keras.layers.RNN(FullStateCell(inner), return_sequences=True)
    >>> tuple(layer(np.zeros((1, 4, 2), dtype="float32")).shape)
    (1, 4, 6)
    """

    def __init__(self, inner: Any, **kwargs: Any) -> None:
        super().__init__(dtype=inner.dtype_policy, **kwargs)
        self.inner = inner
        self.state_size = inner.state_size
        self.output_size = int(sum(state_sizes(inner)))

    def call(self, inputs: Any, states: Any, training: bool = False) -> Any:
        """One step: ``(flat new state, new states)``."""
        _, new_states = self.inner(inputs, states, training=False)
        flat = new_states if isinstance(new_states, (list, tuple)) else [new_states]
        return keras.ops.concatenate(list(flat), axis=-1), new_states
