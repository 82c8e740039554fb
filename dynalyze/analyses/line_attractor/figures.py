"""Matplotlib figures of a line-attractor analysis.

Every function takes the labelled datasets, draws on a new figure (or a given
axes) and returns the :class:`matplotlib.figure.Figure`; :func:`save_all`
writes the standard set as PNG files. Figures are built with the object-oriented
API (no ``pyplot``), so they never touch the user's matplotlib backend and work
on machines without a display.

The examples analyse the exact line attractor of
:func:`dynalyze.testing.toys.exact_integrator` (``h' = diag(1, 0.3) h + x``,
word valences ``good`` 0.7, ``great`` 1.2, ``bad`` -0.9, ``awful`` -1.0), which
takes a fraction of a second, and read back what the figures drew.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from dynalyze._atomic import atomic_path

__all__ = [
    "eigenvalue_spectra",
    "manifold_profile",
    "linearization_error",
    "projection_vs_bow",
    "relaxation",
    "save_all",
    "state_pca",
    "time_constants",
    "token_projections",
    "variance_explained",
]

logger = logging.getLogger(__name__)

_NEG, _POS = "#c0392b", "#2471a3"


def _figure(size: tuple[float, float] = (5.5, 4.2)) -> tuple[Figure, Any]:
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots()


def state_pca(attractor: xr.Dataset) -> Figure:
    """Visited states on PC1-PC2 coloured by label, fixed points and the readout direction.

    Uses the uniform sample of visited states stored in the attractor dataset.

    Examples
    --------
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> fig = state_pca(LineAttractor(n_initial=60).fit(*exact_integrator()))
    >>> ax = fig.axes[0]
    >>> ax.get_xlabel().startswith("PC1"), len(ax.collections) > 0
    (True, True)
    """
    fig, ax = _figure((5.8, 4.8))
    axes = attractor["state_pc_axes"].values[:2]
    mean = attractor["state_mean"].values
    pts = (attractor["sampled_state"].values.astype(np.float64) - mean) @ axes.T
    labels = attractor["sampled_label"].values
    if np.any(labels >= 0):
        for value, colour, name in ((0, _NEG, "negative"), (1, _POS, "positive")):
            sel = labels == value
            ax.scatter(
                pts[sel, 0],
                pts[sel, 1],
                s=2,
                alpha=0.25,
                color=colour,
                label=f"states in {name} documents",
                rasterized=True,
            )
    else:
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.25, color="grey", rasterized=True)
    fps = attractor["fixed_point_state"].values
    if fps.size:
        proj = (fps - mean) @ axes.T
        ax.scatter(proj[:, 0], proj[:, 1], s=6, color="0.45", label="accepted approximate points")
    _mark_clusters(ax, attractor, mean, axes)
    readout = attractor["readout_weight"].values @ axes.T
    norm = np.linalg.norm(readout)
    if norm > 0:
        # Scale the arrow to reach 40% of the way to the edge of the cloud in its direction.
        half = 0.5 * np.ptp(pts, axis=0) if len(pts) else np.ones(2)
        with np.errstate(divide="ignore"):
            reach = np.min(np.where(readout != 0, half / np.abs(readout), np.inf))
        arrow = readout * 0.8 * reach
        ax.annotate(
            "",
            xy=tuple(arrow),
            xytext=(0, 0),
            annotation_clip=False,
            arrowprops={"arrowstyle": "->", "color": "darkorange", "lw": 2},
        )
        ax.plot([], [], color="darkorange", lw=2, label="readout direction")
    ratio = attractor["state_variance_ratio"].values
    ax.set_xlabel(f"PC1 ({100 * ratio[0]:.1f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * ratio[1]:.1f}%)" if ratio.size > 1 else "PC2")
    ax.set_title("Hidden states and fixed points")
    legend = ax.legend(loc="best", fontsize=8)
    for handle in legend.legend_handles:
        if hasattr(handle, "set_sizes"):
            handle.set_sizes([24])
    return fig


#: Marker of each stability label in the state figures.
_MARKERS = {
    "stable": ("o", "black", "stable fixed point"),
    "saddle": ("X", "crimson", "saddle (unstable)"),
    "unstable": ("X", "crimson", "unstable fixed point"),
    "marginal": ("D", "darkviolet", "marginal / slow region"),
}


def _mark_clusters(ax: Any, attractor: xr.Dataset, mean: Any, axes: Any) -> None:
    """Mark the distinct fixed points by stability (stable, saddle, marginal)."""
    from dynalyze.analyses.line_attractor.mechanism import structure_rows

    rows = structure_rows(attractor)
    if not rows:
        return
    states = (attractor["cluster_state"].values - mean) @ axes.T
    seen: set[str] = set()
    for row, point in zip(rows, states, strict=True):
        label = row["stability"] if row["kind"] != "slow_region" else "marginal"
        marker, colour, name = _MARKERS[label]
        ax.scatter(
            point[0],
            point[1],
            s=90,
            marker=marker,
            color=colour,
            edgecolor="white",
            linewidth=0.8,
            zorder=5,
            label=None if label in seen else name,
        )
        seen.add(label)


#: Drifts drawn beside the analysis's own: variable, line style, legend label.
_DRIFT_OVERLAYS = (
    ("manifold_zero_drift", {"color": "grey", "ls": "--", "lw": 1.0}, "at zero input"),
    (
        "manifold_neutral_drift",
        {"color": "darkorange", "ls": ":", "lw": 1.5},
        "neutral-token streams",
    ),
)


def manifold_profile(attractor: xr.Dataset) -> Figure:
    """Drift per document, token gain and |lambda_1| along the manifold axis.

    The top panel shows the drift at the analysis's baseline input, and beside
    it the drift at zero input (dashed) and under random streams of neutral
    tokens (dotted) when the dataset has them.

    Examples
    --------
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> attractor = LineAttractor(n_initial=60).fit(*exact_integrator())
    >>> fig = manifold_profile(attractor)
    >>> len(fig.axes), fig.axes[0].get_title()
    (3, 'Dynamics along the line at the baseline input (document: 12 tokens)')
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:3]
    ['at the baseline input', 'at zero input', 'neutral-token streams']
    >>> lam = fig.axes[2].get_lines()[0].get_ydata()  # |lambda_1| in each slice of the line
    >>> round(float(np.nanmin(lam)), 6), round(float(np.nanmax(lam)), 6)
    (1.0, 1.0)
    """
    fig = Figure(figsize=(5.8, 6.4), layout="constrained")
    top, mid, bottom = fig.subplots(3, 1, sharex=True)
    if "manifold_position" not in attractor.coords:
        return fig
    x = attractor["manifold_position"].values
    drift = attractor["manifold_drift"].values
    slow = attractor["manifold_is_slow"].values.astype(bool)
    at_zero = int(attractor["baseline_kind"]) == 0 if "baseline_kind" in attractor else True
    top.plot(
        x,
        drift,
        color=_POS,
        marker=".",
        lw=1,
        label="at zero input" if at_zero else "at the baseline input",
    )
    for name, style, label in _DRIFT_OVERLAYS:
        if name in attractor:
            top.plot(x, attractor[name].values, **style, label=label)
    top.scatter(x[slow], drift[slow], color="seagreen", s=18, zorder=3, label="slow slice")
    tol = float(attractor["drift_tolerance"]) if "drift_tolerance" in attractor else 0.1
    top.axhline(tol, color="grey", ls="-", lw=0.6)
    top.set_ylabel("drift per document\n(share of the line)")
    length = (
        int(attractor["median_document_length"]) if "median_document_length" in attractor else 0
    )
    where = "with zero input" if at_zero else "at the baseline input"
    top.set_title(f"Dynamics along the line {where} (document: {length} tokens)", fontsize=10)
    gain = attractor["manifold_token_projection_gain"].values
    mid.plot(x, gain, color="darkorange", marker=".", lw=1)
    mid.set_yscale("log")
    mid.set_ylabel("token gain (RMS\nprojection)")
    lam = np.abs(attractor["manifold_eigenvalue"].values[:, 0])
    bottom.plot(x, lam, color="black", marker=".", lw=1)
    bottom.axhline(1.0, color="grey", lw=0.8)
    bottom.set_ylabel("$|\\lambda_1|$ at slowest state")
    bottom.set_xlabel("position along the manifold axis (PC1 of visited states)")
    from dynalyze.analyses.line_attractor.mechanism import structure_rows

    for row in structure_rows(attractor):
        label = row["stability"] if row["kind"] != "slow_region" else "marginal"
        marker, colour, _ = _MARKERS[label]
        for axis in (top, mid, bottom):
            axis.axvline(row["position"], color=colour, lw=0.8, alpha=0.6)
        bottom.scatter(
            row["position"],
            row["top_eigenvalue_magnitudes"][0],
            marker=marker,
            color=colour,
            s=50,
            zorder=4,
        )
    if slow.any() or len(top.get_lines()) > 1:
        top.legend(fontsize=7)
    return fig


def eigenvalue_spectra(
    attractor: xr.Dataset, linearization: xr.Dataset | None = None, *, max_points: int = 50
) -> Figure:
    """Eigenvalues of the recurrent Jacobian at the fixed points, with the unit circle.

    Examples
    --------
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> attractor = LineAttractor(n_initial=60).fit(*exact_integrator())
    >>> ax = eigenvalue_spectra(attractor, max_points=10).axes[0]
    >>> ax.get_title()
    'Jacobian eigenvalues at 10 fixed points'
    >>> np.unique(ax.collections[-1].get_offsets(), axis=0).tolist()  # every lambda_1 is 1 + 0j
    [[1.0, 0.0]]
    """
    fig, ax = _figure((4.8, 4.6))
    source = linearization if linearization is not None else attractor
    eig = source["eigenvalue"].values
    if eig.shape[0] > max_points:
        eig = eig[np.linspace(0, eig.shape[0] - 1, max_points).astype(int)]
    theta = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(theta), np.sin(theta), color="grey", lw=1, label="unit circle")
    if eig.size:
        ax.scatter(
            eig[:, 1:].real.ravel(),
            eig[:, 1:].imag.ravel(),
            s=6,
            alpha=0.4,
            color=_POS,
            label="other modes",
        )
        ax.scatter(
            eig[:, 0].real, eig[:, 0].imag, s=14, color="darkorange", label="top mode $\\lambda_1$"
        )
    ax.set_aspect("equal")
    ax.set_xlabel("Re $\\lambda$")
    ax.set_ylabel("Im $\\lambda$")
    ax.set_title(f"Jacobian eigenvalues at {eig.shape[0]} fixed points")
    ax.legend(loc="lower left", fontsize=8)
    return fig


def time_constants(attractor: xr.Dataset, *, modes: int = 5) -> Figure:
    """Time constants of the top modes along the fixed-point manifold (log scale).

    Examples
    --------
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> attractor = LineAttractor(n_initial=60).fit(*exact_integrator())
    >>> ax = time_constants(attractor).axes[0]
    >>> [line.get_label() for line in ax.get_lines()]
    ['mode 1', 'mode 2']
    >>> round(float(ax.get_lines()[1].get_ydata()[0]), 3)  # tau = -1 / ln(0.3) tokens
    0.831
    """
    fig, ax = _figure()
    coord = attractor["manifold_coordinate"].values
    tau = attractor["time_constant"].values
    order = np.argsort(coord)
    for k in range(min(modes, tau.shape[1] if tau.ndim == 2 else 0)):
        values = np.clip(tau[order, k], 1e-3, 1e9)
        ax.plot(coord[order], values, marker=".", lw=1, label=f"mode {k + 1}")
    ax.set_yscale("log")
    ax.set_xlabel("position along the fixed-point manifold (PC1 of fixed points)")
    ax.set_ylabel("time constant $\\tau$ (tokens)")
    ax.set_title("Time constants along the manifold")
    if tau.size:
        ax.legend(fontsize=8)
    return fig


def token_projections(attractor: xr.Dataset, *, top: int = 20) -> Figure:
    """The most positive and most negative token input projections.

    Examples
    --------
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> attractor = LineAttractor(n_initial=60).fit(*exact_integrator())
    >>> ax = token_projections(attractor, top=2).axes[0]
    >>> [label.get_text() for label in ax.get_yticklabels()]
    ['awful', 'bad', 'good', 'great']
    >>> [round(float(bar.get_width()), 6) for bar in ax.patches]
    [-1.0, -0.9, 0.7, 1.2]
    """
    fig, ax = _figure((5.8, 6.0))
    proj = attractor["token_projection"]
    values = proj.values
    usable = np.isfinite(values)
    floor = 0
    if "token_count" in attractor and "token_count_floor" in attractor:
        floor = int(attractor["token_count_floor"])
        usable &= attractor["token_count"].values >= floor
    finite = np.flatnonzero(usable)
    order = finite[np.argsort(values[finite])]
    chosen = np.concatenate([order[:top], order[-top:]]) if order.size else order
    tokens = attractor["token"].values[chosen]
    ax.barh(
        np.arange(chosen.size),
        values[chosen],
        color=[_POS if v > 0 else _NEG for v in values[chosen]],
    )
    ax.set_yticks(np.arange(chosen.size), labels=tokens, fontsize=7)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("input projection $l_1^T J_{inp} e(token)$")
    ax.set_title(
        f"Top {top} negative and positive tokens"
        + (f" (seen at least {floor} times)" if floor else "")
    )
    return fig


def projection_vs_bow(attractor: xr.Dataset) -> Figure:
    """Token projection against bag-of-words weight, one point per vocabulary word.

    Examples
    --------
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> bow = [np.nan, np.nan, 1.4, 2.4, -1.8, -2.0, 0.1]  # one weight per vocabulary id
    >>> attractor = LineAttractor(n_initial=60).fit(*exact_integrator(), bow_weights=bow)
    >>> projection_vs_bow(attractor).axes[0].get_title()
    'Projection vs BoW weight (Pearson r = 1.00)'
    >>> projection_vs_bow(attractor.drop_vars("bow_weight")).axes[0].texts[0].get_text()
    'no bag-of-words weights given'
    """
    fig, ax = _figure()
    if "bow_weight" not in attractor:
        ax.text(0.5, 0.5, "no bag-of-words weights given", ha="center", transform=ax.transAxes)
        return fig
    x = attractor["bow_weight"].values
    y = attractor["token_projection"].values
    keep = np.isfinite(x) & np.isfinite(y)
    ax.scatter(x[keep], y[keep], s=3, alpha=0.3, color="black", rasterized=True)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    r = float(attractor["bow_pearson_r"]) if "bow_pearson_r" in attractor else np.nan
    ax.set_xlabel("bag-of-words logistic regression weight")
    ax.set_ylabel("RNN token input projection")
    ax.set_title(f"Projection vs BoW weight (Pearson r = {r:.2f})")
    return fig


def linearization_error(attractor: xr.Dataset) -> Figure:
    """Distribution of the one-step relative linearization error.

    Examples
    --------
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> attractor = LineAttractor(n_initial=60).fit(*exact_integrator())
    >>> ax = linearization_error(attractor).axes[0]
    >>> ax.get_legend().get_texts()[0].get_text()  # a linear network linearizes exactly
    'median 0.0%'
    """
    fig, ax = _figure()
    err = attractor["linearization_error"].values.ravel()
    err = err[np.isfinite(err) & (err > 0)]
    if err.size:
        bins = np.logspace(np.log10(err.min()), np.log10(err.max()), 60)
        ax.hist(err, bins=bins, color=_POS, alpha=0.8)
        ax.set_xscale("log")
        median = float(np.median(err))
        ax.axvline(median, color="darkorange", lw=2, label=f"median {100 * median:.1f}%")
        ax.legend(fontsize=8)
    ax.set_xlabel("$||h_{full} - h_{lin}|| \\;/\\; ||h_{full}||$")
    ax.set_ylabel("steps")
    ax.set_title("One-step linearization error (nearest fixed point)")
    return fig


def variance_explained(attractor: xr.Dataset, *, components: int = 10) -> Figure:
    """Cumulative variance explained by state PCs, trained vs untrained network.

    Examples
    --------
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> attractor = LineAttractor(n_initial=60).fit(*exact_integrator())
    >>> ax = variance_explained(attractor, components=2).axes[0]
    >>> {line.get_label(): np.round(line.get_ydata(), 3).tolist() for line in ax.get_lines()}
    {'trained': [0.98, 1.0], 'fixed points': [1.0, 1.0]}
    """
    fig, ax = _figure()
    k = np.arange(1, components + 1)
    for name, label, colour in (
        ("state_variance_ratio", "trained", _POS),
        ("untrained_state_variance_ratio", "untrained", "grey"),
        ("fixed_point_variance_ratio", "fixed points", "black"),
    ):
        if name in attractor:
            values = np.cumsum(np.nan_to_num(attractor[name].values))[:components]
            ax.plot(k[: values.size], values, marker="o", label=label, color=colour)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("number of principal components")
    ax.set_ylabel("cumulative fraction of variance")
    ax.set_title("Dimensionality")
    ax.legend(fontsize=8)
    return fig


def relaxation(attractor: xr.Dataset) -> Figure:
    """Median speed of zero-input relaxation from visited states, relative to the start.

    Examples
    --------
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> attractor = LineAttractor(n_initial=60).fit(*exact_integrator())
    >>> ax = relaxation(attractor).axes[0]
    >>> np.round(ax.get_lines()[0].get_ydata()[:4], 4).tolist()  # the fast mode decays as 0.3**t
    [1.0, 0.3, 0.09, 0.027]
    """
    fig, ax = _figure()
    speed = attractor["relaxation_speed"].values
    ax.plot(np.arange(speed.size), speed, color=_POS)
    ax.set_yscale("log")
    ax.set_xlabel("steps with zero input")
    ax.set_ylabel("||F(h) - h|| relative to step 0")
    ax.set_title("Relaxation onto the slow manifold")
    return fig


FIGURES: dict[str, Callable[..., Figure]] = {
    "state_pca": state_pca,
    "eigenvalue_spectra": eigenvalue_spectra,
    "time_constants": time_constants,
    "token_projections": token_projections,
    "projection_vs_bow": projection_vs_bow,
    "linearization_error": linearization_error,
    "variance_explained": variance_explained,
    "relaxation": relaxation,
    "manifold_profile": manifold_profile,
}


def save_all(
    folder: str | os.PathLike[str],
    attractor: xr.Dataset,
    linearization: xr.Dataset | None = None,
    *,
    continuation: xr.Dataset | None = None,
    dpi: int = 120,
) -> dict[str, Path]:
    """Write the standard figures of a line-attractor analysis as PNG files into ``folder``.

    With a ``continuation`` dataset (the roots followed from zero input to the
    baseline) its figure is written too (``continuation.png``).

    Returns
    -------
    dict
        Figure name -> path.

    Examples
    --------
    >>> import tempfile
    >>> from dynalyze import LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> attractor = LineAttractor(n_initial=60).fit(*exact_integrator())
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = save_all(folder, attractor, dpi=50)
    ...     written = sorted(path.name for path in Path(folder).iterdir())
    >>> len(written), written[:2]
    (9, ['eigenvalue_spectra.png', 'linearization_error.png'])
    >>> list(paths)[:2], paths["state_pca"].name
    (['state_pca', 'eigenvalue_spectra'], 'state_pca.png')
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, fn in FIGURES.items():
        if name == "eigenvalue_spectra":
            fig = fn(attractor, linearization)
        else:
            fig = fn(attractor)
        path = out / f"{name}.png"
        with atomic_path(path, keep_suffix=True) as tmp:
            fig.savefig(tmp, dpi=dpi)
        paths[name] = path
        logger.debug("wrote %s", path)
    if continuation is not None:
        from dynalyze.analyses.line_attractor.continuation_figure import continuation_figure

        path = out / "continuation.png"
        with atomic_path(path, keep_suffix=True) as tmp:
            continuation_figure(continuation).savefig(tmp, dpi=dpi)
        paths["continuation"] = path
    return paths
