"""The report's account of the input the network runs at, generated from a run's numbers.

The paper analyses its networks at ``x = 0`` because their mean word embedding
was within 8e-3 of zero. This section says how far ours is from that condition,
puts the structure, slowness and alignments at the baseline input beside the
same rows at ``x = 0``, says how much the verdict depends on the choice, which
constant input predicts the drift under real neutral words, and where each
fixed point goes as the input moves from zero to the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from dynalyze.baseline import PAPER_MEAN_EMBEDDING_NORM

__all__ = [
    "baseline_section",
    "baseline_sentence",
    "continuation_sentence",
    "neutral_sentence",
]


def _get(s: Mapping[str, Any], name: str) -> Any:
    value = s.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _pct(value: Any) -> str:
    if value is None:
        return "n/a"
    if 0 < value < 0.01:
        return "<1%"
    return f"{100 * float(value):.0f}%"


def _num(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{float(value):.{digits}g}"


def baseline_sentence(s: Mapping[str, Any]) -> str:
    """What the baseline input is and how large, against a token and the paper's 8e-3.

    Examples
    --------
    >>> print(baseline_sentence({"baseline": "mean", "baseline_norm": 0.263,
    ...     "baseline_relative_norm": 0.573, "baseline_n_tokens": 3_400_000}))
    ... # doctest: +NORMALIZE_WHITESPACE
    The dynamics are analysed at the baseline input x_b, the mean embedding of a token in
    the training documents (3,400,000 tokens, padding excluded): its norm is 0.263, 57% of
    the median embedding norm of a token occurrence, while the paper's networks had a mean
    embedding within 0.008 of zero (the condition under which x = 0 is the typical input).
    """
    kind = s.get("baseline") or "zero"
    norm = _get(s, "baseline_norm")
    relative = _get(s, "baseline_relative_norm")
    paper = f"{PAPER_MEAN_EMBEDDING_NORM:g}"
    if kind == "zero":
        return (
            "The dynamics are analysed at x = 0, the paper's literal choice (run with "
            "--baseline mean to analyse them at the mean token embedding, the input the "
            "network receives on average)."
        )
    what = (
        "the mean embedding of a token in the training documents "
        f"({int(s.get('baseline_n_tokens') or 0):,} tokens, padding excluded)"
        if kind == "mean"
        else "an input vector given by the caller"
    )
    size = f"its norm is {_num(norm)}"
    if relative is not None:
        size += f", {_pct(relative)} of the median embedding norm of a token occurrence"
    meets = norm is not None and norm < PAPER_MEAN_EMBEDDING_NORM
    tail = (
        f", which meets the paper's condition (mean embedding within {paper} of zero)"
        if meets
        else f", while the paper's networks had a mean embedding within {paper} of zero (the "
        "condition under which x = 0 is the typical input)"
    )
    return f"The dynamics are analysed at the baseline input x_b, {what}: {size}{tail}."


def _structure_cell(rows: Sequence[Mapping[str, Any]]) -> str:
    clusters = [r for r in rows if r["kind"] != "isolated_root"]
    if not clusters:
        return "none"
    stable = sum(r["stability"] == "stable" for r in clusters)
    unstable = sum(r["stability"] in ("saddle", "unstable") for r in clusters)
    marginal = len(clusters) - stable - unstable
    text = f"{len(clusters)}: {stable} stable, {unstable} unstable"
    return text + (f", {marginal} marginal" if marginal else "")


def _points_cell(rows: Sequence[Mapping[str, Any]], low: Any, high: Any) -> str:
    clusters = [r for r in rows if r["kind"] != "isolated_root"]
    if not clusters:
        return "none"
    if len(clusters) > 5:
        positions = [r["position"] for r in clusters]
        return f"{len(clusters)} between {min(positions):+.2f} and {max(positions):+.2f}"
    parts = []
    for r in clusters:
        lam = r["top_eigenvalue_magnitudes"][0] if r["top_eigenvalue_magnitudes"] else math.nan
        beyond = ""
        if low is not None and high is not None and not low <= r["position"] <= high:
            beyond = ", beyond the visited states"
        parts.append(f"{r['stability']} {r['position']:+.2f} (|λ₁| {lam:.4f}{beyond})")
    return "; ".join(parts)


def _views_table(s: Mapping[str, Any]) -> list[str]:
    low, high = _get(s, "manifold_visited_low"), _get(s, "manifold_visited_high")

    def pair(name: str, fmt: Any = _pct) -> tuple[str, str]:
        return fmt(_get(s, name)), fmt(_get(s, f"{name}_at_zero"))

    rows = [
        ("input norm", (_num(_get(s, "baseline_norm")), "0")),
        (
            "distinct fixed points (clusters of accepted points)",
            (
                _structure_cell(s.get("fixed_point_structure") or []),
                _structure_cell(s.get("fixed_point_structure_at_zero") or []),
            ),
        ),
        (
            "where they are along the line (visited states: 1st-99th percentile "
            f"{_num(low)} to {_num(high)})",
            (
                _points_cell(s.get("fixed_point_structure") or [], low, high),
                _points_cell(s.get("fixed_point_structure_at_zero") or [], low, high),
            ),
        ),
        ("share of the line slow over a median document", pair("slow_fraction")),
        ("median drift per document (whole line)", pair("median_drift_per_document")),
        ("median drift per document (middle half of the line)", pair("middle_drift_per_document")),
        (
            "|cos(readout, r₁)| at the stable points (median)",
            pair("stable_median_alignment_readout_r1", lambda v: _num(v, 2)),
        ),
        (
            "|cos(r₁, manifold axis)| at the stable points (median)",
            pair("stable_median_alignment_r1_tangent", lambda v: _num(v, 2)),
        ),
        (
            "cos(readout, slow subspace) along the line",
            pair("median_alignment_readout_slow", lambda v: _num(v, 2)),
        ),
        (
            "mechanism",
            (
                str(s.get("mechanism", "n/a")).replace("_", " "),
                str(s.get("mechanism_at_zero", "n/a")).replace("_", " "),
            ),
        ),
    ]
    lines = [
        "| | at the baseline input x_b | at x = 0 |",
        "|---|---|---|",
    ]
    for label, (ours, zero) in rows:
        cells = [label, ours, zero]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def _dependence_sentence(s: Mapping[str, Any]) -> str:
    kind, zero = s.get("mechanism"), s.get("mechanism_at_zero")
    if zero is None:
        return ""
    slow, slow0 = _get(s, "slow_fraction"), _get(s, "slow_fraction_at_zero")
    shares = (
        f" (the line is slow on {_pct(slow)} of its length at x_b and {_pct(slow0)} at x = 0)"
        if slow is not None and slow0 is not None
        else ""
    )
    if kind == zero:
        return (
            f"The verdict does not depend on the choice: {str(kind).replace('_', ' ')} at "
            f"both inputs{shares}."
        )
    return (
        f"The verdict depends on the input: {str(kind).replace('_', ' ')} at the baseline the "
        f"network runs at, {str(zero).replace('_', ' ')} at x = 0{shares}. The headline "
        "describes the baseline."
    )


def neutral_sentence(s: Mapping[str, Any]) -> str:
    """Drift under random streams of neutral tokens, and which constant input predicts it.

    Examples
    --------
    >>> neutral_sentence({"n_neutral_tokens": 800, "median_neutral_drift_per_document": 0.12,
    ...     "middle_neutral_drift_per_document": 0.1, "median_drift_per_document": 0.15,
    ...     "neutral_drift_error_baseline": 0.05, "neutral_drift_error_zero": 0.3,
    ...     "median_document_length": 172, "token_count_floor": 20})[:64]
    'Under random streams of neutral tokens (the 800 tokens, among th'
    """
    n = _get(s, "n_neutral_tokens")
    drift = _get(s, "median_neutral_drift_per_document")
    if n is None or drift is None:
        return ""
    err_b, err_0 = _get(s, "neutral_drift_error_baseline"), _get(s, "neutral_drift_error_zero")
    text = (
        f"Under random streams of neutral tokens (the {n} tokens, among those seen at least "
        f"{s.get('token_count_floor', 20)} times, whose one-step readout effect "
        "|w·(F(h, e_w) - F(h, x_b))| is smallest, drawn by frequency): a state on the line "
        f"moves a median {_pct(drift)} of the line over a median document "
        f"({s.get('median_document_length')} tokens; middle half of the line: "
        f"{_pct(_get(s, 'middle_neutral_drift_per_document'))})"
    )
    if err_b is not None and err_0 is not None:
        better = "the baseline input x_b" if err_b <= err_0 else "zero input"
        text += (
            f". {better[0].upper() + better[1:]} predicts this drift better: slice by slice "
            f"the deterministic drift at x_b is off by a median {_pct(err_b)} of the line, at "
            f"x = 0 by {_pct(err_0)}"
        )
    elif err_b is not None:
        text += f"; the deterministic drift is off by a median {_pct(err_b)} of the line"
    return text + "."


def continuation_sentence(s: Mapping[str, Any]) -> str:
    """Where each root goes from ``x = 0`` to the baseline, and the folds on the way.

    Examples
    --------
    >>> continuation_sentence({"n_folds": 0, "continuation_branches": [
    ...     {"origin": "start", "status": "reached_end", "start_position": -6.2,
    ...      "end_position": -3.67, "start_stability": "stable", "end_stability": "stable",
    ...      "fold_s": [], "fold_position": []}]})
    ... # doctest: +NORMALIZE_WHITESPACE
    'Followed from x = 0 to x_b (s from 0 to 1, pseudo-arclength continuation), the stable
    point at -6.20 moves to -3.67 (stable); no fold: every root at x_b is one of those at
    x = 0, moved.'
    """
    branches = s.get("continuation_branches")
    if not branches:
        return ""
    parts = []
    for b in branches:
        start = f"{b['start_stability']} point at {b['start_position']:+.2f}"
        folds = ", ".join(
            f"s = {fs:.3f} (at {fp:+.2f})"
            for fs, fp in zip(b["fold_s"], b["fold_position"], strict=True)
        )
        if b["origin"] == "end":
            parts.append(
                f"the {start.replace('point at', 'point at x_b at', 1)} exists only near the "
                f"baseline: it is born at a fold at {folds or 'an unresolved point'}"
            )
        elif b["status"] == "reached_end":
            moved = f"moves to {b['end_position']:+.2f} ({b['end_stability']})"
            via = f", through a fold at {folds}" if folds else ""
            parts.append(f"the {start} {moved}{via}")
        elif b["status"] == "returned":
            parts.append(
                f"the {start} meets another root at a fold at {folds} and vanishes (the branch "
                f"turns back to x = 0 as a {b['end_stability']} point at "
                f"{b['end_position']:+.2f})"
            )
        else:
            parts.append(f"the {start} could not be followed ({b['status'].replace('_', ' ')})")
    n_folds = int(s.get("n_folds") or 0)
    tail = (
        "no fold: every root at x_b is one of those at x = 0, moved"
        if n_folds == 0
        else f"{n_folds} fold{'s' if n_folds != 1 else ''} on the way"
    )
    return (
        "Followed from x = 0 to x_b (s from 0 to 1, pseudo-arclength continuation), "
        + "; ".join(parts)
        + f"; {tail}."
    )


def baseline_section(s: Mapping[str, Any]) -> list[str]:
    """The report section on the baseline input and the zero-input view beside it.

    Examples
    --------
    >>> baseline_section({"baseline": "zero"})[0]
    '## The input the network runs at'
    """
    lines = ["## The input the network runs at", "", baseline_sentence(s), ""]
    if s.get("mechanism_at_zero") is not None:
        lines += [
            "The same analysis at both inputs (every other section of this report is at "
            "the baseline):",
            "",
            *_views_table(s),
            "",
            _dependence_sentence(s),
            "",
        ]
    for sentence in (neutral_sentence(s), continuation_sentence(s)):
        if sentence:
            lines += [sentence, ""]
    return lines
