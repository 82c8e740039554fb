"""Registry of recurrent systems and :func:`wrap` (placeholder, being written)."""

from __future__ import annotations

from typing import Any

from dynalyze.errors import UnsupportedModelError
from dynalyze.systems.base import RecurrentSystem
from dynalyze.systems.simple_rnn import SimpleRNNSystem

__all__ = ["list_systems", "wrap"]

_BUILTINS: dict[str, type[RecurrentSystem]] = {SimpleRNNSystem.name: SimpleRNNSystem}


def list_systems() -> dict[str, type[RecurrentSystem]]:
    """Installed systems by name."""
    return dict(_BUILTINS)


def wrap(obj: Any, *, layer: str | None = None, system: str | None = None) -> RecurrentSystem:
    """Wrap a Keras model, layer or cell as a :class:`RecurrentSystem`."""
    for cls in _BUILTINS.values():
        if cls.can_wrap(obj):
            return cls.from_keras(obj)
    raise UnsupportedModelError(f"Cannot wrap {type(obj).__name__}.")
