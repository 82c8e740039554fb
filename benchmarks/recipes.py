"""Training recipes for the IMDB GRU, judged at the input the network runs at.

Issue 8 asked for a recipe whose GRU comes closer to the paper's continuum (fixed
points along the line, slow drift everywhere); issue 11 for one whose GRU
processes modifier words ("not", "very") as the paper's networks do; issue 20
for every recipe's mechanism at the network's baseline input (the mean token
embedding of its training documents) and at x = 0 beside it, and for the
default recipe to be the one that reproduces the paper at the baseline. Each
variant changes one thing in the default IMDB recipe (``window30``, training on
random 30-token windows, comes with the dropout and learning-rate schedule it
needs). Every model is trained once (``--train``) into
``benchmarks/output/recipes/NAME``; its run's summary (the whole ``dynalyze run``
analysis) is the row, and later invocations re-analyse the saved model with
``dynalyze analyze``'s code path.

Run (about 4 min of training per variant, 1 min of analysis, 2 cores)::

    python benchmarks/recipes.py --train --json docs/recipes.json --markdown docs/recipes.md

``--quick`` analyses the synthetic task with two tiny variants (what CI runs).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import attrs

from dynalyze.analyses.modifiers.measure import INTENSIFIERS
from dynalyze.sentiment.defaults import Recipe, default_recipe
from dynalyze.sentiment.pipeline import RunConfig, analyze_model, run_pipeline

#: Variant name -> changes to the default recipe.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "epochs10": {"epochs": 10},
    "wd0.05": {"weight_decay": 0.05},
    "dropout0.3": {"dropout": 0.3},
    "cosine2e-3": {"lr_schedule": "cosine", "learning_rate": 2e-3},
    "units64": {"units": 64},
    "keepfirst": {"keep": "first"},
    # Random windows of 30 tokens (with the dropout and schedule they need).
    "window30": {
        "window": 30,
        "dropout": 0.3,
        "lr_schedule": "cosine",
        "epochs": 15,
        "patience": 4,
    },
}
QUICK = {"default": {}, "units8": {"units": 8}}

COLUMNS = [
    ("test accuracy", "test_accuracy", "{:.2%}"),
    ("‖x_b‖ / median token", "baseline_relative_norm", "{:.0%}"),
    ("clusters at x_b (stable / unstable)", "clusters", None),
    ("slow share at x_b", "slow_fraction", "{:.0%}"),
    ("drift / document at x_b, middle half", "middle_drift_per_document", "{:.0%}"),
    ("neutral-stream drift / document (whole line)", "median_neutral_drift_per_document", "{:.0%}"),
    ("\\|cos(readout, r₁)\\| at x_b", "stable_median_alignment_readout_r1", "{:.2f}"),
    ("mechanism at x_b", "mechanism", "{}"),
    ("clusters at x = 0 (stable / unstable)", "clusters_at_zero", None),
    ("slow share at x = 0", "slow_fraction_at_zero", "{:.0%}"),
    ("mechanism at x = 0", "mechanism_at_zero", "{}"),
    ("'not' strength (95%)", "not_strength", "{}"),
    ("strongest intensifier (95%)", "intensifier_strength", "{}"),
    ("epochs run", "epochs_run", "{}"),
    ("training s", "training_seconds", "{:.0f}"),
]

#: Test accuracy a recipe may fall short of the paper's GRU on IMDB (86.86%) and still be
#: chosen: a network that reproduces the paper must also classify as well as its GRU.
ACCURACY_SLACK = 0.01
PAPER_GRU_IMDB = 0.8686
#: Slow share by which another recipe must beat the default to replace it.
SLOW_MARGIN = 0.05


def _modifier_cells(summary: dict[str, Any]) -> dict[str, str | None]:
    """'not' and the strongest intensifier right after them, with their 95% intervals."""
    mods = summary.get("modifiers") or {}

    def cell(name: str) -> str:
        m = mods[name]
        return f"{m['strength'][0]:.2f} ({m['strength_low'][0]:.2f}-{m['strength_high'][0]:.2f})"

    present = [n for n in INTENSIFIERS if n in mods and "strength_low" in mods[n]]
    best = max(present, key=lambda n: mods[n]["strength"][0], default=None)
    return {
        "not_strength": cell("not") if "strength_low" in mods.get("not", {}) else None,
        "intensifier_strength": f"{best} {cell(best)}" if best else None,
    }


def _recipe(base: Recipe, changes: dict[str, Any]) -> Recipe:
    return attrs.evolve(base, **changes)


def run_variant(
    name: str, recipe: Recipe, folder: Path, *, train: bool, n_initial: int
) -> dict[str, Any] | None:
    """Train (if asked and missing) and analyse one variant; its summary row."""
    model = folder / "model"
    out = folder / "analysis"
    config = RunConfig.build(
        dataset=recipe.dataset,
        base_recipe=recipe,
        n_initial=n_initial,
        out=str(out),
        overwrite=True,
        progress=False,
    )
    seconds = None
    record: dict[str, Any] | None = None
    if not model.exists():
        if not train:
            print(f"{name}: no model in {model}; pass --train to train it")
            return None
        start = time.perf_counter()
        result = run_pipeline(attrs.evolve(config, out=str(folder / "run")))
        seconds = result.timings.get("training")
        (folder / "run" / "model").rename(model)
        record = json.loads((folder / "run" / "run.json").read_text())
        (folder / "training.json").write_text(
            json.dumps(
                {"recipe": record["recipe"], "training": record["training"], "seconds": seconds},
                indent=2,
            )
        )
        print(f"{name}: trained in {time.perf_counter() - start:.0f} s")
    if record is not None:
        summary = record["summary"]
    else:
        summary = analyze_model(model, config).summary
    training = json.loads((folder / "training.json").read_text())
    seconds = training.get("seconds") if seconds is None else seconds
    return {
        "name": name,
        "changes": VARIANTS.get(name, QUICK.get(name, {})),
        "training_seconds": seconds,
        "epochs_run": (training.get("training") or {}).get("epochs_run"),
        "clusters": _clusters(summary.get("fixed_point_structure")),
        "clusters_at_zero": _clusters(summary.get("fixed_point_structure_at_zero")),
        **{
            k: summary.get(k)
            for _, k, fmt in COLUMNS
            if fmt and k not in ("training_seconds", "epochs_run")
        },
        **_modifier_cells(summary),
        "structure": summary.get("fixed_point_structure"),
        "structure_at_zero": summary.get("fixed_point_structure_at_zero"),
        "headline": summary.get("headline"),
    }


def _clusters(rows: list[dict[str, Any]] | None) -> str:
    clusters = [r for r in rows or [] if r["kind"] != "isolated_root"]
    stable = sum(r["stability"] == "stable" for r in clusters)
    unstable = sum(r["stability"] in ("saddle", "unstable") for r in clusters)
    return f"{len(clusters)} ({stable} / {unstable})"


def choose(rows: list[dict[str, Any]], reference: float | None = PAPER_GRU_IMDB) -> tuple[str, str]:
    """The recipe that reproduces the paper best at the baseline input, and why.

    The paper's mechanism is a line that holds evidence over a document: among
    the recipes whose test accuracy is at most ACCURACY_SLACK below the paper's
    GRU on IMDB (``reference``; without one, the best recipe's), the one whose
    line is slow over the largest share at the baseline input (ties: the higher
    accuracy); the default stays unless another beats its slow share by
    SLOW_MARGIN.
    """
    usable = [r for r in rows if r.get("test_accuracy") is not None]
    if not usable:
        return "default", "no recipe finished"
    bar = reference if reference is not None else max(r["test_accuracy"] for r in usable)
    floor = bar - ACCURACY_SLACK
    eligible = [r for r in usable if r["test_accuracy"] >= floor] or usable

    def key(r: dict[str, Any]) -> tuple[float, float]:
        return (r.get("slow_fraction") or 0.0, r["test_accuracy"])

    winner = max(eligible, key=key)
    what = "the paper's GRU" if reference is not None else "the best recipe"
    why = (
        f"among the recipes with a test accuracy of at least {floor:.2%} ({what}'s "
        f"{bar:.2%} less {100 * ACCURACY_SLACK:.0f} point), {winner['name']} has its line "
        f"slow over the largest share at the baseline input "
        f"({(winner.get('slow_fraction') or 0):.0%}; mechanism "
        f"{str(winner.get('mechanism')).replace('_', ' ')})"
    )
    default = next((r for r in eligible if r["name"] == "default"), None)
    if default is not None and winner["name"] != "default":
        gain = (winner.get("slow_fraction") or 0) - (default.get("slow_fraction") or 0)
        if gain < SLOW_MARGIN:
            return "default", (
                f"{why}, but it beats the default's {(default.get('slow_fraction') or 0):.0%} "
                f"by less than {100 * SLOW_MARGIN:.0f} points, so the default stays"
            )
    return winner["name"], why


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of the variants."""
    head = "| variant | changes | " + " | ".join(c for c, _, _ in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for r in rows:
        cells = [r["name"], ", ".join(f"{k}={v}" for k, v in r["changes"].items()) or "-"]
        for _, key, fmt in COLUMNS:
            value = r.get(key)
            if value is None:
                cells.append("n/a")
            elif fmt is None:
                cells.append(str(value))
            else:
                cells.append(fmt.format(value).replace("_", " "))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _reference(rows: list[dict[str, Any]]) -> float | None:
    """The paper's GRU accuracy for IMDB rows; none for the quick synthetic variants."""
    return None if any(r["name"] == "units8" for r in rows) else PAPER_GRU_IMDB


def _write_markdown(path: Path, rows: list[dict[str, Any]]) -> None:
    chosen, why = choose(rows, _reference(rows))
    text = (
        "# Training recipes at the input the network runs at (IMDB GRU, seed 0)\n\n"
        "Generated by `python benchmarks/recipes.py --train --json docs/recipes.json "
        "--markdown docs/recipes.md` (each variant changes one thing in the default recipe; "
        "`window30` trains on random 30-token windows of the reviews; the rows with the "
        "per-cluster structure at both inputs and each run's headline are in "
        "`docs/recipes.json`). Every network is analysed at its baseline input x_b (the mean "
        "token embedding of its training documents) and at x = 0 beside it.\n\n"
        + table(rows)
        + f"\n\n**Chosen recipe: {chosen}.** Rule: {why}.\n\n"
        "*Slow share*: the share of the line (5th-95th percentile of the visited states "
        "on PC1) where the dynamics at that input move a state by less than 10% of the line "
        "over one median-length review and a mode keeps evidence over it; *drift*: how far it "
        "moves (middle half of the line); *neutral-stream drift*: the same under random "
        "streams of the network's most neutral frequent tokens. The paper's continuum would "
        "be many clusters tiling the line (or one continuum), none unstable, and a slow share "
        "near 100%. *Strength*: a valence word's effect right after the modifier over its "
        "effect after a neutral word (below 0 flips, above 1 amplifies; "
        "`dynalyze.analyses.modifiers.measure.ModifierAnalysis`), with its bootstrap 95% "
        "interval over contexts.\n"
    )
    path.write_text(text)


README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- recipes:start -->", "<!-- recipes:end -->"


def readme_block(rows: list[dict[str, Any]]) -> str:
    """README.md's paragraph on the recipe study, generated from its rows."""
    chosen, why = choose(rows, _reference(rows))
    tally: dict[str, list[str]] = {}
    for r in rows:
        tally.setdefault(str(r.get("mechanism")).replace("_", " "), []).append(r["name"])
    at_b = "; ".join(f"{m}: {', '.join(names)}" for m, names in tally.items())
    best = max(rows, key=lambda r: r.get("slow_fraction") or 0.0) if rows else None
    nots = [r for r in rows if r.get("not_strength")]
    flips = [r["name"] for r in nots if r["not_strength"].split(" ")[0].startswith("-")]
    text = (
        f"We trained {len(rows)} recipes of the IMDB GRU within the CPU budget "
        "(weight decay, embedding dropout, a cosine learning-rate schedule, fewer units, more "
        "epochs, reading the start of long reviews, random windows): "
        "[`docs/recipes.md`](docs/recipes.md) has each one's mechanism at its baseline input "
        f"and at x = 0. At the baseline: {at_b}."
    )
    if best is not None:
        text += (
            f" The line is slow over the largest share in {best['name']} "
            f"({(best.get('slow_fraction') or 0):.0%} of the line at x_b, "
            f"{(best.get('slow_fraction_at_zero') or 0):.0%} at x = 0)."
        )
    text += (
        f" The default recipe stays: {why}."
        if chosen == "default"
        else f" The chosen recipe is **{chosen}**: {why}."
    )
    if nots:
        text += (
            " Modifier words: 'not' flips the next word's effect in "
            + (", ".join(flips) if flips else "none of them")
            + " (the next word's strength right after it: "
            + ", ".join(f"{r['name']} {r['not_strength'].split(' ')[0]}" for r in nots)
            + "; below 0 would be a flip)."
        )
    return "\n".join(
        [
            START,
            text,
            "",
            "Generated by `python benchmarks/recipes.py --render-only --json docs/recipes.json "
            "--markdown docs/recipes.md --readme` from the recorded rows.",
            END,
        ]
    )


def _write_readme(rows: list[dict[str, Any]]) -> None:
    text = README.read_text()
    start, end = text.index(START), text.index(END) + len(END)
    README.write_text(text[:start] + readme_block(rows) + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="train variants without a model")
    parser.add_argument("--quick", action="store_true", help="synthetic task, tiny variants")
    parser.add_argument("--only", nargs="*", help="variant names to run")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--markdown", type=Path, help="write the table page here")
    parser.add_argument(
        "--render-only", action="store_true", help="only render --json into --markdown"
    )
    parser.add_argument("--readme", action="store_true", help="rewrite README.md's block")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/output/recipes"))
    args = parser.parse_args(argv)
    if args.render_only:
        rows = json.loads(args.json.read_text())["rows"]
        _write_markdown(args.markdown, rows)
        if args.readme:
            _write_readme(rows)
        return 0
    variants = QUICK if args.quick else VARIANTS
    base = default_recipe("synthetic" if args.quick else "imdb")
    root = args.output / ("quick" if args.quick else "")
    rows = []
    for name, changes in variants.items():
        if args.only and name not in args.only:
            continue
        row = run_variant(
            name,
            _recipe(base, changes),
            root / name,
            train=args.train or args.quick,
            n_initial=100 if args.quick else 1000,
        )
        if row is not None:
            rows.append(row)
    print(table(rows))
    if args.markdown:
        _write_markdown(args.markdown, rows)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "command": "python benchmarks/recipes.py --train --json docs/recipes.json "
                    "--markdown docs/recipes.md",
                    "rows": rows,
                },
                indent=2,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
