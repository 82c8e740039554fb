"""The line attractor's report section: every number beside the paper's.

The paper's figures come from Maheswaranathan, Williams, Golub, Ganguli and
Sussillo (NeurIPS 2019), "Reverse engineering recurrent networks for sentiment
classification reveals line attractor dynamics" (Table 1 and Sections 3-5).
Each row says plainly whether our number agrees; the report never hides a miss.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from dynalyze.analyses._format import cell as _cell
from dynalyze.analyses._format import num as _num
from dynalyze.analyses._format import pct as _pct
from dynalyze.analyses.base import ReportSection
from dynalyze.analyses.line_attractor.checks import checks
from dynalyze.analyses.line_attractor.report_baseline import baseline_section

__all__ = ["checks", "figure_captions", "line_attractor_section"]


def _headline(s: Mapping[str, Any]) -> str:
    """The verdict generated from the structure and profile (:mod:`.mechanism`)."""
    from dynalyze.analyses.line_attractor.mechanism import mechanism

    if s.get("headline"):
        return str(s["headline"])
    return mechanism(s).headline


def _structure_section(s: Mapping[str, Any]) -> list[str]:
    rows = s.get("fixed_point_structure") or []
    if not rows:
        return []
    lines = [
        "## Fixed-point structure",
        "",
        "Accepted points are grouped by single linkage at 5% of the line's extent; each "
        "cluster's representative is the exact root Newton's method reaches from its members "
        "(a *slow region* when there is none). Positions are along the manifold axis (the "
        "first PC of the visited states, the readout increasing along it; visited states "
        f"span {_num(s.get('manifold_extent'), 3)} between their 5th and 95th percentiles).",
        "",
        "| # | kind | stability | position (members' span) | accepted points | "
        "|λ₁|, |λ₂|, |λ₃| | unstable modes | token gain | distance to root |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows):
        eig = ", ".join(f"{v:.4f}" for v in r.get("top_eigenvalue_magnitudes", [])[:3])
        span = (
            f"{r['position']:+.2f} ({r['position_low']:+.2f} to {r['position_high']:+.2f})"
            if r["size"]
            else f"{r['position']:+.2f}"
        )
        cells = [
            str(i),
            r["kind"].replace("_", " "),
            f"**{r['stability']}**" if r["stability"] in ("saddle", "unstable") else r["stability"],
            span,
            str(r["size"]),
            eig,
            str(r["n_unstable_modes"]),
            _num(r.get("token_gain"), 3),
            _num(r.get("root_distance"), 3),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += [
        "",
        "*Token gain*: RMS input projection l₁ᵀJ_inp e(word) of the words seen at least "
        f"{_num(s.get('token_count_floor'))} times, at the representative: how far one word "
        "moves the state along the slowest (or unstable) mode there.",
        "",
    ]
    return lines


def _profile_section(s: Mapping[str, Any]) -> list[str]:
    if s.get("slow_fraction") is None:
        return []
    from dynalyze.analyses.line_attractor.mechanism import _slowness_sentence

    dim = s.get("median_slow_subspace_dim")
    lines = [
        "## The slow manifold between the fixed points",
        "",
        _slowness_sentence(s),
        "",
        f"The slow subspace (modes keeping more than 1/e of a perturbation over a median "
        f"document) has a time-weighted median dimension of {_num(dim)}. "
        f"`results/line_attractor.nc` holds the profile on the `manifold_position` dimension "
        "(`manifold_drift`, `manifold_axial_speed`, `manifold_eigenvalue`, "
        "`manifold_token_gain`, ...); the `manifold_profile` figure plots it.",
        "",
    ]
    return lines


def _profile_caption(s: Mapping[str, Any]) -> str:
    """The manifold-profile caption, naming the drifts the figure shows and their medians."""
    where = "at zero input" if (s.get("baseline") or "zero") == "zero" else "at the baseline input"
    text = (
        f"Along the manifold axis: drift {where} over one median document as a share of the "
        "line (top, solid"
    )
    drift = s.get("median_drift_per_document")
    if drift is not None:
        text += f"; median {100 * float(drift):.0f}%"
    text += ")"
    zero = s.get("median_drift_per_document_at_zero")
    if zero is not None:
        text += f", at zero input (dashed; median {100 * float(zero):.0f}%)"
    neutral = s.get("median_neutral_drift_per_document")
    if neutral is not None:
        text += f", under random neutral-token streams (dotted; median {100 * float(neutral):.0f}%)"
    return text + (
        "; the thin line is the tolerance. Token gain (middle) and |λ₁| at the slowest state of "
        "each slice (bottom), with the fixed points marked."
    )


def figure_captions(s: Mapping[str, Any], attractor: xr.Dataset | None) -> dict[str, str]:
    """Figure captions generated from the run's numbers (never fixed claims).

    Examples
    --------
    >>> caps = figure_captions({"n_accepted": 10, "fixed_point_structure": []}, None)
    >>> caps["relaxation"]
    'Median speed relative to its start, relaxing from visited states at the baseline input.'
    """
    rows = s.get("fixed_point_structure") or []
    n_stable = sum(r["stability"] == "stable" for r in rows if r["kind"] != "isolated_root")
    n_unstable = sum(
        r["stability"] in ("saddle", "unstable") for r in rows if r["kind"] != "isolated_root"
    )
    caps = {
        "state_pca": (
            "Hidden states of test documents on their first two PCs, coloured by label, with "
            f"the accepted approximate fixed points (grey) and the {len(rows)} distinct fixed "
            f"points: {n_stable} stable (circles), {n_unstable} unstable (crosses)"
            + (", marginal/slow regions (diamonds)" if len(rows) > n_stable + n_unstable else "")
            + "; the readout direction in orange."
        ),
        "variance_explained": "Cumulative variance explained: trained vs untrained network, "
        "and the fixed points themselves.",
        "time_constants": "Time constants of the top modes at the accepted points along their "
        "first PC (log scale; growing modes have none).",
        "token_projections": (
            f"Tokens seen at least {_num(s.get('token_count_floor'))} times that move the state "
            "furthest along the line per occurrence (input projection onto the top left "
            "eigenvector, averaged along the manifold weighted by the time states spend there)."
        ),
        "projection_vs_bow": "Token input projections against bag-of-words weights.",
        "linearization_error": "One-step error of the linearization around the nearest fixed "
        "point along real trajectories.",
        "relaxation": "Median speed relative to its start, relaxing from visited states at the "
        "baseline input.",
        "manifold_profile": _profile_caption(s),
    }
    if (
        attractor is not None
        and "eigenvalue" in attractor
        and attractor.sizes.get("fixed_point", 0)
    ):
        top = np.abs(attractor["eigenvalue"].values[:, 0])
        n_out = int(np.sum(top > 1.0))
        caps["eigenvalue_spectra"] = (
            f"Jacobian eigenvalues at the accepted points: |λ₁| from {top.min():.4f} to "
            f"{top.max():.4f}; {n_out} of {top.size} points have a mode outside the unit "
            "circle (unstable)" + ("." if n_out else "; all other modes are inside it.")
        )
    else:
        caps["eigenvalue_spectra"] = "Jacobian eigenvalues at the accepted points."
    if attractor is not None and "relaxation_speed" in attractor:
        speed = attractor["relaxation_speed"].values
        if speed.size > 1 and np.isfinite(speed[-1]):
            caps["relaxation"] = (
                f"Median speed relative to its start, relaxing from visited states at the "
                f"baseline input: "
                f"{speed[-1]:.2g} of it after {speed.size - 1} steps."
            )
    if s.get("continuation_branches"):
        n_folds = int(s.get("n_folds") or 0)
        caps["continuation"] = (
            f"Each root followed from x = 0 (s = 0) to the baseline input x_b (s = 1): its "
            f"position along the line (top) and |λ₁| (bottom); {len(s['continuation_branches'])} "
            f"branches, {n_folds} fold{'s' if n_folds != 1 else ''} (crosses); solid: stable, "
            "dashed: unstable."
        )
    return caps


#: "How to read this report" bullets of the line-attractor section.
GLOSSARY = (
    "*Fixed points* are states h with F(h, x_b) = h: where the network would stay if it "
    "kept reading its average input x_b (the baseline input, below). The paper accepts "
    "approximate ones, ||F(h, x) - h||²/N < 1e-8.",
    "*Clusters*: accepted points closer than 5% of the line's extent are one cluster; "
    "Newton's method from its members finds the exact root it surrounds (or none: a *slow "
    "region*). Stability is judged at that root: *stable* when every |λ| < 1, *unstable* "
    "when some |λ| > 1 (a *saddle* when other modes still decay).",
    "*λ₁* is the largest eigenvalue of the Jacobian at a fixed point; |λ₁| ≈ 1 means one "
    "direction neither grows nor decays: the network can hold evidence there indefinitely. "
    "A decaying mode's time constant τ = -1/ln|λ| counts tokens; growing modes have none.",
    "*Baseline input* x_b: the mean embedding of a token in the training documents, the "
    "input the network receives on average. The paper analysed its networks at x = 0 "
    "because their mean embedding was within 8e-3 of zero; ours need not be, so fixed "
    "points, Jacobians and drift are of F(h, x_b), token projections use "
    "J_inp (e(word) - x_b), and the same rows at x = 0 are shown beside them.",
    "*Drift*: states relaxed onto the line are run at the baseline input for one "
    "median-length document; the distance they move along the line, as a share of its "
    "extent, says whether the line holds evidence over a document there.",
    "*r₁ / l₁* are the top right / left eigenvectors. r₁ is the direction of the line; "
    "l₁ᵀ J_inp e(word) (the *input projection*) is how far one occurrence of a word moves "
    "the state along it.",
    "*Alignment* rows compare |cos| between two directions with random directions inside "
    "the subspace holding 95% of the states' variance (the matched null): *aligned* only "
    "above it; *above chance only* when above random directions in the whole state space "
    "but not above the matched null.",
)

#: "Files" bullets of the line-attractor section.
FILES = (
    "`results/line_attractor.nc`: every number above, labelled (open with `dynalyze.load` or "
    "`xarray.open_dataset`); `results/line_attractor_zero.nc`: the same structure, profile and "
    "alignments at x = 0; `results/continuation.nc`: every root followed from x = 0 to the "
    "baseline input.",
    "`results/fixed_points.nc`: every fixed-point search with its status; "
    "`results/linearization.nc`: Jacobians and eigendecompositions at fixed points spread "
    "along the manifold; `results/trajectories.nc`: hidden states of the first test "
    "documents.",
)


def _checks_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## The line attractor, number by number",
        "",
        "| quantity | ours | paper | agrees |",
        "|---|---|---|---|",
    ]
    for r in rows:
        mark = "✓" if r["ok"] else ("✗" if r["ok"] is False else "n/a")
        cells = [_cell(r["quantity"]), _cell(r["ours"]), _cell(r["paper"]), mark]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    misses = [r for r in rows if r["ok"] is False]
    if not misses:
        return [*lines, "Every checked number agrees with the paper.", ""]
    lines += ["### Where ours differs", ""]
    lines += [f"- **{r['quantity']}**: {r['ours']} ({r['why']})." for r in misses]
    return [*lines, ""]


def line_attractor_section(
    summary: Mapping[str, Any], attractor: xr.Dataset | None = None
) -> ReportSection:
    """The line attractor's part of the report, generated from a run's summary.

    Parameters
    ----------
    summary : mapping
        The run's summary (the line attractor's typed summary as a dict, with the
        run's ``test_accuracy``).
    attractor : xarray.Dataset, optional
        The ``line_attractor`` dataset (for the eigenvalue and relaxation captions).

    Examples
    --------
    >>> section = line_attractor_section({"test_accuracy": 0.9, "n_accepted": 0})
    >>> section.headline.endswith("No fixed point was found.")
    True
    >>> print(section.lead)  # doctest: +NORMALIZE_WHITESPACE
    Test accuracy 90.0%; 0 approximate fixed points accepted by the paper's criterion, in n/a
    distinct clusters.
    """
    s = dict(summary)
    lines = [
        *baseline_section(s),
        *_structure_section(s),
        *_profile_section(s),
        *_checks_table(checks(s)),
    ]
    return ReportSection(
        lines=lines,
        headline=_headline(s),
        lead=(
            f"Test accuracy {_pct(s.get('test_accuracy'))}; {_num(s.get('n_accepted'))} "
            "approximate fixed points accepted by the paper's criterion, in "
            f"{_num(s.get('n_fixed_point_clusters'))} distinct clusters."
        ),
        accuracy_rows=[
            (
                "reduced line model (analysed documents)",
                _pct(s.get("reduced_accuracy"), 2),
                "(a linear model is ~3% below the gated RNN)",
            )
        ],
        captions=figure_captions(s, attractor),
        glossary=GLOSSARY,
        files=FILES,
    )
