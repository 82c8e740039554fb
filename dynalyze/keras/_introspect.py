"""Introspection of Keras objects: find the recurrent cell in a model, layer or cell.

Nothing here imports Keras. If Keras has not been imported yet, no object can
be a Keras object, so every ``isinstance`` test goes through
``sys.modules.get("keras")``.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from dynalyze._validation import check_finite
from dynalyze.errors import (
    AmbiguousModelError,
    ConfigurationError,
    UnsupportedModelError,
)

__all__ = [
    "cell_input_dim",
    "cell_of",
    "check_built",
    "check_finite_weights",
    "describe_object",
    "is_bidirectional",
    "is_keras_cell",
    "is_keras_layer",
    "is_model",
    "is_rnn_layer",
    "is_stacked_cells",
    "recurrent_layers",
    "resolve",
    "state_sizes",
]

_EXPECTED = (
    "Expected a Keras recurrent layer (GRU, LSTM, SimpleRNN or keras.layers.RNN(cell)), "
    "an RNN cell, or a model that contains exactly one of them"
)


def _isinstance(obj: object, class_name: str) -> bool:
    keras = sys.modules.get("keras")
    if keras is None:
        return False
    cls = getattr(getattr(keras, "layers", None), class_name, None)
    return isinstance(cls, type) and isinstance(obj, cls)


def is_keras_layer(obj: object) -> bool:
    """Whether ``obj`` is a Keras layer (models are layers too)."""
    return _isinstance(obj, "Layer")


def is_model(obj: object) -> bool:
    """Whether ``obj`` is a Keras model (Sequential, functional or subclassed)."""
    return _is_model(obj)


def _is_model(obj: object) -> bool:
    keras = sys.modules.get("keras")
    cls = None if keras is None else getattr(keras, "Model", None)
    return isinstance(cls, type) and isinstance(obj, cls)


def is_rnn_layer(obj: object) -> bool:
    """Whether ``obj`` is a ``keras.layers.RNN`` (GRU, LSTM and SimpleRNN included)."""
    return _isinstance(obj, "RNN")


def is_bidirectional(obj: object) -> bool:
    """Whether ``obj`` is a ``keras.layers.Bidirectional`` wrapper."""
    return _isinstance(obj, "Bidirectional")


def is_stacked_cells(obj: object) -> bool:
    """Whether ``obj`` is a ``keras.layers.StackedRNNCells``."""
    return _isinstance(obj, "StackedRNNCells")


def is_keras_cell(obj: object) -> bool:
    """Whether ``obj`` looks like a Keras RNN cell: a layer with ``state_size``, not an RNN."""
    return (
        is_keras_layer(obj)
        and not is_rnn_layer(obj)
        and not _is_model(obj)
        and not is_bidirectional(obj)
        and hasattr(obj, "state_size")
    )


def describe_object(obj: object) -> str:
    """Short human description, e.g. ``"Dense layer 'dense_1'"``."""
    name = getattr(obj, "name", None)
    kind = type(obj).__name__
    if is_keras_layer(obj) and isinstance(name, str):
        return f"{kind} {'model' if _is_model(obj) else 'layer'} {name!r}"
    return f"an object of type {kind}"


def recurrent_layers(model: Any) -> list[tuple[str, Any]]:
    """All recurrent layers of ``model`` as ``(path, layer)``, nested models included.

    Bidirectional wrappers count as recurrent layers (so they are listed and
    can be named), but are not descended into.
    """
    found: list[tuple[str, Any]] = []
    seen: set[int] = set()

    def visit(container: Any, prefix: str) -> None:
        for sub in getattr(container, "layers", None) or []:
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            path = f"{prefix}{sub.name}"
            if is_rnn_layer(sub) or is_bidirectional(sub):
                found.append((path, sub))
            elif _is_model(sub):
                visit(sub, f"{path}/")

    visit(model, "")
    return found


def all_layers(model: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []

    def visit(container: Any, prefix: str) -> None:
        for sub in getattr(container, "layers", None) or []:
            path = f"{prefix}{sub.name}"
            out.append((path, sub))
            if _is_model(sub):
                visit(sub, f"{path}/")

    visit(model, "")
    return out


def _select_layer(model: Any, layer: str) -> Any:
    candidates = recurrent_layers(model)
    names = [path for path, _ in candidates]
    for path, sub in all_layers(model):
        if layer in (path, sub.name):
            if is_rnn_layer(sub) or is_bidirectional(sub):
                return sub
            raise UnsupportedModelError(
                f"layer={layer!r} names a {type(sub).__name__}, not a recurrent layer. "
                f"Expected one of the model's recurrent layers: {names}."
            )
    raise ConfigurationError(
        f"Model {getattr(model, 'name', '?')!r} has no layer named {layer!r}. "
        f"Its recurrent layers are {names}; pass one of these as layer=."
    )


def resolve(obj: Any, *, layer: str | None = None) -> Any:
    """Find the recurrent layer or cell that ``obj`` stands for.

    Returns an RNN layer (GRU, LSTM, SimpleRNN, ``keras.layers.RNN``) or a cell.
    Raises errors from :mod:`dynalyze.errors` for everything else: non-recurrent
    layers, Bidirectional wrappers, stacked cells, models with zero or several
    recurrent layers, and unknown ``layer`` names.
    """
    if _is_model(obj):
        if layer is not None:
            target = _select_layer(obj, layer)
        else:
            candidates = recurrent_layers(obj)
            if not candidates:
                names = [path for path, _ in all_layers(obj)]
                raise UnsupportedModelError(
                    f"{_EXPECTED}; got {describe_object(obj)} with no recurrent layer "
                    f"(its layers: {names}). Pass a model that contains a GRU, LSTM, "
                    "SimpleRNN or keras.layers.RNN layer."
                )
            if len(candidates) > 1:
                names = [path for path, _ in candidates]
                raise AmbiguousModelError(
                    f"{describe_object(obj)} has {len(candidates)} recurrent layers: {names}. "
                    f"Say which one to analyse, e.g. dynalyze.wrap(model, layer={names[0]!r})."
                )
            target = candidates[0][1]
        where = f" in {describe_object(obj)}"
    else:
        if layer is not None:
            raise ConfigurationError(
                f"layer= selects a layer inside a model, but {describe_object(obj)} is not "
                f"a model (got layer={layer!r}). Drop layer= or pass the model."
            )
        target = obj
        where = ""
    _reject_unsupported(target, where)
    if not is_keras_layer(target):
        raise UnsupportedModelError(
            f"{_EXPECTED}; got {describe_object(target)}. Pass a Keras recurrent layer, "
            "cell or model (or install a plugin system that wraps this kind of object)."
        )
    if not (is_rnn_layer(target) or is_keras_cell(target)):
        raise UnsupportedModelError(
            f"{_EXPECTED}; got {describe_object(target)}{where}, which is not recurrent. "
            "Pass the recurrent layer itself (or the model that holds it)."
        )
    return target


def _reject_unsupported(target: Any, where: str) -> None:
    if is_bidirectional(target):
        raise UnsupportedModelError(
            f"{describe_object(target)}{where} is Bidirectional: it holds two recurrent "
            "systems (one per direction), not one. Wrap one direction explicitly: "
            "dynalyze.wrap(layer.forward_layer) or dynalyze.wrap(layer.backward_layer)."
        )
    inner = getattr(target, "cell", target) if is_rnn_layer(target) else target
    if is_stacked_cells(inner):
        count = len(getattr(inner, "cells", []) or [])
        access = "layer.cell.cells[i]" if inner is not target else "cells.cells[i]"
        raise UnsupportedModelError(
            f"{describe_object(target)}{where} stacks {count} RNN cells (StackedRNNCells); "
            "a stack has no single state map to analyse. Wrap one cell at a time, e.g. "
            f"dynalyze.wrap({access})."
        )


def cell_of(target: Any) -> Any:
    """The cell of an RNN layer, or ``target`` itself if it is a cell."""
    return target.cell if is_rnn_layer(target) else target


def check_built(cell: Any, owner: Any = None) -> None:
    """Raise :class:`UnsupportedModelError` if ``cell`` has no weights yet."""
    if getattr(cell, "built", True):
        return
    what = describe_object(owner if owner is not None else cell)
    raise UnsupportedModelError(
        f"Expected a built recurrent cell with weights; {what} is not built yet. Build it "
        "first: call the model (or layer) on one batch of inputs, or give the model an "
        "Input / call model.build(input_shape)."
    )


def check_finite_weights(cell: Any) -> None:
    """Raise :class:`dynalyze.errors.NonFiniteError` if any weight of ``cell`` is NaN/inf."""
    for variable in getattr(cell, "weights", []) or []:
        value = np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)
        if np.issubdtype(value.dtype, np.floating):
            label = getattr(variable, "path", None) or getattr(variable, "name", "?")
            check_finite(value, f"Keras weight {label!r} of {describe_object(cell)}")


def state_sizes(cell: Any) -> tuple[int, ...]:
    """Flat state sizes of ``cell`` (``state_size`` as int or list of ints)."""
    raw = getattr(cell, "state_size", None)
    items = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    sizes: list[int] = []
    for item in items:
        value: Any = item
        if not isinstance(value, (int, np.integer)) and hasattr(value, "__len__"):
            dims = list(value)
            value = dims[0] if len(dims) == 1 else None
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise UnsupportedModelError(
                "Expected a cell whose state_size is a positive int or a flat list of "
                f"positive ints (vector states); {describe_object(cell)} has "
                f"state_size={raw!r}. Only cells with vector states can be analysed."
            )
        sizes.append(int(value))
    return tuple(sizes)


def cell_input_dim(cell: Any) -> int | None:
    """Input size of a built cell: from its kernel, else from the shape it was built with."""
    kernel = getattr(cell, "kernel", None)
    shape = getattr(kernel, "shape", None)
    if shape is not None and len(shape) == 2 and shape[0] is not None:
        return int(shape[0])
    build_shapes = getattr(cell, "_build_shapes_dict", None)
    if isinstance(build_shapes, dict) and len(build_shapes) == 1:
        input_shape = next(iter(build_shapes.values()))
        try:
            last = tuple(input_shape)[-1]
        except (TypeError, IndexError):
            return None
        if isinstance(last, (int, np.integer)) and not isinstance(last, bool) and last > 0:
            return int(last)
    return None
