"""dynalyze: reverse-engineer trained recurrent neural networks.

Find the fixed points of a recurrent network's state update, linearize the
dynamics around them and describe how the network computes, as labelled
:class:`xarray.Dataset` objects.

``import dynalyze`` is light: TensorFlow is imported only by the functions that
talk to Keras.

Examples
--------
>>> import numpy as np, dynalyze
>>> from dynalyze.systems import SimpleRNNSystem
>>> system = SimpleRNNSystem(np.zeros((1, 2)), np.diag([0.5, 1.0]), np.zeros(2),
...                          activation="linear")
>>> fps = dynalyze.find_fixed_points(system, np.random.default_rng(0).normal(size=(8, 2)))
>>> lin = dynalyze.linearize(system, fps)
>>> float(abs(lin["eigenvalue"].isel(fixed_point=0, eigenmode=0)))
1.0
"""

from __future__ import annotations

from dynalyze import errors
from dynalyze._version import __version__
from dynalyze.analyses.attractor import AttractorModel
from dynalyze.analyses.line_attractor import LineAttractor
from dynalyze.classifier import RecurrentClassifier
from dynalyze.fixedpoints import (
    AdamFinder,
    FixedPointFinder,
    LevenbergMarquardtFinder,
    continue_fixed_points,
    find_fixed_points,
    sample_initial_states,
    unique_fixed_points,
)
from dynalyze.keras import list_systems, wrap
from dynalyze.linearization import Linearization, linearize
from dynalyze.results import accessor as _accessor  # noqa: F401  (registers ds.dynalyze)
from dynalyze.results import load, save, validate
from dynalyze.systems import RecurrentSystem, StateLayout

__all__ = [
    "AdamFinder",
    "AttractorModel",
    "LineAttractor",
    "RecurrentClassifier",
    "FixedPointFinder",
    "LevenbergMarquardtFinder",
    "Linearization",
    "RecurrentSystem",
    "StateLayout",
    "__version__",
    "continue_fixed_points",
    "errors",
    "find_fixed_points",
    "linearize",
    "list_systems",
    "load",
    "sample_initial_states",
    "save",
    "validate",
    "unique_fixed_points",
    "wrap",
]
