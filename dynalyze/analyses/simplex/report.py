"""The simplex attractor's report section, every sentence from the numbers."""

from __future__ import annotations

from typing import Any

import xarray as xr

from dynalyze.analyses.base import ReportSection

__all__ = ["classes_headline", "simplex_section"]


def classes_headline(summary: dict[str, Any]) -> str:
    """The verdict on the attractor's dimension, from the numbers.

    Examples
    --------
    >>> classes_headline({"n_classes": 5, "late_state_dim_95": 4,
    ...                   "late_state_participation_ratio": 3.6, "fixed_point_dim_95": 4})
    ... # doctest: +ELLIPSIS
    '**An (N-1)-dimensional attractor.** The final states hold 95% of their variance in 4 ...'
    """
    n = int(summary["n_classes"])
    dim = int(summary["late_state_dim_95"])
    ratio = float(summary["late_state_participation_ratio"])
    if dim == n - 1:
        title = "**An (N-1)-dimensional attractor.**"
        meaning = "the dimension of a simplex with one vertex per class"
    elif dim < n - 1:
        title = "**A lower-dimensional attractor than N-1.**"
        meaning = (
            "some classes share directions (as ordered classes do), so the network does not "
            "hold a separate evidence axis for every class"
        )
    else:
        title = "**More dimensions than N-1.**"
        meaning = "more than a simplex of the classes needs"
    return (
        f"{title} The final states hold 95% of their variance in {dim} dimensions "
        f"(participation ratio {ratio:.2f}) for N = {n} classes (N - 1 = {n - 1}): "
        f"{meaning}; the distinct fixed points span {summary['fixed_point_dim_95']} "
        "dimension(s)."
    )


def simplex_section(summary: dict[str, Any], simplex: xr.Dataset) -> ReportSection:
    """The N-class attractor's report section.

    Examples
    --------
    >>> import numpy as np
    >>> summary = {"n_classes": 3, "late_state_dim_95": 2,
    ...            "late_state_participation_ratio": 1.9, "fixed_point_dim_95": 2,
    ...            "n_fixed_points_used": 7, "median_n_slow_modes": 2.0,
    ...            "late_state_readout_alignment": 0.9, "slow_readout_alignment": 0.8,
    ...            "readout_simplex_error": 0.1, "simplex_cosine": -0.5,
    ...            "reduced_agreement": 0.95, "class_names": ["a", "b", "c"]}
    >>> simplex = xr.Dataset({"readout_cosine": (("class", "class_b"), -0.5 + 1.5 * np.eye(3))},
    ...                      coords={"class": ["a", "b", "c"], "class_b": ["a", "b", "c"]})
    >>> section = simplex_section(summary, simplex)
    >>> section.headline.split(" The")[0], section.lines[0]
    ('**An (N-1)-dimensional attractor.**', '## The attractor')
    """
    n = int(summary["n_classes"])
    names = list(summary.get("class_names", []))
    lines = [
        "## The attractor",
        "",
        f"- Dimension: {summary['late_state_dim_95']} principal components hold 95% of the "
        f"final states' variance (participation ratio "
        f"{summary['late_state_participation_ratio']:.2f}); N - 1 = {n - 1}.",
        f"- Fixed points: {summary['n_fixed_points_used']} distinct converged fixed points, "
        f"spanning {summary['fixed_point_dim_95']} dimension(s) (95% of their variance).",
        f"- Slow modes: a median of {summary['median_n_slow_modes']:.1f} eigenmodes per fixed "
        "point have |λ| > 0.9 (time constant above ~9.5 tokens).",
        f"- Readout: {100 * summary['late_state_readout_alignment']:.0f}% of the readout's "
        f"class-difference space lies inside the final states' top {n - 1} PCs, and "
        f"{100 * summary['slow_readout_alignment']:.0f}% inside the slow subspace at the "
        "centre of the final states.",
        f"- Readout geometry: the centred class readout directions deviate from a regular "
        f"simplex (all cosines {summary['simplex_cosine']:.2f}) by at most "
        f"{summary['readout_simplex_error']:.2f}.",
        f"- Reduced model: integrating every token's input, projected onto the top {n - 1} "
        f"PCs, agrees with the network's predicted class on "
        f"{100 * summary['reduced_agreement']:.1f}% of the documents.",
        "",
        "Cosines between the centred class readout directions:",
        "",
        "| | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    cosine = simplex["readout_cosine"].values
    for i, name in enumerate(names):
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in cosine[i]) + " |")
    ratio = summary["late_state_participation_ratio"]
    caption = (
        f"*Final states of the analysed documents on their first two principal components, "
        f"by class (left), and the share of variance per component (right): "
        f"{summary['late_state_dim_95']} components for 95%, participation ratio "
        f"{ratio:.2f}, against N - 1 = {n - 1}.*"
    )
    return ReportSection(
        lines=[*lines, ""],
        headline=classes_headline(summary),
        captions={"class_states": caption},
        glossary=(
            "*Simplex attractor*: N classes need N - 1 evidence directions; the final states' "
            "dimension and the readout's class directions say whether the network holds "
            "one per class.",
        ),
        files=(
            "`results/simplex_attractor.nc`: dimensions, fixed points, slow modes and readout "
            "geometry; `results/trajectories.nc`: hidden states of the first test documents.",
        ),
    )
