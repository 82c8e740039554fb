"""What every conformance check shares: test points and the comparison of results.

Errors are compared per test point as ``||got - want|| / (||want|| + 1e-8)``
(Frobenius norms over the point's entries), and the worst point is reported. A
check collects its problems and ends with :func:`_finish`, which raises
:class:`~dynalyze.testing.ConformanceError` if there were any.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np
from numpy.typing import ArrayLike

from dynalyze._validation import FloatArray
from dynalyze.systems.base import RecurrentSystem
from dynalyze.testing.report import CheckResult, ConformanceError

__all__ = ["Comparison", "ReferenceStep", "sample_points"]

#: ``reference(h, x) -> next states``: batched, ``(n, state_dim)``, any float dtype.
ReferenceStep = Callable[[FloatArray, FloatArray], Any]

#: Denominator floor of relative errors (so an all-zero Jacobian compares absolutely).
_FLOOR = 1e-8


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


#: ``(got, want, what, against)``: one comparison of a check.
Comparison = tuple[Any, Any, str, str]


def _compare_all(comparisons: list[Comparison], *, rtol: float) -> tuple[list[str], list[float]]:
    """Every comparison's worst relative error, and the messages of those above ``rtol``."""
    problems: list[str] = []
    errors: list[float] = []
    for got, want, what, against in comparisons:
        err, message = _compare(
            np.asarray(got), np.asarray(want), what=what, against=against, rtol=rtol
        )
        errors.append(err)
        if message:
            problems.append(message)
    return problems, errors


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
