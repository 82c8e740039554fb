"""Sentiment classification: datasets, vocabulary, models, training, BoW baseline.

Importing this package does not import TensorFlow. The application uses Keras
only through :mod:`dynalyze.keras`: :mod:`dynalyze.sentiment.models` and
:mod:`dynalyze.sentiment.training` re-export its model factory
(:mod:`dynalyze.keras.architectures`) and training loop
(:mod:`dynalyze.keras.training`).
"""

from __future__ import annotations

from dynalyze.sentiment.datasets import (
    DATASET_NAMES,
    SentimentData,
    SyntheticConfig,
    load_dataset,
)
from dynalyze.vocabulary import Vocabulary, tokenize

__all__ = [
    "DATASET_NAMES",
    "SentimentData",
    "SyntheticConfig",
    "Vocabulary",
    "load_dataset",
    "tokenize",
]
