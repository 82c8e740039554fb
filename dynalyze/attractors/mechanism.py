"""What the measured structure says the network does, in one generated sentence.

:func:`mechanism` reads the fixed-point structure and the manifold profile of a
line-attractor analysis (a ``line_attractor`` dataset, or its summary) and
classifies the dynamics by rules stated here, each a measured statement:

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
    between them) and the line is not slow on 80% of it: states are pulled to
    either end within a document.
``leaky_integrator``
    No slice keeps evidence over a document (no mode with
    ``|lambda| >= exp(-1 / median length)``): evidence decays.
``partially_slow``
    Anything else: the line is slow on part of its length only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import xarray as xr

__all__ = ["MECHANISMS", "Mechanism", "mechanism", "structure_rows"]

MECHANISMS = (
    "plane_attractor",
    "line_attractor",
    "approximate_line_attractor",
    "bistable",
    "leaky_integrator",
    "partially_slow",
)

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


def _structure_sentence(
    rows: Sequence[Mapping[str, Any]], low: float | None = None, high: float | None = None
) -> str:
    clusters = [r for r in rows if r["kind"] != "isolated_root"]
    isolated = [r for r in rows if r["kind"] == "isolated_root"]
    if not rows:
        return "No fixed point was found."
    parts = []
    for r in clusters:
        kind = {
            "fixed_point": "fixed point",
            "slow_region": "slow region without an exact root",
            "continuum": "continuum of fixed points",
        }[r["kind"]]
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
        f"With zero input, a state on the line drifts a median {_share(drift)} of the "
        f"line's extent over one median-length document ({length} tokens; "
        f"up to {_share(worst if worst is not None else drift)}), so the line holds evidence "
        f"over a document (drift below {_share(tol)} and a mode that keeps it) on "
        f"{_share(slow)} of its length"
    )
    if crossing is not None and length:
        if not math.isfinite(crossing) or crossing > 1000 * length:
            text += "; at the local zero-input speeds crossing the line would take more than "
            text += "1,000 documents"
        else:
            text += (
                f"; crossing the line at the local zero-input speeds takes ~{crossing:.0f} "
                f"tokens ({crossing / length:.1f} documents)"
            )
    return text + "."


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
            "zero-input drift stays below tolerance along the visited line."
        )
    elif dim == 0 and slow == 0.0:
        kind = "leaky_integrator"
        verdict = (
            "**The network is not a line attractor: it forgets.** No mode keeps evidence over "
            "a median-length document anywhere along the visited states."
        )
    elif n_stable >= 2 and n_unstable >= 1:
        kind = "bistable"
        verdict = (
            f"**Not a line attractor over a document: {n_stable} stable ends joined through "
            f"{_plural(n_unstable, 'unstable point')} (saddle)**, with the line slow on only "
            f"part of its length."
        )
    else:
        kind = "partially_slow"
        saddle = f" and {_plural(n_unstable, 'unstable point')}" if n_unstable else ""
        verdict = (
            f"**An approximate line attractor on part of the line only**: {n_stable} stable "
            f"point{'s' if n_stable != 1 else ''}{saddle}, slow on {100 * slow:.0f}% of "
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
