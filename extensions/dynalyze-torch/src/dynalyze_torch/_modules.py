"""Introspection of PyTorch modules, without importing torch.

dynalyze loads this package's adapters whenever it lists or wraps systems, also
in programs that never use PyTorch. So nothing here imports torch: a class is
looked up among the modules already imported (if ``torch`` was never imported,
no object can be a ``torch.nn.Module``), and tensors are read through their own
methods.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dynalyze.errors import NonFiniteError, UnsupportedModelError
from dynalyze.keras.adapters import loaded_class

__all__ = [
    "RECURRENT_CLASSES",
    "check_unidirectional",
    "describe_module",
    "is_module",
    "is_unmodified",
    "tensor_array",
    "torch_class",
]

#: The PyTorch recurrent classes with analytic systems: full-sequence modules and cells.
RECURRENT_CLASSES = ("RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell")


def torch_class(name: str) -> type | None:
    """``torch.nn.<name>`` if torch is imported, else None (nothing is imported).

    Examples
    --------
    >>> import torch
    >>> torch_class("GRU") is torch.nn.GRU
    True
    """
    return loaded_class(f"torch.nn:{name}")


def is_module(obj: object) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module``.

    Examples
    --------
    >>> import torch
    >>> is_module(torch.nn.Linear(2, 3)), is_module(object())
    (True, False)
    """
    cls = torch_class("Module")
    return cls is not None and isinstance(obj, cls)


def is_unmodified(obj: object, name: str) -> bool:
    """Whether ``obj`` is a ``torch.nn.<name>`` whose ``forward`` is the class's own.

    A subclass that overrides ``forward`` computes something else, so it is left
    to the autodiff system.

    Examples
    --------
    >>> import torch
    >>> class Mine(torch.nn.GRU):
    ...     def forward(self, x, h=None):
    ...         return super().forward(2 * x, h)
    >>> is_unmodified(torch.nn.GRU(2, 3), "GRU"), is_unmodified(Mine(2, 3), "GRU")
    (True, False)
    """
    cls = torch_class(name)
    if cls is None or not isinstance(obj, cls):
        return False
    return getattr(type(obj), "forward", None) is getattr(cls, "forward", None)


def describe_module(obj: object) -> str:
    """Short description: the class and the first line of the module's repr.

    Examples
    --------
    >>> import torch
    >>> describe_module(torch.nn.GRU(2, 3, num_layers=2))
    'torch.nn.GRU module GRU(2, 3, num_layers=2)'
    """
    cls = type(obj)
    module = cls.__module__
    if module.startswith("torch.nn."):
        module = "torch.nn"
    try:
        first = repr(obj).splitlines()[0].rstrip("(")
    except Exception:  # a broken __repr__ must not hide the real error
        first = cls.__name__
    return f"{module}.{cls.__qualname__} module {first}"


def tensor_array(tensor: Any, name: str) -> np.ndarray:
    """A parameter tensor as a float64 NumPy copy, checked finite.

    Examples
    --------
    >>> import torch
    >>> tensor_array(torch.ones(2, dtype=torch.float32), "bias").dtype
    dtype('float64')
    """
    array = np.array(tensor.detach().cpu().double().numpy(), dtype=np.float64, copy=True)
    if not np.all(np.isfinite(array)):
        raise NonFiniteError(
            f"The PyTorch parameter {name} contains NaN or infinity; a network with "
            "non-finite weights has no dynamics to analyse. Check the training run."
        )
    return array


def check_unidirectional(module: Any) -> None:
    """Raise a clear error for a recurrent module dynalyze cannot analyse.

    A bidirectional module reads the sequence backwards too, so its state has
    no one-step map ``h' = F(h, x)``; an LSTM with ``proj_size > 0`` feeds back
    a projection of its hidden state, which the analytic LSTM does not model.
    Dropout is irrelevant: the analyses are of the network in eval mode.

    Examples
    --------
    >>> import torch
    >>> check_unidirectional(torch.nn.GRU(2, 3, dropout=0.0))
    >>> check_unidirectional(torch.nn.GRU(2, 3, bidirectional=True))
    Traceback (most recent call last):
    ...
    dynalyze.errors.UnsupportedModelError: ...
    """
    what = describe_module(module)
    if getattr(module, "bidirectional", False):
        raise UnsupportedModelError(
            f"Expected a unidirectional recurrent module; got {what}, which is bidirectional. "
            "Its state at a time step depends on later inputs, so it has no one-step map "
            "h' = F(h, x) to analyse. Train with bidirectional=False, or analyse one "
            "direction: copy its weights (weight_ih_l0, ... without the _reverse suffix) "
            "into a unidirectional module of the same class and wrap that."
        )
    if int(getattr(module, "proj_size", 0) or 0) > 0:
        raise UnsupportedModelError(
            f"Expected an LSTM without projections; got {what}, with proj_size="
            f"{module.proj_size}. dynalyze-torch analyses torch.nn.LSTM with proj_size=0 "
            "(state = concat(h, c)). Train with proj_size=0, or write the projected step "
            "as your own cell module (forward(x, (h, c)) -> (h, c)) and wrap it with "
            "dynalyze.wrap(cell, system='torch')."
        )
