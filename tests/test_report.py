"""The report says what its numbers say: checks() and the rendered report on crafted summaries."""

from __future__ import annotations

import numpy as np
import pytest

from dynalyze.analyses.line_attractor.checks import checks
from dynalyze.analyses.line_attractor.report import figure_captions, line_attractor_section
from dynalyze.analyses.report import render_report as render_run_report
from dynalyze.keras import architecture_of
from dynalyze.results import make_dataset
from dynalyze.systems import LSTMSystem, SimpleRNNSystem


def render_report(summary, attractor, figures, recipe, config):
    """The report of a run whose only analysis is the line attractor."""
    section = line_attractor_section(summary, attractor)
    return render_run_report(summary, [section], figures, recipe, config)


def _row(kind, stability, position, size, lam, unstable=0):
    return {
        "kind": kind,
        "size": size,
        "position": position,
        "position_low": position - 0.1,
        "position_high": position + 0.1,
        "stability": stability,
        "n_unstable_modes": unstable,
        "top_eigenvalue_magnitudes": lam,
        "token_gain": 0.01,
        "root_distance": 0.1,
    }


SADDLE = [
    _row("fixed_point", "stable", -5.0, 365, [0.9999, 0.9993, 0.9992]),
    _row("fixed_point", "saddle", 1.35, 340, [1.037, 0.85, 0.83], unstable=1),
    _row("fixed_point", "stable", 4.4, 295, [0.9974, 0.9963, 0.9937]),
]


def _summary(**changes):
    base = {
        "arch": "gru",
        "dataset": "imdb",
        "test_accuracy": 0.877,
        "n_accepted": 1000,
        "n_candidates": 1000,
        "n_fixed_point_clusters": 3,
        "fixed_point_structure": SADDLE,
        "slow_fraction": 0.03,
        "median_drift_per_document": 0.27,
        "max_drift_per_document": 0.76,
        "median_document_length": 175,
        "median_slow_subspace_dim": 1.0,
        "state_dim_95": 2,
        "null_alignment_p95": 0.17,
        "matched_null_alignment_p95": 0.33,
        "matched_null_tangent_alignment_p95": 0.99,
        "stable_median_alignment_readout_r1": 0.334,
        "stable_median_alignment_r1_tangent": 0.9995,
        "median_alignment_readout_slow": 0.5,
        "null_subspace_alignment_p95": 0.17,
        "matched_null_subspace_alignment_p95": 0.33,
        "valence_share_near_unstable": 0.9,
        "saddle_token_gain_ratio": 150.0,
    }
    base.update(changes)
    return base


def _by(rows, start):
    return next(r for r in rows if r["quantity"].startswith(start))


def test_a_saddle_is_named_in_the_headline_the_table_and_the_checks():
    s = _summary()
    text = render_report(s, None, {}, None, None)
    headline = text.split("\n\n")[1]
    assert "saddle" in headline and "2 stable" in headline
    assert "| **saddle** |" in text
    rows = checks(s)
    assert _by(rows, "distinct fixed points")["ok"] is False
    assert "340 of 1000" in _by(rows, "distinct fixed points")["ours"]
    assert _by(rows, "|lambda_1| at each unstable")["ok"] is False
    assert _by(rows, "|lambda_1| at each stable")["ok"] is True
    assert "approximate line attractor**" not in headline


def test_a_line_that_is_not_slow_over_a_document_fails_the_slowness_check():
    rows = checks(_summary())
    slow = _by(rows, "share of the line where the drift")
    assert slow["ok"] is False and "3%" in slow["ours"] and "175 tokens" in slow["quantity"]
    assert _by(checks(_summary(slow_fraction=0.95)), "share of the line where")["ok"] is True


def test_alignment_is_judged_against_the_matched_null():
    rows = checks(_summary())
    readout_r1 = _by(rows, "median |cos(readout, r1)|")
    # 0.334 beats the isotropic null (0.17) but not the matched one (0.33 ... here 0.334 > 0.33).
    assert readout_r1["ok"] is True and "aligned" in readout_r1["ours"]
    rows = checks(_summary(stable_median_alignment_readout_r1=0.30))
    readout_r1 = _by(rows, "median |cos(readout, r1)|")
    assert readout_r1["ok"] is False and "above chance only" in readout_r1["ours"]
    rows = checks(_summary(stable_median_alignment_readout_r1=0.05))
    assert "not aligned" in _by(rows, "median |cos(readout, r1)|")["ours"]


def test_an_uninformative_matched_null_gives_no_verdict_and_says_so():
    # In a 2-D states' subspace the matched null's 95th percentile is ~1: it cannot reject.
    rows = checks(
        _summary(
            matched_null_alignment_p95=0.997,
            matched_null_informative=0,
            stable_median_alignment_readout_r1=0.6,
        )
    )
    row = _by(rows, "median |cos(readout, r1)|")
    assert "cannot tell" in row["ours"] and "whole state space" in row["ours"]
    assert "above chance" in row["ours"] and row["ok"] is True
    low = _by(
        checks(_summary(matched_null_informative=0, stable_median_alignment_readout_r1=0.05)),
        "median |cos(readout, r1)|",
    )
    assert low["ok"] is False and "not aligned" in low["ours"]


