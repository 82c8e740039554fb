"""Modifier words (Maheswaranathan & Sussillo 2020) as a run plug-in.

Runs after the line attractor (it reads the token valences along the line and
the baseline input); skipped, with a log line, when the vocabulary has no
modifier words.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import xarray as xr

from dynalyze.analyses.base import (
    Analysis,
    AnalysisOutput,
    ReportSection,
    Summary,
    read_variables,
    summary_of,
)
from dynalyze.analyses.context import RunContext
from dynalyze.analyses.modifiers.report import modifier_report
from dynalyze.errors import DataError
from dynalyze.results.fragments import SchemaFragment
from dynalyze.results.schema import KINDS, SCHEMA_VERSION

__all__ = ["FRAGMENT", "ModifierSummary", "ModifierWordsAnalysis"]

logger = logging.getLogger(__name__)

FRAGMENT = SchemaFragment(
    name="modifier_words", version=SCHEMA_VERSION, kinds={"modifiers": KINDS["modifiers"]}
)

#: Scalars of the ``modifiers`` dataset in the summary.
SCALARS = (
    "plain_bow_accuracy",
    "augmented_bow_accuracy",
    "recovered_fraction",
    "recovered_fraction_low",
    "recovered_fraction_high",
)

#: ``augmented_bow`` key -> variable name.
_RECOVERED = {
    "bow_accuracy": "plain_bow_accuracy",
    "augmented_accuracy": "augmented_bow_accuracy",
    "recovered_fraction": "recovered_fraction",
    "recovered_low": "recovered_fraction_low",
    "recovered_high": "recovered_fraction_high",
}


@summary_of(*SCALARS)
@attrs.frozen(kw_only=True)
class ModifierSummary(Summary):
    """Each modifier's strengths and time constant; how much of the RNN's gain they explain.

    Examples
    --------
    >>> ModifierSummary(recovered_fraction=0.4).to_dict()["recovered_fraction"]
    0.4
    """

    modifiers: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    plain_bow_accuracy: float | None = None
    augmented_bow_accuracy: float | None = None
    recovered_fraction: float | None = attrs.field(
        default=None,
        metadata={"long_name": "share of the RNN's gain over bag of words the modifiers recover"},
    )
    recovered_fraction_low: float | None = None
    recovered_fraction_high: float | None = None

    @classmethod
    def from_dataset(cls, modifiers: xr.Dataset) -> ModifierSummary:
        """Read the summary from a ``modifiers`` dataset."""
        per = {
            str(name): {
                "strength": modifiers["modifier_strength"].values[k].tolist(),
                "strength_low": modifiers["modifier_strength_low"].values[k].tolist(),
                "strength_high": modifiers["modifier_strength_high"].values[k].tolist(),
                "strength_positive": modifiers["modifier_strength_by_sign"]
                .values[k, :, 0]
                .tolist(),
                "strength_negative": modifiers["modifier_strength_by_sign"]
                .values[k, :, 1]
                .tolist(),
                "ablated": modifiers["ablated_modifier_strength"].values[k].tolist(),
                "time_constant": float(modifiers["modifier_time_constant"].values[k]),
                "fast_share": float(modifiers["modifier_fast_mode_share"].values[k]),
            }
            for k, name in enumerate(modifiers["modifier"].values)
        }
        return cls(modifiers=per, **read_variables(modifiers, SCALARS))


@attrs.frozen(kw_only=True)
class ModifierWordsAnalysis(Analysis):
    """Negators and intensifiers: how each changes the next words' effect, and for how long.

    Runs after ``line_attractor``; on a vocabulary without modifier words it
    has nothing to report (``fit`` returns None).

    Examples
    --------
    >>> from dynalyze.testing import toys
    >>> context = toys.integrator_context()
    >>> ModifierWordsAnalysis().requires, ModifierWordsAnalysis().applies_to(context.classifier)
    (('line_attractor',), True)
    """

    name: ClassVar[str] = "modifier_words"
    title: ClassVar[str] = "modifier words"
    requires: ClassVar[tuple[str, ...]] = ("line_attractor",)
    fragment: ClassVar[SchemaFragment | None] = FRAGMENT
    summary_type: ClassVar[type[Summary] | None] = ModifierSummary

    def applies_to(self, classifier: Any) -> bool:
        """Binary classifiers (the valence along the line is one number per word)."""
        return int(getattr(classifier, "n_outputs", 1)) == 1

    def fit(self, context: RunContext) -> AnalysisOutput | None:
        """Modifier strengths at the baseline input, and the modifier-augmented bag of words."""
        from dynalyze.analyses.modifiers.measure import ModifierAnalysis, augmented_bow

        attractor = context.outputs["line_attractor"].datasets["line_attractor"]
        clf = context.classifier.at_input(attractor["baseline_input"].values)
        valence = np.zeros(len(clf.vocabulary))
        valence[attractor["token_index"].values] = np.nan_to_num(
            attractor["token_projection"].values
        )
        try:
            modifiers = ModifierAnalysis(seed=context.options.seed).fit(
                clf, context.test_ids, valence
            )
        except DataError as exc:
            logger.info("No modifier-word analysis: %s", exc)
            return None
        if context.bow is not None:
            recovered = augmented_bow(
                modifiers,
                context.data,
                clf.vocabulary,
                max_len=context.max_len,
                rnn_correct=context.test_correct,
                Cs=(context.bow.C,),
                seed=context.options.seed,
            )
            modifiers = modifiers.assign(
                {_RECOVERED[k]: v for k, v in recovered.items() if k in _RECOVERED}
            )
        return AnalysisOutput(
            datasets={"modifiers": modifiers},
            summary=ModifierSummary.from_dataset(modifiers),
            config={"seed": context.options.seed},
        )

    def figures(self, output: AnalysisOutput, folder: Path) -> dict[str, Path]:
        """``modifiers.png``: each modifier's strength against the separation."""
        from dynalyze._atomic import atomic_path
        from dynalyze.analyses.modifiers.figures import modifier_strength

        path = folder / "modifiers.png"
        with atomic_path(path, keep_suffix=True) as tmp:
            modifier_strength(output.datasets["modifiers"]).savefig(tmp, dpi=120)
        return {"modifiers": path}

    def report(self, output: AnalysisOutput, context: RunContext) -> ReportSection:
        """The modifier-word section."""
        summary = {**output.summary.to_dict(), "test_accuracy": context.test_accuracy}
        return modifier_report(summary)
