"""Recurrent systems: the abstraction, built-in Keras cells and the registry."""

from dynalyze.systems.base import RecurrentSystem, StateComponent, StateLayout
from dynalyze.systems.registry import list_systems, wrap
from dynalyze.systems.simple_rnn import SimpleRNNSystem

__all__ = [
    "RecurrentSystem",
    "SimpleRNNSystem",
    "StateComponent",
    "StateLayout",
    "list_systems",
    "wrap",
]
