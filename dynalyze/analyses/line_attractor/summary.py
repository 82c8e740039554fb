"""The line attractor's typed summary: :class:`LineAttractorSummary`.

Every scalar field is read from the results variable of the same name (of the
``line_attractor`` dataset at the baseline input, or of the zero-input view with
the suffix ``_at_zero``); :func:`dynalyze.analyses.summary_of` checks at import
that the schema declares each one, so a renamed variable fails here, loudly.
"""

from __future__ import annotations

from typing import Any

import attrs
import xarray as xr

from dynalyze.analyses.base import Summary, read_variables, summary_of

__all__ = ["SCALARS", "ZERO_VIEW_SCALARS", "LineAttractorSummary", "summarize"]

#: Scalars of the zero-input view copied into the summary with the suffix ``_at_zero``.
ZERO_VIEW_SCALARS = (
    "n_accepted",
    "n_fixed_point_clusters",
    "n_stable_clusters",
    "n_unstable_clusters",
    "n_marginal_clusters",
    "n_slow_regions",
    "n_continua",
    "n_isolated_roots",
    "slow_fraction",
    "slow_fraction_visited",
    "median_drift_per_document",
    "middle_drift_per_document",
    "max_drift_per_document",
    "tokens_to_cross",
    "median_slow_subspace_dim",
    "median_alignment_readout_slow",
    "median_alignment_tangent_slow",
    "stable_median_alignment_r1_tangent",
    "stable_median_alignment_readout_r1",
    "fixed_point_pc1_variance",
    "manifold_coverage",
)

#: Scalars of the ``line_attractor`` dataset (at the baseline input) in the summary.
SCALARS = (
    *ZERO_VIEW_SCALARS,
    "baseline_norm",
    "baseline_relative_norm",
    "baseline_n_tokens",
    "n_neutral_tokens",
    "median_neutral_drift_per_document",
    "middle_neutral_drift_per_document",
    "neutral_drift_error_baseline",
    "neutral_drift_error_zero",
    "matched_null_informative",
    "matched_null_tangent_informative",
    "matched_null_subspace_informative",
    "n_candidates",
    "n_slow_point_searches",
    "n_slow_manifold_searches",
    "n_unsettled_searches",
    "manifold_extent",
    "manifold_pc1_variance",
    "manifold_curvature",
    "median_document_length",
    "drift_tolerance",
    "state_dim_95",
    "matched_null_alignment_median",
    "matched_null_alignment_p95",
    "matched_null_tangent_alignment_p95",
    "manifold_low",
    "manifold_high",
    "manifold_visited_low",
    "manifold_visited_high",
    "null_subspace_alignment_p95",
    "matched_null_subspace_alignment_p95",
    "saddle_token_gain_ratio",
    "valence_share_near_unstable",
    "token_count_floor",
    "median_third_time_constant",
    "state_top3_variance",
    "untrained_state_top3_variance",
    "n_fixed_point_groups",
    "median_top_eigenvalue_magnitude",
    "median_slow_time_constant",
    "median_second_time_constant",
    "median_alignment_r1_tangent",
    "median_alignment_readout_tangent",
    "median_alignment_readout_r1",
    "null_alignment_median",
    "null_alignment_p95",
    "bow_pearson_r",
    "bow_sign_agreement",
    "vader_pearson_r",
    "vader_n_shared",
    "true_valence_pearson_r",
    "linearization_error_median",
    "linearization_error_mean",
    "network_accuracy",
    "reduced_accuracy",
    "reduced_agreement",
    "reduced_logit_pearson_r",
)


