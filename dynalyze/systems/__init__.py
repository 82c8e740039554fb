"""Recurrent systems: the abstraction and the analytic built-in systems.

Pure NumPy maps built from weight arrays: nothing here imports TensorFlow,
Keras or :mod:`dynalyze.keras`. Building a system from a Keras object
(:func:`dynalyze.wrap`, the adapter table of :mod:`dynalyze.keras.adapters`,
the generic autodiff :class:`~dynalyze.keras.KerasCellSystem`) lives in
:mod:`dynalyze.keras`.
"""

from dynalyze.systems.base import RecurrentSystem, StateComponent, StateLayout
from dynalyze.systems.gru import GRUSystem
from dynalyze.systems.lstm import LSTMSystem
from dynalyze.systems.simple_rnn import SimpleRNNSystem
from dynalyze.systems.ugrnn import UGRNNSystem

__all__ = [
    "GRUSystem",
    "LSTMSystem",
    "RecurrentSystem",
    "SimpleRNNSystem",
    "StateComponent",
    "StateLayout",
    "UGRNNSystem",
]
