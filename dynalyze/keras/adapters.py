"""How a Keras cell becomes a recurrent system: the one adapter table.

The systems of :mod:`dynalyze.systems` are NumPy maps built from arrays and know
nothing about Keras. An *adapter* is the other half: it recognises the Keras
cell a system mirrors and reads that cell's weights and activations into the
system's constructor. :data:`BUILTIN_ADAPTERS` holds one
:class:`CellAdapter` per built-in analytic system; :func:`dynalyze.wrap`
consults it first, then the plugins' adapters, then the generic autodiff
:class:`~dynalyze.keras.KerasCellSystem`.

A plugin adds an architecture with a system (NumPy) and a :class:`CellAdapter`
naming its cell class by path, registered under the entry-point group
``dynalyze.systems``::

    # my_package/adapter.py (imports no Keras)
    from dynalyze.keras.adapters import CellAdapter, activation_name, keras_weight
    from my_package.system import LeakySystem

    def leaky_from_cell(cell):
        return LeakySystem(keras_weight(cell, "kernel"), ..., leak=cell.leak)

    ADAPTER = CellAdapter(LeakySystem, "my_package.cell:LeakyCell", leaky_from_cell)

    # pyproject.toml
    [project.entry-points."dynalyze.systems"]
    leaky = "my_package.adapter:ADAPTER"

A system class with ``can_wrap``/``from_keras`` classmethods registered
directly (the earlier recipe) still works: :class:`ClassmethodAdapter` wraps it.

Nothing here imports Keras: a cell class named by path is looked up among the
modules already imported, so if its module was never imported no object can be
an instance of it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

import attrs
import numpy as np

from dynalyze.errors import UnsupportedModelError
from dynalyze.systems.activations import activation_name, get_activation
from dynalyze.systems.base import RecurrentSystem
from dynalyze.systems.gru import GRUSystem
from dynalyze.systems.lstm import LSTMSystem
from dynalyze.systems.simple_rnn import SimpleRNNSystem
from dynalyze.systems.ugrnn import UGRNNSystem

__all__ = [
    "BUILTIN_ADAPTERS",
    "Adapter",
    "CellAdapter",
    "ClassmethodAdapter",
    "activation_name",
    "keras_weight",
    "loaded_class",
]


@runtime_checkable
class Adapter(Protocol):
    """What :func:`dynalyze.wrap` asks of an adapter.

    ``system`` is the class it builds, ``can_wrap(obj)`` says whether it can
    build one from ``obj`` (a Keras cell or a layer holding one), and
    ``from_keras(obj)`` builds it.

    Examples
    --------
    >>> isinstance(BUILTIN_ADAPTERS[0], Adapter), BUILTIN_ADAPTERS[0].name
    (True, 'simple_rnn')
    """

    @property
    def system(self) -> type[RecurrentSystem]:
        """The system class it builds."""

    @property
    def name(self) -> str:
        """Registry name of the system."""

    def can_wrap(self, obj: object) -> bool:
        """Whether :meth:`from_keras` can build the system from ``obj``."""

    def from_keras(self, obj: Any) -> RecurrentSystem:
        """Build the system from ``obj``."""


def loaded_class(path: str | type) -> type | None:
    """The class named ``"module:Class"`` if its module is already imported, else None.

    Nothing is imported: an object can only be an instance of a class whose
    module is loaded. A class passed as such is returned as is.

    Examples
    --------
    >>> loaded_class("dynalyze.systems.gru:GRUSystem").__name__
    'GRUSystem'
    >>> loaded_class("dynalyze_no_such_module:Cell") is None
    True
    """
    if isinstance(path, type):
        return path
    module_name, _, qualname = path.partition(":")
    owner: Any = sys.modules.get(module_name)
    if owner is None:  # e.g. "keras.layers": walk from the imported top-level package
        root, *rest = module_name.split(".")
        owner = sys.modules.get(root)
        for part in rest:
            owner = getattr(owner, part, None)
    for part in qualname.split("."):
        owner = getattr(owner, part, None)
    return owner if isinstance(owner, type) else None


def keras_weight(cell: Any, attribute: str) -> Any:
    """The NumPy value of the Keras weight ``cell.<attribute>`` (None if absent).

    Examples
    --------
    >>> import keras
    >>> cell = keras.layers.SimpleRNNCell(2)
    >>> cell.build((None, 3))
    >>> keras_weight(cell, "kernel").shape, keras_weight(cell, "no_such_weight")
    ((3, 2), None)
    """
    variable = getattr(cell, attribute, None)
    if variable is None:
        return None
    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)


def _supported(cell: Any, attributes: tuple[str, ...]) -> bool:
    """Whether every activation ``cell.<attribute>`` has an analytic float64 implementation."""
    try:
        for attribute in attributes:
            get_activation(activation_name(getattr(cell, attribute)))
    except UnsupportedModelError:
        return False
    return True


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class CellAdapter:
    """Build ``system`` from a built, unmodified Keras cell of one class.

    Parameters
    ----------
    system : type
        The :class:`~dynalyze.systems.RecurrentSystem` subclass it builds.
    cell_class : str or type
        The Keras cell class, as ``"module:Class"`` (looked up among imported
        modules only, so the adapter's module need not import Keras) or as the
        class itself.
    build : callable
        ``build(cell) -> system``: reads the cell's weights (see
        :func:`keras_weight`) and activations (:func:`activation_name`).
    activations : tuple of str
        Attributes of the cell holding activations that ``system`` must
        implement analytically; a cell using another activation is left to the
        generic autodiff system.

    Examples
    --------
    >>> import keras
    >>> adapter = BUILTIN_ADAPTERS[1]
    >>> adapter.name, adapter.cell_class
    ('gru', 'keras.layers:GRUCell')
    >>> cell = keras.layers.GRUCell(3)
    >>> cell.build((None, 2))
    >>> adapter.can_wrap(cell), type(adapter.from_keras(cell)).__name__
    (True, 'GRUSystem')
    >>> adapter.can_wrap(keras.layers.GRUCell(3, activation="gelu"))  # unbuilt, unsupported
    False
    """

    system: type[RecurrentSystem]
    cell_class: str | type
    build: Callable[[Any], RecurrentSystem]
    activations: tuple[str, ...] = attrs.field(default=(), converter=_names)

    @property
    def name(self) -> str:
        """Registry name of the system."""
        return self.system.name

    def _cell_name(self) -> str:
        if isinstance(self.cell_class, type):
            return self.cell_class.__name__
        return self.cell_class.partition(":")[2]

    def cell_of(self, obj: object) -> Any:
        """The unmodified cell that ``obj`` is or holds (``layer.cell``), else None.

        A subclass that overrides ``call`` changes the math, so it is not claimed.
        """
        cls = loaded_class(self.cell_class)
        cell: Any = getattr(obj, "cell", obj)
        if cls is None or not isinstance(cell, cls):
            return None
        if getattr(type(cell), "call", None) is not getattr(cls, "call", None):
            return None
        return cell

    def can_wrap(self, obj: object) -> bool:
        """True for a built, unmodified cell (or layer holding one) with supported activations."""
        cell = self.cell_of(obj)
        if cell is None or not getattr(cell, "built", False):
            return False
        return _supported(cell, self.activations)

    def from_keras(self, obj: Any) -> RecurrentSystem:
        """Copy (and upcast) the weights of a built cell, or of the cell of a layer."""
        cell = self.cell_of(obj)
        if cell is None:
            raise UnsupportedModelError(
                f"{self.system.__name__} is built from a Keras {self._cell_name()} (unmodified) "
                f"or a layer holding one; got {type(obj).__name__}. Wrap other cells with "
                "dynalyze.wrap(obj)."
            )
        if not getattr(cell, "built", False):
            raise UnsupportedModelError(
                f"The {self._cell_name()} is not built (it has no weights yet). Build it first, "
                "e.g. by calling the model or layer on one batch of inputs."
            )
        return self.build(cell)


@attrs.frozen
class ClassmethodAdapter:
    """The adapter of a system class that builds itself: ``can_wrap``/``from_keras`` classmethods.

    Plugin systems registered before adapters existed define these two
    classmethods; so does :class:`~dynalyze.keras.KerasCellSystem`. A class
    without them wraps nothing (it can still be built directly).

    Parameters
    ----------
    system : type
        The :class:`~dynalyze.systems.RecurrentSystem` subclass.

    Examples
    --------
    >>> from dynalyze.keras import KerasCellSystem
    >>> adapter = ClassmethodAdapter(KerasCellSystem)
    >>> adapter.name, adapter.can_wrap(object())
    ('keras', False)
    >>> ClassmethodAdapter(GRUSystem).can_wrap(object())  # no classmethods: wraps nothing
    False
    """

    system: type[RecurrentSystem]

    @property
    def name(self) -> str:
        """Registry name of the system."""
        return self.system.name

    def can_wrap(self, obj: object) -> bool:
        """The class's ``can_wrap(obj)``; False if it has none."""
        method = getattr(self.system, "can_wrap", None)
        return bool(method(obj)) if callable(method) else False

    def from_keras(self, obj: Any) -> RecurrentSystem:
        """The class's ``from_keras(obj)``."""
        method = getattr(self.system, "from_keras", None)
        if not callable(method):
            raise UnsupportedModelError(
                f"{self.system.__name__} cannot be built from a Keras object; construct it "
                "directly."
            )
        system: RecurrentSystem = method(obj)
        return system


