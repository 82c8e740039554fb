"""The N-class simplex-attractor analysis (Aitken et al. 2020) as a run plug-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import attrs

from dynalyze.analyses.base import (
    Analysis,
    AnalysisOutput,
    ReportSection,
    Summary,
    read_variables,
    summary_of,
)
from dynalyze.analyses.context import RunContext
from dynalyze.analyses.simplex.report import classes_headline, simplex_section
from dynalyze.results.fragments import SchemaFragment
from dynalyze.results.schema import KINDS, SCHEMA_VERSION

__all__ = ["FRAGMENT", "SimplexAnalysis", "SimplexSummary"]

#: Documents whose token-by-token states are saved.
TRAJECTORIES_SAVED = 100

FRAGMENT = SchemaFragment(
    name="simplex_attractor",
    version=SCHEMA_VERSION,
    kinds={kind: KINDS[kind] for kind in ("simplex_attractor", "trajectories")},
)

#: Scalars of the ``simplex_attractor`` dataset in the summary.
SCALARS = (
    "n_classes",
    "expected_dimension",
    "late_state_dim_95",
    "late_state_participation_ratio",
    "fixed_point_dim_95",
    "n_fixed_points_used",
    "median_n_slow_modes",
    "late_state_readout_alignment",
    "slow_readout_alignment",
    "readout_simplex_error",
    "simplex_cosine",
    "reduced_agreement",
    "reduced_accuracy",
    "baseline_norm",
    "baseline_relative_norm",
)


def _metric(text: str) -> Any:
    return attrs.field(default=None, metadata={"long_name": text})


@summary_of(*SCALARS)
@attrs.frozen(kw_only=True)
class SimplexSummary(Summary):
    """The N-class attractor's dimension, fixed points, slow modes and readout geometry.

    Examples
    --------
    >>> SimplexSummary.metrics()["late_state_dim_95"]
    'principal components for 95% of the final states (N-class)'
    """

    n_classes: int | None = _metric("number of classes")
    expected_dimension: int | None = None
    late_state_dim_95: int | None = _metric(
        "principal components for 95% of the final states (N-class)"
    )
    late_state_participation_ratio: float | None = _metric(
        "participation ratio of the final states (N-class)"
    )
    fixed_point_dim_95: int | None = _metric("dimensions spanned by the fixed points (N-class)")
    n_fixed_points_used: int | None = None
    median_n_slow_modes: float | None = _metric("median slow modes per fixed point (N-class)")
    late_state_readout_alignment: float | None = None
    slow_readout_alignment: float | None = _metric(
        "share of the readout's class space in the slow subspace (N-class)"
    )
    readout_simplex_error: float | None = _metric(
        "largest deviation of the readout from a regular simplex (N-class)"
    )
    simplex_cosine: float | None = None
    reduced_agreement: float | None = None
    reduced_accuracy: float | None = None
    baseline_norm: float | None = None
    baseline_relative_norm: float | None = None
    baseline: str | None = None
    class_names: list[str] = attrs.field(factory=list)
    n_accepted: int | None = None
    mechanism: str | None = None
    headline: str | None = None


def _mechanism(dim: int | None, expected: int | None) -> str:
    if dim is None or expected is None:
        return "unknown"
    if dim == expected:
        return "simplex_attractor"
    return "lower_dimensional_attractor" if dim < expected else "higher_dimensional"


@attrs.frozen(kw_only=True)
class SimplexAnalysis(Analysis):
    """Dimension and geometry of the attractor of an N-class classifier.

    Parameters
    ----------
    config : dynalyze.analyses.simplex.attractor.SimplexAttractor, optional
        Default: ``SimplexAttractor`` with the run's ``n_initial``, ``seed`` and
        ``baseline``.

    Examples
    --------
    >>> from dynalyze.testing import toys
    >>> clf, _ = toys.exact_integrator()
    >>> SimplexAnalysis().applies_to(clf)  # one logit: the line attractor's job
    False
    """

    name: ClassVar[str] = "simplex_attractor"
    title: ClassVar[str] = "simplex attractor"
    fragment: ClassVar[SchemaFragment | None] = FRAGMENT
    summary_type: ClassVar[type[Summary] | None] = SimplexSummary

    config: Any = None

    def applies_to(self, classifier: Any) -> bool:
        """Classifiers with more than one logit."""
        return int(getattr(classifier, "n_outputs", 1)) > 1

    def fit(self, context: RunContext) -> AnalysisOutput:
        """Trace the analysed documents and measure the attractor."""
        from dynalyze.analyses.simplex.attractor import SimplexAttractor

        clf, data, opts = context.classifier, context.data, context.options
        trajectories = clf.trajectories(
            context.analysed_ids,
            labels=context.analysed_labels,
            provenance={"split": "test", "n_documents": context.n_analysed},
        )
        config = self.config or SimplexAttractor(
            n_initial=opts.n_initial, seed=opts.seed, baseline=opts.baseline
        )
        simplex = config.fit(clf, trajectories, baseline_ids=context.train_ids)
        names = list(data.class_names)
        simplex = simplex.assign_coords({"class": names, "class_b": names})
        values = read_variables(simplex, SCALARS)
        fields: dict[str, Any] = {
            **values,
            "baseline": "zero" if int(simplex["baseline_kind"]) == 0 else "mean",
            "class_names": names,
            "n_accepted": values["n_fixed_points_used"],
            "mechanism": _mechanism(values["late_state_dim_95"], values["expected_dimension"]),
        }
        fields["headline"] = classes_headline(fields)
        saved = trajectories.isel(example=slice(0, TRAJECTORIES_SAVED))
        return AnalysisOutput(
            datasets={"simplex_attractor": simplex, "trajectories": saved},
            summary=SimplexSummary(**fields),
            state={"trajectories": trajectories},
            config=attrs.asdict(config),
        )

    def figures(self, output: AnalysisOutput, folder: Path) -> dict[str, Path]:
        """``class_states.png``: the final states by class on their first two PCs."""
        from dynalyze._atomic import atomic_path
        from dynalyze.analyses.simplex.figures import class_states

        path = folder / "class_states.png"
        with atomic_path(path, keep_suffix=True) as tmp:
            states, simplex = output.state["trajectories"], output.datasets["simplex_attractor"]
            class_states(states, simplex).savefig(tmp, dpi=120)
        return {"class_states": path}

    def report(self, output: AnalysisOutput, context: RunContext) -> ReportSection:
        """The attractor's dimension, fixed points, slow modes and readout geometry."""
        return simplex_section(output.summary.to_dict(), output.datasets["simplex_attractor"])

