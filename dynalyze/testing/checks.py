"""Conformance checks for :class:`~dynalyze.systems.RecurrentSystem` implementations.

Every ``check_*`` function takes the system (and optionally the states and
inputs to test at), raises :class:`~dynalyze.testing.ConformanceError` (an
``AssertionError``) with a message saying what failed and by how much, and
otherwise returns a :class:`~dynalyze.testing.CheckResult`. :func:`check_system`
runs them all and returns a :class:`~dynalyze.testing.ConformanceReport`.

Errors are compared per test point as ``||got - want|| / (||want|| + 1e-8)``
(Frobenius norms over the point's entries), and the worst point is reported.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from dynalyze._validation import FloatArray
from dynalyze.fixedpoints import find_fixed_points
from dynalyze.linearization import linearize
from dynalyze.results.build import to_json
from dynalyze.results.io import load, save
from dynalyze.results.schema import KINDS, VARIABLES
from dynalyze.systems.base import RecurrentSystem
from dynalyze.systems.finite_differences import finite_difference_jacobians
from dynalyze.testing.report import CheckResult, ConformanceError, ConformanceReport

__all__ = [
    "ReferenceStep",
    "check_analysis_pipeline",
    "check_consistency",
    "check_determinism",
    "check_jacobians_against",
    "check_jacobians_finite_differences",
    "check_result_dataset",
    "check_shapes_and_dtypes",
    "check_step_against",
    "check_system",
    "sample_points",
]

#: ``reference(h, x) -> next states``: batched, ``(n, state_dim)``, any float dtype.
ReferenceStep = Callable[[FloatArray, FloatArray], Any]

#: Denominator floor of relative errors (so an all-zero Jacobian compares absolutely).
_FLOOR = 1e-8

_JACOBIAN_METHODS = ("analytic", "autodiff", "finite-difference")


# --------------------------------------------------------------------- helpers
def sample_points(
    system: RecurrentSystem, n_points: int = 8, *, seed: int = 0, scale: float = 0.5
) -> tuple[FloatArray, FloatArray]:
    """Random test states and inputs for ``system``.

    States are ``scale`` times standard normal, inputs standard normal; both
    are rounded to float32-representable values, so a float32 reference (a
    Keras cell) sees exactly the same numbers as the float64 system.

    Parameters
    ----------
    system : RecurrentSystem
        The system (for its ``state_dim`` and ``input_dim``).
    n_points : int
        Number of points.
    seed : int
        Seed of the random generator; the same seed gives the same points.
    scale : float
        Standard deviation of the states.

    Returns
    -------
    states, inputs : ndarray
        Shapes ``(n_points, state_dim)`` and ``(n_points, input_dim)``, float64.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import UGRNNSystem
    >>> h, x = sample_points(UGRNNSystem(np.zeros((2, 6)), np.zeros((3, 6))), 4)
    >>> h.shape, x.shape, h.dtype
    ((4, 3), (4, 2), dtype('float64'))
    """
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 1:
        raise ValueError(f"n_points must be a positive integer; got {n_points!r}.")
    rng = np.random.default_rng(seed)
    h = scale * rng.standard_normal((int(n_points), system.state_dim))
    x = rng.standard_normal((int(n_points), system.input_dim))
    return (
        h.astype(np.float32).astype(np.float64),
        x.astype(np.float32).astype(np.float64),
    )


def _points(
    system: RecurrentSystem,
    states: ArrayLike | None,
    inputs: ArrayLike | None,
    n_points: int,
    seed: int,
) -> tuple[FloatArray, FloatArray]:
    if states is None:
        h, x = sample_points(system, n_points, seed=seed)
        if inputs is None:
            return h, x
        return system.validate(h, inputs)
    return system.validate(states, inputs)


def _name(system: RecurrentSystem) -> str:
    try:
        return repr(system)
    except Exception:  # a broken __repr__ must not hide the real failure
        return type(system).__name__


def _fail(
    check: str, system: RecurrentSystem, problems: list[str], error: float, tol: float
) -> NoReturn:
    detail = " ".join(problems)
    result = CheckResult(check=check, passed=False, detail=detail, error=error, tolerance=tol)
    raise ConformanceError(
        f"Conformance check {check!r} failed for {_name(system)}: {detail}", [result]
    )


def _relative_errors(got: FloatArray, want: FloatArray) -> FloatArray:
    diff = (got - want).reshape(got.shape[0], -1)
    ref = want.reshape(want.shape[0], -1)
    errors: FloatArray = np.linalg.norm(diff, axis=1) / (np.linalg.norm(ref, axis=1) + _FLOOR)
    return errors


def _compare(
    got: FloatArray, want: FloatArray, *, what: str, against: str, rtol: float
) -> tuple[float, str | None]:
    """Worst per-point relative error of ``got`` vs ``want`` and a message if above ``rtol``."""
    if got.shape != want.shape:
        return math.inf, f"{what} has shape {got.shape}; {against} has shape {want.shape}."
    if got.size == 0:
        return 0.0, None
    errors = _relative_errors(got, want)
    if not np.all(np.isfinite(errors)):
        bad = int(np.flatnonzero(~np.isfinite(errors))[0])
        return math.inf, f"{what} is not finite at point {bad} (or {against} is not)."
    worst_point = int(np.argmax(errors))
    worst = float(errors[worst_point])
    if worst <= rtol:
        return worst, None
    index = np.unravel_index(int(np.argmax(np.abs(got - want))), got.shape)
    where = ", ".join(str(int(i)) for i in index)
    return worst, (
        f"{what} differs from {against} by a relative error of {worst:.2e} (tolerance "
        f"{rtol:.0e}) at point {worst_point}; the largest entry difference is at "
        f"[{where}]: {got[index]:.8g} vs {want[index]:.8g}."
    )


def _finish(
    check: str,
    system: RecurrentSystem,
    problems: list[str],
    errors: list[float],
    tol: float,
    detail: str,
) -> CheckResult:
    worst = max(errors) if errors else math.nan
    if problems:
        _fail(check, system, problems, worst, tol)
    return CheckResult(check=check, passed=True, detail=detail, error=worst, tolerance=tol)


# ------------------------------------------------------------------- checks
def check_shapes_and_dtypes(
    system: RecurrentSystem,
    *,
    states: ArrayLike | None = None,
    inputs: ArrayLike | None = None,
    n_points: int = 8,
    seed: int = 0,
) -> CheckResult:
    """Every public method returns finite float64 arrays of the documented shapes.

    Checks ``state_dim``/``input_dim`` (positive ints), ``layout.size``,
    ``jacobian_method``, ``describe()`` (JSON-serializable, matching sizes), and
    ``step``, ``jacobian_state``, ``jacobian_input``, ``jacobians``,
    ``step_and_jacobian_state`` and ``vjp_state`` on a batch and on a single
    point.

    Parameters
    ----------
    system : RecurrentSystem
        The system under test.
    states, inputs : array_like, optional
        Test points ``(n, state_dim)``, ``(n, input_dim)``; random by default
        (:func:`sample_points` with ``n_points`` and ``seed``).
    n_points, seed : int
        Number and seed of the random test points.

    Returns
    -------
    CheckResult

    Raises
    ------
    ConformanceError
        With every problem found.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import UGRNNSystem
    >>> check_shapes_and_dtypes(UGRNNSystem(np.ones((2, 6)), np.ones((3, 6)))).passed
    True
    """
    check = "shapes_and_dtypes"
    d, m = system.state_dim, system.input_dim
    problems: list[str] = []
    for label, value in (("state_dim", d), ("input_dim", m)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            problems.append(f"{label} must be a positive int; got {value!r}.")
    if problems:
        _fail(check, system, problems, math.nan, math.nan)
    if system.layout.size != d:
        problems.append(f"layout.size is {system.layout.size} but state_dim is {d}.")
    if system.jacobian_method not in _JACOBIAN_METHODS:
        problems.append(
            f"jacobian_method is {system.jacobian_method!r}; expected one of {_JACOBIAN_METHODS}."
        )
    try:
        described = json.loads(to_json(system.describe()))
    except Exception as exc:
        problems.append(f"describe() must return a JSON-serializable dict; {exc}.")
    else:
        for key, want in (("state_dim", d), ("input_dim", m)):
            if described.get(key) != want:
                problems.append(f"describe()[{key!r}] is {described.get(key)!r}; expected {want}.")
    h, x = _points(system, states, inputs, n_points, seed)
    v = np.random.default_rng(seed + 1).standard_normal(h.shape)

    def expect(label: str, value: Any, shape: tuple[int, ...]) -> None:
        if not isinstance(value, np.ndarray):
            problems.append(f"{label} returned {type(value).__name__}; expected a NumPy array.")
        elif value.dtype != np.float64:
            problems.append(f"{label} returned dtype {value.dtype}; expected float64.")
        elif value.shape != shape:
            problems.append(f"{label} returned shape {value.shape}; expected {shape}.")
        elif not np.all(np.isfinite(value)):
            problems.append(f"{label} returned NaN or infinite values.")

    for hb, xb, vb in ((h, x, v), (h[:1], x[:1], v[:1])):
        n = hb.shape[0]
        expect(f"step (n={n})", system.step(hb, xb), (n, d))
        expect(f"jacobian_state (n={n})", system.jacobian_state(hb, xb), (n, d, d))
        expect(f"jacobian_input (n={n})", system.jacobian_input(hb, xb), (n, d, m))
        both = system.jacobians(hb, xb)
        if not (isinstance(both, tuple) and len(both) == 2):
            problems.append("jacobians() must return a tuple (jacobian_state, jacobian_input).")
        else:
            expect(f"jacobians()[0] (n={n})", both[0], (n, d, d))
            expect(f"jacobians()[1] (n={n})", both[1], (n, d, m))
        pair = system.step_and_jacobian_state(hb, xb)
        if not (isinstance(pair, tuple) and len(pair) == 2):
            problems.append("step_and_jacobian_state() must return a tuple (step, jacobian).")
        else:
            expect(f"step_and_jacobian_state()[0] (n={n})", pair[0], (n, d))
            expect(f"step_and_jacobian_state()[1] (n={n})", pair[1], (n, d, d))
        expect(f"vjp_state (n={n})", system.vjp_state(hb, xb, vb), (n, d))
    return _finish(
        check,
        system,
        problems,
        [],
        math.nan,
        f"state_dim={d}, input_dim={m}, jacobian_method={system.jacobian_method!r}; "
        f"all methods return finite float64 arrays of the right shapes.",
    )


def check_consistency(
    system: RecurrentSystem,
    *,
    states: ArrayLike | None = None,
    inputs: ArrayLike | None = None,
    n_points: int = 8,
    seed: int = 0,
    rtol: float = 1e-8,
) -> CheckResult:
    """The system's entry points agree with each other.

    ``jacobians()`` equals ``(jacobian_state, jacobian_input)``;
    ``step_and_jacobian_state`` equals ``(step, jacobian_state)``;
    ``vjp_state(h, x, v)`` equals ``v^T jacobian_state``; ``x=None`` means zero
    input; one input vector is shared by all states.

    Parameters
    ----------
    system : RecurrentSystem
        The system under test.
    states, inputs : array_like, optional
        Test points; random by default.
    n_points, seed : int
        Number and seed of the random test points.
    rtol : float
        Largest relative error tolerated.

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import UGRNNSystem
    >>> rng = np.random.default_rng(0)
    >>> system = UGRNNSystem(rng.normal(size=(2, 6)), rng.normal(size=(3, 6)))
    >>> check_consistency(system).passed
    True
    """
    h, x = _points(system, states, inputs, n_points, seed)
    v = np.random.default_rng(seed + 1).standard_normal(h.shape)
    step, jh, jx = system.step(h, x), system.jacobian_state(h, x), system.jacobian_input(h, x)
    both = system.jacobians(h, x)
    pair = system.step_and_jacobian_state(h, x)
    comparisons = [
        (both[0], jh, "jacobians()[0]", "jacobian_state"),
        (both[1], jx, "jacobians()[1]", "jacobian_input"),
        (pair[0], step, "step_and_jacobian_state()[0]", "step"),
        (pair[1], jh, "step_and_jacobian_state()[1]", "jacobian_state"),
        (system.vjp_state(h, x, v), np.einsum("ni,nij->nj", v, jh), "vjp_state", "v^T J"),
        (system.step(h), system.step(h, np.zeros_like(x)), "step(h)", "step(h, 0)"),
        (
            system.step(h, x[0]),
            system.step(h, np.repeat(x[:1], h.shape[0], axis=0)),
            "step(h, x) with one shared input vector",
            "the input repeated per state",
        ),
    ]
    problems: list[str] = []
    errors: list[float] = []
    for got, want, what, against in comparisons:
        err, message = _compare(
            np.asarray(got), np.asarray(want), what=what, against=against, rtol=rtol
        )
        errors.append(err)
        if message:
            problems.append(message)
    return _finish(
        "consistency",
        system,
        problems,
        errors,
        rtol,
        "jacobians, step_and_jacobian_state, vjp_state and input broadcasting agree.",
    )


def check_step_against(
    system: RecurrentSystem,
    reference: ReferenceStep,
    *,
    states: ArrayLike | None = None,
    inputs: ArrayLike | None = None,
    n_points: int = 8,
    seed: int = 0,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> CheckResult:
    """``system.step`` reproduces a reference implementation of the same map.

    Parameters
    ----------
    system : RecurrentSystem
        The system under test.
    reference : callable
        ``reference(h, x) -> next states``, batched: float64 arrays
        ``(n, state_dim)``, ``(n, input_dim)`` in, an array ``(n, state_dim)``
        of any float dtype out (e.g. the Keras cell's own output; see
        :func:`dynalyze.testing.keras_reference_step`).
    states, inputs : array_like, optional
        Test points; random by default (float32-representable).
    n_points, seed : int
        Number and seed of the random test points.
    rtol, atol : float
        Elementwise tolerance ``|got - want| <= atol + rtol |want|``; the
        defaults suit a float32 reference.

    Returns
    -------
    CheckResult
        ``error`` is the largest absolute difference.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import UGRNNSystem
    >>> system = UGRNNSystem(np.zeros((1, 4)), np.zeros((2, 4)))
    >>> check_step_against(system, lambda h, x: 0.5 * h).passed
    True
    """
    check = "step_against_reference"
    h, x = _points(system, states, inputs, n_points, seed)
    got = system.step(h, x)
    want = np.asarray(reference(h.copy(), x.copy()), dtype=np.float64)
    if want.shape != got.shape:
        _fail(
            check,
            system,
            [f"the reference returned shape {want.shape}; step returned {got.shape}."],
            math.inf,
            rtol,
        )
    diff = np.abs(got - want)
    excess = diff - (atol + rtol * np.abs(want))
    worst = float(np.max(diff)) if diff.size else 0.0
    problems: list[str] = []
    if not np.all(np.isfinite(want)):
        problems.append("the reference returned NaN or infinite values.")
    elif np.any(excess > 0):
        index = np.unravel_index(int(np.argmax(excess)), got.shape)
        count = int(np.sum(excess > 0))
        problems.append(
            f"step differs from the reference at {count} of {got.size} entries (tolerance "
            f"atol={atol:.0e} + rtol={rtol:.0e} * |reference|); the worst is at point "
            f"{int(index[0])}, unit {int(index[1])}: {got[index]:.8g} vs {want[index]:.8g} "
            f"(|difference| {diff[index]:.2e}). Check the weight layout, gate order and "
            "activations against the reference."
        )
    return _finish(
        check,
        system,
        problems,
        [worst],
        rtol,
        f"step matches the reference at {h.shape[0]} points (largest |difference| {worst:.2e}).",
    )


def check_jacobians_finite_differences(
    system: RecurrentSystem,
    *,
    states: ArrayLike | None = None,
    inputs: ArrayLike | None = None,
    n_points: int = 8,
    seed: int = 0,
    rtol: float = 1e-6,
    relative_step: float = 6e-6,
) -> CheckResult:
    """Jacobians (state and input) and the VJP agree with central finite differences of ``step``.

    Parameters
    ----------
    system : RecurrentSystem
        The system under test.
    states, inputs : array_like, optional
        Test points; random by default.
    n_points, seed : int
        Number and seed of the random test points.
    rtol : float
        Largest per-point relative error tolerated. Central differences of a
        float64 map are accurate to about 1e-9; a system that computes in
        float32 needs ``relative_step=1e-3`` and ``rtol`` around ``1e-3``.
    relative_step : float
        Finite-difference step relative to ``max(1, |value|)``.

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import UGRNNSystem
    >>> rng = np.random.default_rng(0)
    >>> system = UGRNNSystem(rng.normal(size=(2, 6)), rng.normal(size=(3, 6)))
    >>> result = check_jacobians_finite_differences(system)
    >>> result.passed, result.error < 1e-8
    (True, True)
    """
    h, x = _points(system, states, inputs, n_points, seed)
    v = np.random.default_rng(seed + 1).standard_normal(h.shape)
    fd_h, fd_x = finite_difference_jacobians(
        lambda a, b: system.step(a, b), h, x, relative_step=relative_step
    )
    jh, jx = system.jacobians(h, x)
    comparisons = [
        (jh, fd_h, "jacobian_state"),
        (jx, fd_x, "jacobian_input"),
        (system.vjp_state(h, x, v), np.einsum("ni,nij->nj", v, fd_h), "vjp_state"),
    ]
    problems: list[str] = []
    errors: list[float] = []
    for got, want, what in comparisons:
        err, message = _compare(
            got, want, what=what, against="central finite differences of step", rtol=rtol
        )
        errors.append(err)
        if message:
            problems.append(message)
    return _finish(
        "jacobians_finite_differences",
        system,
        problems,
        errors,
        rtol,
        f"jacobian_state, jacobian_input and vjp_state match finite differences "
        f"({system.jacobian_method} Jacobians).",
    )


def check_jacobians_against(
    system: RecurrentSystem,
    reference: RecurrentSystem,
    *,
    states: ArrayLike | None = None,
    inputs: ArrayLike | None = None,
    n_points: int = 8,
    seed: int = 0,
    rtol: float = 1e-6,
) -> CheckResult:
    """Step and Jacobians agree with another system for the same map (e.g. autodiff).

    Typical use: an analytic system against
    ``dynalyze.wrap(cell, system="keras")`` (TensorFlow autodiff through the
    Keras cell, in float64).

    Parameters
    ----------
    system, reference : RecurrentSystem
        The system under test and the reference; same sizes and state layout.
    states, inputs : array_like, optional
        Test points; random by default.
    n_points, seed : int
        Number and seed of the random test points.
    rtol : float
        Largest per-point relative error tolerated.

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import UGRNNSystem
    >>> a = UGRNNSystem(np.ones((1, 4)), np.ones((2, 4)))
    >>> check_jacobians_against(a, UGRNNSystem(np.ones((1, 4)), np.ones((2, 4)))).passed
    True
    """
    check = "jacobians_against_reference"
    sizes = (system.state_dim, system.input_dim)
    ref_sizes = (reference.state_dim, reference.input_dim)
    if sizes != ref_sizes:
        _fail(
            check,
            system,
            [
                f"(state_dim, input_dim) is {sizes}; the reference {_name(reference)} "
                f"has {ref_sizes}."
            ],
            math.inf,
            rtol,
        )
    h, x = _points(system, states, inputs, n_points, seed)
    jh, jx = system.jacobians(h, x)
    rh, rx = reference.jacobians(h, x)
    against = f"the reference {type(reference).__name__} ({reference.jacobian_method})"
    problems: list[str] = []
    errors: list[float] = []
    for got, want, what in (
        (system.step(h, x), reference.step(h, x), "step"),
        (jh, rh, "jacobian_state"),
        (jx, rx, "jacobian_input"),
    ):
        err, message = _compare(got, want, what=what, against=against, rtol=rtol)
        errors.append(err)
        if message:
            problems.append(message)
    if system.layout.to_dict() != reference.layout.to_dict():
        problems.append(
            f"the state layout {system.layout.to_dict()} differs from the reference's "
            f"{reference.layout.to_dict()}."
        )
    return _finish(check, system, problems, errors, rtol, f"step and Jacobians match {against}.")


def check_determinism(
    system: RecurrentSystem,
    *,
    states: ArrayLike | None = None,
    inputs: ArrayLike | None = None,
    n_points: int = 8,
    seed: int = 0,
    rtol: float = 1e-12,
) -> CheckResult:
    """Same input, same output: repeated calls agree, batch rows are independent.

    Checks that calling ``step`` and ``jacobians`` twice gives the same
    result, that each point's result does not depend on the other points of the
    batch (one point at a time equals the whole batch), and that the methods do
    not modify their input arrays.

    Parameters
    ----------
    system : RecurrentSystem
        The system under test.
    states, inputs : array_like, optional
        Test points; random by default.
    n_points, seed : int
        Number and seed of the random test points.
    rtol : float
        Largest relative difference tolerated (rounding differences between
        batch sizes are about 1e-16).

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import UGRNNSystem
    >>> check_determinism(UGRNNSystem(np.ones((1, 4)), np.ones((2, 4)))).passed
    True
    """
    h, x = _points(system, states, inputs, n_points, seed)
    h_copy, x_copy = h.copy(), x.copy()
    first_step, first_jac = system.step(h, x), system.jacobians(h, x)
    second_step, second_jac = system.step(h, x), system.jacobians(h, x)
    rows = [system.step(h[k : k + 1], x[k : k + 1]) for k in range(h.shape[0])]
    row_jacs = [system.jacobians(h[k : k + 1], x[k : k + 1])[0] for k in range(h.shape[0])]
    comparisons = [
        (second_step, first_step, "a second call of step", "the first call"),
        (second_jac[0], first_jac[0], "a second call of jacobians()[0]", "the first call"),
        (second_jac[1], first_jac[1], "a second call of jacobians()[1]", "the first call"),
        (np.concatenate(rows), first_step, "step one point at a time", "step on the batch"),
        (
            np.concatenate(row_jacs),
            first_jac[0],
            "jacobians()[0] one point at a time",
            "jacobians()[0] on the batch",
        ),
    ]
    problems: list[str] = []
    errors: list[float] = []
    for got, want, what, against in comparisons:
        err, message = _compare(got, want, what=what, against=against, rtol=rtol)
        errors.append(err)
        if message:
            problems.append(message)
    if not (np.array_equal(h, h_copy) and np.array_equal(x, x_copy)):
        problems.append("the system modified the states or inputs passed to it.")
    return _finish(
        "determinism",
        system,
        problems,
        errors,
        rtol,
        "repeated calls agree, points are independent of their batch, inputs are untouched.",
    )


def check_result_dataset(ds: xr.Dataset, kind: str) -> None:
    """Raise :class:`ConformanceError` unless ``ds`` is a valid dynalyze result of ``kind``.

    Valid means: the ``dynalyze_kind`` attribute is ``kind``; every variable that
    kind requires is present; every variable and coordinate declared in the
    schema has its dimensions, ``long_name`` and ``units``; flag variables hold
    only their declared ``flag_values``; the configuration and provenance
    attributes are JSON.

    Parameters
    ----------
    ds : xarray.Dataset
        A dataset returned by a dynalyze analysis.
    kind : str
        A key of :data:`dynalyze.results.KINDS` (``"fixed_points"``,
        ``"linearization"``...).

    Examples
    --------
    >>> import numpy as np, dynalyze
    >>> from dynalyze.systems import UGRNNSystem
    >>> system = UGRNNSystem(np.zeros((1, 4)), np.zeros((2, 4)))
    >>> check_result_dataset(dynalyze.linearize(system, np.zeros((1, 2))), "linearization")
    """
    problems: list[str] = []
    if ds.attrs.get("dynalyze_kind") != kind:
        got_kind = ds.attrs.get("dynalyze_kind")
        problems.append(f"attrs['dynalyze_kind'] is {got_kind!r}, not {kind!r}.")
    missing = [name for name in KINDS.get(kind, ()) if name not in ds]
    if kind not in KINDS:
        problems.append(f"unknown kind {kind!r}; known kinds: {sorted(KINDS)}.")
    if missing:
        problems.append(f"required variables {missing} are missing.")
    for attr in ("dynalyze_config", "dynalyze_provenance"):
        try:
            json.loads(ds.attrs[attr])
        except (KeyError, TypeError, ValueError):
            problems.append(f"attrs[{attr!r}] is missing or not JSON.")
    for name, variable in ds.variables.items():
        spec = VARIABLES.get(str(name))
        if spec is None:
            problems.append(f"variable {name!r} is not declared in the results schema.")
            continue
        if tuple(variable.dims) != spec.dims:
            problems.append(f"variable {name!r} has dims {variable.dims}; expected {spec.dims}.")
        for attr in ("long_name", "units"):
            if not variable.attrs.get(attr):
                problems.append(f"variable {name!r} has no {attr!r} attribute.")
        if spec.flags is not None:
            values = np.unique(np.asarray(variable.values))
            unknown = sorted(set(values.tolist()) - set(spec.flags))
            if unknown:
                problems.append(
                    f"flag variable {name!r} holds {unknown}, outside its flag_values "
                    f"{sorted(spec.flags)}."
                )
    if problems:
        result = CheckResult(check="result_dataset", passed=False, detail=" ".join(problems))
        raise ConformanceError(f"Invalid {kind!r} dataset: {' '.join(problems)}", [result])


def check_analysis_pipeline(
    system: RecurrentSystem,
    *,
    states: ArrayLike | None = None,
    n_points: int = 8,
    seed: int = 0,
    directory: str | Path | None = None,
    rtol: float = 1e-6,
) -> CheckResult:
    """Fixed points, linearization and save/load work and give valid results.

    Runs :func:`dynalyze.find_fixed_points` (zero input, from ``states``) and
    :func:`dynalyze.linearize` at the candidates; checks both datasets against
    the results schema (:func:`check_result_dataset`), that they describe the
    system (sizes, state layout, provenance), that the reported speeds and
    Jacobians are the system's own, and that :func:`dynalyze.save` then
    :func:`dynalyze.load` gives identical datasets
    (``xarray.testing.assert_identical``). Converging is not required: a
    random system may have no fixed point near the initial states.

    Parameters
    ----------
    system : RecurrentSystem
        The system under test.
    states : array_like, optional
        Initial states of the fixed-point search; random by default.
    n_points, seed : int
        Number and seed of the random initial states.
    directory : path, optional
        Where to write the netCDF files (a temporary folder by default).
    rtol : float
        Tolerance of the recomputed speeds and Jacobians.

    Returns
    -------
    CheckResult
        ``detail`` says how many candidates converged.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import UGRNNSystem
    >>> rng = np.random.default_rng(0)
    >>> system = UGRNNSystem(0.3 * rng.normal(size=(2, 6)), 0.3 * rng.normal(size=(3, 6)))
    >>> check_analysis_pipeline(system, n_points=3).detail
    '3 of 3 candidates converged; fixed points, linearization and save/load are valid.'
    """
    check = "analysis_pipeline"
    h0, _ = _points(system, states, None, n_points, seed)
    fps = find_fixed_points(system, h0)
    lin = linearize(system, fps)
    problems: list[str] = []
    for ds, kind in ((fps, "fixed_points"), (lin, "linearization")):
        try:
            check_result_dataset(ds, kind)
        except ConformanceError as exc:
            problems.append(str(exc))
        sizes = {"fixed_point": h0.shape[0], "state": system.state_dim, "input": system.input_dim}
        got = {dim: int(ds.sizes.get(dim, -1)) for dim in sizes}
        if got != sizes:
            problems.append(f"the {kind} dataset has sizes {got}; expected {sizes}.")
        elif "state_component" in ds.coords:
            labels = ds["state_component"].values.astype(str).tolist()
            if labels != system.layout.component_labels().tolist():
                problems.append(f"the {kind} dataset's state_component does not match the layout.")
        provenance = json.loads(ds.attrs.get("dynalyze_provenance", "{}"))
        if provenance.get("state_dim") != system.state_dim:
            problems.append(f"the {kind} dataset's provenance does not describe the system.")
    if not problems:
        points = fps["fixed_point_state"].values
        finite = np.all(np.isfinite(points), axis=1)
        residual = system.step(points[finite]) - points[finite]
        speed = 0.5 * np.sum(residual**2, axis=1)
        _, message = _compare(
            fps["speed"].values[finite][:, None],
            speed[:, None],
            what="the reported speed",
            against="1/2 ||F(h*) - h*||^2 recomputed with step",
            rtol=max(rtol, 1e-6),
        )
        if message and np.max(np.abs(fps["speed"].values[finite] - speed)) > 1e-14:
            problems.append(message)
        _, message = _compare(
            lin["jacobian_state"].values[finite],
            system.jacobian_state(points[finite]),
            what="the linearization's jacobian_state",
            against="system.jacobian_state at the fixed points",
            rtol=rtol,
        )
        if message:
            problems.append(message)
    if not problems:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(directory) if directory is not None else Path(scratch)
            for ds, kind in ((fps, "fixed_points"), (lin, "linearization")):
                path = save(ds, folder / f"conformance_{kind}.nc")
                loaded = load(path)
                try:
                    xr.testing.assert_identical(loaded, ds)
                except AssertionError as exc:
                    problems.append(
                        f"the {kind} dataset does not round-trip through dynalyze.save and "
                        f"dynalyze.load: {str(exc).splitlines()[0]}"
                    )
    converged = int(np.sum(fps["status"].values == 0))
    return _finish(
        check,
        system,
        problems,
        [],
        math.nan,
        f"{converged} of {h0.shape[0]} candidates converged; fixed points, linearization "
        "and save/load are valid.",
    )


# ------------------------------------------------------------------ all of it
def _run(check: str, fn: Callable[[], CheckResult]) -> CheckResult:
    try:
        return fn()
    except ConformanceError as exc:
        if exc.results:
            return exc.results[0]
        return CheckResult(check=check, passed=False, detail=str(exc))
    except Exception as exc:
        return CheckResult(
            check=check,
            passed=False,
            detail=f"raised {type(exc).__name__}: {exc}",
        )


def check_system(
    system: RecurrentSystem,
    *,
    reference_step: ReferenceStep | None = None,
    reference_system: RecurrentSystem | None = None,
    states: ArrayLike | None = None,
    inputs: ArrayLike | None = None,
    n_points: int = 8,
    seed: int = 0,
    rtol: float = 1e-6,
    step_rtol: float = 1e-5,
    step_atol: float = 1e-6,
    relative_step: float = 6e-6,
    pipeline: bool = True,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Run every conformance check on a recurrent system.

    Call it from your own test suite on the system you implemented (or on
    what :func:`dynalyze.wrap` gives for your Keras cell; see
    :func:`dynalyze.testing.check_keras_cell`). The checks, in order:

    ``shapes_and_dtypes``
        :func:`check_shapes_and_dtypes`.
    ``consistency``
        :func:`check_consistency` (entry points agree with each other).
    ``step_against_reference``
        :func:`check_step_against` ``reference_step`` (only if given).
    ``jacobians_finite_differences``
        :func:`check_jacobians_finite_differences` (state, input, VJP).
    ``jacobians_against_reference``
        :func:`check_jacobians_against` ``reference_system`` (only if given).
    ``determinism``
        :func:`check_determinism`.
    ``analysis_pipeline``
        :func:`check_analysis_pipeline` (fixed points, linearization,
        save/load; skipped with ``pipeline=False``).

    Every check runs even if an earlier one failed; an exception raised by the
    system counts as a failure of the check that called it.

    Parameters
    ----------
    system : RecurrentSystem
        The system under test.
    reference_step : callable, optional
        ``reference(h, x) -> next states`` to compare ``step`` against.
    reference_system : RecurrentSystem, optional
        Another implementation of the same map (e.g. autodiff) to compare step
        and Jacobians against.
    states, inputs : array_like, optional
        Test points ``(n, state_dim)``, ``(n, input_dim)``; by default
        ``n_points`` random float32-representable points from ``seed``.
    n_points, seed : int
        Number and seed of the random test points.
    rtol : float
        Tolerance of Jacobians vs finite differences and vs ``reference_system``.
    step_rtol, step_atol : float
        Elementwise tolerance of ``step`` vs ``reference_step`` (float32-level by
        default).
    relative_step : float
        Finite-difference step (see :func:`check_jacobians_finite_differences`).
    pipeline : bool
        Also run the analysis pipeline check (the slowest one).
    raise_on_failure : bool
        Raise :class:`ConformanceError` listing every failed check (default), or
        return the report regardless.

    Returns
    -------
    ConformanceReport
        One :class:`CheckResult` per check.

    Raises
    ------
    ConformanceError
        An ``AssertionError`` whose message lists every check with its
        error and tolerance, when a check failed and ``raise_on_failure``.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import UGRNNSystem
    >>> rng = np.random.default_rng(0)
    >>> system = UGRNNSystem(rng.normal(size=(2, 6)), rng.normal(size=(3, 6)))
    >>> report = check_system(system, pipeline=False)
    >>> report.passed, [r.check for r in report.results]
    (True, ['shapes_and_dtypes', 'consistency', 'jacobians_finite_differences', 'determinism'])

    A wrong Jacobian is caught, with the size of the error:

    >>> class Wrong(UGRNNSystem):
    ...     def _jacobian_state(self, h, x):
    ...         return 1.01 * super()._jacobian_state(h, x)
    ...     def _jacobians(self, h, x):
    ...         return self._jacobian_state(h, x), self._jacobian_input(h, x)
    >>> bad = Wrong(rng.normal(size=(2, 6)), rng.normal(size=(3, 6)))
    >>> check_system(bad, pipeline=False)
    Traceback (most recent call last):
    ...
    ConformanceError: Conformance of Wrong(...): 2 of 4 checks passed ...
    """
    kw: dict[str, Any] = {"states": states, "inputs": inputs, "n_points": n_points, "seed": seed}
    results = [
        _run("shapes_and_dtypes", lambda: check_shapes_and_dtypes(system, **kw)),
        _run("consistency", lambda: check_consistency(system, **kw)),
    ]
    if reference_step is not None:
        ref = reference_step
        results.append(
            _run(
                "step_against_reference",
                lambda: check_step_against(system, ref, rtol=step_rtol, atol=step_atol, **kw),
            )
        )
    results.append(
        _run(
            "jacobians_finite_differences",
            lambda: check_jacobians_finite_differences(
                system, rtol=rtol, relative_step=relative_step, **kw
            ),
        )
    )
    if reference_system is not None:
        other = reference_system
        results.append(
            _run(
                "jacobians_against_reference",
                lambda: check_jacobians_against(system, other, rtol=rtol, **kw),
            )
        )
    results.append(_run("determinism", lambda: check_determinism(system, **kw)))
    if pipeline:
        results.append(
            _run(
                "analysis_pipeline",
                lambda: check_analysis_pipeline(
                    system, states=states, n_points=n_points, seed=seed
                ),
            )
        )
    report = ConformanceReport(system=_name(system), results=tuple(results))
    if raise_on_failure:
        report.raise_if_failed()
    return report
