"""PyTorch's RNN, GRU and LSTM as dynalyze's analytic float64 systems.

The math of ``torch.nn.RNN``/``GRU``/``LSTM`` (and their cells) is the math of
dynalyze's :class:`~dynalyze.systems.SimpleRNNSystem`,
:class:`~dynalyze.systems.GRUSystem` (``reset_after=True``) and
:class:`~dynalyze.systems.LSTMSystem`; only the weight layout differs, so each
system here is that class with a constructor from PyTorch's weights (its
analytic Jacobians are inherited unchanged) and its own registry name:

=============  ============================  ============================================
PyTorch        dynalyze system               what the conversion does
=============  ============================  ============================================
RNN, RNNCell   :class:`TorchRNNSystem`       ``kernel = W_ih^T``, ``bias = b_ih + b_hh``
GRU, GRUCell   :class:`TorchGRUSystem`       gate order r|z|n -> z|r|h, biases kept apart
LSTM, LSTMCell :class:`TorchLSTMSystem`      ``kernel = W_ih^T`` (same gate order i|f|g|o)
=============  ============================  ============================================

PyTorch stores ``weight_ih`` as ``(gates * hidden, input)`` and computes
``x @ W_ih^T``; Keras (and dynalyze's systems) store ``kernel`` as
``(input, gates * units)`` and compute ``x @ kernel``: every matrix is transposed.

A multi-layer module becomes a :class:`~dynalyze_torch.stacked.StackedSystem` of
one such system per layer (:func:`system_from_module`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from dynalyze.errors import InputShapeError, UnsupportedModelError
from dynalyze.systems import GRUSystem, LSTMSystem, RecurrentSystem, SimpleRNNSystem
from dynalyze_torch._modules import (
    check_unidirectional,
    describe_module,
    is_unmodified,
    tensor_array,
)
from dynalyze_torch.stacked import StackedSystem

__all__ = [
    "TorchGRUSystem",
    "TorchLSTMSystem",
    "TorchRNNSystem",
    "layer_weights",
    "system_from_module",
]


def _pair(weight_ih: ArrayLike, weight_hh: ArrayLike, gates: int) -> tuple[Any, Any, int]:
    """Both weight matrices as float64, checked against ``gates * hidden`` rows."""
    w_ih = np.asarray(weight_ih, dtype=np.float64)
    w_hh = np.asarray(weight_hh, dtype=np.float64)
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise InputShapeError(
            f"weight_hh must have shape ({gates} * hidden, hidden) (PyTorch layout); got "
            f"{w_hh.shape}."
        )
    hidden = int(w_hh.shape[1])
    if w_ih.ndim != 2 or w_ih.shape[0] != gates * hidden:
        raise InputShapeError(
            f"weight_ih must have shape ({gates * hidden}, input_size) (PyTorch layout); got "
            f"{w_ih.shape}."
        )
    return w_ih, w_hh, hidden


def _bias(value: ArrayLike | None, size: int) -> Any:
    return np.zeros(size) if value is None else np.asarray(value, dtype=np.float64)


class TorchRNNSystem(SimpleRNNSystem):
    """``torch.nn.RNN``/``RNNCell``: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)`` in float64.

    A :class:`~dynalyze.systems.SimpleRNNSystem` (same math, analytic
    Jacobians) built from PyTorch's weights by :meth:`from_torch_weights`.

    Examples
    --------
    >>> import numpy as np
    >>> system = TorchRNNSystem.from_torch_weights(np.ones((2, 1)), np.zeros((2, 2)),
    ...                                             nonlinearity="relu")
    >>> system.step(np.zeros((1, 2)), np.ones((1, 1))).tolist()
    [[1.0, 1.0]]
    """

    name: ClassVar[str] = "torch_rnn"

    @classmethod
    def from_torch_weights(
        cls,
        weight_ih: ArrayLike,
        weight_hh: ArrayLike,
        bias_ih: ArrayLike | None = None,
        bias_hh: ArrayLike | None = None,
        *,
        nonlinearity: str = "tanh",
    ) -> TorchRNNSystem:
        """Build from PyTorch's arrays (``weight_ih`` is ``(hidden, input)``).

        ``nonlinearity`` is ``"tanh"`` or ``"relu"``, as in ``torch.nn.RNN``.
        """
        w_ih, w_hh, hidden = _pair(weight_ih, weight_hh, 1)
        if nonlinearity not in ("tanh", "relu"):
            raise UnsupportedModelError(
                f"torch.nn.RNN's nonlinearity is 'tanh' or 'relu'; got {nonlinearity!r}."
            )
        bias = _bias(bias_ih, hidden) + _bias(bias_hh, hidden)
        return cls(w_ih.T, w_hh.T, bias, activation=nonlinearity)


def _z_r_h(rows: Any, hidden: int) -> Any:
    """PyTorch's GRU gate blocks r|z|n reordered to Keras's z|r|h (along axis 0)."""
    u = hidden
    return np.concatenate([rows[u : 2 * u], rows[:u], rows[2 * u :]], axis=0)


class TorchGRUSystem(GRUSystem):
    """``torch.nn.GRU``/``GRUCell`` in float64, with analytic Jacobians.

    PyTorch's GRU is Keras's ``reset_after=True`` GRU with two conventions
    swapped: its gate blocks are ordered r|z|n (Keras: z|r|h), and its
    candidate keeps the recurrent bias inside the reset product,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, which is exactly Keras's
    ``hh = tanh(x Wh + bh + r * (h Uh + ch))`` with the recurrent bias row ``c``
    (never summed into the input bias, unlike the z and r gates, where the sum
    is all that matters). :meth:`from_torch_weights` reorders the blocks,
    transposes the matrices and keeps ``b_ih`` and ``b_hh`` as Keras's two bias
    rows, so the inherited :class:`~dynalyze.systems.GRUSystem` computes
    ``h' = (1 - z) n + z h``, PyTorch's update.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> system = TorchGRUSystem.from_torch_weights(rng.normal(size=(9, 2)),
    ...                                             rng.normal(size=(9, 3)))
    >>> system.state_dim, system.input_dim, system.reset_after
    (3, 2, True)
    """

    name: ClassVar[str] = "torch_gru"

    @classmethod
    def from_torch_weights(
        cls,
        weight_ih: ArrayLike,
        weight_hh: ArrayLike,
        bias_ih: ArrayLike | None = None,
        bias_hh: ArrayLike | None = None,
    ) -> TorchGRUSystem:
        """Build from PyTorch's arrays (``weight_ih`` is ``(3 hidden, input)``, gates r|z|n)."""
        w_ih, w_hh, u = _pair(weight_ih, weight_hh, 3)
        kernel = _z_r_h(w_ih, u).T
        recurrent_kernel = _z_r_h(w_hh, u).T
        bias = np.stack([_z_r_h(_bias(bias_ih, 3 * u), u), _z_r_h(_bias(bias_hh, 3 * u), u)])
        return cls(kernel, recurrent_kernel, bias, reset_after=True)


