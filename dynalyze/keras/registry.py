"""Registry of recurrent systems and :func:`wrap`, the one entry point for Keras objects.

Systems are consulted in this order: the built-in analytic systems
(:class:`~dynalyze.systems.SimpleRNNSystem`, :class:`~dynalyze.systems.GRUSystem`,
:class:`~dynalyze.systems.LSTMSystem`, :class:`~dynalyze.systems.UGRNNSystem`),
then plugin systems, then the generic autodiff fallback
:class:`~dynalyze.keras.KerasCellSystem`. The first whose ``can_wrap``
accepts the object builds it with ``from_keras``.

Plugins register a :class:`~dynalyze.systems.RecurrentSystem` subclass under
the entry-point group ``dynalyze.systems``, e.g. in ``pyproject.toml``::

    [project.entry-points."dynalyze.systems"]
    leaky = "my_package.system:LeakyRNNSystem"

Plugins are discovered lazily, the first time :func:`list_systems` or
:func:`wrap` needs them, so ``import dynalyze`` never imports plugin code. A
plugin that fails to load is skipped with a
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
from dynalyze.keras.cell_system import KerasCellSystem
from dynalyze.systems.base import RecurrentSystem
from dynalyze.systems.gru import GRUSystem
from dynalyze.systems.lstm import LSTMSystem
from dynalyze.systems.simple_rnn import SimpleRNNSystem
from dynalyze.systems.ugrnn import UGRNNSystem

__all__ = ["ENTRY_POINT_GROUP", "HOW_TO_ADD", "DynalyzePluginWarning", "list_systems", "wrap"]

logger = logging.getLogger(__name__)

#: Entry-point group under which plugin packages register RecurrentSystem classes.
ENTRY_POINT_GROUP = "dynalyze.systems"

#: Built-in analytic systems, consulted first.
_ANALYTIC: tuple[type[RecurrentSystem], ...] = (
    SimpleRNNSystem,
    GRUSystem,
    LSTMSystem,
    UGRNNSystem,
)

#: Built-in generic fallback, consulted last.
_FALLBACK: type[RecurrentSystem] = KerasCellSystem

_plugins: dict[str, type[RecurrentSystem]] | None = None


#: How to make a new kind of object wrappable (appended to "no system can wrap" errors).
HOW_TO_ADD = (
    "To analyse a new architecture, subclass dynalyze.RecurrentSystem (implement "
    "state_dim, input_dim, _step and ideally analytic Jacobians, plus can_wrap and "
    "from_keras) and register it under the entry-point group 'dynalyze.systems' in your "
    "package's pyproject.toml; see tutorials/add_your_own_architecture.py. A Keras RNN "
    "cell with state_size and call(inputs, states) needs no code at all: it is wrapped "
    "with autodiff Jacobians."
)


def _entry_points() -> list[Any]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _load_plugins() -> dict[str, type[RecurrentSystem]]:
    taken = {cls.name for cls in (*_ANALYTIC, _FALLBACK)}
    plugins: dict[str, type[RecurrentSystem]] = {}
    try:
        entry_points = _entry_points()
    except Exception as exc:  # a broken distribution must not break dynalyze
        warnings.warn(
            f"Could not list the {ENTRY_POINT_GROUP!r} entry points ({exc}); "
            "plugin systems are unavailable.",
            DynalyzePluginWarning,
            stacklevel=3,
        )
        return plugins
    for entry_point in entry_points:
        label = f"{entry_point.name} = {getattr(entry_point, 'value', '?')}"
        try:
            cls = entry_point.load()
        except Exception as exc:
            warnings.warn(
                f"Skipping dynalyze plugin system {label!r}: importing it failed with "
                f"{type(exc).__name__}: {exc}. Fix or uninstall the package that provides it.",
                DynalyzePluginWarning,
                stacklevel=3,
            )
            continue
        if not (isinstance(cls, type) and issubclass(cls, RecurrentSystem)):
            warnings.warn(
                f"Skipping dynalyze plugin {label!r}: expected a RecurrentSystem subclass, "
                f"got {cls!r}.",
                DynalyzePluginWarning,
                stacklevel=3,
            )
            continue
        name = cls.name or entry_point.name
        if not isinstance(name, str) or not name:
            warnings.warn(
                f"Skipping dynalyze plugin {label!r}: its `name` must be a non-empty string; "
                f"got {name!r}.",
                DynalyzePluginWarning,
                stacklevel=3,
            )
            continue
        if name in taken or name in plugins:
            first = plugins.get(name) or next(c for c in (*_ANALYTIC, _FALLBACK) if c.name == name)
            warnings.warn(
                f"Two systems are named {name!r}: {first.__module__}.{first.__qualname__} "
                f"and {cls.__module__}.{cls.__qualname__} (plugin {label!r}). Keeping the "
                "first; give the plugin class a unique `name`.",
                DynalyzePluginWarning,
                stacklevel=3,
            )
            continue
        plugins[name] = cls
        logger.debug("Loaded plugin system %r from %s", name, label)
    return plugins


def _plugin_systems() -> dict[str, type[RecurrentSystem]]:
    global _plugins
    if _plugins is None:
        _plugins = _load_plugins()
    return _plugins


def _reset_plugins() -> None:
    """Forget discovered plugins, so the next call discovers them again (for tests)."""
    global _plugins
    _plugins = None


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
    systems: dict[str, type[RecurrentSystem]] = {cls.name: cls for cls in _ANALYTIC}
    systems.update(_plugin_systems())
    systems[_FALLBACK.name] = _FALLBACK
    return systems


def _can_wrap(cls: type[RecurrentSystem], obj: object) -> bool:
    try:
        return bool(cls.can_wrap(obj))
    except Exception as exc:
        if cls in _ANALYTIC or cls is _FALLBACK:
            raise
        warnings.warn(
            f"Plugin system {cls.name!r} ({cls.__module__}.{cls.__qualname__}) raised "
            f"{type(exc).__name__} in can_wrap: {exc}. Skipping it.",
            DynalyzePluginWarning,
            stacklevel=3,
        )
        return False


def _lookup(system: str, systems: dict[str, type[RecurrentSystem]]) -> type[RecurrentSystem]:
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
    systems = list_systems()
    forced = None if system is None else _lookup(system, systems)
    if _introspect.is_keras_layer(obj):
        try:
            target = _introspect.resolve(obj, layer=layer)
        except UnsupportedModelError as exc:
            # A plugin may handle Keras layers that are not keras.layers.RNN.
            plugin = _first_plugin(obj, forced, systems)
            if plugin is not None:
                return plugin.from_keras(obj)
            if str(exc).startswith(_introspect._EXPECTED):
                # Not recurrent at all: say what is installed and how to add a system.
                raise UnsupportedModelError(
                    f"{exc} Installed systems: {sorted(systems)}. {HOW_TO_ADD}"
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
            able = [name for name, cls in systems.items() if _can_wrap(cls, target)]
            raise UnsupportedModelError(
                f"system={system!r} ({forced.__name__}) cannot wrap "
                f"{_introspect.describe_object(target)}. Systems that can: {able}; pass one of "
                "them or system=None to choose automatically."
            )
        return forced.from_keras(target)
    for cls in systems.values():
        if _can_wrap(cls, target):
            return cls.from_keras(target)
    raise UnsupportedModelError(
        "Expected a Keras recurrent layer (GRU, LSTM, SimpleRNN or keras.layers.RNN(cell)), "
        f"an RNN cell, or a model holding one; got {_introspect.describe_object(target)}, which "
        f"no installed system can wrap. Installed systems: {sorted(systems)}. Pass a "
        f"recurrent layer or cell, or install a plugin system for this kind of object. "
        f"{HOW_TO_ADD}"
    )


def _first_plugin(
    obj: object,
    forced: type[RecurrentSystem] | None,
    systems: dict[str, type[RecurrentSystem]],
) -> type[RecurrentSystem] | None:
    builtin = {*_ANALYTIC, _FALLBACK}
    candidates = [forced] if forced is not None else list(systems.values())
    for cls in candidates:
        if cls not in builtin and _can_wrap(cls, obj):
            return cls
    return None
