"""The network's forward pass in PyTorch: every step's state, for a classifier's trajectories.

:func:`torch_forward` turns an ``nn.Embedding`` and a recurrent module
(``nn.RNN``/``GRU``/``LSTM``, one or several layers, or one of their cells) into
the ``forward(ids) -> states`` a :class:`~dynalyze.classifier.RecurrentClassifier`
runs for its trajectories and logits: a float64 copy of the module, stepped one
token at a time so that every layer's state (an LSTM layer's ``h`` then ``c``,
bottom layer first, as the systems order them) is kept at every step, and held
over padding as Keras's masking holds it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dynalyze_torch._modules import torch_class

__all__ = ["torch_forward"]

Forward = Callable[[NDArray[np.int32]], NDArray[np.float32]]

_MODULES = ("RNN", "GRU", "LSTM")
_CELLS = ("RNNCell", "GRUCell", "LSTMCell")


def _flat(h: Any, c: Any = None) -> Any:
    """(layers, n, units) states -> (n, layers * units [* 2]), layer by layer, h then c."""
    import torch

    parts = [h] if c is None else [torch.stack([h, c], dim=1).flatten(0, 1)]
    stacked = parts[0]  # (layers [* 2], n, units)
    return stacked.permute(1, 0, 2).reshape(stacked.shape[1], -1)


def _module_step(rnn: Any, lstm: bool) -> Callable[[Any, Any], Any]:
    def step(x: Any, state: Any) -> Any:
        x = x.unsqueeze(1) if rnn.batch_first else x.unsqueeze(0)
        _, new = rnn(x, state if lstm else state[0])
        return new

    return step


def _cell_step(cell: Any, lstm: bool) -> Callable[[Any, Any], Any]:
    def step(x: Any, state: Any) -> Any:
        if lstm:
            h, c = cell(x, (state[0][0], state[1][0]))
            return h.unsqueeze(0), c.unsqueeze(0)
        return cell(x, state[0][0]).unsqueeze(0)

    return step


def torch_forward(embedding: Any, recurrent: Any, *, pad_id: int = 0) -> Forward | None:
    """The forward pass of ``embedding`` then ``recurrent``, every step's flat state.

    Parameters
    ----------
    embedding : torch.nn.Embedding
        Token embeddings (row ``i`` is token ``i``).
    recurrent : torch.nn.Module
        ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM`` (any number of layers, either
        ``batch_first``) or one of their cells.
    pad_id : int
        The padding id: padding steps hold the last real state.

    Returns
    -------
    callable or None
        ``forward(ids) -> states`` (float32 ``(n, T, state_dim)``), run in float64
        on copies (the modules are never changed); None for another recurrent
        module (its classifier then runs the system's own NumPy steps).

    Examples
    --------
    >>> import torch
    >>> gru = torch.nn.GRU(2, 3, num_layers=2, batch_first=True)
    >>> forward = torch_forward(torch.nn.Embedding(5, 2), gru)
    >>> forward(np.array([[2, 3, 4, 0]], dtype=np.int32)).shape  # both layers' states
    (1, 4, 6)
    """
    import torch

    # The exact torch.nn class: a subclass may override forward() (it gets the NumPy steps).
    name = next(
        (n for n in _MODULES + _CELLS if type(recurrent) is torch_class(n)), None
    )
    if name is None:
        return None
    lstm = name in ("LSTM", "LSTMCell")
    rnn = copy.deepcopy(recurrent).double().eval()
    table = embedding.weight.detach().to(torch.float64).clone()
    layers = int(getattr(rnn, "num_layers", 1))
    units = int(rnn.hidden_size)
    step = _module_step(rnn, lstm) if name in _MODULES else _cell_step(rnn, lstm)

    def forward(ids: NDArray[np.int32]) -> NDArray[np.float32]:
        tokens = torch.as_tensor(np.asarray(ids), dtype=torch.long)
        n, steps = tokens.shape
        inputs, valid = table[tokens], (tokens != pad_id)
        zeros = torch.zeros(layers, n, units, dtype=torch.float64)
        state: Any = (zeros, zeros.clone()) if lstm else zeros
        out = np.empty((n, steps, layers * units * (2 if lstm else 1)), dtype=np.float32)
        with torch.no_grad():
            for t in range(steps):
                keep = valid[:, t].view(1, n, 1)
                new = step(inputs[:, t], state if lstm else (state,))
                if lstm:
                    state = tuple(torch.where(keep, a, b) for a, b in zip(new, state, strict=True))
                    out[:, t] = _flat(*state).numpy()
                else:
                    state = torch.where(keep, new, state)
                    out[:, t] = _flat(state).numpy()
        return out

    return forward
