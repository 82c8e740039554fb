"""Registry of recurrent systems and :func:`wrap`, the one entry point for Keras objects.

Systems are consulted through their adapters (:mod:`dynalyze.keras.adapters`)
in this order: the built-in analytic systems
(:class:`~dynalyze.systems.SimpleRNNSystem`, :class:`~dynalyze.systems.GRUSystem`,
:class:`~dynalyze.systems.LSTMSystem`, :class:`~dynalyze.systems.UGRNNSystem`;
the table :data:`~dynalyze.keras.adapters.BUILTIN_ADAPTERS`), then plugin
systems, then the generic autodiff fallback
:class:`~dynalyze.keras.KerasCellSystem`. The first adapter whose ``can_wrap``
accepts the object builds the system with ``from_keras``.

Plugins register a :class:`~dynalyze.keras.adapters.CellAdapter` under the
entry-point group ``dynalyze.systems``, e.g. in ``pyproject.toml``::

    [project.entry-points."dynalyze.systems"]
    leaky = "my_package.adapter:ADAPTER"

A :class:`~dynalyze.systems.RecurrentSystem` subclass with ``can_wrap`` and
``from_keras`` classmethods may be registered instead (the earlier recipe,
still supported). Plugins are discovered lazily, the first time
:func:`list_systems` or :func:`wrap` needs them, so ``import dynalyze`` never
imports plugin code. A plugin that fails to load is skipped with a
:class:`~dynalyze.errors.DynalyzePluginWarning`; if two systems share a name,
the first one (built-ins first) wins and the clash warns. The tutorial
``tutorials/add_your_own_architecture.py`` and the example package in
``tutorials/extension_example`` show the whole recipe;
:mod:`dynalyze.testing` checks that a new system conforms.
"""

from __future__ import annotations

import importlib.metadata
import logging
import warnings
from typing import Any

from dynalyze.errors import ConfigurationError, DynalyzePluginWarning, UnsupportedModelError
from dynalyze.keras import _introspect
from dynalyze.keras.adapters import BUILTIN_ADAPTERS, Adapter, ClassmethodAdapter
from dynalyze.keras.cell_system import KerasCellSystem
from dynalyze.systems.base import RecurrentSystem

__all__ = [
    "ENTRY_POINT_GROUP",
    "HOW_TO_ADD",
    "DynalyzePluginWarning",
    "list_adapters",
    "list_systems",
    "wrap",
]

logger = logging.getLogger(__name__)

#: Entry-point group under which plugin packages register adapters (or system classes).
ENTRY_POINT_GROUP = "dynalyze.systems"

#: Built-in generic fallback, consulted last.
_FALLBACK: Adapter = ClassmethodAdapter(KerasCellSystem)

#: Adapters of dynalyze itself: their errors propagate, a plugin's only warn.
_BUILTIN: tuple[Adapter, ...] = (*BUILTIN_ADAPTERS, _FALLBACK)

_plugins: dict[str, Adapter] | None = None


#: How to make a new kind of object wrappable (appended to "no system can wrap" errors).
HOW_TO_ADD = (
    "To analyse a new architecture, subclass dynalyze.RecurrentSystem (implement "
    "state_dim, input_dim, _step and ideally analytic Jacobians, from weight arrays), "
    "describe how to build it from your Keras cell with a "
    "dynalyze.keras.adapters.CellAdapter and register the adapter under the entry-point "
    "group 'dynalyze.systems' in your package's pyproject.toml; see "
    "tutorials/add_your_own_architecture.py. A Keras RNN cell with state_size and "
    "call(inputs, states) needs no code at all: it is wrapped with autodiff Jacobians."
)


def _entry_points() -> list[Any]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _as_adapter(loaded: Any) -> Adapter | None:
    """An entry point's object as an adapter: a CellAdapter-like object or a system class."""
    if isinstance(loaded, type):
        return ClassmethodAdapter(loaded) if issubclass(loaded, RecurrentSystem) else None
    system = getattr(loaded, "system", None)
    if isinstance(loaded, Adapter) and isinstance(system, type):
        return loaded if issubclass(system, RecurrentSystem) else None
    return None


def _warn(message: str) -> None:
    warnings.warn(message, DynalyzePluginWarning, stacklevel=4)


