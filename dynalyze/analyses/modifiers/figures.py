"""Figure of the modifier-word analysis: strength against separation, its ablation, the subspace."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

__all__ = ["modifier_strength"]


def modifier_strength(modifiers: xr.Dataset) -> Figure:
    """Strength against separation, its ablation, and where each modifier pushes the state.

    Left: every modifier's strength against separation (solid, with its bootstrap
    95% band when the dataset has one) and after the ablation of its subspace
    (dashed). Right, when the dataset has the subspace variables: the share of each
    modifier's subspace inside the fast and inside the slow eigenmodes, with its
    dimension.

    Examples
    --------
    >>> ds = xr.Dataset(
    ...     {"modifier_strength": (("modifier", "separation"), [[-0.5, 0.2, 0.9]]),
    ...      "ablated_modifier_strength": (("modifier", "separation"), [[1.0, 1.0, 1.0]])},
    ...     coords={"modifier": ["not"], "separation": [0, 1, 2]})
    >>> [line.get_label() for line in modifier_strength(ds).axes[0].get_lines()][:2]
    ['not', 'not, subspace ablated']
    """
    has_subspace = "modifier_fast_mode_share" in modifiers
    fig = Figure(figsize=(10.0 if has_subspace else 6.0, 4.2), layout="constrained")
    axes = fig.subplots(1, 2 if has_subspace else 1, squeeze=False)[0]
    ax = axes[0]
    separation = modifiers["separation"].values
    names = [str(n) for n in modifiers["modifier"].values]
    for k, name in enumerate(names):
        colour = f"C{k % 10}"
        ax.plot(
            separation, modifiers["modifier_strength"].values[k], "-o", color=colour, label=name
        )
        if "modifier_strength_low" in modifiers:
            ax.fill_between(
                separation,
                modifiers["modifier_strength_low"].values[k],
                modifiers["modifier_strength_high"].values[k],
                color=colour,
                alpha=0.15,
                linewidth=0,
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
    if has_subspace:
        bars = axes[1]
        x = np.arange(len(names))
        fast = modifiers["modifier_fast_mode_share"].values
        slow = modifiers["modifier_slow_mode_share"].values
        bars.bar(x - 0.2, fast, 0.4, label="inside fast modes")
        bars.bar(x + 0.2, slow, 0.4, label="inside slow modes")
        if "modifier_subspace_dim" in modifiers:
            for k, dim in enumerate(modifiers["modifier_subspace_dim"].values):
                bars.annotate(f"{int(dim)}-d", (x[k], 1.02), ha="center", fontsize=7)
        bars.set_xticks(x, names, rotation=30)
        bars.set_ylim(0, 1.12)
        bars.set_ylabel("share of the modifier subspace")
        bars.set_title("where each modifier pushes the state", fontsize=9)
        bars.legend(fontsize=7)
    return fig
