"""The figure of a fixed-point continuation: where each root goes as the input moves.

Two panels against the path parameter ``s`` (0: the start input, e.g. ``x = 0``;
1: the end input, e.g. the baseline ``x_b``): the root's position along the
manifold axis (top) and its ``|lambda_1|`` (bottom). Stable stretches are solid,
unstable ones (saddles and repellers) dashed red, marginal ones grey; folds,
where two roots meet, are crosses.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

__all__ = ["continuation_figure"]

_STYLE = {
    0: ("black", "-", "stable"),
    1: ("grey", "-", "marginal"),
    2: ("#c0392b", "--", "saddle"),
    3: ("#c0392b", ":", "unstable"),
}


def continuation_figure(continuation: xr.Dataset) -> Figure:
    """Position along the line and ``|lambda_1|`` of every continued root against ``s``.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.fixedpoints import continue_fixed_points
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(1), 1.5 * np.eye(1), np.zeros(1))
    >>> ds = continue_fixed_points(system, [[-0.8586], [0.0], [0.8586]], [0.0], [1.0])
    >>> fig = continuation_figure(ds)
    >>> len(fig.axes), fig.axes[0].get_ylabel()
    (2, 'root (state, first unit)')
    >>> len(fig.axes[0].collections)  # the one fold
    1
    """
    fig = Figure(figsize=(5.8, 5.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    s = continuation["continuation_s"].values
    if "continuation_position" in continuation:
        y = continuation["continuation_position"].values
        top.set_ylabel("position along the manifold axis")
    else:
        y = continuation["continuation_state"].values[:, 0]
        top.set_ylabel("root (state, first unit)")
    magnitude = continuation["continuation_top_eigenvalue_magnitude"].values
    stability = continuation["continuation_stability"].values
    which = continuation["continuation_branch"].values
    fold = continuation["continuation_is_fold"].values.astype(bool)
    seen: set[str] = set()
    for b in np.unique(which):
        idx = np.flatnonzero(which == b)
        for k in range(idx.size - 1):
            i, j = idx[k], idx[k + 1]
            colour, style, label = _STYLE[int(stability[i])]
            shown = label if label not in seen else None
            seen.add(label)
            top.plot(s[[i, j]], y[[i, j]], color=colour, ls=style, lw=1.5, label=shown)
            bottom.plot(s[[i, j]], magnitude[[i, j]], color=colour, ls=style, lw=1.5)
    if fold.any():
        top.scatter(s[fold], y[fold], marker="x", color="purple", s=60, zorder=4, label="fold")
        bottom.scatter(s[fold], magnitude[fold], marker="x", color="purple", s=60, zorder=4)
    bottom.axhline(1.0, color="grey", lw=0.8)
    bottom.set_ylabel("$|\\lambda_1|$")
    bottom.set_xlabel("s: input x(s) = x_0 + s (x_1 - x_0)")
    top.set_title(f"Fixed points along the input path ({int(continuation['n_folds'])} folds)")
    if seen:
        top.legend(fontsize=8)
    return fig