def _load_plugins() -> dict[str, Adapter]:
    taken = {adapter.name: adapter for adapter in _BUILTIN}
    plugins: dict[str, Adapter] = {}
    try:
        entry_points = _entry_points()
    except Exception as exc:  # a broken distribution must not break dynalyze
        _warn(
            f"Could not list the {ENTRY_POINT_GROUP!r} entry points ({exc}); "
            "plugin systems are unavailable."
        )
        return plugins
    for entry_point in entry_points:
        label = f"{entry_point.name} = {getattr(entry_point, 'value', '?')}"
        try:
            loaded = entry_point.load()
        except Exception as exc:
            _warn(
                f"Skipping dynalyze plugin system {label!r}: importing it failed with "
                f"{type(exc).__name__}: {exc}. Fix or uninstall the package that provides it."
            )
            continue
        adapter = _as_adapter(loaded)
        if adapter is None:
            _warn(
                f"Skipping dynalyze plugin {label!r}: expected a RecurrentSystem subclass or "
                f"a dynalyze.keras.adapters.CellAdapter, got {loaded!r}."
            )
            continue
        name = adapter.name or entry_point.name
        if not isinstance(name, str) or not name:
            _warn(
                f"Skipping dynalyze plugin {label!r}: its system's `name` must be a non-empty "
                f"string; got {name!r}."
            )
            continue
        first = plugins.get(name) or taken.get(name)
        if first is not None:
            a, b = first.system, adapter.system
            _warn(
                f"Two systems are named {name!r}: {a.__module__}.{a.__qualname__} "
                f"and {b.__module__}.{b.__qualname__} (plugin {label!r}). Keeping the "
                "first; give the plugin's system class a unique `name`."
            )
            continue
        plugins[name] = adapter
        logger.debug("Loaded plugin system %r from %s", name, label)
    return plugins


def _plugin_adapters() -> dict[str, Adapter]:
    global _plugins
    if _plugins is None:
        _plugins = _load_plugins()
    return _plugins


def _reset_plugins() -> None:
    """Forget discovered plugins, so the next call discovers them again (for tests)."""
    global _plugins
    _plugins = None


def list_adapters() -> dict[str, Adapter]:
    """Installed adapters by system name, in the order :func:`wrap` consults them.

    Returns
    -------
    dict
        ``name -> adapter``: the built-in table
        (:data:`~dynalyze.keras.adapters.BUILTIN_ADAPTERS`), plugins (those whose
        adapter sets ``fallback = True``, a catch-all, after the others), and the
        generic ``"keras"`` autodiff system last.

    Examples
    --------
    >>> import keras
    >>> cell = keras.layers.GRUCell(2, activation="gelu")
    >>> cell.build((None, 1))
    >>> adapters = list_adapters()
    >>> adapters["gru"].can_wrap(cell), adapters["keras"].can_wrap(cell)
    (False, True)
    """
    adapters: dict[str, Adapter] = {adapter.name: adapter for adapter in BUILTIN_ADAPTERS}
    plugins = _plugin_adapters()
    # A plugin's own catch-all (``fallback = True``, e.g. autodiff for any module of its
    # framework) comes after every other plugin, whatever the entry points' order.
    adapters.update({k: a for k, a in plugins.items() if not getattr(a, "fallback", False)})
    adapters.update({k: a for k, a in plugins.items() if getattr(a, "fallback", False)})
    adapters[_FALLBACK.name] = _FALLBACK
    return adapters


def list_systems() -> dict[str, type[RecurrentSystem]]:
    """Installed systems by name, in the order :func:`wrap` consults them.

    Returns
    -------
    dict
        ``name -> RecurrentSystem subclass``: built-in analytic systems, plugin
        systems, and the generic ``"keras"`` autodiff system last.

    Examples
    --------
    >>> import dynalyze
    >>> systems = dynalyze.list_systems()
    >>> [name for name in ("simple_rnn", "gru", "lstm", "ugrnn", "keras") if name in systems]
    ['simple_rnn', 'gru', 'lstm', 'ugrnn', 'keras']
    >>> list(systems)[-1]
    'keras'
    """
    return {name: adapter.system for name, adapter in list_adapters().items()}


def _can_wrap(adapter: Adapter, obj: object) -> bool:
    try:
        return bool(adapter.can_wrap(obj))
    except Exception as exc:
        if any(adapter is builtin for builtin in _BUILTIN):
            raise
        cls = adapter.system
        warnings.warn(
            f"Plugin system {adapter.name!r} ({cls.__module__}.{cls.__qualname__}) raised "
            f"{type(exc).__name__} in can_wrap: {exc}. Skipping it.",
            DynalyzePluginWarning,
            stacklevel=3,
        )
        return False


def _lookup(system: str, systems: dict[str, Adapter]) -> Adapter:
    if not isinstance(system, str) or system not in systems:
        raise ConfigurationError(
            f"Unknown system={system!r}; installed systems are {sorted(systems)}. "
            "Pass one of these names, or None to pick automatically "
            "(dynalyze.list_systems() lists them)."
        )
    return systems[system]


