"""Train and evaluate Keras sentiment models.

The ``tf.data`` training loop lives in the Keras boundary,
:mod:`dynalyze.keras.training`; this module re-exports it under its historical
names (importing it imports no Keras or TensorFlow).
"""

from __future__ import annotations

from dynalyze.keras.training import (
    LR_SCHEDULES,
    TrainingResult,
    evaluate_accuracy,
    n_outputs,
    predict_logits,
    train_model,
)

__all__ = [
    "LR_SCHEDULES",
    "TrainingResult",
    "evaluate_accuracy",
    "n_outputs",
    "predict_logits",
    "train_model",
]
