"""Analyses as plug-ins: each owns its configuration, results schema, summary, report and figures.

``dynalyze run`` runs every installed analysis that applies to the trained
classifier (:func:`analyses_for`), in a generic loop: fit -> save -> figures ->
report section -> summary. The built-ins are the line attractor
(:mod:`dynalyze.analyses.line_attractor`), the modifier words
(:mod:`dynalyze.analyses.modifiers`) and the N-class simplex attractor
(:mod:`dynalyze.analyses.simplex`); others arrive through the entry-point group
``dynalyze.analyses`` (:mod:`dynalyze.analyses.registry`,
``tutorials/add_your_own_analysis.py``) and are checked by
:func:`dynalyze.testing.check_analysis`.
"""

from dynalyze.analyses.base import (
    Analysis,
    AnalysisOutput,
    ReportSection,
    Summary,
    read_variables,
    summary_of,
)
from dynalyze.analyses.context import AnalysisOptions, RunContext
from dynalyze.analyses.registry import (
    ENTRY_POINT_GROUP,
    analyses_for,
    list_analyses,
    order_analyses,
)
from dynalyze.results.fragments import SchemaFragment, register_fragment

__all__ = [
    "ENTRY_POINT_GROUP",
    "Analysis",
    "AnalysisOptions",
    "AnalysisOutput",
    "ReportSection",
    "RunContext",
    "SchemaFragment",
    "Summary",
    "analyses_for",
    "list_analyses",
    "order_analyses",
    "read_variables",
    "register_fragment",
    "summary_of",
]