def wrap(obj: Any, *, layer: str | None = None, system: str | None = None) -> RecurrentSystem:
    """Wrap a Keras model, recurrent layer or cell as a :class:`RecurrentSystem`.

    Parameters
    ----------
    obj : keras.Model, keras.layers.Layer or object
        A Keras RNN layer (``GRU``, ``LSTM``, ``SimpleRNN``,
        ``keras.layers.RNN(cell)``), an RNN cell (Keras's own or a custom one), or
        a model holding exactly one recurrent layer (nested models are searched).
        Objects that a plugin system can wrap are accepted too.
    layer : str, optional
        Name of the recurrent layer to use when ``obj`` is a model with several
        (a nested layer can also be named by its path, ``"inner_model/gru"``).
    system : str, optional
        Force a system by registry name (``"gru"``, ``"lstm"``, ``"simple_rnn"``, ``"ugrnn"``,
        ``"keras"`` for autodiff Jacobians, or a plugin's name). By default the
        first system that can wrap ``obj`` is used: analytic built-ins, then
        plugins, then the generic ``"keras"`` system.

    Returns
    -------
    RecurrentSystem
        A float64 system with its own copy of the weights.

    Raises
    ------
    dynalyze.errors.UnsupportedModelError
        ``obj`` is not recurrent, not built, Bidirectional, stacked cells, or a
        model without a recurrent layer; or the forced system cannot wrap it.
    dynalyze.errors.AmbiguousModelError
        The model holds several recurrent layers and ``layer`` was not given.
    dynalyze.errors.NonFiniteError
        A weight contains NaN or infinity.
    dynalyze.errors.ConfigurationError
        Unknown ``layer`` or ``system`` name.

    Examples
    --------
    >>> import keras, numpy as np, dynalyze
    >>> model = keras.Sequential([keras.Input((None, 3)), keras.layers.GRU(4, name="gru"),
    ...                           keras.layers.Dense(1)])
    >>> system = dynalyze.wrap(model)
    >>> type(system).__name__, system.state_dim, system.input_dim
    ('GRUSystem', 4, 3)
    >>> dynalyze.wrap(model, system="keras").jacobian_method
    'autodiff'
    """
    adapters = list_adapters()
    forced = None if system is None else _lookup(system, adapters)
    if _introspect.is_keras_layer(obj):
        try:
            target = _introspect.resolve(obj, layer=layer)
        except UnsupportedModelError as exc:
            # A plugin may handle Keras layers that are not keras.layers.RNN.
            plugin = _first_plugin(obj, forced, adapters)
            if plugin is not None:
                return plugin.from_keras(obj)
            if str(exc).startswith(_introspect._EXPECTED):
                # Not recurrent at all: say what is installed and how to add a system.
                raise UnsupportedModelError(
                    f"{exc} Installed systems: {sorted(adapters)}. {HOW_TO_ADD}"
                ) from None
            raise
        cell = _introspect.cell_of(target)
        _introspect.check_built(cell, owner=obj)
        _introspect.check_finite_weights(cell)
    else:
        if layer is not None:
            raise ConfigurationError(
                f"layer= selects a layer inside a Keras model, but got "
                f"{_introspect.describe_object(obj)} (layer={layer!r}). Drop layer= or pass "
                "a model."
            )
        target = obj
    if forced is not None:
        if not _can_wrap(forced, target):
            able = [name for name, adapter in adapters.items() if _can_wrap(adapter, target)]
            raise UnsupportedModelError(
                f"system={system!r} ({forced.system.__name__}) cannot wrap "
                f"{_introspect.describe_object(target)}. Systems that can: {able}; pass one of "
                "them or system=None to choose automatically."
            )
        return forced.from_keras(target)
    for adapter in adapters.values():
        if _can_wrap(adapter, target):
            return adapter.from_keras(target)
    raise UnsupportedModelError(
        "Expected a Keras recurrent layer (GRU, LSTM, SimpleRNN or keras.layers.RNN(cell)), "
        f"an RNN cell, or a model holding one; got {_introspect.describe_object(target)}, which "
        f"no installed system can wrap. Installed systems: {sorted(adapters)}. Pass a "
        f"recurrent layer or cell, or install a plugin system for this kind of object. "
        f"{HOW_TO_ADD}"
    )


def _first_plugin(
    obj: object, forced: Adapter | None, adapters: dict[str, Adapter]
) -> Adapter | None:
    candidates = [forced] if forced is not None else list(adapters.values())
    for adapter in candidates:
        if not any(adapter is builtin for builtin in _BUILTIN) and _can_wrap(adapter, obj):
            return adapter
    return None
