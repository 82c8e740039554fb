"""The modifier-word section of the report (Maheswaranathan & Sussillo 2020), from the numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dynalyze.analyses._format import pct as _pct
from dynalyze.analyses.base import ReportSection

__all__ = ["modifier_captions", "modifier_report", "modifier_section"]


def _modifier_kind(m: Mapping[str, Any]) -> str:
    """What a modifier does to the next word, judged on its 95% interval when there is one."""
    first = m["strength"][0]
    low = (m.get("strength_low") or [first])[0]
    high = (m.get("strength_high") or [first])[0]
    if high < 0:
        return "flips"
    if low > 1:
        return "amplifies" if first >= 1.1 else "slightly amplifies"
    if high < 1:
        return "dampens" if first <= 0.9 else "slightly dampens"
    return "leaves unchanged"


_KIND_TEXT = {
    "flips": "flips the next word's effect",
    "amplifies": "amplifies the next word's effect",
    "slightly amplifies": "amplifies the next word's effect by less than 10%",
    "dampens": "dampens the next word's effect without flipping it",
    "slightly dampens": "dampens the next word's effect by less than 10%",
    "leaves unchanged": "leaves the next word's effect unchanged (its interval holds 1)",
}


def modifier_section(s: Mapping[str, Any]) -> list[str]:
    """The modifier-word section (Maheswaranathan & Sussillo 2020), from the numbers.

    A modifier's verdict uses the bootstrap 95% interval of its strength right after
    it: it flips only when the whole interval is below 0, amplifies when it is above 1.

    Examples
    --------
    >>> lines = modifier_section({"modifiers": {"not": {"strength": [-0.4, 0.1, 0.8],
    ...     "strength_low": [-0.6, 0.0, 0.7], "strength_high": [-0.2, 0.2, 0.9],
    ...     "ablated": [1.0, 1.0, 1.0], "time_constant": 1.5, "fast_share": 0.9}},
    ...     "recovered_fraction": 0.5, "recovered_fraction_low": 0.1,
    ...     "recovered_fraction_high": 0.9, "plain_bow_accuracy": 0.86,
    ...     "augmented_bow_accuracy": 0.87, "test_accuracy": 0.88})
    >>> lines[0]
    '## Modifier words'
    >>> lines[4]
    "Of 1 modifier, these flip the next word's effect: not; these amplify it: none."
    >>> "flips" in lines[6]
    True
    """
    mods = s.get("modifiers") or {}
    if not mods:
        return []
    kinds = {name: _modifier_kind(m) for name, m in mods.items()}
    flips = [n for n, k in kinds.items() if k == "flips"]
    amplifies = [n for n, k in kinds.items() if k == "amplifies"]

    def listed(names: list[str]) -> str:
        return ", ".join(names) if names else "none"

    lines = [
        "## Modifier words",
        "",
        "Strength = a valence word's effect on the logit right after the modifier (and after "
        "s filler tokens) divided by its effect after a neutral filler, in real test "
        "contexts, each effect taken against a neutral word in the same slot: below 0 "
        "flips, above 1 amplifies (Maheswaranathan & Sussillo 2020). Intervals are "
        "bootstrap 95% over contexts.",
        "",
        f"Of {len(mods)} modifier{'s' if len(mods) != 1 else ''}, these flip the next word's "
        f"effect: {listed(flips)}; these amplify it: {listed(amplifies)}.",
        "",
    ]
    for name, m in mods.items():
        first = m["strength"][0]
        interval = (
            f", 95% {m['strength_low'][0]:.2f} to {m['strength_high'][0]:.2f}"
            if m.get("strength_low")
            else ""
        )
        tau = m.get("time_constant")
        decay = (
            f"; the change decays with a time constant of {tau:.1f} tokens"
            if tau is not None and np.isfinite(tau) and abs(first - 1) > 0.1
            else ""
        )
        signs = ""
        pos, neg = (
            (m.get("strength_positive") or [None])[0],
            (m.get("strength_negative") or [None])[0],
        )
        if pos is not None and neg is not None and np.isfinite(pos) and np.isfinite(neg):
            signs = f" (positive words {pos:.2f}, negative words {neg:.2f})"
        lines.append(
            f"- **{name}** {_KIND_TEXT[kinds[name]]}: strength {first:.2f} right after it"
            f"{interval}{signs}, {m['strength'][-1]:.2f} after {len(m['strength']) - 1} "
            f"tokens{decay}; {100 * m['fast_share']:.0f}% of its push lies in fast modes, and "
            f"removing the push from its subspace gives a strength of {m['ablated'][0]:.2f}."
        )
    if s.get("recovered_fraction") is None and s.get("plain_bow_accuracy") is not None:
        lines += [
            "",
            f"A bag of words whose words are scaled by these strengths reaches "
            f"{_pct(s['augmented_bow_accuracy'])} against {_pct(s['plain_bow_accuracy'])} "
            f"for plain counts; the network ({_pct(s['test_accuracy'])}) does not beat plain "
            "bag of words on this split, so there is no gain for the modifiers to recover.",
        ]
    if s.get("recovered_fraction") is not None:
        width = s["recovered_fraction_high"] - s["recovered_fraction_low"]
        gain = s["test_accuracy"] - s["plain_bow_accuracy"]
        lines += [
            "",
            f"A bag of words whose words are scaled by these strengths reaches "
            f"{_pct(s['augmented_bow_accuracy'])} against {_pct(s['plain_bow_accuracy'])} "
            f"for plain counts and {_pct(s['test_accuracy'])} for the network: it recovers "
            f"{_pct(s['recovered_fraction'], 0)} of the network's gain of "
            f"{100 * gain:.1f} points over bag of words (95% bootstrap interval "
            f"{_pct(s['recovered_fraction_low'], 0)} to {_pct(s['recovered_fraction_high'], 0)}"
            + ("; the gain is small, so the interval is wide)." if width > 0.5 else ")."),
        ]
    return [*lines, ""]


def modifier_captions(s: Mapping[str, Any]) -> dict[str, str]:
    """The caption of the modifier-strength figure, from the numbers.

    Examples
    --------
    >>> print(modifier_captions({"modifiers": {"not": {"strength": [-0.41, 0.2]}}})["modifiers"])
    ... # doctest: +ELLIPSIS
    Strength of each modifier ... (right after it: not -0.41); dashed: ...
    """
    mods = s.get("modifiers") or {}
    if not mods:
        return {}
    parts = [f"{name} {m['strength'][0]:.2f}" for name, m in mods.items()]
    return {
        "modifiers": (
            "Strength of each modifier against the tokens between it and the valence word "
            f"(right after it: {', '.join(parts)}); dashed: with the modifier's push removed "
            "from its subspace."
        )
    }


def modifier_report(s: Mapping[str, Any]) -> ReportSection:
    """The modifier words' report section (lines, caption and file).

    Examples
    --------
    >>> modifier_report({}).lines, modifier_report({}).files[0][:22]
    ([], '`results/modifiers.nc`')
    """
    return ReportSection(
        lines=modifier_section(s),
        captions=modifier_captions(s),
        files=(
            "`results/modifiers.nc`: each modifier's strength by separation, its bootstrap "
            "interval, the ablation and the augmented bag of words.",
        ),
    )
