"""Where does one word drive the network if it reads that word forever?

For the most positive and the most negative words along the line attractor
(the built-in ``line_attractor`` analysis's token projections), the network is
run from the origin on that word alone for ``n_steps`` steps. A word whose
driven state settles (``||F(h, e_w) - h||`` near zero) has an input-driven fixed
point, and its readout says how confident the network gets on that word alone;
an integrator never settles (its logit grows by the word's valence each step).

Everything dynalyze needs is here: a schema fragment (the variables this
analysis writes), a typed summary, ``applies_to``, ``fit``, ``figures`` and
``report``. The package registers :class:`DrivenPoints` under the entry-point
group ``dynalyze.analyses`` (``pyproject.toml``), so ``dynalyze run`` and
``dynalyze analyze`` run it and put its section in the report; nothing in
dynalyze knows about it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np

from dynalyze.analyses import (
    Analysis,
    AnalysisOutput,
    ReportSection,
    RunContext,
    SchemaFragment,
    Summary,
    summary_of,
)
from dynalyze.results import VariableSpec, make_dataset

__all__ = ["FRAGMENT", "DrivenPoints", "DrivenSummary"]

#: The kind of dataset this analysis writes and its variables (on dynalyze's ``token``
#: and ``state`` dimensions).
FRAGMENT = SchemaFragment(
    name="driven_points",
    version="1",
    variables={
        "word_valence": VariableSpec(
            ("token",), "the word's input projection along the line (line attractor)", "1"
        ),
        "driven_state": VariableSpec(
            ("token", "state"), "state after reading the word n_steps times from the origin", "1"
        ),
        "driven_logit": VariableSpec(("token",), "readout logit of the driven state", "1"),
        "driven_speed": VariableSpec(
            ("token",), "||F(h, e_w) - h|| at the driven state (0: a fixed point)", "1"
        ),
    },
    kinds={"driven_points": ("word_valence", "driven_state", "driven_logit", "driven_speed")},
)


@summary_of(fragment=FRAGMENT)
@attrs.frozen(kw_only=True)
class DrivenSummary(Summary):
    """How far reading one word forever drives the readout, and whether it settles."""

    driven_positive_logit: float | None = attrs.field(
        default=None, metadata={"long_name": "median logit after reading a positive word forever"}
    )
    driven_negative_logit: float | None = attrs.field(
        default=None, metadata={"long_name": "median logit after reading a negative word forever"}
    )
    driven_settled_share: float | None = attrs.field(
        default=None, metadata={"long_name": "share of driven words whose state settles"}
    )
    driven_steps: int | None = None


@attrs.frozen(kw_only=True)
class DrivenPoints(Analysis):
    """Run the network on one word forever, for its most positive and negative words.

    Parameters
    ----------
    n_words : int
        Words of each sign.
    n_steps : int
        Steps of the drive.
    settled : float
        Speed below which a driven state counts as settled (a fixed point of
        ``F(., e_w)``), relative to the word's first step.
    """

    name: ClassVar[str] = "driven_points"
    title: ClassVar[str] = "driven points"
    requires: ClassVar[tuple[str, ...]] = ("line_attractor",)
    fragment: ClassVar[SchemaFragment | None] = FRAGMENT
    summary_type: ClassVar[type[Summary] | None] = DrivenSummary

    n_words: int = 5
    n_steps: int = 200
    settled: float = 1e-6

    def applies_to(self, classifier: Any) -> bool:
        """Binary classifiers (valence is one number per word)."""
        return int(getattr(classifier, "n_outputs", 1)) == 1

    def fit(self, context: RunContext) -> AnalysisOutput:
        """Drive the network with each selected word; summarise where it ends."""
        attractor = context.outputs["line_attractor"].datasets["line_attractor"]
        clf = context.classifier
        words, valence = _extreme_words(attractor, self.n_words)
        inputs = clf.token_inputs(words)
        h = np.zeros((len(words), clf.system.state_dim))
        first = np.linalg.norm(clf.system.step(h, inputs) - h, axis=1)
        for _ in range(self.n_steps):
            h = clf.system.step(h, inputs)
        speed = np.linalg.norm(clf.system.step(h, inputs) - h, axis=1)
        logit = clf.readout(h)
        ds = make_dataset(
            "driven_points",
            {
                "word_valence": valence,
                "driven_state": h,
                "driven_logit": logit,
                "driven_speed": speed,
            },
            coords={"token": np.array(words, dtype=object)},
            config=attrs.asdict(self),
        )
        positive = valence > 0
        summary = DrivenSummary(
            driven_positive_logit=_median(logit[positive]),
            driven_negative_logit=_median(logit[~positive]),
            driven_settled_share=float(np.mean(speed <= self.settled * np.maximum(first, 1e-300))),
            driven_steps=self.n_steps,
        )
        return AnalysisOutput(datasets={"driven_points": ds}, summary=summary)

    def figures(self, output: AnalysisOutput, folder: Path) -> dict[str, Path]:
        """``driven_points.png``: each word's valence against its driven logit."""
        import matplotlib.pyplot as plt

        ds = output.datasets["driven_points"]
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.scatter(ds["word_valence"], ds["driven_logit"])
        points = zip(ds["token"].values, ds["word_valence"], ds["driven_logit"], strict=True)
        for word, x, y in points:
            ax.annotate(str(word), (float(x), float(y)), fontsize=7)
        ax.set(xlabel="valence along the line", ylabel="logit after reading it forever")
        fig.tight_layout()
        path = folder / "driven_points.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return {"driven_points": path}

    def report(self, output: AnalysisOutput, context: RunContext) -> ReportSection:
        """A sentence and a table, generated from the numbers."""
        s, ds = output.summary, output.datasets["driven_points"]
        share = s.driven_settled_share or 0.0
        verdict = (
            "every driven state settles at an input-driven fixed point"
            if share == 1
            else "no driven state settles: reading one word keeps moving the state"
            if share == 0
            else f"{100 * share:.0f}% of the driven states settle"
        )
        lines = [
            "## Reading one word forever",
            "",
            f"Run from the origin on one word for {s.driven_steps} steps, the most positive "
            f"words reach a median logit of {_fmt(s.driven_positive_logit)} and the most "
            f"negative {_fmt(s.driven_negative_logit)}; {verdict}.",
            "",
            "| word | valence | logit | speed |",
            "|---|---|---|---|",
        ]
        rows = zip(
            ds["token"].values,
            ds["word_valence"].values,
            ds["driven_logit"].values,
            ds["driven_speed"].values,
            strict=True,
        )
        for word, v, lg, sp in rows:
            lines.append(f"| {word} | {v:+.3f} | {lg:+.2f} | {sp:.2g} |")
        return ReportSection(
            lines=[*lines, ""],
            captions={"driven_points": "Each word's valence against the logit it drives to."},
            files=("`results/driven_points.nc`: the driven states (dynalyze-driven plug-in).",),
        )


def _extreme_words(attractor: Any, n: int) -> tuple[list[str], np.ndarray]:
    # Words with a measured projection, seen in the analysed documents.
    seen = np.isfinite(attractor["token_projection"].values) & (attractor["token_count"].values > 0)
    projection = attractor["token_projection"].values[seen]
    tokens = attractor["token"].values[seen]
    order = np.argsort(projection)
    pick = np.unique(np.concatenate([order[:n], order[-n:]]))
    pick = pick[np.argsort(projection[pick])]
    return [str(t) for t in tokens[pick]], projection[pick].astype(float)


def _median(values: np.ndarray) -> float | None:
    return float(np.median(values)) if values.size else None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"