# ----------------------------------------------------------- the built-in table
def _bias(cell: Any) -> Any:
    return keras_weight(cell, "bias") if cell.use_bias else None


def _gated(cell: Any) -> dict[str, Any]:
    return {
        "activation": activation_name(cell.activation),
        "recurrent_activation": activation_name(cell.recurrent_activation),
    }


def _simple_rnn(cell: Any) -> SimpleRNNSystem:
    return SimpleRNNSystem(
        keras_weight(cell, "kernel"),
        keras_weight(cell, "recurrent_kernel"),
        _bias(cell),
        activation=activation_name(cell.activation),
    )


def _gru(cell: Any) -> GRUSystem:
    return GRUSystem(
        keras_weight(cell, "kernel"),
        keras_weight(cell, "recurrent_kernel"),
        _bias(cell),
        reset_after=bool(cell.reset_after),
        **_gated(cell),
    )


def _lstm(cell: Any) -> LSTMSystem:
    return LSTMSystem(
        keras_weight(cell, "kernel"),
        keras_weight(cell, "recurrent_kernel"),
        _bias(cell),
        **_gated(cell),
    )


def _ugrnn(cell: Any) -> UGRNNSystem:
    return UGRNNSystem(
        keras_weight(cell, "kernel"),
        keras_weight(cell, "recurrent_kernel"),
        _bias(cell),
        **_gated(cell),
    )


_GATED = ("activation", "recurrent_activation")

#: The built-in analytic systems and the Keras cells they are built from, in
#: the order :func:`dynalyze.wrap` consults them.
BUILTIN_ADAPTERS: tuple[CellAdapter, ...] = (
    CellAdapter(SimpleRNNSystem, "keras.layers:SimpleRNNCell", _simple_rnn, ("activation",)),
    CellAdapter(GRUSystem, "keras.layers:GRUCell", _gru, _GATED),
    CellAdapter(LSTMSystem, "keras.layers:LSTMCell", _lstm, _GATED),
    CellAdapter(UGRNNSystem, "dynalyze.keras.cells:UGRNNCell", _ugrnn, _GATED),
)