@summary_of(*SCALARS, renamed={f"{name}_at_zero": name for name in ZERO_VIEW_SCALARS})
@attrs.frozen(kw_only=True)
class LineAttractorSummary(Summary):
    """The line attractor's headline numbers (``run.json``'s summary; the sweep's metrics).

    Fields with a ``long_name`` in their metadata are the sweep's metrics
    (:meth:`Summary.metrics`); ``text`` marks the sweep's text fields.

    Examples
    --------
    >>> summary = LineAttractorSummary(slow_fraction=0.41, mechanism="switch")
    >>> summary.to_dict()["slow_fraction"], summary.mechanism
    (0.41, 'switch')
    >>> LineAttractorSummary.metrics()["slow_fraction"]
    'fraction of the line slow over a document'
    """

    n_accepted: int | None = attrs.field(
        default=None, metadata={"long_name": "approximate fixed points accepted"}
    )
    n_fixed_point_clusters: int | None = attrs.field(
        default=None, metadata={"long_name": "distinct fixed points / slow regions"}
    )
    n_stable_clusters: int | None = attrs.field(
        default=None, metadata={"long_name": "stable distinct fixed points"}
    )
    n_unstable_clusters: int | None = attrs.field(
        default=None, metadata={"long_name": "unstable distinct fixed points (saddles)"}
    )
    n_marginal_clusters: int | None = None
    n_slow_regions: int | None = attrs.field(
        default=None, metadata={"long_name": "slow regions without a root"}
    )
    n_continua: int | None = attrs.field(default=None, metadata={"long_name": "continua of roots"})
    n_isolated_roots: int | None = None
    slow_fraction: float | None = attrs.field(
        default=None, metadata={"long_name": "fraction of the line slow over a document"}
    )
    slow_fraction_visited: float | None = None
    median_drift_per_document: float | None = attrs.field(
        default=None,
        metadata={"long_name": "median zero-input drift over a document / line extent"},
    )
    middle_drift_per_document: float | None = attrs.field(
        default=None, metadata={"long_name": "median drift per document, middle half of the line"}
    )
    max_drift_per_document: float | None = None
    tokens_to_cross: float | None = attrs.field(
        default=None, metadata={"long_name": "tokens to cross the line at zero-input speed"}
    )
    median_slow_subspace_dim: float | None = attrs.field(
        default=None, metadata={"long_name": "median dimension of the slow subspace"}
    )
    median_alignment_readout_slow: float | None = None
    median_alignment_tangent_slow: float | None = None
    stable_median_alignment_r1_tangent: float | None = attrs.field(
        default=None, metadata={"long_name": "median |cos| r1 vs manifold axis at the stable roots"}
    )
    stable_median_alignment_readout_r1: float | None = attrs.field(
        default=None, metadata={"long_name": "median |cos| readout vs r1 at the stable roots"}
    )
    fixed_point_pc1_variance: float | None = None
    manifold_coverage: float | None = None
    baseline_norm: float | None = attrs.field(
        default=None,
        metadata={"long_name": "norm of the baseline input the dynamics are analysed at"},
    )
    baseline_relative_norm: float | None = attrs.field(
        default=None, metadata={"long_name": "baseline norm over the median token embedding norm"}
    )
    baseline_n_tokens: float | None = None
    n_neutral_tokens: int | None = None
    median_neutral_drift_per_document: float | None = attrs.field(
        default=None,
        metadata={"long_name": "median drift per document under neutral-token streams"},
    )
    middle_neutral_drift_per_document: float | None = None
    neutral_drift_error_baseline: float | None = None
    neutral_drift_error_zero: float | None = None
    matched_null_informative: int | None = None
    matched_null_tangent_informative: int | None = None
    matched_null_subspace_informative: int | None = None
    n_candidates: int | None = None
    n_slow_point_searches: int | None = None
    n_slow_manifold_searches: int | None = None
    n_unsettled_searches: int | None = None
    manifold_extent: float | None = None
    manifold_pc1_variance: float | None = None
    manifold_curvature: float | None = None
    median_document_length: int | None = attrs.field(
        default=None, metadata={"long_name": "median document length (tokens)"}
    )
    drift_tolerance: float | None = None
    state_dim_95: int | None = attrs.field(
        default=None, metadata={"long_name": "principal components for 95% of the state variance"}
    )
    matched_null_alignment_median: float | None = None
    matched_null_alignment_p95: float | None = attrs.field(
        default=None,
        metadata={
            "long_name": "95th percentile of |cos| of random directions in the states' 95% subspace"
        },
    )
    matched_null_tangent_alignment_p95: float | None = None
    manifold_low: float | None = None
    manifold_high: float | None = None
    manifold_visited_low: float | None = None
    manifold_visited_high: float | None = None
    null_subspace_alignment_p95: float | None = None
    matched_null_subspace_alignment_p95: float | None = None
    saddle_token_gain_ratio: float | None = None
    valence_share_near_unstable: float | None = None
    token_count_floor: int | None = None
    median_third_time_constant: float | None = None
    state_top3_variance: float | None = None
    untrained_state_top3_variance: float | None = None
    n_fixed_point_groups: int | None = None
    median_top_eigenvalue_magnitude: float | None = attrs.field(
        default=None, metadata={"long_name": "median |lambda_1| at the accepted points"}
    )
    median_slow_time_constant: float | None = attrs.field(
        default=None, metadata={"long_name": "median time constant of the top mode (tokens)"}
    )
    median_second_time_constant: float | None = None
    median_alignment_r1_tangent: float | None = None
    median_alignment_readout_tangent: float | None = None
    median_alignment_readout_r1: float | None = attrs.field(
        default=None, metadata={"long_name": "median |cos| readout vs r1"}
    )
    null_alignment_median: float | None = None
    null_alignment_p95: float | None = attrs.field(
        default=None, metadata={"long_name": "95th percentile of |cos| of random directions"}
    )
    bow_pearson_r: float | None = attrs.field(
        default=None, metadata={"long_name": "Pearson r of token projections vs BoW weights"}
    )
    bow_sign_agreement: float | None = None
    vader_pearson_r: float | None = None
    vader_n_shared: int | None = None
    true_valence_pearson_r: float | None = None
    linearization_error_median: float | None = attrs.field(
        default=None, metadata={"long_name": "median relative one-step linearization error"}
    )
    linearization_error_mean: float | None = None
    network_accuracy: float | None = None
    reduced_accuracy: float | None = attrs.field(
        default=None, metadata={"long_name": "accuracy of the reduced (integrator) model"}
    )
    reduced_agreement: float | None = attrs.field(
        default=None, metadata={"long_name": "agreement of the reduced model with the network"}
    )
    reduced_logit_pearson_r: float | None = None
    n_accepted_at_zero: int | None = None
    n_fixed_point_clusters_at_zero: int | None = None
    n_stable_clusters_at_zero: int | None = attrs.field(
        default=None, metadata={"long_name": "stable distinct fixed points at zero input"}
    )
    n_unstable_clusters_at_zero: int | None = attrs.field(
        default=None, metadata={"long_name": "unstable distinct fixed points at zero input"}
    )
    n_marginal_clusters_at_zero: int | None = None
    n_slow_regions_at_zero: int | None = None
    n_continua_at_zero: int | None = None
    n_isolated_roots_at_zero: int | None = None
    slow_fraction_at_zero: float | None = attrs.field(
        default=None,
        metadata={"long_name": "fraction of the line slow over a document at zero input"},
    )
    slow_fraction_visited_at_zero: float | None = None
    median_drift_per_document_at_zero: float | None = attrs.field(
        default=None, metadata={"long_name": "median drift over a document at zero input"}
    )
    middle_drift_per_document_at_zero: float | None = None
    max_drift_per_document_at_zero: float | None = None
    tokens_to_cross_at_zero: float | None = None
    median_slow_subspace_dim_at_zero: float | None = None
    median_alignment_readout_slow_at_zero: float | None = None
    median_alignment_tangent_slow_at_zero: float | None = None
    stable_median_alignment_r1_tangent_at_zero: float | None = None
    stable_median_alignment_readout_r1_at_zero: float | None = attrs.field(
        default=None,
        metadata={"long_name": "median |cos| readout vs r1 at the stable roots, zero input"},
    )
    fixed_point_pc1_variance_at_zero: float | None = None
    manifold_coverage_at_zero: float | None = None
    fixed_point_structure_at_zero: list[dict[str, Any]] | None = None
    mechanism_at_zero: str | None = attrs.field(
        default=None, metadata={"text": "mechanism verdict at zero input"}
    )
    headline_at_zero: str | None = None
    baseline: str | None = attrs.field(
        default=None,
        metadata={"text": "the baseline input the job was analysed at (mean or zero)"},
    )
    baseline_kind: int | None = None
    fixed_point_structure: list[dict[str, Any]] | None = None
    mechanism: str | None = attrs.field(
        default=None,
        metadata={"text": "mechanism verdict of the job's analysis (at its baseline input)"},
    )
    headline: str | None = None
    n_folds: int | None = attrs.field(
        default=None,
        metadata={"long_name": "folds met following the roots from zero input to the baseline"},
    )
    continuation_branches: list[dict[str, Any]] | None = None


