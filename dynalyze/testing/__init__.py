"""Conformance checks for recurrent systems, for extension authors' own test suites.

A new architecture joins dynalyze as a :class:`~dynalyze.systems.RecurrentSystem`
subclass (or as a plain Keras cell, wrapped with autodiff Jacobians). These
checks tell its author whether it behaves as dynalyze expects:

- :func:`check_system` runs everything on a system and returns a
  :class:`ConformanceReport`, or raises :class:`ConformanceError` (an
  ``AssertionError``, so pytest shows it as a failure) listing every failed
  check with its error and tolerance;
- :func:`check_keras_cell` wraps a Keras cell with :func:`dynalyze.wrap` and
  checks the system against the cell's own output (and against autodiff);
- :func:`check_analysis` is the same for a new analysis (a
  :class:`~dynalyze.analyses.Analysis` plug-in): fit on a constructed line
  attractor, schema round trip, determinism, report section, bad input;
- the individual checks (:func:`check_shapes_and_dtypes`,
  :func:`check_consistency`, :func:`check_step_against`,
  :func:`check_jacobians_finite_differences`, :func:`check_jacobians_against`,
  :func:`check_determinism`, :func:`check_analysis_pipeline`,
  :func:`check_result_dataset`) raise :class:`ConformanceError` or return a
  :class:`CheckResult`.

Importing this package does not import TensorFlow.

Examples
--------
In an extension's ``tests/test_system.py``:

>>> import numpy as np
>>> from dynalyze.systems import UGRNNSystem
>>> from dynalyze.testing import check_system
>>> rng = np.random.default_rng(0)
>>> system = UGRNNSystem(rng.normal(size=(2, 6)), 0.5 * rng.normal(size=(3, 6)))
>>> report = check_system(system, reference_step=system.step)
>>> report.passed
True
>>> print(report.result("jacobians_finite_differences"))  # doctest: +ELLIPSIS
PASS jacobians_finite_differences [error ...e-... <= 1e-06]: jacobian_state, ...
"""

from typing import Any

from dynalyze.testing.analysis_checks import check_analysis
from dynalyze.testing.checks import (
    ReferenceStep,
    check_analysis_pipeline,
    check_consistency,
    check_determinism,
    check_jacobians_against,
    check_jacobians_finite_differences,
    check_result_dataset,
    check_shapes_and_dtypes,
    check_step_against,
    check_system,
    sample_points,
)
from dynalyze.testing.report import CheckResult, ConformanceError, ConformanceReport

__all__ = [
    "CheckResult",
    "ConformanceError",
    "ConformanceReport",
    "ReferenceStep",
    "check_analysis",
    "check_analysis_pipeline",
    "check_consistency",
    "check_determinism",
    "check_jacobians_against",
    "check_jacobians_finite_differences",
    "check_keras_cell",
    "check_result_dataset",
    "check_shapes_and_dtypes",
    "check_step_against",
    "check_system",
    "keras_reference_step",
    "sample_points",
]


def __getattr__(name: str) -> Any:
    # The Keras checks live in dynalyze.keras.testing, which imports this package's
    # checks: re-exported lazily so that either package can be imported first.
    if name in ("check_keras_cell", "keras_reference_step"):
        from dynalyze.keras import testing

        return getattr(testing, name)
    raise AttributeError(f"module 'dynalyze.testing' has no attribute {name!r}")
