"""Generate README.md's "what the default run found" block from a run's own output.

The numbers quoted in README.md are never typed in: this script reads
``run.json`` of a ``dynalyze run`` folder, records what the block needs in
``docs/default_run.json`` and rewrites the block between the markers
``<!-- results:start -->`` and ``<!-- results:end -->``. A test checks that the
block matches the record.

Run (after ``dynalyze run --out dynalyze-output``)::

    python benchmarks/readme_results.py dynalyze-output
"""

from __future__ import annotations

import argparse
import json
import math
import platform
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "default_run.json"
README = ROOT / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def record_from_run(folder: Path) -> dict[str, Any]:
    """What the README block needs from a run folder's ``run.json``."""
    run = json.loads((folder / "run.json").read_text())
    return {
        "command": "dynalyze run (seed 0), then python benchmarks/readme_results.py OUT",
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "dynalyze_version": run.get("dynalyze_version"),
        "summary": run["summary"],
        "minutes": round(sum(run["timings_s"].values()) / 60, 1),
        "training_history": run["training"].get("history"),
    }


def _pct(v: Any, digits: int = 1) -> str:
    return "n/a" if v is None else f"{100 * float(v):.{digits}f}%"


def _tau(magnitude: float) -> str:
    if magnitude == 1:
        return "∞"
    if magnitude > 1 + 1e-3:
        return "grows"
    return f"{abs(1.0 / math.log(magnitude)):,.0f}"


def _structure(rows: list[dict[str, Any]] | None) -> str:
    rows = [r for r in rows or [] if r["kind"] != "isolated_root"]
    if len(rows) > 5:
        stable = sum(r["stability"] == "stable" for r in rows)
        return f"{len(rows)} clusters ({stable} stable)"
    return (
        "; ".join(
            f"{r['stability']} at {r['position']:+.2f} "
            f"(\\|λ₁\\| {r['top_eigenvalue_magnitudes'][0]:.4f})"
            for r in rows
        )
        or "none"
    )


def _num(v: Any, digits: int = 2) -> str:
    return "n/a" if v is None else f"{float(v):.{digits}f}"


