"""Generate the performance tables of README.md and benchmarks/README.md from recorded runs.

The ratios quoted against FixedPointFinder are never typed in: the benchmark
scripts write JSON (``--json``), copies are kept in ``docs/benchmarks/``, and
this script renders the blocks between ``<!-- performance:start -->`` /
``<!-- performance:end -->`` in README.md and ``<!-- headline:start -->`` /
``<!-- headline:end -->`` in benchmarks/README.md. A test checks both blocks
match the records.

Run (after the benchmarks, see benchmarks/README.md)::

    python benchmarks/readme_performance.py --fixed-points fp.json --training tr.json \\
        --roofline rl.json
    python benchmarks/readme_performance.py --sweep sweep.json --sweep-run dynalyze-sweep
    python benchmarks/readme_performance.py          # re-render from docs/benchmarks/

``--sweep-run FOLDER`` records what a finished ``dynalyze sweep`` cost (from its
``sweep.nc``, its jobs' ``run.json`` and ``job.log``) as ``sweep_default.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "docs" / "benchmarks"
README = ROOT / "README.md"
BENCH_README = ROOT / "benchmarks" / "README.md"
#: (file, start marker, end marker, what goes between).
BLOCKS = (
    (README, "<!-- performance:start -->", "<!-- performance:end -->", "summary"),
    (BENCH_README, "<!-- headline:start -->", "<!-- headline:end -->", "summary"),
    (BENCH_README, "<!-- fixed-points:start -->", "<!-- fixed-points:end -->", "tables"),
    (BENCH_README, "<!-- continuum:start -->", "<!-- continuum:end -->", "continuum_tables"),
    (BENCH_README, "<!-- roofline:start -->", "<!-- roofline:end -->", "roofline"),
    (BENCH_README, "<!-- training:start -->", "<!-- training:end -->", "training"),
    (README, "<!-- sweep:start -->", "<!-- sweep:end -->", "sweep"),
    (BENCH_README, "<!-- sweep:start -->", "<!-- sweep:end -->", "sweep_tables"),
)
NAMES = (
    "fixed_points",
    "fixed_points_continuum",
    "training",
    "roofline",
    "sweep",
    "sweep_default",
)

#: Targets of issues 9 and 23 (the ratio dynalyze must reach against tuned FixedPointFinder).
TARGET_TRAINED, TARGET_RANDOM, TARGET_LINEARIZE, TARGET_TRAINING = 30.0, 5.0, 100.0, 2.0
TARGET_END_TO_END, TARGET_CONTINUUM, TARGET_SETTLED = 30.0, 5.0, 0.95

TUNED = "FixedPointFinder tuned, lr 0.05"
DEFAULTS = "FixedPointFinder defaults, lr 1.0"


def load(name: str) -> dict[str, Any] | None:
    path = RECORDS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _fp_table(record: dict[str, Any], threads: int) -> list[dict[str, Any]]:
    return record["tables"].get(f"Fixed points, {threads} thread(s)", [])


def _lin_table(record: dict[str, Any], threads: int) -> list[dict[str, Any]]:
    return record["tables"].get(f"Jacobians + eigendecomposition, {threads} thread(s)", [])


def groups(rows: list[dict[str, Any]]) -> list[dict[str, dict[str, Any]]]:
    """Rows grouped per (system, tolerance): {"dynalyze": row, TUNED: row, DEFAULTS: row}."""
    out: list[dict[str, dict[str, Any]]] = []
    for row in rows:
        if row["finder"].startswith("dynalyze LM"):
            out.append({"dynalyze": row})
        elif out:
            out[-1][row["finder"]] = row
    return [g for g in out if TUNED in g]


def _cell(row: dict[str, Any], *, settled_always: bool = False) -> str:
    text = f"{row['wall s']:.2f} s, {100 * row['reach tol']:.0f}% reach tol"
    settled = row.get("settled", float("nan"))
    if settled == settled and (settled < 1.0 or settled_always):  # not NaN: dynalyze's
        text += f" ({100 * settled:.0f}% settled)"
    return text


def _met(ratio: float, target: float) -> str:
    return "met" if ratio >= target else f"missed ({ratio / target:.0%} of it)"


def _label(g: dict[str, dict[str, Any]]) -> str:
    ours = g["dynalyze"]
    tol = "paper's q/N < 1e-8" if ours["tol"] > 1e-10 else "tol_q 1e-12"
    return f"{ours['system']}, {tol}"


def _target(system: str) -> float:
    return TARGET_TRAINED if system.startswith("trained") else TARGET_RANDOM


def fixed_point_rows(record: dict[str, Any]) -> list[str]:
    one, two = groups(_fp_table(record, 1)), groups(_fp_table(record, 2))
    lines = [
        "| system (1,024 starts) | dynalyze default (1 thread) | FixedPointFinder, lr_init 0.05 "
        "| ratio, 1 / 2 threads | FixedPointFinder defaults (lr_init 1.0) | ratio, 1 / 2 threads "
        "| target | max recomputed q: dynalyze / FixedPointFinder tuned |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for g1, g2 in zip(one, two, strict=False):
        ours, tuned, defaults = g1["dynalyze"], g1[TUNED], g1.get(DEFAULTS)
        target = _target(ours["system"])
        r1, r2 = tuned["x dyn"], g2[TUNED]["x dyn"]
        met = _met(min(r1, r2), target)
        d1 = f"{defaults['x dyn']:.1f}x / {g2[DEFAULTS]['x dyn']:.1f}x" if defaults else "n/a"
        lines.append(
            f"| {_label(g1)} | {_cell(ours)} | {_cell(tuned)} | **{r1:.1f}x** / {r2:.1f}x "
            f"| {_cell(defaults) if defaults else 'n/a'} | {d1} | {target:.0f}x: {met} "
            f"| {ours['q max']:.1e} / {tuned['q max all']:.1e} |"
        )
    return lines


def end_to_end_lines(record: dict[str, Any]) -> list[str]:
    """The whole job (find, unique, Jacobians and eigendecomposition), per tolerance and thread."""
    lines = []
    for threads in (1, 2):
        rows = record["tables"].get(f"The whole job, end to end, {threads} thread(s)", [])
        for ours in (r for r in rows if r["finder"].startswith("dynalyze")):
            same = [r for r in rows if r["system"] == ours["system"] and r["tol"] == ours["tol"]]
            theirs = {r["finder"]: r for r in same}
            tuned, defaults = theirs.get(TUNED), theirs.get(DEFAULTS)
            if tuned is None:
                continue
            tol = "paper's q/N < 1e-8" if ours["tol"] > 1e-10 else "tol_q 1e-12"
            lines.append(
                f"| {ours['system']}, {tol} | {threads} "
                f"| {ours['wall s']:.2f} s, {ours['unique']} unique, {ours['true roots']} true "
                f"| {tuned['wall s']:.1f} s, {tuned['unique']} unique, {tuned['true roots']} true "
                f"| **{tuned['x dyn']:.1f}x** "
                f"| {defaults['x dyn']:.1f}x | {TARGET_END_TO_END:.0f}x: "
                f"{_met(tuned['x dyn'], TARGET_END_TO_END)} |"
            )
    if not lines:
        return []
    return [
        "| system | threads | dynalyze: find -> unique -> linearize "
        "| FixedPointFinder tuned: find_fixed_points with its defaults | ratio "
        "| vs its defaults (lr 1.0) | target |",
        "|---|---|---|---|---|---|---|",
        *lines,
        *end_to_end_bounds(record),
    ]


def end_to_end_bounds(record: dict[str, Any]) -> list[str]:
    """For each missed end-to-end row: the ratio its linearization alone allows.

    dynalyze's search time (its own row in the fixed-points table) plus its
    unique points times the linearization cost per point (the 1,024-state
    row of the linearization table) is about its whole job.
    """
    bounds = []
    for threads in (1, 2):
        rows = record["tables"].get(f"The whole job, end to end, {threads} thread(s)", [])
        per_point = [
            r["dynalyze linearization s"] / r["dynalyze points"]
            for r in _lin_table(record, threads)
            if r["points"].startswith("the same")
        ]
        for ours in (r for r in rows if r["finder"].startswith("dynalyze")):
            tuned = next(
                (r for r in rows if r["finder"] == TUNED and r["tol"] == ours["tol"]), None
            )
            search = [
                r["wall s"]
                for r in _fp_table(record, threads)
                if r["system"] == ours["system"]
                and r["tol"] == ours["tol"]
                and r["finder"].startswith("dynalyze LM")
            ]
            if tuned is None or not per_point or not search or tuned["x dyn"] >= TARGET_END_TO_END:
                continue
            floor = search[0] + ours["unique"] * per_point[0]
            text = (
                f"At {threads} thread(s) and tol {ours['tol']:.1e}: search {search[0]:.2f} s + "
                f"{ours['unique']} points x {1e3 * per_point[0]:.1f} ms = {floor:.1f} s, "
                f"about {tuned['wall s'] / floor:.1f}x (measured {tuned['x dyn']:.1f}x)"
            )
            eigenvalues = ours.get("eigenvalues only s")
            if eigenvalues:
                text += (
                    f"; the eigenvalues alone of those {ours['unique']} points take "
                    f"{eigenvalues:.2f} s ({1e3 * eigenvalues / ours['unique']:.1f} ms each), "
                    f"so even a free search, free Jacobians and free eigenvectors would "
                    f"give at most {tuned['wall s'] / eigenvalues:.0f}x"
                )
            bounds.append(text)
    if not bounds:
        return []
    return [
        "",
        "What bounds the missed end-to-end rows: at the paper's tolerance both tools keep "
        "hundreds of points along the line, and each is linearized (its Jacobian, "
        "eigenvalues, left and right eigenvectors). dynalyze's search time plus its unique "
        "points times its linearization cost per point (measured on the 1,024 states, table "
        "below) is about its whole job, so the ratio is held to about FixedPointFinder's "
        "time over it, whatever the search does. " + ". ".join(bounds) + ".",
    ]


def continuum_lines(record: dict[str, Any] | None) -> list[str]:
    """The near-continuum GRU-256: time, converged and settled shares, against FixedPointFinder."""
    if record is None:
        return []
    lines = []
    for title, rows in record["tables"].items():
        if not title.startswith("Fixed points"):
            continue
        threads = title.split(", ")[-1]
        for g in groups(rows):
            ours, tuned = g["dynalyze"], g[TUNED]
            settled = ours["settled"]
            met = _met(tuned["x dyn"], TARGET_CONTINUUM)
            share = "met" if settled >= TARGET_SETTLED else "missed"
            lines.append(
                f"| {_label(g)} | {threads} | {_cell(ours, settled_always=True)} | {_cell(tuned)} "
                f"| **{tuned['x dyn']:.1f}x** | {TARGET_CONTINUUM:.0f}x: {met}; "
                f"{100 * TARGET_SETTLED:.0f}% settled: {share} |"
            )
    return [
        "The near-continuum GRU-256 (`dynalyze run --units 256 --embedding-dim 128 --batch-size "
        "64 --epochs 4 --max-len 1000`, seed 0): long slow regions of nearly marginal points. "
        "*Settled*: converged, or reported as a slow point or a `slow_manifold` point (90% of "
        "its speed along singular directions of J - I with singular values at most 0.03), "
        "not `failed`, `stalled` or `at_bounds`:",
        "",
        "| system (1,024 starts) | threads | dynalyze default | FixedPointFinder, lr_init 0.05 "
        "| ratio | targets |",
        "|---|---|---|---|---|---|",
        *lines,
        "",
    ]


def linearization_lines(record: dict[str, Any]) -> list[str]:
    lines = []
    for threads in (1, 2):
        for row in _lin_table(record, threads):
            lines.append(
                f"| {row['points']} | {threads} "
                f"| {row['FPF points']:,} / {row['dynalyze points']:,}"
                f" | {row['FPF jacobian s']:.2f} s + {row['FPF eig s']:.2f} s "
                f"| {row['dynalyze jacobian s']:.3f} s / {row['dynalyze linearization s']:.2f} s "
                f"| {row['jacobian ratio']:.0f}x | **{row['phase ratio']:.1f}x** |"
            )
    if not lines:
        return []
    return [
        "| points | threads | points: FixedPointFinder / dynalyze | FixedPointFinder: "
        "Jacobians + eigendecomposition | dynalyze: Jacobians / whole linearization "
        "| Jacobians | whole phase |",
        "|---|---|---|---|---|---|---|",
        *lines,
    ]


def training_line(record: dict[str, Any] | None) -> list[str]:
    if record is None:
        return []
    (rows,) = record["tables"].values()
    keras = next(r for r in rows if r["training"].startswith("plain Keras"))
    ours = next(r for r in rows if r["training"].startswith("dynalyze"))
    ratio = ours["speed-up vs plain Keras"]
    met = "met" if ratio >= TARGET_TRAINING else f"missed ({ratio / TARGET_TRAINING:.0%} of it)"
    return [
        f"Training the default run's model ({ours['dataset']}, {ours['arch'].upper()}): "
        f"{ours['wall s']:.0f} s, test accuracy {100 * ours['test acc']:.1f}%, against "
        f"{keras['wall s']:.0f} s and {100 * keras['test acc']:.1f}% for the same model and "
        f"settings in a plain Keras `model.fit` on padded arrays: **{ratio:.1f}x** faster "
        f"(target {TARGET_TRAINING:.0f}x: {met}).",
    ]


def roofline_line(record: dict[str, Any] | None) -> list[str]:
    if record is None:
        return []
    ceilings = {
        r["measurement"]: r["value"]
        for r in record["tables"]["Machine ceilings (one thread)"]
        if r["size"].endswith(" 128 x 128")
    }
    phases = {
        r["phase"]: r
        for r in record["tables"]["LM phases (one thread)"]
        if r["system"].startswith("GRU-128 gain 1")
    }
    text = (
        f"What bounds it: an LM iteration is a batched LU solve per point, and this machine "
        f"solves 1,024 128 x 128 systems at {ceilings['batched LU solve GFLOP/s']:.0f} GFLOP/s "
        f"on one core (batched GEMM: {ceilings['batched GEMM GFLOP/s']:.0f} GFLOP/s)."
    )
    own, shared = (
        phases.get("Newton solve"),
        next((row for name, row in phases.items() if name.startswith("shared solves")), None),
    )
    if own and shared:
        text += (
            f" On the gain-1 GRU-128, {own['point-iterations']:,} point-iterations factorised "
            f"their own J - I ({100 * own['share']:.0f}% of the search, at "
            f"{own['rate']:.1f} GFLOP/s) and {shared['point-iterations']:,} took chord steps "
            f"with a gathered group's one factorisation ({100 * shared['share']:.0f}%); "
            f"step evaluations and bookkeeping are the rest."
        )
    return [text + continuum_phases(record)]


def continuum_phases(record: dict[str, Any]) -> str:
    """Where the near-continuum GRU-256's search spends its time, from the phase table."""
    rows = [
        r
        for r in record["tables"]["LM phases (one thread)"]
        if "near-continuum" in r["system"] and r["phase"] != "total"
    ]
    if not rows:
        return ""
    total = next(
        r["seconds"]
        for r in record["tables"]["LM phases (one thread)"]
        if "near-continuum" in r["system"] and r["phase"] == "total"
    )
    top = sorted(rows, key=lambda r: -r["share"])[:5]
    parts = ", ".join(f"{r['phase']} {100 * r['share']:.0f}%" for r in top)
    return (
        f" On the near-continuum GRU-256 (the default finder, {total:.1f} s for 1,024 starts, "
        f"one thread) the time goes to: {parts}."
    )


