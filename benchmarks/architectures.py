"""The architecture study: which networks are line attractors at their baseline input.

Reads a ``dynalyze sweep`` folder (every job's ``run.json``), records what the
page needs in ``docs/architectures.json``, writes ``docs/architectures.md`` (one
row per network with its structure, slowness, alignments and mechanism at its
baseline input and at x = 0, and sentences generated from them) and rewrites
README.md's block between ``<!-- architectures:start -->`` and
``<!-- architectures:end -->``. A test checks that the README block and the page
match the record.

Run (the study: 4 architectures x 2 datasets x 2 seeds, ~40 min on 2 cores)::

    dynalyze sweep --arch gru,lstm,ugrnn,simple --dataset imdb,rotten_tomatoes --seed 0,1 \\
        --out benchmarks/output/architectures
    python benchmarks/architectures.py benchmarks/output/architectures

Without a folder it re-renders the page and the README block from the record.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "architectures.json"
PAGE = ROOT / "docs" / "architectures.md"
README = ROOT / "README.md"
START, END = "<!-- architectures:start -->", "<!-- architectures:end -->"
COMMAND = "dynalyze sweep --arch gru,lstm,ugrnn,simple --dataset imdb,rotten_tomatoes --seed 0,1"
#: Mechanisms that integrate along a slow line (or plane) over a document.
INTEGRATORS = ("line_attractor", "approximate_line_attractor", "plane_attractor")
NAMES = {"gru": "GRU", "lstm": "LSTM", "ugrnn": "UGRNN", "simple": "vanilla RNN"}
KEYS = (
    "test_accuracy",
    "bow_test_accuracy",
    "baseline_norm",
    "baseline_relative_norm",
    "n_stable_clusters",
    "n_unstable_clusters",
    "slow_fraction",
    "middle_drift_per_document",
    "median_neutral_drift_per_document",
    "neutral_drift_error_baseline",
    "neutral_drift_error_zero",
    "stable_median_alignment_readout_r1",
    "stable_median_alignment_r1_tangent",
    "matched_null_alignment_p95",
    "matched_null_informative",
    "mechanism",
    "headline",
    "n_stable_clusters_at_zero",
    "n_unstable_clusters_at_zero",
    "slow_fraction_at_zero",
    "middle_drift_per_document_at_zero",
    "stable_median_alignment_readout_r1_at_zero",
    "mechanism_at_zero",
    "n_folds",
    "median_document_length",
)


def record_from_sweep(folder: Path) -> dict[str, Any]:
    """Every finished job's numbers from a sweep folder."""
    jobs = []
    for path in sorted((folder / "jobs").glob("*/run.json")):
        run = json.loads(path.read_text())
        config, summary = run["config"], run["summary"]
        jobs.append(
            {
                "arch": config["arch"],
                "dataset": config["dataset"],
                "seed": config["seed"],
                **{k: summary.get(k) for k in KEYS},
                "minutes": round(sum(run["timings_s"].values()) / 60, 1),
            }
        )
    order = {a: i for i, a in enumerate(("gru", "lstm", "ugrnn", "simple"))}
    jobs.sort(key=lambda j: (j["dataset"], order.get(j["arch"], 9), j["seed"]))
    return {"command": COMMAND, "jobs": jobs}


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{100 * float(v):.0f}%"


def _pct1(v: Any) -> str:
    return "n/a" if v is None else f"{100 * float(v):.1f}%"


def _num(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.2f}"


def _mech(v: Any) -> str:
    return str(v or "n/a").replace("_", " ")


