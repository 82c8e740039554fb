"""``report.md``: the run's setup and accuracy, then one section per analysis.

The paper's accuracies come from Maheswaranathan, Williams, Golub, Ganguli and
Sussillo (NeurIPS 2019), "Reverse engineering recurrent networks for sentiment
classification reveals line attractor dynamics" (Table 1). Everything below
the accuracy table is rendered by the analyses themselves
(:meth:`dynalyze.analyses.Analysis.report`), so a plug-in analysis appears in
the report without any change here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dynalyze._atomic import atomic_path
from dynalyze.analyses._format import pct
from dynalyze.analyses.base import ReportSection

__all__ = ["ARCH_NAMES", "PAPER_ACCURACY", "PAPER_DATASET", "render_report", "write_report"]

#: Paper Table 1 test accuracies (%), by paper dataset and architecture.
PAPER_ACCURACY: Mapping[str, Mapping[str, float]] = {
    "IMDB": {"bow": 88.53, "simple": 87.08, "ugrnn": 87.96, "gru": 86.86, "lstm": 86.93},
    "Yelp": {"bow": 93.37, "simple": 92.96, "ugrnn": 95.67, "gru": 95.84, "lstm": 95.05},
    "SST": {"bow": 79.74, "simple": 78.09, "ugrnn": 77.74, "gru": 80.25, "lstm": 80.09},
}
#: Our dataset -> the paper's closest dataset (SST was built from these sentences).
PAPER_DATASET: Mapping[str, str] = {"imdb": "IMDB", "rotten_tomatoes": "SST"}
ARCH_NAMES: Mapping[str, str] = {
    "gru": "GRU",
    "lstm": "LSTM",
    "simple": "vanilla RNN",
    "ugrnn": "UGRNN",
}

_RECIPE_KEYS = (
    "dataset",
    "arch",
    "units",
    "embedding_dim",
    "max_tokens",
    "max_len",
    "keep",
    "epochs",
    "batch_size",
    "learning_rate",
    "patience",
    "max_train",
)


def render_report(
    summary: Mapping[str, Any],
    sections: Sequence[ReportSection],
    figures: Mapping[str, str | os.PathLike[str]],
    recipe: Any,
    config: Any,
    base: str | os.PathLike[str] = ".",
) -> str:
    """The report as Markdown text (see :func:`write_report`).

    Parameters
    ----------
    summary : mapping
        The run's summary (``run.json``): ``arch``, ``dataset``, ``test_accuracy``,
        ``bow_test_accuracy``, ``n_classes``, ``baseline``...
    sections : sequence of ReportSection
        One per analysis, in run order; the first headline is the report's.
    figures : mapping of str to path
        Every figure of the run by name (captions come from the sections).
    recipe, config : object
        The training recipe and run configuration (setup table; may be None).
    base : path-like
        Folder the report is written to (figure links are relative to it).

    Examples
    --------
    >>> summary = {"arch": "gru", "dataset": "imdb", "test_accuracy": 0.877,
    ...            "bow_test_accuracy": 0.882}
    >>> section = ReportSection(lines=["## Mine", "", "A finding.", ""], headline="**Found.**")
    >>> lines = render_report(summary, [section], {}, None, None).splitlines()
    >>> lines[0], lines[2]
    ('# dynalyze report: GRU on imdb', '**Found.**')
    >>> [line for line in lines if line.startswith(("| GRU |", "| bag of words |"))]
    ['| GRU | 87.70% | 86.86% |', '| bag of words | 88.20% | 88.53% |']
    >>> "## Mine" in lines
    True
    """
    s = dict(summary)
    arch = str(s.get("arch", getattr(recipe, "arch", "?")))
    dataset = str(s.get("dataset", getattr(recipe, "dataset", "?")))
    n_classes = int(s.get("n_classes") or 2)
    title = f"# dynalyze report: {ARCH_NAMES.get(arch, arch)} on {dataset}"
    if n_classes > 2:
        title += f" ({n_classes} classes)"
    headline = next((x.headline for x in sections if x.headline), None)
    lines = [title, ""]
    if headline:
        lines += [headline, ""]
    lead = next((x.lead for x in sections if x.lead), None)
    if lead:
        lines += [lead, ""]
    lines += _setup(s, recipe, config)
    lines += _accuracy(s, arch, dataset, sections)
    for section in sections:
        lines += list(section.lines)
    lines += _figures(figures, sections, base)
    glossary = [item for x in sections for item in x.glossary]
    lines += ["## How to read this report", ""] + [f"- {item}" for item in glossary]
    lines += ["- ✓ agrees with the paper (or meets the target stated), ✗ differs, n/a not "
              "applicable.", ""] if glossary else [""]
    lines += ["## Files", "", "- `model/`: the trained Keras model (`model.keras`) and its "
              "`vocabulary.txt`."]
    lines += [f"- {item}" for x in sections for item in x.files]
    lines += ["- `figures/`: the PNG figures; `run.json`: configuration, data split, training "
              "history, every analysis's summary and seconds per stage.", ""]
    return "\n".join(lines)


def _setup(s: Mapping[str, Any], recipe: Any, config: Any) -> list[str]:
    lines = ["## Setup", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {getattr(recipe, k)} |" for k in _RECIPE_KEYS if hasattr(recipe, k)]
    options = getattr(config, "options", config)
    lines += [
        f"| {k} | {getattr(options, k)} |"
        for k in ("n_analysis", "n_initial", "seed")
        if hasattr(options, k)
    ]
    if s.get("baseline") is not None:
        norm, relative = s.get("baseline_norm"), s.get("baseline_relative_norm")
        size = ""
        if norm is not None:
            size = f" (norm {float(norm):.3g}"
            if relative is not None:
                size += f", {100 * float(relative):.0f}% of a median token's"
            size += "; the paper's: < 0.008)"
        lines.append(f"| baseline input | {s['baseline']}{size} |")
    if s.get("epochs_run") is not None:
        lines.append(f"| epochs run (best) | {s.get('epochs_run')} ({s.get('best_epoch')}) |")
    return lines


def _accuracy(
    s: Mapping[str, Any], arch: str, dataset: str, sections: Sequence[ReportSection]
) -> list[str]:
    arch_name = ARCH_NAMES.get(arch, arch)
    paper_ds = PAPER_DATASET.get(dataset)
    paper = PAPER_ACCURACY.get(paper_ds or "", {})
    bow = "bag of words" if int(s.get("n_classes") or 2) <= 2 else "multinomial bag-of-words"
    lines = [
        "",
        "## Accuracy (paper Table 1)",
        "",
        f"| model | ours (test) | paper ({paper_ds or 'n/a'}) |",
        "|---|---|---|",
        f"| {arch_name} | {pct(s.get('test_accuracy'), 2)} | "
        f"{paper.get(arch, 'n/a') if paper else 'n/a'}{'%' if arch in paper else ''} |",
        f"| {bow} | {pct(s.get('bow_test_accuracy'), 2)} | "
        f"{str(paper['bow']) + '%' if paper else 'n/a'} |",
    ]
    lines += [f"| {a} | {b} | {c} |" for x in sections for a, b, c in x.accuracy_rows]
    lines.append("")
    if paper_ds == "SST":
        lines += [
            "The paper reports SST, which was built from these Rotten Tomatoes sentences "
            "(with a different split and phrase-level labels), so the comparison is loose.",
            "",
        ]
    elif not paper_ds:
        lines += ["The paper has no numbers for this dataset.", ""]
    if paper_ds == "IMDB" and arch in paper and s.get("test_accuracy") is not None:
        gap = 100 * float(s["test_accuracy"]) - paper[arch]
        lines += [
            f"Our {arch_name} is {abs(gap):.2f} points {'above' if gap >= 0 else 'below'} the "
            "paper's. We train on 80% of the 25,000 labelled IMDB reviews and test on a "
            "held-out 10% (the paper trained on 25,000 and tested on another 25,000), "
            "for a few epochs to fit a CPU budget.",
            "",
        ]
    return lines


def _figures(
    figures: Mapping[str, str | os.PathLike[str]],
    sections: Sequence[ReportSection],
    base: str | os.PathLike[str],
) -> list[str]:
    if not figures:
        return []
    captions = {name: text for x in sections for name, text in x.captions.items()}
    lines = ["## Figures", ""]
    for name, path in figures.items():
        rel = Path(os.path.relpath(path, base)).as_posix()
        lines += [f"### {name.replace('_', ' ')}", "", f"![{name}]({rel})", ""]
        lines += [captions.get(name, ""), ""]
    return lines


def write_report(
    path: str | os.PathLike[str],
    summary: Mapping[str, Any],
    sections: Sequence[ReportSection],
    figures: Mapping[str, str | os.PathLike[str]],
    recipe: Any,
    config: Any,
) -> Path:
    """Write the Markdown report to ``path`` (figure links relative to its folder).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     figures = {"state_pca": Path(folder) / "figures" / "state_pca.png"}
    ...     summary = {"arch": "lstm", "dataset": "synthetic"}
    ...     path = write_report(Path(folder) / "report.md", summary, [], figures, None, None)
    ...     text = path.read_text(encoding="utf-8")
    >>> path.name, text.splitlines()[0]
    ('report.md', '# dynalyze report: LSTM on synthetic')
    >>> "![state_pca](figures/state_pca.png)" in text
    True
    """
    target = Path(path)
    text = render_report(summary, sections, figures, recipe, config, base=target.parent)
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target
