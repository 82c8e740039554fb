"""Figure of the modifier-word analysis: strength against separation, and its ablation."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

__all__ = ["modifier_strength"]


def modifier_strength(modifiers: xr.Dataset) -> Figure:
    """Strength of every modifier against separation (solid) and after ablation (dashed).

    Examples
    --------
    >>> ds = xr.Dataset(
    ...     {"modifier_strength": (("modifier", "separation"), [[-0.5, 0.2, 0.9]]),
    ...      "ablated_modifier_strength": (("modifier", "separation"), [[1.0, 1.0, 1.0]])},
    ...     coords={"modifier": ["not"], "separation": [0, 1, 2]})
    >>> [line.get_label() for line in modifier_strength(ds).axes[0].get_lines()][:2]
    ['not', 'not, subspace ablated']
    """
    fig = Figure(figsize=(6.0, 4.2), layout="constrained")
    ax = fig.subplots()
    separation = modifiers["separation"].values
    for k, name in enumerate(modifiers["modifier"].values):
        colour = f"C{k % 10}"
        ax.plot(
            separation,
            modifiers["modifier_strength"].values[k],
            "-o",
            color=colour,
            label=str(name),
        )
        ax.plot(
            separation,
            modifiers["ablated_modifier_strength"].values[k],
            "--",
            color=colour,
            alpha=0.6,
            label=f"{name}, subspace ablated",
        )
    ax.axhline(1.0, color="0.5", linewidth=0.8)
    ax.axhline(0.0, color="0.8", linewidth=0.8)
    ax.set_xlabel("tokens between modifier and valence word")
    ax.set_ylabel("effect after modifier / effect alone")
    ax.set_xticks(np.asarray(separation))
    ax.legend(fontsize=7, ncol=2)
    return fig
