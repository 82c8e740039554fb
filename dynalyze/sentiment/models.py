"""Keras sentiment models: Embedding -> recurrent layer -> linear readout.

The architecture registry and the model factory live in the Keras boundary,
:mod:`dynalyze.keras.architectures`; this module re-exports them under their
historical names (importing it imports no Keras). See there for the three
named layers of every model and for :func:`register_architecture`.
"""

from __future__ import annotations

from dynalyze.keras.architectures import (
    ARCHITECTURES,
    EMBEDDING_LAYER,
    READOUT_LAYER,
    RNN_LAYER,
    Architecture,
    ArchitectureFactory,
    architecture_of,
    build_model,
    register_architecture,
    untrained_copy,
)

__all__ = [
    "ARCHITECTURES",
    "EMBEDDING_LAYER",
    "READOUT_LAYER",
    "RNN_LAYER",
    "Architecture",
    "ArchitectureFactory",
    "architecture_of",
    "build_model",
    "register_architecture",
    "untrained_copy",
]
