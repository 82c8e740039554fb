"""The results schema, kept as data.

Every variable and coordinate that any dynalyze analysis writes is declared here
once, with its dimensions, dtype, ``long_name`` and ``units``. Categorical
variables declare their ``flag_values`` / ``flag_meanings``. Builders in
:mod:`dynalyze.results.build` read this table, so a dataset can never carry an
undocumented variable.

To add a variable, add a :class:`VariableSpec` to :data:`VARIABLES` (and, for a
new kind of dataset, an entry to :data:`KINDS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

__all__ = [
    "DIMENSIONS",
    "KINDS",
    "STABILITY_FLAGS",
    "STATUS_FLAGS",
    "FLAG_NO_YES",
    "SCHEMA_VERSION",
    "VARIABLES",
    "VariableSpec",
]

#: Bumped whenever a change to this table would change files on disk.
SCHEMA_VERSION = "1"

#: Dimension names and what they index.
DIMENSIONS: Mapping[str, str] = MappingProxyType(
    {
        "example": "a document / sequence",
        "time": "a step of a sequence (a token position)",
        "state": "a unit of the flat recurrent state",
        "state_in": "a unit of the flat recurrent state, as a Jacobian column",
        "input": "a unit of the input vector",
        "fixed_point": "a candidate fixed point",
        "eigenmode": "an eigenmode of a Jacobian, sorted by decreasing |eigenvalue|",
        "token": "a vocabulary entry",
        "component": "a principal component",
        "threshold": "an acceptance threshold",
        "trial": "a random draw of a null distribution",
        "stage": "a pipeline stage",
    }
)

#: Fixed-point solver status.
STATUS_FLAGS: Mapping[int, str] = MappingProxyType(
    {0: "converged", 1: "slow_point", 2: "failed"}
)
#: Linear stability class of an expansion point.
STABILITY_FLAGS: Mapping[int, str] = MappingProxyType(
    {0: "stable", 1: "marginal", 2: "saddle", 3: "unstable"}
)
#: A boolean stored as a flag (netCDF has no boolean type).
FLAG_NO_YES: Mapping[int, str] = MappingProxyType({0: "no", 1: "yes"})


@attrs.frozen
class VariableSpec:
    """Declaration of one variable or coordinate.

    Parameters
    ----------
    dims : tuple of str
        Dimension names, each a key of :data:`DIMENSIONS`.
    long_name : str
        Human-readable name (CF ``long_name``).
    units : str
        CF ``units``; ``"1"`` for dimensionless quantities.
    dtype : str
        NumPy dtype kind the data is stored in (``"float64"``, ``"complex128"``,
        ``"int8"``, ``"int64"``, ``"str"``).
    flags : mapping of int to str, optional
        For categorical variables: value -> meaning.
    description : str
        Longer explanation (stored as the ``description`` attribute when set).
    """

    dims: tuple[str, ...] = attrs.field(converter=tuple)
    long_name: str
    units: str
    dtype: str = "float64"
    flags: Mapping[int, str] | None = None
    description: str = ""

    @dims.validator
    def _known_dims(self, _attribute: object, value: tuple[str, ...]) -> None:
        unknown = [d for d in value if d not in DIMENSIONS]
        if unknown:
            raise ValueError(f"Unknown dimension(s) {unknown}; declare them in DIMENSIONS.")


_V = VariableSpec

#: Every variable and coordinate dynalyze writes.
VARIABLES: Mapping[str, VariableSpec] = MappingProxyType(
    {
        # ---------------------------------------------------------- coordinates
        "fixed_point": _V(("fixed_point",), "fixed point index", "1", "int64"),
        "state": _V(("state",), "flat state index", "1", "int64"),
        "state_in": _V(("state_in",), "flat state index (Jacobian column)", "1", "int64"),
        "input": _V(("input",), "input unit index", "1", "int64"),
        "eigenmode": _V(
            ("eigenmode",), "eigenmode rank by decreasing |eigenvalue|", "1", "int64"
        ),
        "state_component": _V(
            ("state",), "state component the unit belongs to (e.g. h or c)", "1", "str"
        ),
        "state_unit": _V(("state",), "unit index within its state component", "1", "int64"),
        # --------------------------------------------------------- fixed points
        "fixed_point_state": _V(
            ("fixed_point", "state"), "state at the (candidate) fixed point", "1"
        ),
        "fixed_point_input": _V(
            ("fixed_point", "input"), "input held constant at the fixed point", "1"
        ),
        "initial_state": _V(
            ("fixed_point", "state"), "initial state the search started from", "1"
        ),
        "speed": _V(
            ("fixed_point",),
            "speed q = 1/2 ||F(h, x) - h||^2 recomputed at the returned state",
            "1",
        ),
        "initial_speed": _V(("fixed_point",), "speed at the initial state", "1"),
        "gradient_norm": _V(
            ("fixed_point",),
            "norm of the speed gradient (J - I)^T (F(h, x) - h) at the returned state",
            "1",
        ),
        "iterations": _V(("fixed_point",), "solver iterations used", "1", "int64"),
        "status": _V(
            ("fixed_point",),
            "solver status",
            "1",
            "int8",
            STATUS_FLAGS,
            "converged: speed <= tolerance; slow_point: a local minimum of the speed "
            "above the tolerance; failed: neither within the iteration budget",
        ),
        "is_duplicate": _V(
            ("fixed_point",),
            "duplicate of another candidate within the deduplication tolerance",
            "1",
            "int8",
            FLAG_NO_YES,
        ),
        "duplicate_of": _V(
            ("fixed_point",),
            "index of the representative this candidate duplicates (itself if unique)",
            "1",
            "int64",
        ),
        "is_outlier": _V(
            ("fixed_point",),
            "far from every initial state (outlier)",
            "1",
            "int8",
            FLAG_NO_YES,
        ),
        "distance_to_initial_states": _V(
            ("fixed_point",), "distance to the nearest initial state", "1"
        ),
        # -------------------------------------------------------- linearization
        "expansion_image": _V(
            ("fixed_point", "state"),
            "map applied to the expansion point F(h*, x*) (equals h* at an exact fixed point)",
            "1",
        ),
        "jacobian_state": _V(
            ("fixed_point", "state", "state_in"),
            "recurrent Jacobian dF_i/dh_j",
            "1",
        ),
        "jacobian_input": _V(
            ("fixed_point", "state", "input"), "input Jacobian dF_i/dx_k", "1"
        ),
        "eigenvalue": _V(
            ("fixed_point", "eigenmode"), "eigenvalue of the recurrent Jacobian", "1", "complex128"
        ),
        "eigenvalue_magnitude": _V(
            ("fixed_point", "eigenmode"), "magnitude of the eigenvalue |lambda|", "1"
        ),
        "right_eigenvector": _V(
            ("fixed_point", "state", "eigenmode"),
            "right eigenvectors R (columns), J R = R diag(lambda), unit norm",
            "1",
            "complex128",
        ),
        "left_eigenvector": _V(
            ("fixed_point", "eigenmode", "state"),
            "left eigenvectors L (rows), L = R^-1 so L R = I",
            "1",
            "complex128",
        ),
        "time_constant": _V(
            ("fixed_point", "eigenmode"),
            "time constant tau = |1 / ln|lambda|| (infinite at |lambda| = 1)",
            "step",
        ),
        "stability": _V(
            ("fixed_point",),
            "linear stability class",
            "1",
            "int8",
            STABILITY_FLAGS,
            "stable: all |lambda| < 1 - tol; marginal: none > 1 + tol and some within "
            "tol of 1; saddle: some > 1 + tol and some < 1 - tol; unstable: all > 1 + tol",
        ),
        "n_unstable_modes": _V(
            ("fixed_point",), "number of eigenmodes with |lambda| > 1 + tol", "1", "int64"
        ),
    }
)

#: Kinds of datasets and the variables each must contain.
KINDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "fixed_points": (
            "fixed_point_state",
            "fixed_point_input",
            "initial_state",
            "speed",
            "initial_speed",
            "iterations",
            "status",
            "is_duplicate",
            "duplicate_of",
            "is_outlier",
        ),
        "linearization": (
            "fixed_point_state",
            "expansion_image",
            "jacobian_state",
            "jacobian_input",
            "eigenvalue",
            "right_eigenvector",
            "left_eigenvector",
            "time_constant",
            "stability",
        ),
    }
)
