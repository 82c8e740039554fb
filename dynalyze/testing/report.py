"""Outcomes of conformance checks: :class:`CheckResult`, :class:`ConformanceReport`, errors."""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs

__all__ = ["CheckResult", "ConformanceError", "ConformanceReport"]


class ConformanceError(AssertionError):
    """A recurrent system failed one or more conformance checks.

    It is an :class:`AssertionError`, so pytest reports it as a test failure
    with its message. :attr:`results` holds the failed :class:`CheckResult`
    objects (one for a single check, all failures for
    :func:`dynalyze.testing.check_system`).

    Parameters
    ----------
    message : str
        What failed and by how much.
    results : sequence of CheckResult
        The failed checks.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> from dynalyze.testing import check_step_against
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), np.eye(2))
    >>> try:
    ...     check_step_against(system, lambda h, x: h + 1.0)
    ... except ConformanceError as exc:
    ...     print(isinstance(exc, AssertionError), exc.results[0].check, exc.results[0].passed)
    True step_against_reference False
    """

    def __init__(self, message: str, results: Sequence[CheckResult] = ()) -> None:
        super().__init__(message)
        self.results: tuple[CheckResult, ...] = tuple(results)


@attrs.frozen(kw_only=True)
class CheckResult:
    """The outcome of one conformance check.

    Parameters
    ----------
    check : str
        Name of the check, e.g. ``"jacobians_finite_differences"``.
    passed : bool
        Whether the system passed it.
    detail : str
        What was checked (passed) or what went wrong and by how much (failed).
    error : float
        The largest error measured (relative unless the detail says otherwise);
        NaN when the check measures nothing numerical.
    tolerance : float
        The tolerance ``error`` was held to (NaN if none).

    Examples
    --------
    >>> CheckResult(check="determinism", passed=True, detail="ok", error=0.0, tolerance=1e-12)
    CheckResult(check='determinism', passed=True, detail='ok', error=0.0, tolerance=1e-12)
    """

    check: str
    passed: bool
    detail: str
    error: float = math.nan
    tolerance: float = math.nan

    def __str__(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        numbers = ""
        if not math.isnan(self.error):
            relation = "<=" if self.passed else "> tolerance"
            numbers = f" [error {self.error:.2e} {relation} {self.tolerance:.0e}]"
        return f"{mark} {self.check}{numbers}: {self.detail}"


@attrs.frozen(kw_only=True)
class ConformanceReport:
    """Results of :func:`dynalyze.testing.check_system` for one system.

    Parameters
    ----------
    system : str
        Description of the system checked (its ``repr``).
    results : tuple of CheckResult
        One entry per check, in the order they ran.

    Examples
    --------
    >>> report = ConformanceReport(system="S()", results=(
    ...     CheckResult(check="a", passed=True, detail="fine"),))
    >>> report.passed, [r.check for r in report.failures]
    (True, [])
    >>> print(report)
    Conformance of S(): 1 of 1 checks passed
      PASS a: fine
    """

    system: str
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(result.passed for result in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The checks that failed."""
        return tuple(result for result in self.results if not result.passed)

    def result(self, check: str) -> CheckResult:
        """The result of the check named ``check``."""
        for result in self.results:
            if result.check == check:
                return result
        raise KeyError(
            f"No check named {check!r} ran; the report has {[r.check for r in self.results]}."
        )

    def raise_if_failed(self) -> None:
        """Raise :class:`ConformanceError` listing every failed check, if any failed."""
        if not self.passed:
            raise ConformanceError(str(self), self.failures)

    def __str__(self) -> str:
        passed = sum(result.passed for result in self.results)
        lines = [f"Conformance of {self.system}: {passed} of {len(self.results)} checks passed"]
        lines += [f"  {result}" for result in self.results]
        return "\n".join(lines)