def render(records: dict[str, dict[str, Any] | None]) -> list[str]:
    fp = records["fixed_points"]
    if fp is None:
        return ["(no recorded benchmark yet: run benchmarks/fixed_points.py --json)"]
    argv = " ".join(fp.get("argv", []))
    lines = [
        "Measured side by side with FixedPointFinder's own PyTorch code (the anchor in "
        "`../shared/anchors/`, float32 as it ships, on a `torch.nn.GRU` holding the same "
        "weights, from the same 1,024 starts, same thread count; q recomputed by us in "
        "float64; dynalyze's default tolerance is q < 1e-20):",
        "",
        *fixed_point_rows(fp),
        "",
    ]
    whole = end_to_end_lines(fp)
    if whole:
        lines += [
            "The whole job as each tool's users run it, at the same tolerance (find, unique "
            "points, Jacobians and eigendecomposition; *true roots*: unique points whose q, "
            "recomputed in float64, is below 10x the tolerance):",
            "",
            *whole,
            "",
        ]
    lines += continuum_lines(records.get("fixed_points_continuum"))
    lin = linearization_lines(fp)
    if lin:
        lines += [
            "Jacobians and eigendecomposition on the trained GRU (target "
            f"{TARGET_LINEARIZE:.0f}x):",
            "",
            *lin,
            "",
        ]
    lines += training_line(records["training"])
    if records["training"]:
        lines.append("")
    lines += roofline_line(records["roofline"])
    lines += [
        "",
        f"Generated by `python benchmarks/readme_performance.py` from `docs/benchmarks/*.json` "
        f"(`python benchmarks/fixed_points.py {argv}`, `benchmarks/training.py`, "
        "`benchmarks/roofline.py`).",
    ]
    return lines


