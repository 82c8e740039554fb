"""Figures of an N-class (simplex) attractor analysis."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

__all__ = ["class_states"]


def class_states(trajectories: xr.Dataset, simplex: xr.Dataset) -> Figure:
    """Final states on their first two PCs, coloured by class, and the variance per PC.

    Parameters
    ----------
    trajectories : xarray.Dataset
        A ``trajectories`` dataset with ``label``.
    simplex : xarray.Dataset
        The ``simplex_attractor`` dataset of the same network.

    Examples
    --------
    >>> from dynalyze.testing.toys import exact_integrator
    >>> _, traj = exact_integrator()
    >>> simplex = xr.Dataset({"late_state_variance_ratio": ("component", [0.9, 0.1]),
    ...                       "expected_dimension": 2, "late_state_dim_95": 2},
    ...                      coords={"class": ["a", "b"]})
    >>> len(class_states(traj, simplex).axes)
    2
    """
    states = trajectories["hidden_state"].values
    lengths = trajectories["length"].values
    has = lengths > 0
    final = states[np.flatnonzero(has), lengths[has] - 1].astype(np.float64)
    labels = trajectories["label"].values[has] if "label" in trajectories else np.zeros(has.sum())
    centred = final - final.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T if vt.shape[0] >= 2 else np.c_[centred @ vt[:1].T, 0 * lengths[has]]
    fig = Figure(figsize=(10.0, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    names = [str(c) for c in simplex["class"].values] if "class" in simplex.coords else []
    for c in np.unique(labels):
        pick = labels == c
        name = names[int(c)] if int(c) < len(names) else f"class {int(c)}"
        left.scatter(xy[pick, 0], xy[pick, 1], s=8, alpha=0.6, label=name)
    left.set_xlabel("PC1 of final states")
    left.set_ylabel("PC2")
    left.set_title("Final states of the analysed documents", fontsize=9)
    left.legend(fontsize=7, markerscale=2)
    ratio = simplex["late_state_variance_ratio"].values[:10]
    right.bar(np.arange(1, ratio.size + 1), ratio, color="0.4")
    expected = int(simplex["expected_dimension"])
    right.axvline(expected + 0.5, color="C3", linestyle="--", label=f"N - 1 = {expected}")
    right.set_xlabel("principal component")
    right.set_ylabel("fraction of variance")
    right.set_title(f"95% of the variance in {int(simplex['late_state_dim_95'])} PCs", fontsize=9)
    right.legend(fontsize=7)
    return fig
