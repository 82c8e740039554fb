"""The line-attractor analysis (Maheswaranathan et al. 2019) as a run plug-in.

:class:`LineAttractorAnalysis` runs :class:`dynalyze.LineAttractor`
on a binary classifier inside ``dynalyze run``: the stages are the pure
functions of this package (search, views, structure, manifold, drift, stages,
geometry, continuation); this package owns what the run needs around them: its
schema fragment, its typed summary (:mod:`.summary`), its report section
(:mod:`.report`) and its figures.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import xarray as xr

from dynalyze.analyses.base import Analysis, AnalysisOutput, ReportSection, Summary
from dynalyze.analyses.context import RunContext
from dynalyze.analyses.line_attractor.attractor import (
    BaselineComparison,
    Evidence,
    LineAttractor,
    LineAttractorResult,
)
from dynalyze.analyses.line_attractor.report import line_attractor_section
from dynalyze.analyses.line_attractor.search import Search
from dynalyze.analyses.line_attractor.stages import pearson_r, sign_agreement
from dynalyze.analyses.line_attractor.summary import LineAttractorSummary, summarize
from dynalyze.analyses.line_attractor.views import View
from dynalyze.results.fragments import SchemaFragment
from dynalyze.results.schema import KINDS, SCHEMA_VERSION

__all__ = [
    "FRAGMENT",
    "BaselineComparison",
    "Evidence",
    "LineAttractor",
    "LineAttractorAnalysis",
    "LineAttractorResult",
    "LineAttractorSummary",
    "Search",
    "View",
    "pearson_r",
    "sign_agreement",
    "vader_lexicon",
]

logger = logging.getLogger(__name__)

#: Documents whose full trajectories are written to ``results/trajectories.nc``.
TRAJECTORIES_SAVED = 100
#: Fixed points (spread along the manifold) whose full linearization is written.
LINEARIZATIONS_SAVED = 20

#: The kinds of dataset this analysis writes (declared in the built-in schema table).
FRAGMENT = SchemaFragment(
    name="line_attractor",
    version=SCHEMA_VERSION,
    kinds={
        kind: KINDS[kind]
        for kind in (
            "fixed_points",
            "linearization",
            "trajectories",
            "line_attractor",
            "line_attractor_view",
            "continuation",
        )
    },
)


def vader_lexicon() -> dict[str, float]:
    """VADER's human valence ratings (token -> mean rating), from the vaderSentiment package.

    Examples
    --------
    >>> ratings = vader_lexicon()
    >>> ratings["good"] > 0 > ratings["bad"]
    True
    """
    text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8")
    ratings: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            try:
                ratings[parts[0]] = float(parts[1])
            except ValueError:
                continue
    return ratings


def spread_subset(linearization: xr.Dataset, attractor: xr.Dataset) -> xr.Dataset:
    """The linearization at up to LINEARIZATIONS_SAVED points spread along the manifold."""
    n = linearization.sizes["fixed_point"]
    if n <= LINEARIZATIONS_SAVED:
        return linearization
    order = np.argsort(attractor["manifold_coordinate"].values)
    pick = order[np.linspace(0, n - 1, LINEARIZATIONS_SAVED).round().astype(int)]
    return linearization.isel(fixed_point=np.sort(pick))


def _evidence(context: RunContext) -> dict[str, Any]:
    """The keyword evidence of :meth:`LineAttractor.analyze` available in ``context``."""
    from dynalyze.classifier import RecurrentClassifier

    clf, data = context.classifier, context.data
    n_cal = min(context.n_analysed, len(data.validation_texts))
    evidence: dict[str, Any] = {
        "vader": vader_lexicon(),
        "calibration_ids": context.encode(data.validation_texts[:n_cal]),
        "calibration_labels": np.asarray(data.validation_labels[:n_cal]),
        # The mean token embedding of the training documents: the input the network runs at.
        "baseline_ids": context.train_ids,
    }
    if context.bow is not None:
        evidence["bow_weights"] = context.bow.weights
    if context.untrained_model is not None:
        untrained = RecurrentClassifier.from_model(context.untrained_model, clf.vocabulary)
        evidence["untrained_states"] = untrained.stream(context.analysed_ids)
    if getattr(data, "true_valences", None) is not None:
        truth = data.true_valences
        evidence["true_valence"] = np.array(
            [truth.get(t, np.nan) for t in clf.vocabulary.tokens]
        )
    return evidence


@attrs.frozen(kw_only=True)
class LineAttractorAnalysis(Analysis):
    """Fixed points, linearization and the line attractor of a binary classifier.

    Parameters
    ----------
    config : dynalyze.LineAttractor, optional
        The analysis's configuration; by default ``LineAttractor`` with the run's
        ``n_initial``, ``seed``, ``baseline`` and ``progress``.

    Examples
    --------
    >>> from dynalyze.testing import toys
    >>> from dynalyze import LineAttractor
    >>> context = toys.integrator_context()
    >>> analysis = LineAttractorAnalysis(config=LineAttractor(n_initial=40))
    >>> analysis.applies_to(context.classifier)
    True
    >>> output = analysis.fit(context)
    >>> sorted(output.datasets)[:3], output.summary.mechanism
    (['continuation', 'fixed_points', 'line_attractor'], 'line_attractor')
    """

    name: ClassVar[str] = "line_attractor"
    title: ClassVar[str] = "line attractor"
    fragment: ClassVar[SchemaFragment | None] = FRAGMENT
    summary_type: ClassVar[type[Summary] | None] = LineAttractorSummary

    config: Any = None

    def applies_to(self, classifier: Any) -> bool:
        """Binary classifiers (one logit)."""
        return int(getattr(classifier, "n_outputs", 1)) == 1

    def resolved(self, context: RunContext) -> Any:
        """The :class:`~dynalyze.LineAttractor` this run uses."""
        if self.config is not None:
            return self.config
        opts = context.options
        return LineAttractor(
            n_initial=opts.n_initial, seed=opts.seed, progress=opts.progress, baseline=opts.baseline
        )

    def fit(self, context: RunContext) -> AnalysisOutput:
        """Trace the analysed documents and run the whole line-attractor analysis."""
        clf, n = context.classifier, context.n_analysed
        ids, labels = context.analysed_ids, context.analysed_labels
        stream = clf.stream(
            ids,
            labels=labels,
            example_index=np.arange(n),
            provenance={"split": "test", "n_documents": n},
        )
        n_saved = min(TRAJECTORIES_SAVED, n)
        saved = clf.trajectories(
            ids[:n_saved],
            labels=labels[:n_saved],
            example_index=np.arange(n_saved),
            provenance={"split": "test"},
        )
        config = self.resolved(context)
        result = config.analyze(clf, stream, **_evidence(context))
        datasets: dict[str, xr.Dataset] = {
            "fixed_points": result.fixed_points,
            "line_attractor": result.attractor,
            "trajectories": saved,
        }
        if result.linearization is not None:
            datasets["linearization"] = spread_subset(result.linearization, result.attractor)
        if result.zero_view is not None:
            datasets["line_attractor_zero"] = result.zero_view
        if result.continuation is not None:
            datasets["continuation"] = result.continuation
        return AnalysisOutput(
            datasets=datasets,
            summary=summarize(result.attractor, result.zero_view, result.continuation),
            timings=dict(result.timings),
            state={"linearization": result.linearization},
            config=attrs.asdict(config),
        )

    def figures(self, output: AnalysisOutput, folder: Path) -> dict[str, Path]:
        """The standard figures (:func:`.figures.save_all`)."""
        from dynalyze.analyses.line_attractor.figures import save_all

        return save_all(
            folder,
            output.datasets["line_attractor"],
            output.state.get("linearization"),
            continuation=output.datasets.get("continuation"),
        )

    def report(self, output: AnalysisOutput, context: RunContext) -> ReportSection:
        """Baseline, structure, profile and the number-by-number comparison with the paper."""
        summary = {**output.summary.to_dict(), "test_accuracy": context.test_accuracy}
        return line_attractor_section(summary, output.datasets["line_attractor"])
