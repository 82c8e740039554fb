"""Figures of the analyses (matplotlib, object-oriented API, no pyplot state)."""

from dynalyze.plot.figures import (
    FIGURES,
    eigenvalue_spectra,
    linearization_error,
    projection_vs_bow,
    relaxation,
    save_all,
    state_pca,
    time_constants,
    token_projections,
    variance_explained,
)

__all__ = [
    "FIGURES",
    "eigenvalue_spectra",
    "linearization_error",
    "projection_vs_bow",
    "relaxation",
    "save_all",
    "state_pca",
    "time_constants",
    "token_projections",
    "variance_explained",
]
