"""How :func:`dynalyze.wrap` builds a system from a PyTorch module: the entry points.

``pyproject.toml`` registers five adapters under dynalyze's entry-point group
``dynalyze.systems``; :func:`dynalyze.wrap` consults them after dynalyze's own
Keras adapters, in this order:

==================  ======================================  ===============================
system (entry pt.)  claims                                  builds
==================  ======================================  ===============================
``torch_gru``       one-layer ``nn.GRU``, ``nn.GRUCell``    :class:`TorchGRUSystem`
``torch_lstm``      one-layer ``nn.LSTM``, ``nn.LSTMCell``  :class:`TorchLSTMSystem`
``torch_rnn``       one-layer ``nn.RNN`` (tanh or relu),    :class:`TorchRNNSystem`
                    ``nn.RNNCell``
``torch_stacked``   ``nn.RNN``/``GRU``/``LSTM`` with        :class:`StackedSystem` of the
                    ``num_layers > 1``                      above, one per layer
``torch``           any other ``nn.Module``                 :class:`TorchCellSystem`
                                                            (``torch.func`` autodiff)
==================  ======================================  ===============================

The fallback claims every ``nn.Module``, so its adapter sets ``fallback = True``:
dynalyze consults it after every other plugin adapter, whatever the order of the
entry points.

The analytic adapters claim a module of their classes whose ``forward`` is not
overridden, also a bidirectional one or one with ``proj_size``, so that
building it raises the error that says why it is not supported. ``torch``, the
autodiff fallback, claims every other ``nn.Module``: a cell gets its
autodiff system, and anything else an error naming what a cell must look
like. Force it with ``dynalyze.wrap(module, system="torch")``, e.g. to
cross-check an analytic system. A model holding exactly one recurrent module
(e.g. a whole classifier) stands for that module, for every adapter
(:func:`resolve`).

Nothing here imports torch: classes are looked up among the modules already
imported, so listing systems in a Keras-only program costs nothing.
"""

from __future__ import annotations

from typing import Any

import attrs

from dynalyze.errors import AmbiguousModelError, UnsupportedModelError
from dynalyze.systems import RecurrentSystem
from dynalyze_torch._modules import describe_module, is_module, is_unmodified, torch_class
from dynalyze_torch.cell_system import TorchCellSystem, _positional_arity
from dynalyze_torch.stacked import StackedSystem
from dynalyze_torch.systems import (
    TorchGRUSystem,
    TorchLSTMSystem,
    TorchRNNSystem,
    system_from_module,
)

__all__ = [
    "ADAPTERS",
    "AUTODIFF_ADAPTER",
    "GRU_ADAPTER",
    "LSTM_ADAPTER",
    "RNN_ADAPTER",
    "STACKED_ADAPTER",
    "ModuleAdapter",
    "TorchFallbackAdapter",
    "recurrent_submodules",
    "resolve",
]


def _layers(module: Any) -> int:
    return int(getattr(module, "num_layers", 1))


@attrs.frozen
class ModuleAdapter:
    """Build an analytic system from unmodified ``torch.nn`` modules of some classes.

    Parameters
    ----------
    system : type
        The system class it builds (its ``name`` is the registry name).
    classes : tuple of str
        ``torch.nn`` class names it claims, e.g. ``("GRU", "GRUCell")``.
    stacked : bool
        Claim modules with ``num_layers > 1`` (building a
        :class:`~dynalyze_torch.stacked.StackedSystem`) instead of one-layer ones.

    Examples
    --------
    >>> import torch
    >>> GRU_ADAPTER.name, GRU_ADAPTER.can_wrap(torch.nn.GRU(2, 3))
    ('torch_gru', True)
    >>> GRU_ADAPTER.can_wrap(torch.nn.GRU(2, 3, num_layers=2)), STACKED_ADAPTER.name
    (False, 'torch_stacked')
    >>> type(GRU_ADAPTER.from_keras(torch.nn.GRUCell(2, 3))).__name__
    'TorchGRUSystem'
    """

    system: type[RecurrentSystem]
    classes: tuple[str, ...]
    stacked: bool = False

    @property
    def name(self) -> str:
        """Registry name of the system."""
        return self.system.name

    def can_wrap(self, obj: object) -> bool:
        """True for an unmodified module of ``classes`` with the right depth (or a model of one)."""
        target = resolve(obj)
        if not any(is_unmodified(target, name) for name in self.classes):
            return False
        return (_layers(target) > 1) == self.stacked

    def from_keras(self, obj: Any) -> RecurrentSystem:
        """Read the module's weights into the system (the name is dynalyze's adapter protocol)."""
        if not self.can_wrap(obj):
            kinds = ", ".join(f"torch.nn.{name}" for name in self.classes)
            depth = "num_layers > 1" if self.stacked else "one layer"
            raise UnsupportedModelError(
                f"{self.system.__name__} is built from an unmodified {kinds} ({depth}); got "
                f"{describe_module(obj)}. Use dynalyze.wrap(module) to pick the system."
            )
        return system_from_module(resolve(obj))

    from_torch = from_keras


