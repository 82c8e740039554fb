"""The line attractor's claims, each beside the paper's number, with a verdict.

The paper's figures come from Maheswaranathan, Williams, Golub, Ganguli and
Sussillo (NeurIPS 2019), Table 1 and Sections 3-5. :func:`checks` is a pipeline of
named row groups: dimensionality, fixed points, the line, the modes at the stable
points, alignments against a matched null, token evidence, the models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dynalyze.analyses._format import num as _num
from dynalyze.analyses._format import pct as _pct
from dynalyze.linearization import MARGINAL_TOL

__all__ = ["checks"]


def _tau(magnitude: float | None) -> float | None:
    """Time constant ``|1 / ln|lambda||`` (tokens) of a decaying or marginal mode.

    Modes within the marginal band (``|lambda| <= 1 + 1e-3``) keep their time
    constant, as the paper reports them; growing modes have none.
    """
    if magnitude is None or not 0 < magnitude <= 1 + MARGINAL_TOL:
        return None
    if magnitude == 1:
        return math.inf
    return abs(1.0 / math.log(magnitude))


def _alignment_row(
    label: str,
    value: Any,
    matched: Any,
    isotropic: Any,
    k95: Any,
    paper: str,
    informative: Any = 1,
) -> dict[str, Any]:
    """An alignment judged against the matched null, with the isotropic one beside it.

    A matched null that cannot reject (its 95th percentile above 0.95: inside a 1- or
    2-D subspace nearly every random direction is aligned) gives no verdict; the
    row is then judged against the isotropic null and says so.
    """
    if value is None or isotropic is None:
        return _row(label, _num(value, 3), paper, None, "")
    if matched is None or not informative:
        note = (
            f"the matched null (random directions inside the {_num(k95)}-D subspace holding "
            f"95% of the states' variance, 95th pct {_num(matched, 2)}) cannot tell, since "
            "nearly every direction there is aligned; judged against random directions in "
            "the whole state space"
            if matched is not None
            else "judged against random directions in the whole state space"
        )
        ok = bool(value > isotropic)
        word = "above chance" if ok else "not aligned"
        ours = f"{_num(value, 3)} ({word}; isotropic null 95th pct {_num(isotropic, 2)})"
        return _row(label, f"{ours}; {note}", paper, ok if ok else False, note)
    if value > matched:
        word, ok, why = "aligned", True, ""
    elif value > isotropic:
        word, ok = "above chance only", False
        why = (
            f"above random directions in the whole state space (95th pct {_num(isotropic, 2)}) "
            f"but not above random directions inside the {_num(k95)}-D subspace holding 95% of "
            f"the states' variance (95th pct {_num(matched, 2)}); within the states' own "
            "subspace this alignment is what chance gives"
        )
    else:
        word, ok, why = "not aligned", False, "not above what random directions give"
    ours = f"{_num(value, 3)} ({word}; matched null 95th pct {_num(matched, 2)})"
    return _row(label, ours, paper, ok, why)


def _row(quantity: str, ours: str, paper: str, ok: bool | None, why: str) -> dict[str, Any]:
    return {"quantity": quantity, "ours": ours, "paper": paper, "ok": ok, "why": why}


def checks(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The line-attractor claims, each with our value, the paper's and a verdict.

    Structure comes first (which fixed points, stable or not), then how slow the
    line is, then the modes at the *stable* points, alignments against a null of
    directions the states occupy, and the token evidence.

    Parameters
    ----------
    summary : mapping
        Headline numbers of a run (see :func:`dynalyze.sentiment.pipeline.run_pipeline`).

    Returns
    -------
    list of dict
        Rows with ``quantity``, ``ours``, ``paper``, ``ok`` (True/False/None) and
        ``why`` (the reason when it misses).

    Examples
    --------
    >>> rows = checks({"state_top3_variance": 0.93, "untrained_state_top3_variance": 0.4})
    >>> rows[0]["ok"], rows[0]["ours"]
    (True, '93.0%')
    """
    s = dict(summary)
    return [
        *_dimension_rows(s),
        *_fixed_point_rows(s),
        *_line_rows(s),
        *_mode_rows(s),
        *_alignment_rows(s),
        *_token_rows(s),
        *_model_rows(s),
    ]


def _get(s: Mapping[str, Any], name: str) -> Any:
    value = s.get(name)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _at_least(value: Any, bound: float) -> bool | None:
    return None if value is None else bool(value >= bound)


