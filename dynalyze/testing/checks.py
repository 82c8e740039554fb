"""The conformance driver: :func:`check_system` runs every check on a system.

The checks themselves live in :mod:`dynalyze.testing.system_checks` (shapes,
consistency, steps and Jacobians against references, determinism) and
:mod:`dynalyze.testing.pipeline_checks` (fixed points, linearization and
save/load give valid results); this module runs them in order, turns an
exception raised by the system into a failed check, and collects a
:class:`~dynalyze.testing.ConformanceReport`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numpy.typing import ArrayLike

from dynalyze.systems.base import RecurrentSystem
from dynalyze.testing._scaffold import ReferenceStep, _name, sample_points
from dynalyze.testing.pipeline_checks import check_analysis_pipeline, check_result_dataset
from dynalyze.testing.report import CheckResult, ConformanceError, ConformanceReport
from dynalyze.testing.system_checks import (
    check_consistency,
    check_determinism,
    check_jacobians_against,
    check_jacobians_finite_differences,
    check_shapes_and_dtypes,
    check_step_against,
)

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