def render_tables(record: dict[str, Any] | None, command: str) -> list[str]:
    """Every table of a recorded benchmark, as the script printed it."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import table

    if record is None:
        return [f"(not recorded yet: `{command}`)"]
    lines = ["```", f"{command} {' '.join(record.get('argv', []))}".strip(), "```", ""]
    for title, rows in record["tables"].items():
        lines += [f"**{title}**", "", table(rows), ""]
    lines += [f"- {note}" for note in record.get("notes", [])]
    machine = record.get("machine", {})
    if machine:
        lines += [
            "",
            f"Machine: {machine.get('cpus_usable')} usable CPUs, NumPy {machine.get('numpy')}, "
            f"SciPy {machine.get('scipy')}, Python {machine.get('python')}.",
        ]
    return lines


def sweep_run_record(folder: Path) -> dict[str, Any]:
    """What a finished sweep cost, read from its files (nothing typed in)."""
    import datetime

    import numpy as np
    import xarray as xr

    with xr.open_dataset(folder / "sweep.nc") as ds:
        sweep = ds.load()
    invocation = json.loads(sweep.attrs.get("dynalyze_sweep_invocation", "null") or "null")
    starts, ends = [], []
    for log in sorted(folder.glob("jobs/*/job.log")):
        lines = [ln for ln in log.read_text().splitlines() if ln[:4].isdigit()]
        if lines:
            stamp = [datetime.datetime.strptime(ln[:23], "%Y-%m-%d %H:%M:%S,%f") for ln in lines]
            starts.append(stamp[0])
            ends.append(stamp[-1])
    accuracy = {}
    for arch in sweep["architecture"].values:
        values = sweep["test_accuracy"].sel(architecture=arch).values.ravel()
        accuracy[str(arch)] = float(np.nanmean(values)) if np.isfinite(values).any() else None
    return {
        "grid": json.loads(sweep.attrs["dynalyze_sweep_grid"]),
        "n_jobs": int(sweep["status"].size),
        "n_done": int((sweep["status"].values == 0).sum()),
        "jobs_wall_s": (max(ends) - min(starts)).total_seconds() if starts else None,
        "invocation": invocation,
        "job_seconds_mean": float(np.nanmean(sweep["seconds"].values)),
        "job_seconds_max": float(np.nanmax(sweep["seconds"].values)),
        "peak_rss_mb_max": float(np.nanmax(sweep["worker_peak_rss_mb"].values)),
        "test_accuracy": accuracy,
    }


def sweep_lines(records: dict[str, dict[str, Any] | None]) -> list[str]:
    run, bench = records["sweep_default"], records["sweep"]
    lines: list[str] = []
    if run is None:
        lines.append("(the default sweep's cost is not recorded yet: `--sweep-run FOLDER`)")
    else:
        grid = run["grid"]
        wall = run["jobs_wall_s"]
        acc = ", ".join(
            f"{arch} {100 * value:.1f}%"
            for arch, value in run["test_accuracy"].items()
            if value is not None
        )
        shape = " x ".join(str(len(grid[k])) for k in ("architectures", "datasets", "seeds"))
        lines.append(
            f"The default sweep ({shape} = {run['n_jobs']} runs: "
            f"{', '.join(grid['architectures'])} on "
            f"{', '.join(grid['datasets'])}, seeds {', '.join(map(str, grid['seeds']))}) "
            f"finished {run['n_done']} of {run['n_jobs']} jobs in {wall / 60:.1f} min of jobs "
            f"(first job start to last job end) on the default 2-worker LocalCluster of this "
            f"2-core machine; a job took {run['job_seconds_mean']:.0f} s on average (at most "
            f"{run['job_seconds_max']:.0f} s) on one thread, and a worker peaked at "
            f"{run['peak_rss_mb_max']:.0f} MiB. Mean test accuracy: {acc}."
        )
    if bench is not None:
        (rows,) = bench["tables"].values()
        by = {r["side"]: r for r in rows}
        two, one, serial = by["dask, 2 workers"], by["dask, 1 worker"], by["serial"]
        lines += [
            "",
            f"Engine cost (`python benchmarks/sweep.py`, {serial['jobs']} tiny jobs): "
            f"serial {serial['wall s']:.0f} s, Dask with 1 worker {one['wall s']:.0f} s "
            f"(overhead {one['overhead s']:.0f} s), with 2 workers {two['wall s']:.0f} s "
            f"(**{two['speed-up vs serial']:.2f}x** serial); peak "
            f"{two['peak RSS / worker MiB']:.0f} MiB per worker.",
        ]
    return lines


def content(kind: str, records: dict[str, dict[str, Any] | None]) -> list[str]:
    if kind == "summary":
        return render(records)
    if kind == "sweep":
        return sweep_lines(records)
    if kind == "sweep_tables":
        return render_tables(records["sweep"], "python benchmarks/sweep.py")
    if kind == "tables":
        return render_tables(records["fixed_points"], "python benchmarks/fixed_points.py")
    if kind == "continuum_tables":
        return render_tables(records["fixed_points_continuum"], "python benchmarks/fixed_points.py")
    if kind == "roofline":
        return render_tables(records["roofline"], "python benchmarks/roofline.py")
    return render_tables(records["training"], "python benchmarks/training.py")


def blocks(records: dict[str, dict[str, Any] | None]) -> list[tuple[Path, str, str]]:
    """(file, current block, generated block) for every marked block."""
    out = []
    for path, start, end, kind in BLOCKS:
        text = path.read_text()
        current = text[text.index(start) : text.index(end) + len(end)]
        out.append((path, current, "\n".join([start, *content(kind, records), end])))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in NAMES:
        parser.add_argument(f"--{name.replace('_', '-')}", type=Path, help=f"{name} JSON")
    parser.add_argument("--sweep-run", type=Path, help="a finished dynalyze sweep folder")
    args = parser.parse_args(argv)
    RECORDS.mkdir(parents=True, exist_ok=True)
    if args.sweep_run is not None:
        record = sweep_run_record(args.sweep_run)
        (RECORDS / "sweep_default.json").write_text(json.dumps(record, indent=2) + "\n")
    for name in NAMES:
        source = getattr(args, name)
        if source is not None:
            shutil.copyfile(source, RECORDS / f"{name}.json")
    records = {name: load(name) for name in NAMES}
    for path, current, generated in blocks(records):
        path.write_text(path.read_text().replace(current, generated))
    print("\n".join(render(records)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