def table(jobs: list[dict[str, Any]]) -> list[str]:
    """One row per network: both inputs side by side."""
    lines = [
        "| network | dataset | seed | test acc. (BoW) | ‖x_b‖ / token | stable / unstable at "
        "x_b | slow share at x_b | drift, middle half, at x_b (neutral streams) | "
        "\\|cos(readout, r₁)\\| at x_b (null p95) | mechanism at x_b | stable / unstable at "
        "x = 0 | slow share at x = 0 | mechanism at x = 0 | folds from 0 to x_b |",
        "|" + "---|" * 14,
    ]
    for j in jobs:
        null = _num(j["matched_null_alignment_p95"]) + (
            "" if j.get("matched_null_informative", 1) else ", cannot tell"
        )
        cells = [
            NAMES.get(j["arch"], j["arch"]),
            j["dataset"],
            str(j["seed"]),
            f"{_pct1(j['test_accuracy'])} ({_pct1(j['bow_test_accuracy'])})",
            _pct(j["baseline_relative_norm"]),
            f"{j['n_stable_clusters']} / {j['n_unstable_clusters']}",
            _pct(j["slow_fraction"]),
            f"{_pct(j['middle_drift_per_document'])} "
            f"({_pct(j['median_neutral_drift_per_document'])})",
            f"{_num(j['stable_median_alignment_readout_r1'])} ({null})",
            _mech(j["mechanism"]),
            f"{j['n_stable_clusters_at_zero']} / {j['n_unstable_clusters_at_zero']}",
            _pct(j["slow_fraction_at_zero"]),
            _mech(j["mechanism_at_zero"]),
            str(j.get("n_folds") if j.get("n_folds") is not None else "n/a"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _group(jobs: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for j in jobs:
        groups[(j["arch"], j["dataset"])].append(j)
    return groups


def _counts(values: list[Any]) -> str:
    tally: dict[str, int] = defaultdict(int)
    for v in values:
        tally[_mech(v)] += 1
    return ", ".join(f"{name} in {n}" for name, n in sorted(tally.items(), key=lambda x: -x[1]))


def sentences(jobs: list[dict[str, Any]]) -> list[str]:
    """Per architecture and dataset: the mechanism at x_b and at x = 0 over seeds."""
    out = []
    for (arch, dataset), group in _group(jobs).items():
        n = len(group)
        slow = ", ".join(_pct(j["slow_fraction"]) for j in group)
        slow0 = ", ".join(_pct(j["slow_fraction_at_zero"]) for j in group)
        out.append(
            f"- **{NAMES.get(arch, arch)} on {dataset}** ({n} seed{'s' if n != 1 else ''}): at "
            f"its baseline input {_counts([j['mechanism'] for j in group])} "
            f"(slow share {slow}); at x = 0 {_counts([j['mechanism_at_zero'] for j in group])} "
            f"(slow share {slow0})."
        )
    return out


def verdict(jobs: list[dict[str, Any]]) -> str:
    """Which networks are line attractors at their baseline input, in one paragraph."""
    if not jobs:
        return "No network of the study finished."
    lines = [j for j in jobs if j["mechanism"] in INTEGRATORS]
    lines0 = [j for j in jobs if j["mechanism_at_zero"] in INTEGRATORS]
    changed = [j for j in jobs if j["mechanism"] != j["mechanism_at_zero"]]

    def who(group: list[dict[str, Any]]) -> str:
        if not group:
            return "none"
        return ", ".join(
            f"{NAMES.get(j['arch'], j['arch'])} on {j['dataset']} (seed {j['seed']})" for j in group
        )

    text = (
        f"At their own baseline input, {len(lines)} of {len(jobs)} networks integrate along a "
        f"slow line or plane over a document (line, approximate line or plane attractor): "
        f"{who(lines)}. At x = 0 the same test finds {len(lines0)}: {who(lines0)}. "
    )
    if changed:
        text += (
            f"The input changes the verdict for {len(changed)} network"
            f"{'s' if len(changed) != 1 else ''}: "
            + "; ".join(
                f"{NAMES.get(j['arch'], j['arch'])} on {j['dataset']} (seed {j['seed']}) is "
                f"{_mech(j['mechanism'])} at x_b and {_mech(j['mechanism_at_zero'])} at x = 0"
                for j in changed
            )
            + "."
        )
    else:
        text += "The input does not change any network's verdict."
    rest = [j for j in jobs if j["mechanism"] not in INTEGRATORS]
    if rest:
        text += f" The others, at their baseline: {_counts([j['mechanism'] for j in rest])}."
    judged = [
        j
        for j in jobs
        if j.get("neutral_drift_error_baseline") is not None
        and j.get("neutral_drift_error_zero") is not None
    ]
    if judged:
        better = sum(
            j["neutral_drift_error_baseline"] <= j["neutral_drift_error_zero"] for j in judged
        )
        text += (
            f" Under random streams of each network's own neutral words, the drift at x_b "
            f"predicts the drift along the line better than the drift at x = 0 in {better} of "
            f"{len(judged)} networks (judged by the median error over the slices of the line)."
        )
    return text


def page(record: dict[str, Any]) -> str:
    jobs = record["jobs"]
    return "\n".join(
        [
            "# Every architecture at the input it runs at",
            "",
            f"Generated by `python benchmarks/architectures.py` from one `{record['command']}` "
            "(each job a whole `dynalyze run` on one thread of the 2-core machine; its Rotten "
            "Tomatoes jobs are those of the default `dynalyze sweep`, run first into the same "
            "folder and reused; the numbers are in `docs/architectures.json`). Every network "
            "is analysed at its own baseline input x_b (the mean token embedding of its "
            "training documents; its norm against a median token's is a column) and at x = 0 "
            "beside it.",
            "",
            verdict(jobs),
            "",
            *sentences(jobs),
            "",
            *table(jobs),
            "",
            "*Slow share*: the share of the line (5th-95th percentile of the visited states on "
            "PC1) where the dynamics at that input move a state by less than 10% of the line "
            "over one median-length document and a mode keeps evidence over it. *Drift, middle "
            "half*: the median drift over one document of the slices in the middle half of the "
            "line; in brackets, the median drift under random streams of the network's most "
            "neutral frequent tokens. *Null p95*: the 95th percentile of |cos| between the "
            "readout and random directions inside the states' 95%-variance subspace ('cannot "
            "tell' when that subspace is too small for the null to reject). *Mechanism*: "
            "`dynalyze.analyses.line_attractor.mechanism`, structure first (a switch is two "
            "stable ends and a saddle, whatever the time constants).",
            "",
        ]
    )


def readme_block(record: dict[str, Any]) -> str:
    return "\n".join(
        [
            START,
            verdict(record["jobs"]),
            "",
            "Per network, both inputs side by side: [`docs/architectures.md`]"
            "(docs/architectures.md) (generated by `python benchmarks/architectures.py` from "
            f"one `{record['command']}`).",
            END,
        ]
    )


def current_block(text: str) -> str:
    start, end = text.index(START), text.index(END) + len(END)
    return text[start:end]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, nargs="?", help="a dynalyze sweep folder")
    args = parser.parse_args(argv)
    if args.sweep is not None:
        RECORD.write_text(json.dumps(record_from_sweep(args.sweep), indent=2) + "\n")
    record = json.loads(RECORD.read_text())
    PAGE.write_text(page(record))
    text = README.read_text()
    README.write_text(text.replace(current_block(text), readme_block(record)))
    print(page(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