class TorchLSTMSystem(LSTMSystem):
    """``torch.nn.LSTM``/``LSTMCell`` on the state ``concat(h, c)``, in float64.

    PyTorch's gate order i|f|g|o is Keras's i|f|c|o, so only the matrices are
    transposed; its two biases ``b_ih + b_hh`` are summed into Keras's one. The
    state is ``h`` then ``c``, as FixedPointFinder concatenates an LSTM's state.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> system = TorchLSTMSystem.from_torch_weights(rng.normal(size=(12, 2)),
    ...                                              rng.normal(size=(12, 3)))
    >>> system.layout.to_dict()
    {'h': 3, 'c': 3}
    """

    name: ClassVar[str] = "torch_lstm"

    @classmethod
    def from_torch_weights(
        cls,
        weight_ih: ArrayLike,
        weight_hh: ArrayLike,
        bias_ih: ArrayLike | None = None,
        bias_hh: ArrayLike | None = None,
    ) -> TorchLSTMSystem:
        """Build from PyTorch's arrays (``weight_ih`` is ``(4 hidden, input)``, gates i|f|g|o)."""
        w_ih, w_hh, u = _pair(weight_ih, weight_hh, 4)
        bias = _bias(bias_ih, 4 * u) + _bias(bias_hh, 4 * u)
        return cls(w_ih.T, w_hh.T, bias)