def _rows(s: dict[str, Any]) -> list[str]:
    """The table: ours at x_b, ours at x = 0, the paper."""
    stable = [r for r in s.get("fixed_point_structure") or [] if r["stability"] == "stable"]
    taus = ", ".join(_tau(r["top_eigenvalue_magnitudes"][0]) for r in stable) or "n/a"
    taus2 = ", ".join(_tau(r["top_eigenvalue_magnitudes"][1]) for r in stable) or "n/a"
    z = {k[: -len("_at_zero")]: v for k, v in s.items() if k.endswith("_at_zero")}
    relative = s.get("baseline_relative_norm")
    return [
        "| | ours, at the baseline input x_b | ours, at x = 0 | paper |",
        "|---|---|---|---|",
        f"| test accuracy (GRU / bag of words) | {_pct(s['test_accuracy'])} / "
        f"{_pct(s['bow_test_accuracy'])} | (same network) | 86.9% / 88.5% |",
        f"| norm of the input analysed at (share of a median token's) | "
        f"{_num(s.get('baseline_norm'), 3)} ({_pct(relative, 0)}) | 0 | mean embedding "
        "< 0.008 |",
        f"| visited-state variance in the top 3 PCs (untrained network) | "
        f"{_pct(s['state_top3_variance'])} ({_pct(s['untrained_state_top3_variance'])}) | "
        "(same states) | ~90% |",
        f"| accepted approximate fixed points (‖F(h,x) - h‖²/N < 1e-8) | {s['n_accepted']:,} in "
        f"{s['n_fixed_point_clusters']} clusters | {z.get('n_accepted', 0):,} in "
        f"{z.get('n_fixed_point_clusters')} clusters | ~500 on a 1-D curve |",
        f"| distinct fixed points along the line (PC1 of visited states) | "
        f"{_structure(s.get('fixed_point_structure'))} | "
        f"{_structure(s.get('fixed_point_structure_at_zero'))} | a line of marginally stable "
        "fixed points |",
        f"| share of the line slow over a median review ({s['median_document_length']} tokens; "
        f"drift < 10% of the line) | {_pct(s['slow_fraction'], 0)} | "
        f"{_pct(z.get('slow_fraction'), 0)} | the whole line |",
        f"| median drift over a review, middle half of the line | "
        f"{_pct(s.get('middle_drift_per_document'), 0)} (neutral-word streams: "
        f"{_pct(s.get('middle_neutral_drift_per_document'), 0)}) | "
        f"{_pct(z.get('middle_drift_per_document'), 0)} | ~0 |",
        f"| time constants of the top / second mode at the stable points (tokens) | {taus} / "
        f"{taus2} | | hundreds to thousands / ~100 |",
        f"| \\|cos(readout, r₁)\\| at the stable points (matched null: 95th percentile "
        f"{_num(s.get('matched_null_alignment_p95'))}) | "
        f"{_num(s.get('stable_median_alignment_readout_r1'))} | "
        f"{_num(z.get('stable_median_alignment_readout_r1'))} | aligned |",
        f"| \\|cos(r₁, line axis)\\| at the stable points | "
        f"{_num(s.get('stable_median_alignment_r1_tangent'))} | "
        f"{_num(z.get('stable_median_alignment_r1_tangent'))} | aligned |",
        f"| token projections vs bag-of-words weights: sign agreement on the top-100 ± words | "
        f"{_pct(s['bow_sign_agreement'], 0)} | | match |",
        f"| one-step linearization error | {_pct(s['linearization_error_median'])} | | ~10% |",
        f"| reduced line model vs network accuracy | {_pct(s['reduced_accuracy'])} vs "
        f"{_pct(s['network_accuracy'])} | | linear model ~3% worse |",
        f"| mechanism | {str(s['mechanism']).replace('_', ' ')} | "
        f"{str(z.get('mechanism', 'n/a')).replace('_', ' ')} | line attractor |",
    ]


def render(record: dict[str, Any]) -> str:
    """The Markdown block (between the markers) for a record."""
    s = record["summary"]
    from types import SimpleNamespace

    from dynalyze.analyses.line_attractor.report_baseline import (
        baseline_sentence,
        continuation_sentence,
        neutral_sentence,
    )
    from dynalyze.cli import _summary_line

    done = _summary_line(
        SimpleNamespace(summary=s, out="./dynalyze-output"), 60 * record["minutes"]
    ).replace("figures/*.png.", "figures/*.png, model/.")
    lines = [
        START,
        "The default run prints one line at the end:",
        "",
        "```",
        done,
        "```",
        "",
        f"What the default run found (seed 0, {record['minutes']} min on this "
        f"{record['machine']['cpus']}-core machine; `report.md` has every number with the "
        "paper's beside it). " + baseline_sentence(s) + " The report's headline, at that input:",
        "",
        "> " + s["headline"],
        "",
        "At x = 0, the paper's literal choice, the same network reads:",
        "",
        "> " + str(s.get("headline_at_zero", "n/a")),
        "",
        *_rows(s),
        "",
        neutral_sentence(s),
        "",
        continuation_sentence(s),
        "",
        "Generated by `python benchmarks/readme_results.py OUT` from that run's `run.json` "
        "(recorded in `docs/default_run.json`).",
        END,
    ]
    return "\n".join(lines)


def readme_block(text: str) -> str:
    """The current block of README.md (markers included)."""
    start, end = text.index(START), text.index(END) + len(END)
    return text[start:end]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="?", help="a dynalyze run folder")
    args = parser.parse_args(argv)
    if args.run is not None:
        RECORD.write_text(json.dumps(record_from_run(args.run), indent=2) + "\n")
    record = json.loads(RECORD.read_text())
    text = README.read_text()
    README.write_text(text.replace(readme_block(text), render(record)))
    print(render(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
