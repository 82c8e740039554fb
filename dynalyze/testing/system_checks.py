"""Numerical conformance checks of a recurrent system: shapes, consistency, Jacobians.

Every ``check_*`` function takes the system (and optionally the states and
inputs to test at), raises :class:`~dynalyze.testing.ConformanceError` (an
``AssertionError``) with a message saying what failed and by how much, and
otherwise returns a :class:`~dynalyze.testing.CheckResult`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from dynalyze.results.build import to_json
from dynalyze.systems.base import RecurrentSystem
from dynalyze.systems.finite_differences import finite_difference_jacobians
from dynalyze.testing._scaffold import (
    ReferenceStep,
    _compare_all,
    _fail,
    _finish,
    _name,
    _points,
)
from dynalyze.testing.report import CheckResult

__all__ = [
    "check_consistency",
    "check_determinism",
    "check_jacobians_against",
    "check_jacobians_finite_differences",
    "check_shapes_and_dtypes",
    "check_step_against",
]

_JACOBIAN_METHODS = ("analytic", "autodiff", "finite-difference")


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
    problems, errors = _compare_all(comparisons, rtol=rtol)
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
    fd = "central finite differences of step"
    problems, errors = _compare_all(
        [
            (jh, fd_h, "jacobian_state", fd),
            (jx, fd_x, "jacobian_input", fd),
            (system.vjp_state(h, x, v), np.einsum("ni,nij->nj", v, fd_h), "vjp_state", fd),
        ],
        rtol=rtol,
    )
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
    problems, errors = _compare_all(
        [
            (system.step(h, x), reference.step(h, x), "step", against),
            (jh, rh, "jacobian_state", against),
            (jx, rx, "jacobian_input", against),
        ],
        rtol=rtol,
    )
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
    problems, errors = _compare_all(comparisons, rtol=rtol)
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