#: Analytic system of each PyTorch class, by class name.
_SYSTEMS: dict[str, type[TorchRNNSystem | TorchGRUSystem | TorchLSTMSystem]] = {
    "RNN": TorchRNNSystem,
    "RNNCell": TorchRNNSystem,
    "GRU": TorchGRUSystem,
    "GRUCell": TorchGRUSystem,
    "LSTM": TorchLSTMSystem,
    "LSTMCell": TorchLSTMSystem,
}


def _class_name(module: Any) -> str | None:
    for name in _SYSTEMS:
        if is_unmodified(module, name):
            return name
    return None


def layer_weights(module: Any, layer: int = 0) -> dict[str, Any]:
    """``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` of one layer as float64 arrays.

    A cell has one layer (its parameters have no ``_l<k>`` suffix); the biases are
    None for a module built with ``bias=False``.

    Examples
    --------
    >>> import torch
    >>> weights = layer_weights(torch.nn.GRU(2, 3, num_layers=2, bias=False), layer=1)
    >>> weights["weight_ih"].shape, weights["bias_ih"]
    ((9, 3), None)
    """
    suffix = f"_l{layer}" if hasattr(module, "num_layers") else ""
    out: dict[str, Any] = {}
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        tensor = getattr(module, name + suffix, None)
        out[name] = None if tensor is None else tensor_array(tensor, name + suffix)
    return out


def system_from_module(module: Any) -> RecurrentSystem:
    """The analytic float64 system of a PyTorch RNN, GRU or LSTM module or cell.

    Parameters
    ----------
    module : torch.nn.RNN, GRU, LSTM, RNNCell, GRUCell or LSTMCell
        Unidirectional, without ``proj_size``; ``batch_first`` and ``dropout``
        do not change the one-step map.

    Returns
    -------
    RecurrentSystem
        :class:`TorchRNNSystem`, :class:`TorchGRUSystem` or
        :class:`TorchLSTMSystem` for one layer; a
        :class:`~dynalyze_torch.stacked.StackedSystem` of them (state = the
        layers' states concatenated, bottom layer first) for ``num_layers > 1``.

    Raises
    ------
    dynalyze.errors.UnsupportedModelError
        Another kind of module, a bidirectional one or one with ``proj_size``.

    Examples
    --------
    >>> import torch
    >>> system = system_from_module(torch.nn.LSTM(2, 3, num_layers=2, batch_first=True))
    >>> type(system).__name__, system.state_dim, system.layout.names
    ('StackedSystem', 12, ('h0', 'c0', 'h1', 'c1'))
    """
    name = _class_name(module)
    if name is None:
        raise UnsupportedModelError(
            "Expected a torch.nn.RNN, GRU, LSTM, RNNCell, GRUCell or LSTMCell (forward not "
            f"overridden); got {describe_module(module)}. Wrap any other cell module with "
            "dynalyze.wrap(module, system='torch') for autodiff Jacobians."
        )
    check_unidirectional(module)
    cls = _SYSTEMS[name]
    extra: dict[str, Any] = {}
    if cls is TorchRNNSystem:
        extra["nonlinearity"] = str(module.nonlinearity)
    layers = [
        cls.from_torch_weights(**layer_weights(module, k), **extra)
        for k in range(int(getattr(module, "num_layers", 1)))
    ]
    return layers[0] if len(layers) == 1 else StackedSystem(layers)
