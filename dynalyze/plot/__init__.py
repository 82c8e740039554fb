"""Figures shared across analyses (matplotlib, object-oriented API, no pyplot state).

Each analysis draws its own figures in its package (``dynalyze.analyses.line_attractor.figures``,
``dynalyze.analyses.modifiers.figures``, ``dynalyze.analyses.simplex.figures``); what
is here compares runs: the universality maps of a sweep.
"""

from dynalyze.plot.universality import mds_map, save_universality_figures

__all__ = ["mds_map", "save_universality_figures"]
