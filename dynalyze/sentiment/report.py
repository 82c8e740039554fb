"""The Markdown report of a run: every measured number beside the paper's.

The paper's figures come from Maheswaranathan, Williams, Golub, Ganguli and
Sussillo (NeurIPS 2019), "Reverse engineering recurrent networks for sentiment
classification reveals line attractor dynamics" (Table 1 and Sections 3-5).
Each row says plainly whether our number agrees; the report never hides a miss.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dynalyze._atomic import atomic_path
from dynalyze.linearization import MARGINAL_TOL
from dynalyze.sentiment.report_baseline import baseline_section

__all__ = [
    "PAPER_ACCURACY",
    "checks",
    "figure_captions",
    "modifier_section",
    "render_report",
    "write_report",
]

#: Paper Table 1 test accuracies (%), by paper dataset and architecture.
PAPER_ACCURACY: Mapping[str, Mapping[str, float]] = {
    "IMDB": {"bow": 88.53, "simple": 87.08, "ugrnn": 87.96, "gru": 86.86, "lstm": 86.93},
    "Yelp": {"bow": 93.37, "simple": 92.96, "ugrnn": 95.67, "gru": 95.84, "lstm": 95.05},
    "SST": {"bow": 79.74, "simple": 78.09, "ugrnn": 77.74, "gru": 80.25, "lstm": 80.09},
}
#: Our dataset -> the paper's closest dataset (SST was built from these sentences).
PAPER_DATASET: Mapping[str, str] = {"imdb": "IMDB", "rotten_tomatoes": "SST"}
ARCH_NAMES: Mapping[str, str] = {
    "gru": "GRU",
    "lstm": "LSTM",
    "simple": "vanilla RNN",
    "ugrnn": "UGRNN",
}


def _pct(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * float(value):.{digits}f}%"


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "infinite"
    if isinstance(value, int):
        return str(value)
    return f"{float(value):.{digits}g}"


def _cell(text: str) -> str:
    """Escape pipes so a value like ``|cos|`` does not break a Markdown table cell."""
    return str(text).replace("|", "\\|")


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

    def get(name: str) -> Any:
        value = s.get(name)
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else value

    def at_least(value: Any, bound: float) -> bool | None:
        return None if value is None else bool(value >= bound)

    rows = []
    top3 = get("state_top3_variance")
    rows.append(
        _row(
            "variance of visited states in the top 3 PCs (trained)",
            _pct(top3),
            "~90% (target here: at least 80%)",
            at_least(top3, 0.80),
            "the states of this network are not confined to a low-dimensional subspace",
        )
    )
    untrained = get("untrained_state_top3_variance")
    rows.append(
        _row(
            "the same for an untrained network of the same shape",
            _pct(untrained),
            "much lower (higher-dimensional)",
            None if untrained is None or top3 is None else bool(untrained < top3),
            "training did not reduce the dimensionality",
        )
    )
    accepted, candidates = get("n_accepted"), get("n_candidates")
    rows.append(
        _row(
            "approximate fixed points with ||F(h, x_b) - h||^2 / N < 1e-8",
            f"{_num(accepted)} of {_num(candidates)} searches (each stops at the criterion; "
            "see the distinct clusters below)",
            "~500 (target here: at least 100)",
            at_least(accepted, 100),
            "too few searches met the paper's criterion (see the counts at other thresholds in "
            "results/line_attractor.nc, variable accepted_count)",
        )
    )
    structure = [r for r in s.get("fixed_point_structure") or [] if r["kind"] != "isolated_root"]
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
    pc1 = get("fixed_point_pc1_variance")
    rows.append(
        _row(
            "variance of the fixed points on their first PC",
            _pct(pc1),
            "they lie on a 1-D curve (target here: at least 90%)",
            at_least(pc1, 0.90),
            "the fixed points do not form a line",
        )
    )
    coverage, groups = get("manifold_coverage"), get("n_fixed_point_clusters")
    rows.append(
        _row(
            "share of the visited states' extent along the line tiled by fixed points",
            f"{_pct(coverage)} ({_num(groups)} cluster{'s' if groups != 1 else ''})",
            "a continuous line of fixed points (target here: at least 50%)",
            at_least(coverage, 0.5),
            "the fixed points form separate clusters rather than a continuous line",
        )
    )
    slow, length = get("slow_fraction"), get("median_document_length")
    drift, worst = get("median_drift_per_document"), get("max_drift_per_document")
    tol = get("drift_tolerance") or 0.1
    rows.append(
        _row(
            f"share of the line where the drift over a median document ({_num(length)} "
            f"tokens) is below {100 * tol:.0f}% of the line (and a mode keeps evidence)",
            f"{_pct(slow, 0)} (median drift {_pct(drift, 0)}, worst {_pct(worst, 0)})",
            "the whole line (the criterion q/N < 1e-8 allows ~0.001 per token)",
            at_least(slow, 0.8),
            "between its fixed points the line is not slow on the time scale of a document: "
            "the dynamics at this input move states along it",
        )
    )
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
    null_p95, matched_p95 = get("null_alignment_p95"), get("matched_null_alignment_p95")
    k95 = max(get("state_dim_95") or 2, 2)  # the matched nulls use at least 2 dimensions
    rows.append(
        _alignment_row(
            "median |cos(r1, manifold axis)| at the stable fixed points",
            get("stable_median_alignment_r1_tangent"),
            get("matched_null_tangent_alignment_p95"),
            null_p95,
            k95,
            "aligned",
            s.get("matched_null_tangent_informative", 1),
        )
    )
    rows.append(
        _alignment_row(
            "median |cos(readout, r1)| at the stable fixed points",
            get("stable_median_alignment_readout_r1"),
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
            get("median_alignment_readout_slow"),
            get("matched_null_subspace_alignment_p95"),
            get("null_subspace_alignment_p95"),
            k95,
            "the readout lies in the integrating subspace",
            s.get("matched_null_subspace_informative", 1),
        )
    )
    agreement = get("bow_sign_agreement")
    rows.append(
        _row(
            "sign agreement of token projections with BoW weights (top-100 +/- words)",
            _pct(agreement),
            "projections match BoW word weights (target here: at least 90%)",
            at_least(agreement, 0.90),
            "the token projections disagree with the bag-of-words model",
        )
    )
    rows.append(
        _row(
            "Pearson r, token projection vs BoW weight (whole vocabulary)",
            _num(get("bow_pearson_r"), 3),
            "positively correlated",
            None if get("bow_pearson_r") is None else bool(get("bow_pearson_r") > 0.3),
            "weak correlation with the bag-of-words weights",
        )
    )
    share, ratio = get("valence_share_near_unstable"), get("saddle_token_gain_ratio")
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
    vader = get("vader_pearson_r")
    rows.append(
        _row(
            f"Pearson r, token projection vs VADER human valence ({_num(get('vader_n_shared'))} "
            "shared words)",
            _num(vader, 3),
            "(not in the paper; positive expected)",
            None if vader is None else bool(vader > 0.2),
            "weak agreement with human ratings",
        )
    )
    if get("true_valence_pearson_r") is not None:
        rows.append(
            _row(
                "Pearson r, token projection vs true word valence (synthetic task)",
                _num(get("true_valence_pearson_r"), 3),
                "(ground truth; target at least 0.9)",
                at_least(get("true_valence_pearson_r"), 0.9),
                "projections miss the true valences",
            )
        )
    err = get("linearization_error_median")
    rows.append(
        _row(
            "median one-step linearization error around the nearest fixed point",
            _pct(err),
            "~10%",
            None if err is None else bool(err <= 0.2),
            "the linearization is a poor one-step model here",
        )
    )
    red, net = get("reduced_accuracy"), get("network_accuracy")
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


def render_report(
    summary: Mapping[str, Any],
    attractor: xr.Dataset | None,
    figures: Mapping[str, str | os.PathLike[str]],
    recipe: Any,
    config: Any,
    base: str | os.PathLike[str] = ".",
) -> str:
    """The report as Markdown text (see :func:`write_report`).

    Examples
    --------
    >>> summary = {"arch": "gru", "dataset": "imdb", "test_accuracy": 0.877,
    ...            "bow_test_accuracy": 0.882}
    >>> lines = render_report(summary, None, {}, None, None).splitlines()
    >>> lines[0]
    '# dynalyze report: GRU on imdb'
    >>> [line for line in lines if line.startswith(("| GRU |", "| bag of words |"))]
    ['| GRU | 87.70% | 86.86% |', '| bag of words | 88.20% | 88.53% |']
    >>> lines[2].split(". ")[-1]  # no fixed points in this summary, and the verdict says so
    'No fixed point was found.'
    """
    s = dict(summary)
    arch = str(s.get("arch", getattr(recipe, "arch", "?")))
    dataset = str(s.get("dataset", getattr(recipe, "dataset", "?")))
    arch_name = ARCH_NAMES.get(arch, arch)
    rows = checks(s)
    misses = [r for r in rows if r["ok"] is False]
    verdict = _headline(s)
    lines = [
        f"# dynalyze report: {arch_name} on {dataset}",
        "",
        verdict,
        "",
        f"Test accuracy {_pct(s.get('test_accuracy'))}; {_num(s.get('n_accepted'))} approximate "
        f"fixed points accepted by the paper's criterion, in "
        f"{_num(s.get('n_fixed_point_clusters'))} distinct clusters.",
        "",
        "## Setup",
        "",
        "| setting | value |",
        "|---|---|",
    ]
    for key in (
        "dataset",
        "arch",
        "units",
        "embedding_dim",
        "max_tokens",
        "max_len",
        "keep",
        "epochs",
        "batch_size",
        "learning_rate",
        "patience",
        "max_train",
    ):
        if hasattr(recipe, key):
            lines.append(f"| {key} | {getattr(recipe, key)} |")
    for key in ("n_analysis", "n_initial", "seed"):
        if hasattr(config, key):
            lines.append(f"| {key} | {getattr(config, key)} |")
    if s.get("baseline") is not None:
        norm = s.get("baseline_norm")
        relative = s.get("baseline_relative_norm")
        size = (
            f" (norm {float(norm):.3g}"
            + (
                f", {100 * float(relative):.0f}% of a median token's"
                if relative is not None
                else ""
            )
            + "; the paper's: < 0.008)"
            if norm is not None
            else ""
        )
        lines.append(f"| baseline input | {s['baseline']}{size} |")
    if s.get("epochs_run") is not None:
        lines.append(f"| epochs run (best) | {s.get('epochs_run')} ({s.get('best_epoch')}) |")
    lines += ["", "## Accuracy (paper Table 1)", ""]
    paper_ds = PAPER_DATASET.get(dataset)
    paper = PAPER_ACCURACY.get(paper_ds or "", {})
    note = ""
    if paper_ds == "SST":
        note = (
            " The paper reports SST, which was built from these Rotten Tomatoes sentences "
            "(with a different split and phrase-level labels), so the comparison is loose."
        )
    elif not paper_ds:
        note = " The paper has no numbers for this dataset."
    lines += [
        f"| model | ours (test) | paper ({paper_ds or 'n/a'}) |",
        "|---|---|---|",
        f"| {arch_name} | {_pct(s.get('test_accuracy'), 2)} | "
        f"{paper.get(arch, 'n/a') if paper else 'n/a'}{'%' if arch in paper else ''} |",
        f"| bag of words | {_pct(s.get('bow_test_accuracy'), 2)} | "
        f"{str(paper['bow']) + '%' if paper else 'n/a'} |",
        f"| reduced line model (analysed documents) | {_pct(s.get('reduced_accuracy'), 2)} | "
        "(a linear model is ~3% below the gated RNN) |",
        "",
    ]
    if note:
        lines += [note.strip(), ""]
    if paper and arch in paper and s.get("test_accuracy") is not None:
        gap = 100 * float(s["test_accuracy"]) - paper[arch]
        lines += (
            [
                f"Our {arch_name} is {abs(gap):.2f} points "
                f"{'above' if gap >= 0 else 'below'} the "
                "paper's. We train on 80% of the 25,000 labelled IMDB reviews and test on a "
                "held-out 10% (the paper trained on 25,000 and tested on another 25,000), "
                "for a few epochs to fit a CPU budget.",
                "",
            ]
            if paper_ds == "IMDB"
            else []
        )
    lines += baseline_section(s)
    lines += _structure_section(s)
    lines += _profile_section(s)
    lines += [
        "## The line attractor, number by number",
        "",
        "| quantity | ours | paper | agrees |",
        "|---|---|---|---|",
    ]
    for r in rows:
        mark = "✓" if r["ok"] else ("✗" if r["ok"] is False else "n/a")
        cells = [_cell(r["quantity"]), _cell(r["ours"]), _cell(r["paper"]), mark]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""]
    if misses:
        lines += ["### Where ours differs", ""]
        lines += [f"- **{r['quantity']}**: {r['ours']} ({r['why']})." for r in misses]
        lines += [""]
    else:
        lines += ["Every checked number agrees with the paper.", ""]
    lines += modifier_section(s)
    captions = figure_captions(s, attractor)
    lines += ["## Figures", ""]
    for name, path in figures.items():
        rel = os.path.relpath(path, base)
        lines += [
            f"### {name.replace('_', ' ')}",
            "",
            f"![{name}]({rel})",
            "",
            captions.get(name, ""),
            "",
        ]
    lines += [
        "## How to read this report",
        "",
        "- *Fixed points* are states h with F(h, x_b) = h: where the network would stay if it "
        "kept reading its average input x_b (the baseline input, below). The paper accepts "
        "approximate ones, ||F(h, x) - h||²/N < 1e-8.",
        "- *Clusters*: accepted points closer than 5% of the line's extent are one cluster; "
        "Newton's method from its members finds the exact root it surrounds (or none: a *slow "
        "region*). Stability is judged at that root: *stable* when every |λ| < 1, *unstable* "
        "when some |λ| > 1 (a *saddle* when other modes still decay).",
        "- *λ₁* is the largest eigenvalue of the Jacobian at a fixed point; |λ₁| ≈ 1 means one "
        "direction neither grows nor decays: the network can hold evidence there indefinitely. "
        "A decaying mode's time constant τ = -1/ln|λ| counts tokens; growing modes have none.",
        "- *Baseline input* x_b: the mean embedding of a token in the training documents, the "
        "input the network receives on average. The paper analysed its networks at x = 0 "
        "because their mean embedding was within 8e-3 of zero; ours need not be, so fixed "
        "points, Jacobians and drift are of F(h, x_b), token projections use "
        "J_inp (e(word) - x_b), and the same rows at x = 0 are shown beside them.",
        "- *Drift*: states relaxed onto the line are run at the baseline input for one "
        "median-length "
        "document; the distance they move along the line, as a share of its extent, says "
        "whether the line holds evidence over a document there.",
        "- *r₁ / l₁* are the top right / left eigenvectors. r₁ is the direction of the line; "
        "l₁ᵀ J_inp e(word) (the *input projection*) is how far one occurrence of a word moves "
        "the state along it.",
        "- *Alignment* rows compare |cos| between two directions with random directions inside "
        "the subspace holding 95% of the states' variance (the matched null): *aligned* only "
        "above it; *above chance only* when above random directions in the whole state space "
        "but not above the matched null.",
        "- ✓ agrees with the paper (or meets the target stated), ✗ differs, n/a not applicable.",
        "",
        "## Files",
        "",
        "- `model/`: the trained Keras model (`model.keras`) and its `vocabulary.txt`.",
        "- `results/line_attractor.nc`: every number above, labelled (open with "
        "`dynalyze.load` or `xarray.open_dataset`); `results/line_attractor_zero.nc`: the same "
        "structure, profile and alignments at x = 0; `results/continuation.nc`: every root "
        "followed from x = 0 to the baseline input.",
        "- `results/fixed_points.nc`: every fixed-point search with its status; "
        "`results/linearization.nc`: Jacobians and eigendecompositions at fixed points spread "
        "along the manifold; `results/trajectories.nc`: hidden states of the first test "
        "documents.",
        "- `figures/`: the PNG figures; `run.json`: configuration, data split, training "
        "history and seconds per stage.",
        "",
    ]
    return "\n".join(lines)


def write_report(
    path: str | os.PathLike[str],
    summary: Mapping[str, Any],
    attractor: xr.Dataset | None,
    figures: Mapping[str, str | os.PathLike[str]],
    recipe: Any,
    config: Any,
) -> Path:
    """Write the Markdown report to ``path`` (figure links relative to its folder).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     figures = {"state_pca": Path(folder) / "figures" / "state_pca.png"}
    ...     summary = {"arch": "lstm", "dataset": "synthetic"}
    ...     path = write_report(Path(folder) / "report.md", summary, None, figures, None, None)
    ...     text = path.read_text(encoding="utf-8")
    >>> path.name, text.splitlines()[0]
    ('report.md', '# dynalyze report: LSTM on synthetic')
    >>> "![state_pca](figures/state_pca.png)" in text
    True
    """
    target = Path(path)
    text = render_report(summary, attractor, figures, recipe, config, base=target.parent)
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target


def _headline(s: Mapping[str, Any]) -> str:
    """The verdict generated from the structure and profile (dynalyze.attractors.mechanism)."""
    from dynalyze.attractors.mechanism import mechanism

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
    from dynalyze.attractors.mechanism import _slowness_sentence

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


def _modifier_kind(m: Mapping[str, Any]) -> str:
    """What a modifier does to the next word, judged on its 95% interval when there is one."""
    first = m["strength"][0]
    low = (m.get("strength_low") or [first])[0]
    high = (m.get("strength_high") or [first])[0]
    if high < 0:
        return "flips"
    if low > 1:
        return "amplifies" if first >= 1.1 else "slightly amplifies"
    if high < 1:
        return "dampens" if first <= 0.9 else "slightly dampens"
    return "leaves unchanged"


_KIND_TEXT = {
    "flips": "flips the next word's effect",
    "amplifies": "amplifies the next word's effect",
    "slightly amplifies": "amplifies the next word's effect by less than 10%",
    "dampens": "dampens the next word's effect without flipping it",
    "slightly dampens": "dampens the next word's effect by less than 10%",
    "leaves unchanged": "leaves the next word's effect unchanged (its interval holds 1)",
}


def modifier_section(s: Mapping[str, Any]) -> list[str]:
    """The modifier-word section (Maheswaranathan & Sussillo 2020), from the numbers.

    A modifier's verdict uses the bootstrap 95% interval of its strength right after
    it: it flips only when the whole interval is below 0, amplifies when it is above 1.

    Examples
    --------
    >>> lines = modifier_section({"modifiers": {"not": {"strength": [-0.4, 0.1, 0.8],
    ...     "strength_low": [-0.6, 0.0, 0.7], "strength_high": [-0.2, 0.2, 0.9],
    ...     "ablated": [1.0, 1.0, 1.0], "time_constant": 1.5, "fast_share": 0.9}},
    ...     "recovered_fraction": 0.5, "recovered_fraction_low": 0.1,
    ...     "recovered_fraction_high": 0.9, "plain_bow_accuracy": 0.86,
    ...     "augmented_bow_accuracy": 0.87, "test_accuracy": 0.88})
    >>> lines[0]
    '## Modifier words'
    >>> lines[4]
    "Of 1 modifier, these flip the next word's effect: not; these amplify it: none."
    >>> "flips" in lines[6]
    True
    """
    mods = s.get("modifiers") or {}
    if not mods:
        return []
    kinds = {name: _modifier_kind(m) for name, m in mods.items()}
    flips = [n for n, k in kinds.items() if k == "flips"]
    amplifies = [n for n, k in kinds.items() if k == "amplifies"]

    def listed(names: list[str]) -> str:
        return ", ".join(names) if names else "none"

    lines = [
        "## Modifier words",
        "",
        "Strength = a valence word's effect on the logit right after the modifier (and after "
        "s filler tokens) divided by its effect after a neutral filler, in real test "
        "contexts, each effect taken against a neutral word in the same slot: below 0 "
        "flips, above 1 amplifies (Maheswaranathan & Sussillo 2020). Intervals are "
        "bootstrap 95% over contexts.",
        "",
        f"Of {len(mods)} modifier{'s' if len(mods) != 1 else ''}, these flip the next word's "
        f"effect: {listed(flips)}; these amplify it: {listed(amplifies)}.",
        "",
    ]
    for name, m in mods.items():
        first = m["strength"][0]
        interval = (
            f", 95% {m['strength_low'][0]:.2f} to {m['strength_high'][0]:.2f}"
            if m.get("strength_low")
            else ""
        )
        tau = m.get("time_constant")
        decay = (
            f"; the change decays with a time constant of {tau:.1f} tokens"
            if tau is not None and np.isfinite(tau) and abs(first - 1) > 0.1
            else ""
        )
        signs = ""
        pos, neg = (
            (m.get("strength_positive") or [None])[0],
            (m.get("strength_negative") or [None])[0],
        )
        if pos is not None and neg is not None and np.isfinite(pos) and np.isfinite(neg):
            signs = f" (positive words {pos:.2f}, negative words {neg:.2f})"
        lines.append(
            f"- **{name}** {_KIND_TEXT[kinds[name]]}: strength {first:.2f} right after it"
            f"{interval}{signs}, {m['strength'][-1]:.2f} after {len(m['strength']) - 1} "
            f"tokens{decay}; {100 * m['fast_share']:.0f}% of its push lies in fast modes, and "
            f"removing the push from its subspace gives a strength of {m['ablated'][0]:.2f}."
        )
    if s.get("recovered_fraction") is None and s.get("plain_bow_accuracy") is not None:
        lines += [
            "",
            f"A bag of words whose words are scaled by these strengths reaches "
            f"{_pct(s['augmented_bow_accuracy'])} against {_pct(s['plain_bow_accuracy'])} "
            f"for plain counts; the network ({_pct(s['test_accuracy'])}) does not beat plain "
            "bag of words on this split, so there is no gain for the modifiers to recover.",
        ]
    if s.get("recovered_fraction") is not None:
        width = s["recovered_fraction_high"] - s["recovered_fraction_low"]
        gain = s["test_accuracy"] - s["plain_bow_accuracy"]
        lines += [
            "",
            f"A bag of words whose words are scaled by these strengths reaches "
            f"{_pct(s['augmented_bow_accuracy'])} against {_pct(s['plain_bow_accuracy'])} "
            f"for plain counts and {_pct(s['test_accuracy'])} for the network: it recovers "
            f"{_pct(s['recovered_fraction'], 0)} of the network's gain of "
            f"{100 * gain:.1f} points over bag of words (95% bootstrap interval "
            f"{_pct(s['recovered_fraction_low'], 0)} to {_pct(s['recovered_fraction_high'], 0)}"
            + ("; the gain is small, so the interval is wide)." if width > 0.5 else ")."),
        ]
    return [*lines, ""]


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
    mods = s.get("modifiers") or {}
    if mods:
        parts = [f"{name} {m['strength'][0]:.2f}" for name, m in mods.items()]
        caps["modifiers"] = (
            "Strength of each modifier against the tokens between it and the valence word "
            f"(right after it: {', '.join(parts)}); dashed: with the modifier's push removed "
            "from its subspace."
        )
    return caps