def test_the_baseline_section_puts_both_views_side_by_side():
    from dynalyze.analyses.line_attractor.report_baseline import baseline_section

    zero = [dict(r, position=r["position"] - 2) for r in SADDLE]
    summary = _summary(
        baseline="mean",
        baseline_norm=0.27,
        baseline_relative_norm=0.6,
        baseline_n_tokens=4_000_000,
        mechanism="approximate_line_attractor",
        mechanism_at_zero="bistable",
        slow_fraction=0.85,
        slow_fraction_at_zero=0.03,
        fixed_point_structure_at_zero=zero,
        manifold_visited_low=-4.0,
        manifold_visited_high=4.0,
    )
    text = "\n".join(baseline_section(summary))
    assert "60% of the median embedding norm" in text and "within 0.008 of zero" in text
    assert "| mechanism | approximate line attractor | bistable |" in text
    assert "The verdict depends on the input" in text
    assert "stable -7.00 (\\|λ₁\\| 0.9999, beyond the visited states)" in text
    same = "\n".join(
        baseline_section({**summary, "mechanism_at_zero": "approximate_line_attractor"})
    )
    assert "The verdict does not depend on the choice" in same
    assert "x = 0, the paper's literal choice" in "\n".join(baseline_section({"baseline": "zero"}))


def test_marginal_top_modes_keep_their_time_constant_in_the_report():
    fast = [dict(r, top_eigenvalue_magnitudes=[1.0 + 4e-9, 0.5, 0.4]) for r in SADDLE]
    stable_marginal = [dict(r, stability="stable") for r in fast]
    top = _by(checks(_summary(fixed_point_structure=stable_marginal)), "time constant of the top")
    assert "n/a" not in top["ours"] and top["ok"] is True


def test_second_and_third_modes_compare_with_the_papers_100_tokens():
    rows = checks(_summary())
    second = _by(rows, "time constant of the second mode")
    assert "~100 tokens" in second["paper"] and "a few tokens" not in second["paper"]
    assert second["ok"] is True  # 1.4e3 and 273 tokens persist
    fast = [dict(r, top_eigenvalue_magnitudes=[0.999, 0.5, 0.4]) for r in SADDLE]
    assert (
        _by(checks(_summary(fixed_point_structure=fast)), "time constant of the second")["ok"]
        is False
    )


def test_valence_read_at_the_saddle_is_a_miss():
    rows = checks(_summary())
    where = _by(rows, "where word valence is read")
    assert where["ok"] is False and "150x" in where["ours"]
    assert _by(checks(_summary(valence_share_near_unstable=0.1)), "where word")["ok"] is True


def test_captions_follow_the_numbers():
    eig = np.array([[1.049 + 0j, 0.5], [0.998, 0.4]])
    ds = make_dataset(
        "line_attractor",
        {
            "eigenvalue": eig,
            "state_variance_ratio": np.array([0.9, 0.1]),
            "fixed_point_state": np.zeros((2, 2)),
            "manifold_coordinate": np.zeros(2),
            "alignment_r1_tangent": np.zeros(2),
            "token_projection": np.zeros(3),
        },
        {"token": np.array(["a", "b", "c"], dtype=object)},
    )
    caption = figure_captions(_summary(), ds)["eigenvalue_spectra"]
    assert "1 of 2 points have a mode outside the unit circle" in caption
    assert "unit circle (the integrating mode)" not in caption
    caps = figure_captions(_summary(), None)
    assert "2 stable (circles), 1 unstable (crosses)" in caps["state_pca"]


def test_architecture_comes_from_the_model():
    assert architecture_of(SimpleRNNSystem(np.eye(1), np.eye(1), np.zeros(1))) == "simple"
    lstm = LSTMSystem(np.zeros((1, 4)), np.zeros((1, 4)), np.zeros(4))
    assert architecture_of(lstm) == "lstm"
    text = render_report(_summary(arch="lstm"), None, {}, None, None)
    assert text.startswith("# dynalyze report: LSTM on imdb")
    assert "| LSTM | 87.70% | 86.93% |" in text


@pytest.mark.parametrize(
    ("strength", "low", "high", "kind"),
    [
        (-0.4, -0.6, -0.2, "flips"),
        (-0.1, -0.5, 0.3, "dampens"),  # below 1 but the interval reaches past 0: no flip
        (1.5, 1.3, 1.7, "amplifies"),
        (1.05, 1.04, 1.06, "slightly amplifies"),
        (0.5, 0.4, 0.6, "dampens"),
        (0.95, 0.94, 0.96, "slightly dampens"),
        (1.2, 0.8, 1.6, "leaves unchanged"),  # the interval holds 1
    ],
)
def test_modifier_verdict_follows_the_interval(strength, low, high, kind) -> None:
    from dynalyze.analyses.modifiers.report import _modifier_kind, modifier_section

    m = {"strength": [strength, 1.0], "strength_low": [low, 1.0], "strength_high": [high, 1.0],
         "ablated": [1.0, 1.0], "time_constant": 1.0, "fast_share": 0.9}  # fmt: skip
    assert _modifier_kind(m) == kind
    lines = modifier_section({"modifiers": {"w": m}})
    flips, amplifies = (
        ("w" if kind == "flips" else "none"),
        ("w" if kind == "amplifies" else "none"),
    )
    assert lines[4] == (
        f"Of 1 modifier, these flip the next word's effect: {flips}; these amplify it: {amplifies}."
    )
