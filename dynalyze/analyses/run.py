"""The generic run loop: for each analysis, fit -> save -> figures -> report section -> summary.

:func:`run_analyses` is what ``dynalyze run`` does once the classifier is
trained; it knows nothing about any particular analysis.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from dynalyze.analyses.base import Analysis, AnalysisOutput, ReportSection
from dynalyze.analyses.context import RunContext
from dynalyze.errors import ConfigurationError
from dynalyze.results.fragments import register_fragment

__all__ = ["AnalysesRun", "run_analyses"]

logger = logging.getLogger(__name__)

Stage = Callable[[str], Any]


@attrs.frozen(kw_only=True)
class AnalysesRun:
    """What the analyses of a run produced.

    Parameters
    ----------
    outputs : dict
        Each analysis's output by name (analyses that found nothing to do are absent).
    sections : list of ReportSection
        Report sections in run order.
    figures : dict
        Figure name -> path.
    summary : dict
        Every analysis's summary merged (first analysis wins a shared name).
    files : dict
        Results file stem -> path.
    timings : dict
        Seconds of each analysis's fit: its own stages when it reports them
        (:attr:`AnalysisOutput.timings`), else its total under its title.

    Examples
    --------
    See :func:`run_analyses`; an empty run:

    >>> AnalysesRun(outputs={}, sections=[], figures={}, summary={}, files={}).record()
    {}
    """

    outputs: dict[str, AnalysisOutput]
    sections: list[ReportSection]
    figures: dict[str, Path]
    summary: dict[str, Any]
    files: dict[str, Path]
    timings: dict[str, float] = attrs.field(factory=dict)

    def record(self) -> dict[str, Any]:
        """Per analysis: its configuration, summary, files and timings (``run.json``)."""
        return {
            name: {
                "config": dict(output.config),
                "summary": output.summary.to_dict(),
                "files": sorted(f"results/{stem}.nc" for stem in output.datasets),
                "timings_s": dict(output.timings),
            }
            for name, output in self.outputs.items()
        }


def _no_stage(_name: str) -> Any:
    return contextlib.nullcontext()


def _save(
    analysis: Analysis, output: AnalysisOutput, folder: Path, files: dict[str, Path]
) -> None:
    from dynalyze.results.io import save

    for stem, ds in output.datasets.items():
        if stem in files:
            raise ConfigurationError(
                f"Analysis {analysis.name!r} writes results/{stem}.nc, which another analysis "
                "of this run already wrote; give its dataset another name."
            )
        files[stem] = save(ds, folder / f"{stem}.nc")


def _merge(summary: dict[str, Any], analysis: Analysis, output: AnalysisOutput) -> None:
    for key, value in output.summary.to_dict().items():
        if key in summary:
            logger.warning(
                "analysis %r's summary field %r is already set by an earlier analysis; "
                "run.json keeps it under analyses.%s.summary",
                analysis.name,
                key,
                analysis.name,
            )
            continue
        summary[key] = value


def run_analyses(
    analyses: Sequence[Analysis],
    context: RunContext,
    out: str | Path,
    *,
    stage: Stage | None = None,
) -> AnalysesRun:
    """Run ``analyses`` in order on ``context``; write ``results/`` and ``figures/`` under ``out``.

    Parameters
    ----------
    analyses : sequence of Analysis
        In run order (:func:`dynalyze.analyses.analyses_for`).
    context : RunContext
        The classifier, data and shared evidence; each output is added to
        ``context.outputs`` for the analyses that follow.
    out : path-like
        The run's (staging) folder.
    stage : callable, optional
        ``stage(name)`` returns a context manager timing a stage (a Stopwatch):
        saving and figures; the fits' seconds are :attr:`AnalysesRun.timings`.

    Returns
    -------
    AnalysesRun

    Examples
    --------
    >>> import tempfile
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.analyses.line_attractor import LineAttractorAnalysis
    >>> from dynalyze.testing import toys
    >>> context = toys.integrator_context()
    >>> with tempfile.TemporaryDirectory() as out:
    ...     run = run_analyses([LineAttractorAnalysis(config=LineAttractor(n_initial=40))],
    ...                        context, out)
    ...     names = sorted(path.name for path in Path(out, "results").iterdir())
    >>> names[:3], run.summary["mechanism"]
    (['continuation.nc', 'fixed_points.nc', 'line_attractor.nc'], 'line_attractor')
    """
    timed = stage or _no_stage
    results, figures_folder = Path(out) / "results", Path(out) / "figures"
    results.mkdir(parents=True, exist_ok=True)
    figures_folder.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, AnalysisOutput] = {}
    sections: list[ReportSection] = []
    figures: dict[str, Path] = {}
    files: dict[str, Path] = {}
    summary: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for analysis in analyses:
        if analysis.fragment is not None:
            register_fragment(analysis.fragment)  # idempotent; a script's analysis too
        start = time.perf_counter()
        output = analysis.fit(context)
        seconds = round(time.perf_counter() - start, 3)
        logger.info("analysis %s done in %.1f s", analysis.name, seconds)
        timings.update(output.timings if output is not None and output.timings else {})
        if output is None or not output.timings:
            timings[analysis.title] = seconds
        if output is None:
            logger.info("analysis %r had nothing to report on this network", analysis.name)
            continue
        outputs[analysis.name] = context.outputs[analysis.name] = output
        with timed("save results"):
            _save(analysis, output, results, files)
        with timed("figures"):
            figures.update(analysis.figures(output, figures_folder))
        sections.append(analysis.report(output, context))
        _merge(summary, analysis, output)
    return AnalysesRun(
        outputs=outputs,
        sections=sections,
        figures=figures,
        summary=summary,
        files=files,
        timings=timings,
    )
