"""End-to-end conformance of a Keras cell: wrap it, then compare with the cell itself.

TensorFlow is imported only when these functions run (they need a Keras cell,
so it is loaded by then anyway).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dynalyze._validation import FloatArray
from dynalyze.errors import UnsupportedModelError
from dynalyze.keras import _introspect
from dynalyze.keras.cell_system import KerasCellSystem
from dynalyze.keras.registry import wrap
from dynalyze.testing.checks import ReferenceStep, check_system
from dynalyze.testing.report import ConformanceReport

__all__ = ["check_keras_cell", "keras_reference_step"]


def _cell(obj: Any) -> Any:
    if not _introspect.is_keras_layer(obj):
        raise UnsupportedModelError(
            "check_keras_cell expects a Keras RNN cell, a recurrent layer or a model "
            f"holding one; got {_introspect.describe_object(obj)}. For other systems call "
            "dynalyze.testing.check_system(system) directly."
        )
    return _introspect.cell_of(_introspect.resolve(obj))


def keras_reference_step(cell_or_layer: Any) -> ReferenceStep:
    """The Keras cell's own one-step map, as a reference for :func:`check_step_against`.

    The returned function splits the flat state into the cell's states (in
    ``state_size`` order), calls the cell in its own dtype with
    ``training=False`` and concatenates the new states.

    Parameters
    ----------
    cell_or_layer : keras.layers.Layer
        A built Keras RNN cell, a recurrent layer or a model holding one.

    Returns
    -------
    callable
        ``reference(h, x) -> ndarray (n, state_dim)`` (float64 copy of the
        cell's output).

    Examples
    --------
    >>> import keras, numpy as np
    >>> cell = keras.layers.SimpleRNNCell(2, use_bias=False)
    >>> cell.build((None, 1))
    >>> keras_reference_step(cell)(np.zeros((1, 2)), np.zeros((1, 1))).tolist()
    [[0.0, 0.0]]
    """
    cell = _cell(cell_or_layer)
    sizes = list(_introspect.state_sizes(cell))
    dtype = str(getattr(cell, "compute_dtype", "float32"))

    def reference(h: FloatArray, x: FloatArray) -> FloatArray:
        splits = np.split(np.asarray(h, dtype=dtype), np.cumsum(sizes)[:-1], axis=1)
        _, new_states = cell(np.asarray(x, dtype=dtype), splits, training=False)
        if not isinstance(new_states, (list, tuple)):
            new_states = [new_states]
        flat = [np.asarray(state, dtype=np.float64) for state in new_states]
        return np.concatenate(flat, axis=1)

    return reference


def check_keras_cell(
    cell_or_layer: Any,
    *,
    system: str | None = None,
    compare_autodiff: bool = True,
    n_points: int = 8,
    seed: int = 0,
    rtol: float | None = None,
    pipeline: bool = True,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Wrap a Keras cell with :func:`dynalyze.wrap` and check the system against the cell.

    Runs :func:`dynalyze.testing.check_system` on ``dynalyze.wrap(cell_or_layer,
    system=system)`` with the cell's own output as the step reference
    (:func:`keras_reference_step`) and, when the chosen system is not the
    generic autodiff one and ``compare_autodiff`` is true, TensorFlow autodiff
    through the same cell (``system="keras"``) as the Jacobian reference.

    Parameters
    ----------
    cell_or_layer : keras.layers.Layer
        A built Keras RNN cell (built-in or your own), a recurrent layer
        (``keras.layers.RNN(cell)``, ``GRU``...) or a model holding one.
    system : str, optional
        Registry name of the system to use (default: what :func:`dynalyze.wrap`
        picks, i.e. an analytic or plugin system if one claims the cell,
        otherwise autodiff).
    compare_autodiff : bool
        Also compare step and Jacobians with the autodiff system.
    n_points, seed : int
        Number and seed of the random test points.
    rtol : float, optional
        Jacobian tolerance. By default ``1e-6``, or ``1e-3`` (with a
        finite-difference step of ``1e-3``) when the system computes in float32
        because the cell could not be cloned in float64.
    pipeline : bool
        Also run fixed points, linearization and save/load.
    raise_on_failure : bool
        Raise :class:`ConformanceError` when a check fails (default).

    Returns
    -------
    ConformanceReport

    Examples
    --------
    >>> import keras
    >>> cell = keras.layers.GRUCell(3)
    >>> cell.build((None, 2))
    >>> report = check_keras_cell(cell, pipeline=False)
    >>> report.passed, report.result("jacobians_against_reference").passed
    (True, True)
    """
    cell = _cell(cell_or_layer)
    wrapped = wrap(cell_or_layer, system=system)
    float32 = getattr(wrapped, "precision", "float64") != "float64"
    reference_system = None
    if compare_autodiff and not isinstance(wrapped, KerasCellSystem):
        reference_system = wrap(cell, system="keras")
    return check_system(
        wrapped,
        reference_step=keras_reference_step(cell),
        reference_system=reference_system,
        n_points=n_points,
        seed=seed,
        rtol=rtol if rtol is not None else (1e-3 if float32 else 1e-6),
        relative_step=1e-3 if float32 else 6e-6,
        pipeline=pipeline,
        raise_on_failure=raise_on_failure,
    )
