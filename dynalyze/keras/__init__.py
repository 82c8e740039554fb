"""Everything in dynalyze that talks to Keras and TensorFlow.

- :func:`wrap` and the registry (:func:`list_systems`, :func:`list_adapters`):
  a Keras model, RNN layer or cell as a :class:`~dynalyze.systems.RecurrentSystem`;
- :mod:`dynalyze.keras.adapters`: the one table saying how each system is built
  from its Keras cell (:class:`CellAdapter`; plugins add theirs);
- :class:`KerasCellSystem`: any Keras cell, differentiated by the one TensorFlow
  autodiff implementation (:mod:`dynalyze.keras.autodiff`);
- :mod:`dynalyze.keras.architectures`: the architecture registry
  (``"gru"``, ``"lstm"``, ``"simple"``, ``"ugrnn"``), :func:`build_model`,
  :func:`untrained_copy` and :func:`architecture_of`;
- :mod:`dynalyze.keras.training`: the ``tf.data`` training loop
  (:func:`train_model`, :func:`evaluate_accuracy`, :func:`predict_logits`);
- :mod:`dynalyze.keras.model`: a trained classifier taken apart, and its
  compiled forward passes (used by :class:`~dynalyze.RecurrentClassifier`);
- :func:`save_model` / :func:`load_model`: a model folder with its vocabulary;
- :class:`UGRNNCell`: the update-gate RNN cell (importing it imports Keras);
- :func:`check_keras_cell`, :func:`keras_reference_step`: conformance of a
  wrapped cell against Keras itself.

No other part of dynalyze imports ``keras`` or ``tensorflow``: the sentiment
application builds and trains its models through this package, and
:mod:`dynalyze.systems` never imports it. Importing this package imports
neither: TensorFlow is loaded when a function first needs it.

Examples
--------
>>> import keras, dynalyze.keras
>>> layer = keras.layers.GRU(3)
>>> layer.build((None, None, 2))
>>> type(dynalyze.keras.wrap(layer)).__name__, dynalyze.keras.wrap(layer, system="keras")
('GRUSystem', KerasCellSystem(GRUCell 'gru_cell', state_dim=3, input_dim=2, precision='float64'))
"""

from __future__ import annotations

from typing import Any

from dynalyze.keras.adapters import CellAdapter
from dynalyze.keras.architectures import (
    architecture_of,
    build_model,
    register_architecture,
    untrained_copy,
)
from dynalyze.keras.cell_system import KerasCellSystem
from dynalyze.keras.io import load_model, save_model
from dynalyze.keras.registry import list_adapters, list_systems, wrap
from dynalyze.keras.training import evaluate_accuracy, predict_logits, train_model

__all__ = [
    "CellAdapter",
    "KerasCellSystem",
    "UGRNNCell",
    "architecture_of",
    "build_model",
    "check_keras_cell",
    "evaluate_accuracy",
    "keras_reference_step",
    "list_adapters",
    "list_systems",
    "load_model",
    "predict_logits",
    "register_architecture",
    "save_model",
    "train_model",
    "untrained_copy",
    "wrap",
]

#: Names imported on first access: they import Keras or dynalyze.testing.
_LAZY = {
    "UGRNNCell": "dynalyze.keras.cells",
    "check_keras_cell": "dynalyze.keras.testing",
    "keras_reference_step": "dynalyze.keras.testing",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dynalyze.keras' has no attribute {name!r}")
