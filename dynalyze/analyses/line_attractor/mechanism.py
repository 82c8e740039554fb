"""What the measured structure says the network does, in one generated sentence.

:func:`mechanism` reads the fixed-point structure and the manifold profile of a
line-attractor analysis (a ``line_attractor`` dataset, one of its views, or its
summary) and classifies the dynamics by rules stated here, each a measured
statement, tested in this order (structure before time constants):

``plane_attractor``
    The slow subspace has two or more dimensions over most of the visited
    states, and the line is slow (drift per document below tolerance) on at
    least ``slow_share`` (80%) of it.
``line_attractor``
    A continuum of exact fixed points (``n_continua > 0``) with a 1-D slow
    subspace, slow on at least 80% of the line.
``approximate_line_attractor``
    No continuum, but slow on at least 80% of the line with a 1-D slow subspace.
``bistable``
    Two or more stable points and at least one unstable point (a saddle
    between them; clusters of accepted points or exact roots that root finding
    from the visited states reaches), and the line is not slow on 80% of it: a
    switch, whatever the time constants; the headline then says how long each
    stable end keeps graded evidence (its top time constant against a document).
``leaky_integrator``
    No slice keeps evidence over a document (no mode with
    ``|lambda| >= exp(-1 / median length)``): evidence decays.
``drifting``
    Slow nowhere along the line (0% of it) although some mode keeps evidence:
    states drift along the line within a document; never called an attractor.
``partially_slow``
    Anything else: the line is slow on part of its length only.

The structure sentence lists up to :data:`MAX_LISTED` distinct clusters one by
one; more are summarised (how many of each kind and stability, over which span,
inside or beyond the visited states).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import xarray as xr

__all__ = ["MAX_LISTED", "MECHANISMS", "Mechanism", "input_phrase", "mechanism", "structure_rows"]

MECHANISMS = (
    "plane_attractor",
    "line_attractor",
    "approximate_line_attractor",
    "bistable",
    "leaky_integrator",
    "drifting",
    "partially_slow",
)

#: Clusters the headline lists one by one; more are summarised.
MAX_LISTED = 5

_KIND_NAMES = {0: "fixed_point", 1: "slow_region", 2: "continuum", 3: "isolated_root"}


def structure_rows(attractor: xr.Dataset) -> list[dict[str, Any]]:
    """The fixed-point structure of a ``line_attractor`` dataset as plain dicts (one per row).

    Examples
    --------
    >>> structure_rows(xr.Dataset())
    []
    """
    if "cluster_kind" not in attractor:
        return []
    flags = {0: "stable", 1: "marginal", 2: "saddle", 3: "unstable"}
    rows = []
    for i in range(attractor.sizes["cluster"]):
        eig = np.abs(attractor["cluster_eigenvalue"].values[i])
        stable = bool(attractor["cluster_is_stable"].values[i])
        unstable = int(attractor["cluster_n_unstable_modes"].values[i]) > 0
        klass = int(attractor["cluster_stability"].values[i])
        if stable:
            label = "stable"
        elif unstable:
            label = "saddle" if klass == 2 else "unstable"
        else:
            label = "marginal"
        gain = (
            float(attractor["cluster_token_gain"].values[i])
            if "cluster_token_gain" in attractor
            else float("nan")
        )
        rows.append(
            {
                "kind": _KIND_NAMES[int(attractor["cluster_kind"].values[i])],
                "size": int(attractor["cluster_size"].values[i]),
                "position": float(attractor["cluster_position"].values[i]),
                "position_low": float(attractor["cluster_position_low"].values[i]),
                "position_high": float(attractor["cluster_position_high"].values[i]),
                "stability": label,
                "stability_class": flags[klass],
                "n_unstable_modes": int(attractor["cluster_n_unstable_modes"].values[i]),
                "top_eigenvalue_magnitudes": [float(v) for v in eig[:3]],
                "normalized_speed": float(attractor["cluster_normalized_speed"].values[i]),
                "root_distance": float(attractor["cluster_root_distance"].values[i]),
                "token_gain": gain,
            }
        )
    return rows


@attrs.frozen
class Mechanism:
    """A classification of the dynamics and the sentence that states it.

    Parameters
    ----------
    kind : str
        One of :data:`MECHANISMS`.
    headline : str
        The structure first (which fixed points, stable or not, where), then
        how slow the line is compared with a document.

    Examples
    --------
    >>> m = mechanism({"slow_fraction": 0.0, "median_slow_subspace_dim": 0.0,
    ...                "median_drift_per_document": 0.02, "median_document_length": 50})
    >>> isinstance(m, Mechanism), m.kind, isinstance(m.headline, str)
    (True, 'leaky_integrator', True)
    """

    kind: str
    headline: str


def _get(summary: Mapping[str, Any], name: str) -> Any:
    value = summary.get(name)
    if isinstance(value, xr.DataArray):
        value = value.values.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _fmt(value: float) -> str:
    return f"{value:+.2f}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


_KIND_TEXT = {
    "fixed_point": "fixed point",
    "slow_region": "slow region without an exact root",
    "continuum": "continuum of fixed points",
}
_KIND_PLURAL = {
    "fixed_point": "fixed points",
    "slow_region": "slow regions without an exact root",
    "continuum": "continua of fixed points",
}


def _summary_of_many(
    clusters: Sequence[Mapping[str, Any]], low: float | None, high: float | None
) -> str:
    """Counts by stability and kind, the span, and where they lie against the visited states."""
    groups: dict[tuple[str, str], int] = {}
    for r in clusters:
        key = (r["stability"], r["kind"])
        groups[key] = groups.get(key, 0) + 1
    parts = [
        f"{n} {stability} {_KIND_TEXT[kind] if n == 1 else _KIND_PLURAL[kind]}"
        for (stability, kind), n in sorted(groups.items(), key=lambda item: -item[1])
    ]
    positions = [float(r["position"]) for r in clusters]
    span = f"between {_fmt(min(positions))} and {_fmt(max(positions))}"
    where = ""
    if low is not None and high is not None:
        inside = sum(low <= p <= high for p in positions)
        visited = f"the visited states ({_fmt(low)} to {_fmt(high)}, 1st-99th percentile)"
        if inside == len(positions):
            where = f", all inside {visited}"
        elif inside == 0:
            where = f", all beyond {visited}"
        else:
            where = f", {inside} of them inside {visited}"
    return (
        ", ".join(parts[:-1])
        + (" and " if len(parts) > 1 else "")
        + parts[-1]
        + (f", {span}{where}")
    )


def _structure_sentence(
    rows: Sequence[Mapping[str, Any]], low: float | None = None, high: float | None = None
) -> str:
    clusters = [r for r in rows if r["kind"] != "isolated_root"]
    isolated = [r for r in rows if r["kind"] == "isolated_root"]
    if not rows:
        return "No fixed point was found."
    if len(clusters) > MAX_LISTED:
        n_stable = sum(r["stability"] == "stable" for r in clusters)
        n_unstable = sum(r["stability"] in ("saddle", "unstable") for r in clusters)
        text = (
            f"The accepted fixed points form {_plural(len(clusters), 'distinct cluster')} "
            f"({n_stable} stable, {n_unstable} unstable, "
            f"{len(clusters) - n_stable - n_unstable} marginal): "
            f"{_summary_of_many(clusters, low, high)}."
        )
        if isolated:
            text += (
                f" Root finding from visited states also finds "
                f"{_plural(len(isolated), 'exact root')} no cluster surrounds."
            )
        return text
    parts = []
    for r in clusters:
        kind = _KIND_TEXT[r["kind"]]
        lam = r["top_eigenvalue_magnitudes"][0] if r["top_eigenvalue_magnitudes"] else float("nan")
        where = (
            f"from {_fmt(r['position_low'])} to {_fmt(r['position_high'])}"
            if r["kind"] == "continuum"
            else f"at {_fmt(r['position'])}"
        )
        extra = (
            f", {_plural(r['n_unstable_modes'], 'unstable mode')}" if r["n_unstable_modes"] else ""
        )
        beyond = ""
        if low is not None and high is not None and not low <= r["position"] <= high:
            beyond = ", beyond the visited states (1st-99th percentile)"
        parts.append(f"a {r['stability']} {kind} {where} (|λ₁| {lam:.4f}{extra}{beyond})")
    n_stable = sum(r["stability"] == "stable" for r in clusters)
    n_unstable = sum(r["stability"] in ("saddle", "unstable") for r in clusters)
    n_marginal = len(clusters) - n_stable - n_unstable
    marginal = f", {n_marginal} marginal" if n_marginal else ""
    counts = (
        f"{_plural(len(clusters), 'distinct cluster')} of approximate fixed points "
        f"({n_stable} stable, {n_unstable} unstable{marginal})"
    )
    text = f"The accepted fixed points form {counts} along the line: " + "; ".join(parts) + "."
    if isolated:
        text += (
            f" Root finding from visited states also finds {_plural(len(isolated), 'exact root')} "
            "no cluster surrounds ("
            + "; ".join(f"{r['stability']} at {_fmt(r['position'])}" for r in isolated)
            + ")."
        )
    return text


def _slowness_sentence(summary: Mapping[str, Any]) -> str:
    slow = _get(summary, "slow_fraction")
    drift = _get(summary, "median_drift_per_document")
    worst = _get(summary, "max_drift_per_document")
    length = _get(summary, "median_document_length")
    crossing = _get(summary, "tokens_to_cross")
    tol = _get(summary, "drift_tolerance") or 0.1
    if slow is None or drift is None:
        return ""
    text = (
        f"{input_phrase(summary).capitalize()}, a state on the line drifts a median "
        f"{_share(drift)} of the "
        f"line's extent over one median-length document ({length} tokens; "
        f"up to {_share(worst if worst is not None else drift)}), so the line holds evidence "
        f"over a document (drift below {_share(tol)} and a mode that keeps it) on "
        f"{_share(slow)} of its length"
    )
    if crossing is not None and length:
        if not math.isfinite(crossing) or crossing > 1000 * length:
            text += "; at the local speeds there crossing the line would take more than "
            text += "1,000 documents"
        else:
            text += (
                f"; crossing the line at the local speeds there takes ~{crossing:,.0f} "
                f"tokens ({crossing / length:.1f} documents)"
            )
    return text + "."


#: ``baseline_kind`` flag -> how the input is named in sentences.
_INPUT_NAMES = {
    0: "with zero input",
    1: "at the baseline input (the mean token embedding)",
    2: "at the given baseline input",
}


def input_phrase(summary: Mapping[str, Any]) -> str:
    """How sentences name the input a view was analysed at (zero input when unrecorded).

    Examples
    --------
    >>> input_phrase({"baseline_kind": 1}), input_phrase({})
    ('at the baseline input (the mean token embedding)', 'with zero input')
    """
    kind = _get(summary, "baseline_kind")
    return _INPUT_NAMES.get(int(kind) if kind is not None else 0, _INPUT_NAMES[0])


def _end_memory(clusters: Sequence[Mapping[str, Any]], length: Any) -> str:
    """How long each stable end keeps graded evidence: its top time constant vs a document."""
    taus = []
    for r in clusters:
        lam = r["top_eigenvalue_magnitudes"][0] if r["top_eigenvalue_magnitudes"] else None
        if r["stability"] == "stable" and lam is not None and 0 < lam < 1:
            taus.append(-1.0 / math.log(lam))
    if not taus:
        return ""
    listed = ", ".join(f"{t:,.0f}" for t in taus)
    if length:
        docs = ", ".join(f"{t / float(length):.1f}" for t in taus)
        return (
            f"; at its stable ends graded evidence decays with time constants of {listed} "
            f"tokens ({docs} median documents)"
        )
    return f"; at its stable ends graded evidence decays with time constants of {listed} tokens"


def _share(value: float) -> str:
    if value == 0:
        return "0%"
    if value < 0.01:
        return "<1%"
    return f"{100 * value:.0f}%"


def mechanism(
    summary: Mapping[str, Any] | xr.Dataset,
    rows: Sequence[Mapping[str, Any]] | None = None,
    *,
    slow_share: float = 0.8,
) -> Mechanism:
    """Classify the dynamics from a line-attractor analysis (see the module docstring).

    Parameters
    ----------
    summary : mapping or xarray.Dataset
        A ``line_attractor`` dataset, or a run summary with its scalars.
    rows : sequence of dict, optional
        The fixed-point structure (:func:`structure_rows`); taken from the
        dataset, or the summary's ``fixed_point_structure``, when omitted.
    slow_share : float
        Share of the line that must be slow for a (line/plane) attractor verdict.

    Returns
    -------
    Mechanism

    Examples
    --------
    >>> mechanism({"slow_fraction": 0.0, "median_slow_subspace_dim": 0.0,
    ...            "median_drift_per_document": 0.02, "median_document_length": 50}).kind
    'leaky_integrator'
    """
    if isinstance(summary, xr.Dataset):
        rows = structure_rows(summary) if rows is None else rows
        values: Mapping[str, Any] = {
            str(k): summary[k].values.item() for k in summary.data_vars if summary[k].ndim == 0
        }
    else:
        values = summary
        if rows is None:
            rows = list(values.get("fixed_point_structure") or [])
    rows = list(rows)
    clusters = [r for r in rows if r["kind"] != "isolated_root"]
    n_stable = sum(r["stability"] == "stable" for r in clusters)
    n_unstable = sum(r["stability"] in ("saddle", "unstable") for r in clusters)
    # A switch needs its ends and saddle to exist, whether the accepted points tile them
    # or only root finding from the visited states reached them (isolated roots).
    roots = [r for r in rows if r["kind"] != "slow_region"]
    switch_stable = sum(r["stability"] == "stable" for r in roots)
    switch_unstable = sum(r["stability"] in ("saddle", "unstable") for r in roots)
    n_continua = sum(r["kind"] == "continuum" for r in rows)
    slow = _get(values, "slow_fraction") or 0.0
    dim = _get(values, "median_slow_subspace_dim")
    dim = 0.0 if dim is None else float(dim)

    if dim >= 2 and slow >= slow_share:
        kind = "plane_attractor"
        verdict = (
            f"**The network integrates along a {int(dim)}-D attractor, not a line**: "
            f"{int(dim)} modes keep evidence over a document across the visited states."
        )
    elif n_continua and slow >= slow_share:
        kind = "line_attractor"
        verdict = (
            "**The network integrates evidence along a line attractor**: a continuum of "
            "exact fixed points, slow along the whole visited range."
        )
    elif slow >= slow_share and dim >= 1:
        kind = "approximate_line_attractor"
        verdict = (
            "**The network integrates evidence along an approximate line attractor**: "
            "the drift stays below tolerance along the visited line."
        )
    elif switch_stable >= 2 and switch_unstable >= 1:
        kind = "bistable"
        verdict = (
            f"**Not a line attractor over a document but a switch: {switch_stable} stable "
            f"ends joined through {_plural(switch_unstable, 'unstable point')} (saddle)**, the "
            f"line slow on {_share(slow)} of its length"
            + _end_memory(roots, _get(values, "median_document_length"))
            + "."
        )
    elif dim == 0 and slow == 0.0:
        kind = "leaky_integrator"
        verdict = (
            "**The network is not a line attractor: it forgets.** No mode keeps evidence over "
            "a median-length document anywhere along the visited states."
        )
    elif slow == 0.0:
        kind = "drifting"
        saddle = f" and {_plural(n_unstable, 'unstable point')}" if n_unstable else ""
        verdict = (
            f"**Not a line attractor over a document: states drift along the line** (slow on "
            f"0% of it) toward {n_stable} stable point{'s' if n_stable != 1 else ''}{saddle}."
        )
    else:
        kind = "partially_slow"
        saddle = f" and {_plural(n_unstable, 'unstable point')}" if n_unstable else ""
        verdict = (
            f"**An approximate line attractor on part of the line only**: {n_stable} stable "
            f"point{'s' if n_stable != 1 else ''}{saddle}, slow on {_share(slow)} of "
            "the visited line."
        )
    headline = " ".join(
        t
        for t in (
            verdict,
            _structure_sentence(
                rows, _get(values, "manifold_visited_low"), _get(values, "manifold_visited_high")
            ),
            _slowness_sentence(values),
        )
        if t
    )
    return Mechanism(kind, headline)
