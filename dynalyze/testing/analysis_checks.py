"""``check_analysis``: the ``check_estimator`` of analyses.

An analysis joins ``dynalyze run`` as an :class:`~dynalyze.analyses.Analysis`
subclass registered under the entry-point group ``dynalyze.analyses``.
:func:`check_analysis` fits it on a constructed network whose answer is known
(:func:`dynalyze.testing.toys.integrator_context`: an exact line attractor and
its documents) and checks that it behaves as the run loop expects.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from dynalyze.analyses.base import Analysis, AnalysisOutput, ReportSection, Summary
from dynalyze.analyses.context import RunContext
from dynalyze.errors import DynalyzeError
from dynalyze.results.fragments import register_fragment
from dynalyze.testing.report import CheckResult, ConformanceError, ConformanceReport

__all__ = ["check_analysis"]

Check = Callable[[], CheckResult]


def _fail(check: str, detail: str) -> ConformanceError:
    return ConformanceError(detail, [CheckResult(check=check, passed=False, detail=detail)])


def _run(check: str, fn: Check) -> CheckResult:
    try:
        return fn()
    except ConformanceError as exc:
        return (
            exc.results[0]
            if exc.results
            else CheckResult(check=check, passed=False, detail=str(exc))
        )
    except Exception as exc:
        return CheckResult(check=check, passed=False, detail=f"raised {type(exc).__name__}: {exc}")


def _declaration(analysis: Analysis) -> CheckResult:
    check = "declaration"
    for attribute in ("name", "title"):
        value = getattr(analysis, attribute, None)
        if not isinstance(value, str) or not value:
            raise _fail(check, f"`{attribute}` must be a non-empty string; got {value!r}.")
    summary_type = getattr(analysis, "summary_type", None)
    if summary_type is None or not (
        isinstance(summary_type, type) and issubclass(summary_type, Summary)
    ):
        raise _fail(check, f"`summary_type` must be a Summary subclass; got {summary_type!r}.")
    if not attrs.has(summary_type):
        raise _fail(check, f"{summary_type.__name__} must be an attrs class.")
    if not isinstance(analysis.requires, tuple):
        raise _fail(check, "`requires` must be a tuple of analysis names.")
    if analysis.fragment is not None:
        register_fragment(analysis.fragment)  # as the run loop does; refused clashes fail here
    return CheckResult(
        check=check, passed=True, detail=f"{analysis.name!r}: name, title, summary_type, requires"
    )


def _output(analysis: Analysis, output: Any) -> CheckResult:
    check = "fit_output"
    if not isinstance(output, AnalysisOutput):
        raise _fail(check, f"fit returned {type(output).__name__}, not an AnalysisOutput.")
    if not isinstance(output.summary, analysis.summary_type or Summary):
        raise _fail(
            check, f"the summary is a {type(output.summary).__name__}, not its summary_type."
        )
    json.dumps(output.summary.to_dict())  # run.json must hold it
    kinds = {stem: ds.attrs.get("dynalyze_kind") for stem, ds in output.datasets.items()}
    declared = set((analysis.fragment.kinds if analysis.fragment else {}).keys())
    stray = {stem: kind for stem, kind in kinds.items() if kind not in declared}
    if stray:
        raise _fail(
            check,
            f"datasets {stray} are of kinds its schema fragment does not declare "
            f"({sorted(declared)}); build them with dynalyze.results.make_dataset.",
        )
    return CheckResult(
        check=check, passed=True, detail=f"{len(kinds)} dataset(s) of declared kinds; summary JSON"
    )


def _round_trip(output: AnalysisOutput, folder: Path) -> CheckResult:
    from dynalyze.results.io import load, save

    check = "schema_round_trip"
    for stem, ds in output.datasets.items():
        back = load(save(ds, folder / f"{stem}.nc"))
        if sorted(map(str, back.data_vars)) != sorted(map(str, ds.data_vars)):
            raise _fail(check, f"{stem}: variables changed on a save/load round trip.")
        for name in ds.data_vars:
            a, b = np.asarray(ds[name].values), np.asarray(back[name].values)
            same = np.array_equal(a, b, equal_nan=True) if a.dtype.kind in "fc" else np.all(a == b)
            if not same:
                raise _fail(check, f"{stem}.{name} changed on a save/load round trip.")
    return CheckResult(
        check=check,
        passed=True,
        detail=f"{len(output.datasets)} dataset(s) validate and round-trip",
    )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (np.isnan(a) and np.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _determinism(analysis: Analysis, first: AnalysisOutput, context: RunContext) -> CheckResult:
    check = "determinism"
    second = analysis.fit(_fresh(context, first_outputs=context.outputs))
    if second is None or not _same(first.summary.to_dict(), second.summary.to_dict()):
        raise _fail(check, "a second fit on the same inputs gave another summary.")
    for stem, ds in first.datasets.items():
        if not ds.drop_attrs().identical(second.datasets[stem].drop_attrs()):
            raise _fail(check, f"a second fit gave another {stem!r} dataset.")
    return CheckResult(check=check, passed=True, detail="same inputs, same summary and datasets")


def _report(analysis: Analysis, output: AnalysisOutput, context: RunContext, folder: Path) -> Any:
    from dynalyze.analyses.report import render_report

    check = "report_section"
    section = analysis.report(output, context)
    if not isinstance(section, ReportSection):
        raise _fail(check, f"report returned {type(section).__name__}, not a ReportSection.")
    bad = [line for line in section.lines if not isinstance(line, str)]
    if bad or not section.lines:
        raise _fail(check, "the section's lines must be a non-empty sequence of str.")
    figures = analysis.figures(output, folder)
    missing = [name for name, path in figures.items() if not Path(path).is_file()]
    if missing:
        raise _fail(check, f"figures {missing} were returned but not written.")
    text = render_report(output.summary.to_dict(), [section], figures, None, None, base=folder)
    if section.lines[0] not in text:
        raise _fail(check, "the section does not appear in the rendered report.")
    return CheckResult(
        check=check, passed=True, detail=f"{len(section.lines)} lines, {len(figures)} figure(s)"
    )


def _bad_input(analysis: Analysis, context: RunContext) -> CheckResult:
    check = "bad_input"
    if attrs.has(type(context.data)):
        empty = attrs.evolve(context.data, test_texts=[], test_labels=np.zeros(0, np.int8))
    else:
        empty = copy.copy(context.data)
        empty.test_texts, empty.test_labels = [], np.zeros(0, np.int8)
    try:
        result = analysis.fit(_fresh(context, data=empty, first_outputs=context.outputs))
    except DynalyzeError as exc:
        return CheckResult(check=check, passed=True, detail=f"no documents: {type(exc).__name__}")
    except Exception as exc:
        raise _fail(
            check,
            f"fit on a split without documents raised {type(exc).__name__}: {exc}; raise a "
            "dynalyze.errors.DynalyzeError (e.g. DataError) that says what is missing.",
        ) from None
    if result is None:
        return CheckResult(check=check, passed=True, detail="no documents: nothing to report")
    _output(analysis, result)
    return CheckResult(check=check, passed=True, detail="no documents: runs without them")


def _fresh(context: RunContext, *, data: Any = None, first_outputs: Any = None) -> RunContext:
    return attrs.evolve(
        context, data=data if data is not None else context.data, outputs=dict(first_outputs or {})
    )


def check_analysis(
    analysis: Analysis,
    context: RunContext | None = None,
    *,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Check that an analysis behaves as ``dynalyze run`` expects.

    The checks, in order (each runs even if an earlier one failed):

    ``declaration``
        ``name``, ``title``, ``requires``, an attrs ``summary_type``, and a
        schema fragment that registers (as the run loop registers it).
    ``applies``
        ``applies_to`` says yes to the context's classifier.
    ``fit_output``
        ``fit`` returns an :class:`~dynalyze.analyses.AnalysisOutput` whose
        datasets are of kinds its schema fragment declares and whose summary is
        a ``summary_type`` that ``run.json`` can hold.
    ``schema_round_trip``
        Every dataset validates and survives ``save`` / ``load`` unchanged.
    ``determinism``
        A second fit on the same inputs gives the same summary and datasets.
    ``report_section``
        ``report`` gives a :class:`~dynalyze.analyses.ReportSection` that renders
        into a run report; ``figures`` writes the files it names.
    ``bad_input``
        On a split without documents ``fit`` raises a dynalyze error, returns
        ``None`` or a valid output (an analysis that needs no documents); any
        other exception (a traceback from deep inside) fails.

    Parameters
    ----------
    analysis : Analysis
        The analysis under test.
    context : RunContext, optional
        Where to fit it; default :func:`dynalyze.testing.toys.integrator_context`
        with the outputs of the built-in analyses it ``requires``.
    raise_on_failure : bool
        Raise :class:`~dynalyze.testing.ConformanceError` listing the failures.

    Returns
    -------
    ConformanceReport

    Examples
    --------
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.analyses.line_attractor import LineAttractorAnalysis
    >>> report = check_analysis(LineAttractorAnalysis(config=LineAttractor(n_initial=40)))
    >>> report.passed, [r.check for r in report.results][:3]
    (True, ['declaration', 'applies', 'fit_output'])
    """
    context = context if context is not None else _default_context(analysis)
    results = [_run("declaration", lambda: _declaration(analysis))]
    applies = bool(analysis.applies_to(context.classifier))
    results.append(
        CheckResult(check="applies", passed=applies, detail=f"applies_to(classifier) is {applies}")
    )
    with tempfile.TemporaryDirectory() as tmp:
        output: Any = None

        def fit() -> CheckResult:
            nonlocal output
            output = analysis.fit(_fresh(context, first_outputs=context.outputs))
            return _output(analysis, output)

        results.append(_run("fit_output", fit))
        if isinstance(output, AnalysisOutput):
            out = output
            results += [
                _run("schema_round_trip", lambda: _round_trip(out, Path(tmp))),
                _run("determinism", lambda: _determinism(analysis, out, context)),
                _run("report_section", lambda: _report(analysis, out, context, Path(tmp))),
            ]
        results.append(_run("bad_input", lambda: _bad_input(analysis, context)))
    report = ConformanceReport(system=analysis.name, results=tuple(results))
    if raise_on_failure:
        report.raise_if_failed()
    return report


def _default_context(analysis: Analysis) -> RunContext:
    from dynalyze.analyses import list_analyses
    from dynalyze.testing.toys import integrator_context

    context: RunContext = integrator_context()
    installed = list_analyses()
    for name in analysis.requires:
        required = installed[name]()
        result = required.fit(context)
        if result is not None:
            context.outputs[name] = result
    return context