def _zero_view(zero_view: xr.Dataset | None) -> dict[str, Any]:
    from dynalyze.analyses.line_attractor.mechanism import mechanism, structure_rows

    if zero_view is None:
        return {}
    values = read_variables(zero_view, ZERO_VIEW_SCALARS)
    out: dict[str, Any] = {f"{name}_at_zero": value for name, value in values.items()}
    verdict = mechanism(zero_view)
    out.update(
        fixed_point_structure_at_zero=structure_rows(zero_view),
        mechanism_at_zero=verdict.kind,
        headline_at_zero=verdict.headline,
    )
    return out


def summarize(
    attractor: xr.Dataset,
    zero_view: xr.Dataset | None = None,
    continuation: xr.Dataset | None = None,
) -> LineAttractorSummary:
    """The typed summary of a line-attractor analysis (its datasets' scalars and verdicts).

    Parameters
    ----------
    attractor : xarray.Dataset
        The ``line_attractor`` dataset (at the baseline input).
    zero_view : xarray.Dataset, optional
        The ``line_attractor_view`` at ``x = 0``.
    continuation : xarray.Dataset, optional
        The ``continuation`` dataset.

    Returns
    -------
    LineAttractorSummary

    Examples
    --------
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> summary = summarize(LineAttractor(n_initial=40).fit(*exact_integrator()))
    >>> summary.mechanism, summary.n_stable_clusters
    ('line_attractor', 0)
    """
    from dynalyze.analyses.line_attractor.mechanism import mechanism, structure_rows
    from dynalyze.baseline import BASELINE_KINDS
    from dynalyze.fixedpoints.continuation import branch_rows

    values = read_variables(attractor, SCALARS)
    kind = read_variables(attractor, ["baseline_kind"])["baseline_kind"]
    verdict = mechanism(attractor)
    extra: dict[str, Any] = {}
    if continuation is not None:
        extra = {
            "n_folds": int(continuation["n_folds"]),
            "continuation_branches": branch_rows(continuation),
        }
    return LineAttractorSummary(
        **values,
        **_zero_view(zero_view),
        **extra,
        baseline=BASELINE_KINDS.get(int(kind), "zero") if kind is not None else "zero",
        baseline_kind=kind,
        fixed_point_structure=structure_rows(attractor),
        mechanism=verdict.kind,
        headline=verdict.headline,
    )
