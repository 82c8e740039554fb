"""Sentiment classification: datasets, vocabulary, models, training, BoW baseline.

Importing this package does not import TensorFlow; :mod:`dynalyze.sentiment.models`
and :mod:`dynalyze.sentiment.training` import Keras inside their functions.
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
