"""Figures of a sweep's cross-network comparison (multidimensional scaling maps)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from dynalyze._atomic import atomic_path

__all__ = ["mds_map", "save_universality_figures"]

_MARKERS = "osD^vP*X"
_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


def mds_map(comparison: xr.Dataset, view: str) -> Figure:
    """Networks placed by classical MDS of their ``view`` distances, one panel per dataset.

    Parameters
    ----------
    comparison : xarray.Dataset
        From :func:`dynalyze.sweep.universality.compare_networks`.
    view : str
        ``"geometry"`` (one panel per dataset: distances exist only on shared
        documents) or ``"topology"`` (all networks in one panel).

    Examples
    --------
    >>> from dynalyze.sweep.universality import compare_networks
    >>> fig = mds_map(compare_networks([]), "topology")
    >>> len(fig.axes)
    1
    """
    datasets = list(comparison["dataset"].values) if view == "geometry" else ["all"]
    fig = Figure(figsize=(4.6 * max(len(datasets), 1), 4.2), layout="constrained")
    axes = fig.subplots(1, max(len(datasets), 1), squeeze=False)[0]
    archs = sorted(set(comparison["architecture"].values.tolist()))
    coords = comparison[f"{view}_mds"].values
    net_ds = comparison["network_dataset"].values
    all_ds = sorted(set(net_ds.tolist()))
    for ax, name in zip(axes, datasets or ["all"], strict=False):
        for a, arch in enumerate(archs):
            for d, dname in enumerate(all_ds):
                pick = (comparison["architecture"].values == arch) & (net_ds == dname)
                if name != "all":
                    pick &= net_ds == name
                if not pick.any():
                    continue
                label = arch if name != "all" else f"{arch} / {dname}"
                ax.scatter(
                    coords[pick, 0],
                    coords[pick, 1],
                    s=50,
                    color=_COLOURS[a % len(_COLOURS)],
                    marker=_MARKERS[d % len(_MARKERS)],
                    label=label,
                    edgecolor="k",
                    linewidth=0.5,
                )
        title = f"{view}: {name}" if name != "all" else view
        if f"{view}_p_value" in comparison and name != "all":
            p = float(comparison[f"{view}_p_value"].sel(dataset=name))
            title += f" (architecture vs seed null p = {p:.2g})" if np.isfinite(p) else ""
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("MDS 1")
        ax.set_ylabel("MDS 2")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    return fig


def save_universality_figures(
    folder: str | os.PathLike[str], comparison: xr.Dataset, *, dpi: int = 120
) -> dict[str, Path]:
    """Write ``geometry_mds.png`` and ``topology_mds.png`` into ``folder`` (atomically).

    Examples
    --------
    >>> import tempfile
    >>> from dynalyze.sweep.universality import compare_networks
    >>> paths = save_universality_figures(tempfile.mkdtemp(), compare_networks([]), dpi=40)
    >>> sorted(path.name for path in paths.values())
    ['geometry_mds.png', 'topology_mds.png']
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for view in ("geometry", "topology"):
        fig: Any = mds_map(comparison, view)
        path = out / f"{view}_mds.png"
        with atomic_path(path, keep_suffix=True) as tmp:
            fig.savefig(tmp, dpi=dpi)
        paths[view] = path
    return paths
