"""Attractor models: fitted low-dimensional accounts of how a network computes."""

from dynalyze.attractors.base import AttractorModel
from dynalyze.attractors.geometry import (
    PCAResult,
    StreamingPCA,
    abs_cosine,
    local_tangents,
    oriented_top_mode,
    pca,
    random_alignment_null,
)
from dynalyze.attractors.line import (
    BaselineComparison,
    Evidence,
    LineAttractor,
    pearson_r,
    sign_agreement,
)
from dynalyze.attractors.search import Search
from dynalyze.attractors.views import View

__all__ = [
    "AttractorModel",
    "BaselineComparison",
    "Evidence",
    "LineAttractor",
    "PCAResult",
    "StreamingPCA",
    "abs_cosine",
    "local_tangents",
    "oriented_top_mode",
    "pca",
    "pearson_r",
    "random_alignment_null",
    "Search",
    "sign_agreement",
    "View",
]
