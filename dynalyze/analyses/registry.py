"""Registry of analyses: the built-ins and plug-ins found through the ``dynalyze.analyses`` group.

A package adds an analysis to every ``dynalyze run`` by registering a
:class:`~dynalyze.analyses.Analysis` subclass (with a no-argument constructor)
in its ``pyproject.toml``::

    [project.entry-points."dynalyze.analyses"]
    relaxation = "my_package.relaxation:RelaxationAnalysis"

Plug-ins are discovered lazily (``import dynalyze`` imports no plug-in code);
their schema fragments are registered when they load. A plug-in that fails to
load, is not an :class:`Analysis`, or reuses a taken name is skipped with a
:class:`~dynalyze.errors.DynalyzePluginWarning`. Analyses run in registration
order (built-ins first), each after the analyses it ``requires``.
"""

from __future__ import annotations

import importlib.metadata
import logging
import warnings
from collections.abc import Sequence
from typing import Any

from dynalyze.analyses.base import Analysis
from dynalyze.errors import ConfigurationError, DynalyzePluginWarning
from dynalyze.results.fragments import ANALYSIS_GROUP, register_fragment

__all__ = [
    "ENTRY_POINT_GROUP",
    "analyses_for",
    "check_names",
    "list_analyses",
    "order_analyses",
]

logger = logging.getLogger(__name__)

#: Entry-point group under which packages register Analysis subclasses.
ENTRY_POINT_GROUP = ANALYSIS_GROUP

_plugins: dict[str, type[Analysis]] | None = None


def _builtins() -> dict[str, type[Analysis]]:
    from dynalyze.analyses.line_attractor import LineAttractorAnalysis
    from dynalyze.analyses.modifiers import ModifierWordsAnalysis
    from dynalyze.analyses.simplex import SimplexAnalysis

    classes = (LineAttractorAnalysis, ModifierWordsAnalysis, SimplexAnalysis)
    return {cls.name: cls for cls in classes}


def _warn(message: str) -> None:
    warnings.warn(message, DynalyzePluginWarning, stacklevel=4)


def _accept(entry: Any, taken: dict[str, type[Analysis]]) -> type[Analysis] | None:
    label = f"{entry.name} = {getattr(entry, 'value', '?')}"
    try:
        loaded = entry.load()
    except Exception as exc:  # a broken plug-in must not break dynalyze
        _warn(
            f"Skipping dynalyze analysis plug-in {label!r}: importing it failed with "
            f"{type(exc).__name__}: {exc}. Fix or uninstall the package that provides it."
        )
        return None
    if not (isinstance(loaded, type) and issubclass(loaded, Analysis)):
        _warn(
            f"Skipping dynalyze analysis plug-in {label!r}: expected a subclass of "
            f"dynalyze.analyses.Analysis, got {loaded!r}."
        )
        return None
    name = getattr(loaded, "name", None)
    if not isinstance(name, str) or not name or name in taken:
        _warn(
            f"Skipping dynalyze analysis plug-in {label!r}: its `name` ({name!r}) must be a "
            "unique non-empty string."
        )
        return None
    try:
        if loaded.fragment is not None:
            register_fragment(loaded.fragment)
    except Exception as exc:
        _warn(f"Skipping dynalyze analysis plug-in {label!r}: its schema fragment: {exc}")
        return None
    return loaded


def _load_plugins(taken: dict[str, type[Analysis]]) -> dict[str, type[Analysis]]:
    plugins: dict[str, type[Analysis]] = {}
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        cls = _accept(entry, {**taken, **plugins})
        if cls is not None:
            plugins[cls.name] = cls
            logger.debug("Loaded analysis plug-in %r", cls.name)
    return plugins


def _reset_plugins() -> None:
    """Forget discovered plug-ins (for tests)."""
    global _plugins
    _plugins = None


