"""Recurrent systems: the abstraction, built-in Keras cells and the registry.

Importing this package does not import TensorFlow or Keras.
"""

from dynalyze.systems.base import RecurrentSystem, StateComponent, StateLayout
from dynalyze.systems.gru import GRUSystem
from dynalyze.systems.keras_cell import KerasCellSystem
from dynalyze.systems.lstm import LSTMSystem
from dynalyze.systems.registry import list_systems, wrap
from dynalyze.systems.simple_rnn import SimpleRNNSystem
from dynalyze.systems.ugrnn import UGRNNSystem

__all__ = [
    "GRUSystem",
    "KerasCellSystem",
    "LSTMSystem",
    "RecurrentSystem",
    "SimpleRNNSystem",
    "StateComponent",
    "StateLayout",
    "UGRNNSystem",
    "list_systems",
    "wrap",
]
