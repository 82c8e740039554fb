"""The universality report of a sweep: accuracy, mechanisms side by side, distances.

Every sentence is generated from ``sweep.nc`` and the comparison dataset;
nothing is fixed text except the headings and the definitions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from dynalyze._atomic import atomic_path
from dynalyze.analyses.report import ARCH_NAMES, PAPER_ACCURACY, PAPER_DATASET
from dynalyze.errors import OutputError

__all__ = ["render_universality", "same_mechanism_sentence", "write_universality"]

REPORT_FILE = "report.md"


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _mean_sd(values: np.ndarray, scale: float = 1.0, digits: int = 1) -> str:
    v = values[np.isfinite(values)] * scale
    if v.size == 0:
        return "n/a"
    if v.size == 1:
        return f"{v[0]:.{digits}f} (n=1)"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f} (n={v.size})"


def same_mechanism_sentence(view: str, dataset: str, comparison: xr.Dataset) -> str:
    """One sentence: is the between-architecture distance within the seed spread?

    Examples
    --------
    >>> ds = xr.Dataset({"geometry_within_median": ("dataset", [0.2]),
    ...                  "geometry_between_median": ("dataset", [0.25]),
    ...                  "geometry_p_value": ("dataset", [0.4]),
    ...                  "geometry_p_floor": ("dataset", [0.001]),
    ...                  "geometry_n_within": ("dataset", [4.0]),
    ...                  "geometry_n_between": ("dataset", [24.0])},
    ...                 coords={"dataset": ["imdb"]})
    >>> sentence = same_mechanism_sentence("geometry", "imdb", ds)
    >>> sentence[:60]
    'On imdb, geometry: networks of different architectures are 0'
    >>> "p = 0.4, not distinguishable from the spread between seeds" in sentence
    True
    """
    get = {
        stat: float(comparison[f"{view}_{stat}"].sel(dataset=dataset))
        for stat in (
            "within_median",
            "between_median",
            "p_value",
            "p_floor",
            "n_within",
            "n_between",
        )
    }
    nw, nb = int(get["n_within"]), int(get["n_between"])
    if nw == 0 or nb == 0:
        missing = "seeds of one architecture" if nw == 0 else "two architectures"
        return (
            f"On {dataset}, {view}: no null — the sweep has no pair of {missing} on this "
            "dataset; add seeds (--seed 0,1) or architectures to test it."
        )
    if get["p_floor"] > 0.05:
        extreme = (
            "; the observed separation is already the most extreme one possible"
            if get["p_value"] <= get["p_floor"] + 1e-12
            else ""
        )
        verdict = (
            f"this grid cannot tell: its smallest possible p is {get['p_floor']:.2g} (even "
            f"for perfectly separated architectures){extreme}, so add seeds to test it"
        )
    elif get["p_value"] >= 0.05:
        verdict = (
            "not distinguishable from the spread between seeds of one architecture: "
            "consistent with one mechanism, by this measure and at this sample size"
        )
    else:
        verdict = (
            "larger than the spread between seeds of one architecture: the architectures "
            "differ beyond seed-to-seed variability, by this measure"
        )
    return (
        f"On {dataset}, {view}: networks of different architectures are "
        f"{_fmt(get['between_median'])} apart (median of {nb} pairs) against "
        f"{_fmt(get['within_median'])} between seeds of one architecture ({nw} pairs); "
        f"permutation p = {get['p_value']:.2g}, {verdict}."
    )


def _accuracy_section(sweep: xr.Dataset) -> list[str]:
    archs = [str(a) for a in sweep["architecture"].values]
    lines = ["## Accuracy (paper Table 1)", ""]
    header = "| dataset | " + " | ".join(ARCH_NAMES.get(a, a) for a in archs) + " | BoW |"
    lines += [header, "|---" * (len(archs) + 2) + "|"]
    for dataset in sweep["dataset"].values:
        acc = sweep["test_accuracy"].sel(dataset=dataset)
        cells = [_mean_sd(acc.sel(architecture=a).values.ravel(), 100) for a in archs]
        bow = _mean_sd(sweep["bow_test_accuracy"].sel(dataset=dataset).values.ravel(), 100)
        lines.append(f"| {dataset} (ours) | " + " | ".join(cells) + f" | {bow} |")
        paper_ds = PAPER_DATASET.get(str(dataset))
        if paper_ds:
            paper = PAPER_ACCURACY[paper_ds]
            cells = [f"{paper[a]:.1f}" if a in paper else "n/a" for a in archs]
            label = f"paper, {paper_ds}" + (
                " (built from these Rotten Tomatoes sentences)" if paper_ds == "SST" else ""
            )
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {paper['bow']:.1f} |")
    lines += [
        "",
        "Test accuracy (%), mean ± standard deviation over seeds. The paper's numbers "
        "are for its own, longer training; a sweep's jobs are usually shorter.",
        "",
    ]
    return lines


def _network_rows(sweep: xr.Dataset) -> list[str]:
    dims = [str(d) for d in sweep["status"].dims]
    extra = dims[3:]
    head = ["architecture", "dataset", "seed", *extra]
    cols = [
        ("test acc %", "test_accuracy", 100, 1),
        ("‖x_b‖ / token", "baseline_relative_norm", 1, 2),
        ("stable", "n_stable_clusters", 1, 0),
        ("unstable", "n_unstable_clusters", 1, 0),
        ("slow fraction", "slow_fraction", 1, 2),
        ("drift / doc", "median_drift_per_document", 1, 3),
        ("tokens to cross", "tokens_to_cross", 1, 0),
        ("slow dim", "median_slow_subspace_dim", 1, 1),
        ("cos(readout, r1)", "stable_median_alignment_readout_r1", 1, 2),
        ("matched null p95", "matched_null_alignment_p95", 1, 2),
        ("slow fraction at x = 0", "slow_fraction_at_zero", 1, 2),
    ]
    lines = [
        "| " + " | ".join([*head, *(c[0] for c in cols), "mechanism", "mechanism at x = 0"]) + " |",
        "|---" * (len(head) + len(cols) + 2) + "|",
    ]
    stacked = sweep.stack(job=dims)
    for j in range(stacked.sizes["job"]):
        row = stacked.isel(job=j)
        key = [str(row[d].values) for d in dims]
        status = int(row["status"])
        if status != 0:
            what = "failed: " + str(row["error"].values) if status == 1 else "not run"
            lines.append("| " + " | ".join(key) + f" | {what} |" + " |" * (len(cols) + 1))
            continue
        cells = [_fmt(float(row[v]) * s, d) if v in row else "n/a" for _, v, s, d in cols]
        mechs = [
            str(row[name].values).replace("_", " ") if name in row else ""
            for name in ("mechanism", "mechanism_at_zero")
        ]
        lines.append("| " + " | ".join([*key, *cells, *mechs]) + " |")
    return lines


def _spread_rows(sweep: xr.Dataset) -> list[str]:
    metrics = [
        ("slow fraction", "slow_fraction", 2),
        ("drift / doc", "median_drift_per_document", 3),
        ("stable", "n_stable_clusters", 1),
        ("unstable", "n_unstable_clusters", 1),
        ("slow dim", "median_slow_subspace_dim", 1),
    ]
    lines = [
        "| architecture | dataset | " + " | ".join(m[0] for m in metrics) + " |",
        "|---|---|" + "---|" * len(metrics),
    ]
    for arch in sweep["architecture"].values:
        for dataset in sweep["dataset"].values:
            sel = sweep.sel(architecture=arch, dataset=dataset)
            cells = [_mean_sd(sel[v].values.ravel(), 1, d) for _, v, d in metrics]
            lines.append(f"| {arch} | {dataset} | " + " | ".join(cells) + " |")
    return lines


def render_universality(
    sweep: xr.Dataset, comparison: xr.Dataset, *, figures: Sequence[str] = ()
) -> str:
    """The report's Markdown, generated from ``sweep.nc`` and the comparison.

    Examples
    --------
    >>> from dynalyze.sweep.collect import collect
    >>> from dynalyze.sweep.grid import SweepGrid
    >>> from dynalyze.sweep.universality import compare_networks
    >>> import tempfile
    >>> grid = SweepGrid(architectures=["gru"], datasets=["synthetic"], seeds=[0])
    >>> text = render_universality(collect(grid, tempfile.mkdtemp(), []), compare_networks([]))
    >>> text.splitlines()[0], "0 of 1 jobs finished" in text
    ('# Universality sweep', True)
    """
    status = sweep["status"].values
    n_jobs, n_done, n_failed = status.size, int((status == 0).sum()), int((status == 1).sum())
    dims = " x ".join(f"{sweep.sizes[d]} {d}" for d in sweep["status"].dims)
    lines = [
        "# Universality sweep",
        "",
        f"Grid: {dims}. {n_done} of {n_jobs} jobs finished"
        + (f", {n_failed} failed (see the table)" if n_failed else "")
        + (f", {n_jobs - n_done - n_failed} not run" if n_jobs - n_done - n_failed else "")
        + ". Every job is a whole `dynalyze run` with its own report under `jobs/`.",
        "",
    ]
    lines += _accuracy_section(sweep)
    lines += [
        "## The mechanism of every network",
        "",
        "Every network is analysed at its own baseline input x_b (the mean token embedding "
        "of its training documents; its norm relative to a median token's is the second "
        "column) and at x = 0 beside it. Structure first: distinct stable and unstable fixed "
        "points, then how slow the line is (share of the line slow over a document, drift "
        "over one document relative to the line), the slow-subspace dimension, and the "
        "readout's alignment with the top mode at the stable points beside its null of "
        "random directions inside the states' 95%-variance subspace.",
        "",
        *_network_rows(sweep),
        "",
        "Spread over seeds (mean ± standard deviation):",
        "",
        *_spread_rows(sweep),
        "",
    ]
    lines += [
        "## Is it the same mechanism?",
        "",
        "Geometry: the angular Procrustes distance (radians, 0 = same up to rotation and "
        "scale, π/2 = nothing shared) between the hidden states of two networks on the same "
        "probe documents. Topology: the L1 distance between fixed-point signatures (stable "
        "points, unstable points, slow-subspace dimension counted up to 3). The null is the "
        "distance between seeds of one architecture; the p-value permutes architecture "
        "labels within a dataset.",
        "",
    ]
    n_networks = comparison.sizes.get("network", 0)
    if n_networks < 2:
        lines += ["Fewer than two finished networks: nothing to compare.", ""]
    else:
        for view in ("geometry", "topology"):
            for dataset in comparison["dataset"].values:
                lines.append("- " + same_mechanism_sentence(view, str(dataset), comparison))
        lines.append("")
        kinds = sweep["mechanism"].values.ravel()
        archs = np.broadcast_to(
            sweep["architecture"].values.reshape(-1, *([1] * (sweep["status"].ndim - 1))),
            sweep["status"].shape,
        ).ravel()
        verdicts = []
        for arch in sweep["architecture"].values:
            mine = [str(k) for k, a in zip(kinds, archs, strict=True) if a == arch and k]
            if mine:
                counts = {k: mine.count(k) for k in sorted(set(mine))}
                verdicts.append(
                    f"{arch}: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
                )
        if verdicts:
            lines += ["Mechanism verdicts per architecture: " + "; ".join(verdicts) + ".", ""]
    for name in figures:
        view = name.split("_")[0]
        lines += [f"![{view} MDS](figures/{name})", "", _caption(view, comparison), ""]
    return "\n".join(lines)


def _caption(view: str, comparison: xr.Dataset) -> str:
    n = comparison.sizes.get("network", 0)
    parts = [
        f"*{view.capitalize()} of {n} networks placed by classical MDS of their "
        f"{'Procrustes' if view == 'geometry' else 'fixed-point signature'} distances"
    ]
    for dataset in comparison["dataset"].values:
        p = float(comparison[f"{view}_p_value"].sel(dataset=dataset))
        within = float(comparison[f"{view}_within_median"].sel(dataset=dataset))
        between = float(comparison[f"{view}_between_median"].sel(dataset=dataset))
        if math.isfinite(p):
            parts.append(
                f"{dataset}: between architectures {_fmt(between)} vs seeds {_fmt(within)}, "
                f"p = {p:.2g}"
            )
    return "; ".join(parts) + ".*"


def write_universality(
    out: str | Path, sweep: xr.Dataset, comparison: xr.Dataset, *, figures: Sequence[str] = ()
) -> Path:
    """Write ``out/report.md`` atomically; return its path.

    Examples
    --------
    >>> import tempfile
    >>> from dynalyze.sweep.collect import collect
    >>> from dynalyze.sweep.grid import SweepGrid
    >>> from dynalyze.sweep.universality import compare_networks
    >>> folder = tempfile.mkdtemp()
    >>> grid = SweepGrid(architectures=["gru"], datasets=["synthetic"], seeds=[0])
    >>> write_universality(folder, collect(grid, folder, []), compare_networks([])).name
    'report.md'
    """
    target = Path(out) / REPORT_FILE
    try:
        with atomic_path(target) as tmp:
            tmp.write_text(render_universality(sweep, comparison, figures=figures) + "\n")
    except OSError as exc:
        raise OutputError(f"Cannot write {target}: {exc}.") from None
    return target