def list_analyses() -> dict[str, type[Analysis]]:
    """Installed analyses by name: built-ins first, then plug-ins.

    Examples
    --------
    >>> list(list_analyses())[:3]
    ['line_attractor', 'modifier_words', 'simplex_attractor']
    """
    global _plugins
    builtins = _builtins()
    if _plugins is None:
        _plugins = _load_plugins(builtins)
    return {**builtins, **_plugins}


def check_names(names: Sequence[str]) -> None:
    """Refuse names that no installed analysis has (before any work is done).

    Raises
    ------
    dynalyze.errors.ConfigurationError
        Naming the unknown ones, the installed ones and how to add one.

    Examples
    --------
    >>> check_names(["line_attractor"])
    >>> check_names(["line"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.ConfigurationError: Unknown analysis ['line']; installed: line_attractor, ...
    """
    installed = list_analyses() if names else {}
    unknown = [name for name in names if name not in installed]
    if unknown:
        raise ConfigurationError(
            f"Unknown analysis {unknown}; installed: {', '.join(installed)} "
            "(a plug-in package adds its own; see tutorials/add_your_own_analysis.py)."
        )


def order_analyses(analyses: Sequence[Analysis]) -> list[Analysis]:
    """``analyses`` in an order where each comes after the ones it requires.

    Raises
    ------
    dynalyze.errors.ConfigurationError
        An analysis requires one that is not in ``analyses`` (or a cycle).

    Examples
    --------
    >>> from dynalyze.analyses.line_attractor import LineAttractorAnalysis
    >>> from dynalyze.analyses.modifiers import ModifierWordsAnalysis
    >>> [a.name for a in order_analyses([ModifierWordsAnalysis(), LineAttractorAnalysis()])]
    ['line_attractor', 'modifier_words']
    >>> order_analyses([ModifierWordsAnalysis()])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.ConfigurationError: Analysis 'modifier_words' requires ['line_attractor'], ...
    """
    names = {a.name for a in analyses}
    for analysis in analyses:
        missing = [r for r in analysis.requires if r not in names]
        if missing:
            raise ConfigurationError(
                f"Analysis {analysis.name!r} requires {missing}, which do not run on this "
                "classifier; add them, or leave this analysis out."
            )
    ordered: list[Analysis] = []
    pending = list(analyses)
    while pending:
        done = {a.name for a in ordered}
        ready = [a for a in pending if all(r in done for r in a.requires)]
        if not ready:
            raise ConfigurationError(
                f"The analyses {[a.name for a in pending]} require each other in a circle."
            )
        ordered.append(ready[0])
        pending.remove(ready[0])
    return ordered


def analyses_for(
    classifier: Any,
    *,
    names: Sequence[str] | None = None,
    overrides: Sequence[Analysis] = (),
) -> list[Analysis]:
    """The analyses that apply to ``classifier``, in run order.

    Parameters
    ----------
    classifier : RecurrentClassifier
        The trained network.
    names : sequence of str, optional
        Run only these analyses (default: every installed one that applies).
    overrides : sequence of Analysis
        Configured instances: each replaces the default instance of its name, or
        is added when no installed analysis has that name.

    Raises
    ------
    dynalyze.errors.ConfigurationError
        An unknown name, or a named analysis that does not apply to the classifier.

    Examples
    --------
    >>> from dynalyze.testing import toys
    >>> clf, _ = toys.exact_integrator()
    >>> [a.name for a in analyses_for(clf)][:2]
    ['line_attractor', 'modifier_words']
    """
    given = {a.name: a for a in overrides}
    installed = list_analyses()
    check_names([n for n in names or () if n not in given])
    chosen = [
        given.get(name) or cls()
        for name, cls in installed.items()
        if names is None or name in names
    ]
    # Configured instances of analyses that are not installed (e.g. defined in a script).
    chosen += [a for name, a in given.items() if name not in installed]
    applying = [a for a in chosen if a.applies_to(classifier)]
    if names is not None:
        refused = [a.name for a in chosen if a not in applying]
        if refused:
            raise ConfigurationError(
                f"The analyses {refused} do not apply to this classifier "
                f"({getattr(classifier, 'n_outputs', '?')} output(s))."
            )
    return order_analyses(applying)