def recurrent_submodules(module: Any) -> list[tuple[str, Any]]:
    """The ``torch.nn`` RNN modules and cells inside ``module``, as ``(name, module)``.

    Not descended into: a recurrent module's own children.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Embedding(5, 2), torch.nn.GRU(2, 3))
    >>> [(name, type(m).__name__) for name, m in recurrent_submodules(model)]
    [('1', 'GRU')]
    """
    kinds = tuple(
        cls for cls in (torch_class("RNNBase"), torch_class("RNNCellBase")) if cls is not None
    )
    found: list[tuple[str, Any]] = []
    skip: list[str] = []
    for name, sub in module.named_modules():
        if sub is module or any(name.startswith(prefix + ".") for prefix in skip):
            continue
        if isinstance(sub, kinds):
            found.append((name, sub))
            skip.append(name)
    return found


def resolve(obj: Any, *, strict: bool = False) -> Any:
    """The recurrent module ``obj`` stands for: itself, or the one recurrent module inside it.

    A module that is neither a ``torch.nn`` RNN nor a cell (its ``forward``
    takes fewer than two arguments, e.g. a whole classifier) and holds exactly
    one ``torch.nn`` RNN module or cell stands for that module, as
    ``dynalyze.wrap(keras_model)`` wraps the model's recurrent layer.

    Parameters
    ----------
    obj : object
        Anything; what is not such a model is returned unchanged.
    strict : bool
        Raise :class:`~dynalyze.errors.AmbiguousModelError` if the model holds
        several recurrent modules (otherwise return ``obj``).

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Embedding(5, 2), torch.nn.GRU(2, 3))
    >>> type(resolve(model)).__name__, type(resolve(torch.nn.GRUCell(2, 3))).__name__
    ('GRU', 'GRUCell')
    """
    rnn_base = torch_class("RNNBase")
    if not is_module(obj) or (rnn_base is not None and isinstance(obj, rnn_base)):
        return obj
    if _positional_arity(obj) >= 2:  # a cell
        return obj
    found = recurrent_submodules(obj)
    if len(found) == 1:
        return found[0][1]
    if len(found) > 1 and strict:
        raise AmbiguousModelError(
            f"{describe_module(obj)} holds several recurrent modules "
            f"{[name for name, _ in found]}; wrap the one to analyse, e.g. "
            f"dynalyze.wrap(model.{found[0][0]})."
        )
    return obj


@attrs.frozen
class TorchFallbackAdapter:
    """The autodiff fallback: any other PyTorch module as a :class:`TorchCellSystem`.

    A cell (``forward(x, h)``) or ``torch.nn`` RNN module becomes a
    :class:`TorchCellSystem`, so does the one recurrent module of a model
    (:func:`resolve`); anything else raises an
    :class:`~dynalyze.errors.UnsupportedModelError` that says what a cell must
    look like.

    Examples
    --------
    >>> import torch
    >>> AUTODIFF_ADAPTER.name, AUTODIFF_ADAPTER.can_wrap(torch.nn.Linear(2, 3))
    ('torch', True)
    >>> AUTODIFF_ADAPTER.from_keras(torch.nn.GRU(2, 3)).jacobian_method
    'autodiff'
    """

    #: A catch-all: dynalyze consults it after every other plugin adapter.
    fallback = True

    @property
    def system(self) -> type[RecurrentSystem]:
        """:class:`TorchCellSystem`."""
        return TorchCellSystem

    @property
    def name(self) -> str:
        """``"torch"``."""
        return TorchCellSystem.name

    def can_wrap(self, obj: object) -> bool:
        """True for every ``torch.nn.Module`` (non-cells get a clear error when built)."""
        return is_module(obj)

    def from_keras(self, obj: Any) -> RecurrentSystem:
        """A :class:`TorchCellSystem` of a cell, or of the one recurrent module of a model."""
        if not is_module(obj):
            raise UnsupportedModelError(
                f"The 'torch' system wraps PyTorch modules; got an object of type "
                f"{type(obj).__name__}."
            )
        return TorchCellSystem(resolve(obj, strict=True))

    from_torch = from_keras


RNN_ADAPTER = ModuleAdapter(TorchRNNSystem, ("RNN", "RNNCell"))
GRU_ADAPTER = ModuleAdapter(TorchGRUSystem, ("GRU", "GRUCell"))
LSTM_ADAPTER = ModuleAdapter(TorchLSTMSystem, ("LSTM", "LSTMCell"))
#: Multi-layer RNN, GRU and LSTM modules: a StackedSystem of analytic layers.
STACKED_ADAPTER = ModuleAdapter(StackedSystem, ("RNN", "GRU", "LSTM"), stacked=True)
#: Any other module: torch.func autodiff (consulted last of this package's adapters).
AUTODIFF_ADAPTER = TorchFallbackAdapter()

#: This package's adapters in the order its entry points list them (sorted by name).
ADAPTERS = (GRU_ADAPTER, LSTM_ADAPTER, RNN_ADAPTER, STACKED_ADAPTER, AUTODIFF_ADAPTER)