def _structure(s: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The distinct fixed points and slow regions (isolated roots apart)."""
    return [r for r in s.get("fixed_point_structure") or [] if r["kind"] != "isolated_root"]


def _dimension_rows(s: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The states' dimensionality, trained and untrained."""
    rows: list[dict[str, Any]] = []
    top3 = _get(s, "state_top3_variance")
    rows.append(
        _row(
            "variance of visited states in the top 3 PCs (trained)",
            _pct(top3),
            "~90% (target here: at least 80%)",
            _at_least(top3, 0.80),
            "the states of this network are not confined to a low-dimensional subspace",
        )
    )
    untrained = _get(s, "untrained_state_top3_variance")
    rows.append(
        _row(
            "the same for an untrained network of the same shape",
            _pct(untrained),
            "much lower (higher-dimensional)",
            None if untrained is None or top3 is None else bool(untrained < top3),
            "training did not reduce the dimensionality",
        )
    )
    return rows


def _other_searches(s: Mapping[str, Any]) -> str:
    """How the searches that were not accepted ended: ``"; of the other 3: ..."`` or ``""``.

    Examples
    --------
    >>> counts = {"n_slow_point_searches": 0, "n_unsettled_searches": 0}
    >>> _other_searches({"n_candidates": 1000, "n_accepted": 999, **counts,
    ...                  "n_slow_manifold_searches": 1})
    '; the other one ended on a slow manifold above the criterion'
    >>> counts = {"n_slow_point_searches": 0, "n_unsettled_searches": 1}
    >>> _other_searches({"n_candidates": 10, "n_accepted": 5, **counts,
    ...                  "n_slow_manifold_searches": 2}).split(": ")[1].split(", ")
    ... # doctest: +NORMALIZE_WHITESPACE
    ['2 ended on a slow manifold above the criterion', '1 failed or stalled',
     '2 converged but were duplicates or outliers']
    """
    accepted, candidates = _get(s, "n_accepted"), _get(s, "n_candidates")
    counts = [
        _get(s, f"n_{kind}_searches") for kind in ("slow_manifold", "slow_point", "unsettled")
    ]
    if accepted is None or candidates is None or any(c is None for c in counts):
        return ""
    other = int(candidates) - int(accepted)
    if other <= 0:
        return ""
    manifold, slow_point, unsettled = (int(c) for c in counts)
    parts = [
        (count, text)
        for count, text in (
            (manifold, "ended on a slow manifold above the criterion"),
            (slow_point, "at a slow point (a local minimum of the speed)"),
            (unsettled, "failed or stalled"),
            (
                other - manifold - slow_point - unsettled,
                "converged but were duplicates or outliers",
            ),
        )
        if count > 0
    ]
    if other == 1 and len(parts) == 1:
        return f"; the other one {parts[0][1]}"
    return f"; of the other {_num(other)}: " + ", ".join(f"{_num(n)} {t}" for n, t in parts)


def _fixed_point_rows(s: Mapping[str, Any]) -> list[dict[str, Any]]:
    """How many candidates meet the criterion; the distinct fixed points and their stability."""
    rows: list[dict[str, Any]] = []
    accepted, candidates = _get(s, "n_accepted"), _get(s, "n_candidates")
    rows.append(
        _row(
            "approximate fixed points with ||F(h, x_b) - h||^2 / N < 1e-8",
            f"{_num(accepted)} of {_num(candidates)} searches (each stops at the criterion"
            f"{_other_searches(s)}; see the distinct clusters below)",
            "~500 (target here: at least 100)",
            _at_least(accepted, 100),
            "too few searches met the paper's criterion (see the counts at other thresholds in "
            "results/line_attractor.nc, variable accepted_count)",
        )
    )
    structure = _structure(s)
    if structure:
        n_stable = sum(r["stability"] == "stable" for r in structure)
        unstable = [r for r in structure if r["stability"] in ("saddle", "unstable")]
        n_marginal = len(structure) - n_stable - len(unstable)
        n_points = sum(r["size"] for r in structure)
        n_bad = sum(r["size"] for r in unstable)
        ours = (
            f"{_num(len(structure))} cluster{'s' if len(structure) != 1 else ''}: "
            f"{n_stable} stable, {len(unstable)} unstable"
            + (f", {n_marginal} marginal" if n_marginal else "")
            + (
                f" ({n_bad} of {n_points} accepted points surround an unstable one)"
                if n_bad
                else ""
            )
        )
        rows.append(
            _row(
                "distinct fixed points among the accepted (clusters, stability at the exact root)",
                ours,
                "a line of marginally stable fixed points, none unstable",
                not unstable,
                "unstable points (saddles) sit among the accepted ones: pooled medians over the "
                "accepted points mix an attractor with a repeller",
            )
        )
        stable_lam = [
            r["top_eigenvalue_magnitudes"][0] for r in structure if r["stability"] == "stable"
        ]
        rows.append(
            _row(
                "|lambda_1| at each stable fixed point",
                ", ".join(_num(v, 5) for v in stable_lam) or "none",
                "~1 (target here: between 0.99 and 1)",
                None if not stable_lam else all(0.99 <= v <= 1.0 for v in stable_lam),
                "no stable point with a marginal mode: evidence leaks away there",
            )
        )
        if unstable:
            rows.append(
                _row(
                    "|lambda_1| at each unstable fixed point",
                    ", ".join(
                        f"{_num(r['top_eigenvalue_magnitudes'][0], 4)} "
                        f"({r['n_unstable_modes']} unstable mode"
                        f"{'s' if r['n_unstable_modes'] != 1 else ''})"
                        for r in unstable
                    ),
                    "no unstable points",
                    False,
                    "states near these points are pushed away along the line (evidence is "
                    "amplified, not held)",
                )
            )
    return rows


def _line_rows(s: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Whether the fixed points form a line, and how slow it is between them."""
    rows: list[dict[str, Any]] = []
    pc1 = _get(s, "fixed_point_pc1_variance")
    rows.append(
        _row(
            "variance of the fixed points on their first PC",
            _pct(pc1),
            "they lie on a 1-D curve (target here: at least 90%)",
            _at_least(pc1, 0.90),
            "the fixed points do not form a line",
        )
    )
    coverage, groups = _get(s, "manifold_coverage"), _get(s, "n_fixed_point_clusters")
    rows.append(
        _row(
            "share of the visited states' extent along the line tiled by fixed points",
            f"{_pct(coverage)} ({_num(groups)} cluster{'s' if groups != 1 else ''})",
            "a continuous line of fixed points (target here: at least 50%)",
            _at_least(coverage, 0.5),
            "the fixed points form separate clusters rather than a continuous line",
        )
    )
    slow, length = _get(s, "slow_fraction"), _get(s, "median_document_length")
    drift, worst = _get(s, "median_drift_per_document"), _get(s, "max_drift_per_document")
    tol = _get(s, "drift_tolerance") or 0.1
    rows.append(
        _row(
            f"share of the line where the drift over a median document ({_num(length)} "
            f"tokens) is below {100 * tol:.0f}% of the line (and a mode keeps evidence)",
            f"{_pct(slow, 0)} (median drift {_pct(drift, 0)}, worst {_pct(worst, 0)})",
            "the whole line (the criterion q/N < 1e-8 allows ~0.001 per token)",
            _at_least(slow, 0.8),
            "between its fixed points the line is not slow on the time scale of a document: "
            "the dynamics at this input move states along it",
        )
    )
    return rows


def _mode_rows(s: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Time constants of the top three modes at the stable fixed points."""
    rows: list[dict[str, Any]] = []
    structure = _structure(s)
    length = _get(s, "median_document_length")
    stable_rows = [r for r in structure if r["stability"] == "stable"]
    for mode, label, paper, lo in (
        (0, "top", "hundreds to thousands of tokens (longer than a document)", None),
        (1, "second", "~100 tokens (the 2nd and 3rd modes persist; the rest are fast)", 30.0),
        (2, "third", "~100 tokens (the 2nd and 3rd modes persist; the rest are fast)", 30.0),
    ):
        taus = [
            t
            for t in (
                _tau(r["top_eigenvalue_magnitudes"][mode])
                for r in stable_rows
                if len(r["top_eigenvalue_magnitudes"]) > mode
            )
            if t is not None
        ]
        bound = lo if lo is not None else float(length or 100)
        rows.append(
            _row(
                f"time constant of the {label} mode at each stable fixed point",
                ", ".join(f"{_num(t)} tokens" for t in taus) or "n/a",
                paper,
                None if not taus else all(t >= bound for t in taus),
                "shorter than a document: evidence along this mode fades"
                if mode == 0
                else "this mode decays within a few tokens",
            )
        )
    return rows


def _alignment_rows(s: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Alignments, each judged against the matched null."""
    rows: list[dict[str, Any]] = []
    null_p95, matched_p95 = _get(s, "null_alignment_p95"), _get(s, "matched_null_alignment_p95")
    k95 = max(_get(s, "state_dim_95") or 2, 2)  # the matched nulls use at least 2 dimensions
    rows.append(
        _alignment_row(
            "median |cos(r1, manifold axis)| at the stable fixed points",
            _get(s, "stable_median_alignment_r1_tangent"),
            _get(s, "matched_null_tangent_alignment_p95"),
            null_p95,
            k95,
            "aligned",
            s.get("matched_null_tangent_informative", 1),
        )
    )
    rows.append(
        _alignment_row(
            "median |cos(readout, r1)| at the stable fixed points",
            _get(s, "stable_median_alignment_readout_r1"),
            matched_p95,
            null_p95,
            k95,
            "aligned",
            s.get("matched_null_informative", 1),
        )
    )
    rows.append(
        _alignment_row(
            "cos(readout, slow subspace) along the line (time-weighted median)",
            _get(s, "median_alignment_readout_slow"),
            _get(s, "matched_null_subspace_alignment_p95"),
            _get(s, "null_subspace_alignment_p95"),
            k95,
            "the readout lies in the integrating subspace",
            s.get("matched_null_subspace_informative", 1),
        )
    )
    return rows


def _token_rows(s: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Token projections against the bag of words, the saddle, VADER and the truth."""
    rows: list[dict[str, Any]] = []
    agreement = _get(s, "bow_sign_agreement")
    rows.append(
        _row(
            "sign agreement of token projections with BoW weights (top-100 +/- words)",
            _pct(agreement),
            "projections match BoW word weights (target here: at least 90%)",
            _at_least(agreement, 0.90),
            "the token projections disagree with the bag-of-words model",
        )
    )
    rows.append(
        _row(
            "Pearson r, token projection vs BoW weight (whole vocabulary)",
            _num(_get(s, "bow_pearson_r"), 3),
            "positively correlated",
            None if _get(s, "bow_pearson_r") is None else bool(_get(s, "bow_pearson_r") > 0.3),
            "weak correlation with the bag-of-words weights",
        )
    )
    share, ratio = _get(s, "valence_share_near_unstable"), _get(s, "saddle_token_gain_ratio")
    if share is not None and ratio is not None:
        rows.append(
            _row(
                "where word valence is read: share of the time-weighted token gain read where "
                "the line is unstable (|lambda_1| > 1)",
                f"{_pct(share, 0)} (a word moves the state {_num(ratio, 3)}x more at the "
                "unstable point than at the stable ones)",
                "read along a line of (marginally stable) fixed points",
                bool(share < 0.5),
                "words move the state mostly near the saddle; at the stable ends they barely "
                "move it",
            )
        )
    vader = _get(s, "vader_pearson_r")
    rows.append(
        _row(
            "Pearson r, token projection vs VADER human valence "
            f"({_num(_get(s, 'vader_n_shared'))} shared words)",
            _num(vader, 3),
            "(not in the paper; positive expected)",
            None if vader is None else bool(vader > 0.2),
            "weak agreement with human ratings",
        )
    )
    if _get(s, "true_valence_pearson_r") is not None:
        rows.append(
            _row(
                "Pearson r, token projection vs true word valence (synthetic task)",
                _num(_get(s, "true_valence_pearson_r"), 3),
                "(ground truth; target at least 0.9)",
                _at_least(_get(s, "true_valence_pearson_r"), 0.9),
                "projections miss the true valences",
            )
        )
    return rows


def _model_rows(s: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The linearization error and the reduced model."""
    rows: list[dict[str, Any]] = []
    err = _get(s, "linearization_error_median")
    rows.append(
        _row(
            "median one-step linearization error around the nearest fixed point",
            _pct(err),
            "~10%",
            None if err is None else bool(err <= 0.2),
            "the linearization is a poor one-step model here",
        )
    )
    red, net = _get(s, "reduced_accuracy"), _get(s, "network_accuracy")
    rows.append(
        _row(
            "accuracy of the reduced line model (integrated token projections) vs the network",
            f"{_pct(red)} vs {_pct(net)}",
            "a linear model is ~3% worse than the gated RNN",
            None if red is None or net is None else bool(net - red <= 0.05),
            "the 1-D reduced model loses more accuracy than the paper's linear model",
        )
    )
    return rows
