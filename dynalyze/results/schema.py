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

from collections.abc import Iterable, Mapping
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
SCHEMA_VERSION = "3"
# 2: no CF ``Conventions`` claim; time constants and growth rates in units "1"
#    (per step, said in long_name); the fixed-point structure and manifold profile.
# 3: the baseline input (baseline_*), its zero-input view (line_attractor_view),
#    neutral-stream drift and fixed-point continuation; marginal modes keep a time constant.

#: Dimension names and what they index.
_DIMENSIONS: dict[str, str] = (
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
        "relaxation_step": "a step of the relaxation at the baseline input from visited states",
        "sample": "a visited state drawn uniformly at random",
        "cluster": "a distinct fixed point, slow region, continuum or isolated root",
        "manifold_position": "a slice of the manifold axis (its centre coordinate)",
        "class": "a class of an N-class classifier",
        "modifier": "a modifier word (negator or intensifier)",
        "separation": "tokens between a modifier and the valence word it modifies",
        "word_sign": "the sign of a group of valence words",
        "class_b": "a class of an N-class classifier (second index of a class x class table)",
        "continuation": "a point on a branch of fixed points followed along an input path",
        "branch": "a branch of fixed points followed along an input path",
    }
)
#: Dimension names and what they index (read-only; plug-ins add theirs with a SchemaFragment).
DIMENSIONS: Mapping[str, str] = MappingProxyType(_DIMENSIONS)

#: Fixed-point solver status.
STATUS_FLAGS: Mapping[int, str] = MappingProxyType(
    {
        0: "converged",
        1: "slow_point",
        2: "failed",
        3: "stalled",
        4: "at_bounds",
        5: "slow_manifold",
    }
)
#: Linear stability class of an expansion point.
STABILITY_FLAGS: Mapping[int, str] = MappingProxyType(
    {0: "stable", 1: "marginal", 2: "saddle", 3: "unstable"}
)
#: Kind of a row of the fixed-point structure (dynalyze.analyses.line_attractor.structure).
CLUSTER_KIND_FLAGS: Mapping[int, str] = MappingProxyType(
    {0: "fixed_point", 1: "slow_region", 2: "continuum", 3: "isolated_root"}
)
#: Kind of baseline input the dynamics were analysed at (dynalyze.baseline).
BASELINE_FLAGS: Mapping[int, str] = MappingProxyType({0: "zero", 1: "mean", 2: "explicit"})
#: How a continued branch ended (dynalyze.fixedpoints.continuation).
BRANCH_STATUS_FLAGS: Mapping[int, str] = MappingProxyType(
    {0: "reached_end", 1: "returned", 2: "step_budget", 3: "failed", 4: "left_bounds"}
)
#: Which end of the input path a continued branch started from.
BRANCH_ORIGIN_FLAGS: Mapping[int, str] = MappingProxyType({0: "start", 1: "end"})
#: A boolean stored as a flag (netCDF has no boolean type).
FLAG_NO_YES: Mapping[int, str] = MappingProxyType({0: "no", 1: "yes"})


def _as_dims(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


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
        ``units`` attribute; ``"1"`` for dimensionless quantities and counts
        (steps, tokens: the unit is said in ``long_name``).
    dtype : str
        NumPy dtype kind the data is stored in (``"float64"``, ``"complex128"``,
        ``"int8"``, ``"int64"``, ``"str"``).
    flags : mapping of int to str, optional
        For categorical variables: value -> meaning.
    description : str
        Longer explanation (stored as the ``description`` attribute when set).

    Examples
    --------
    >>> spec = VARIABLES["speed"]
    >>> isinstance(spec, VariableSpec), spec.dims, spec.units
    (True, ('fixed_point',), '1')
    """

    dims: tuple[str, ...] = attrs.field(converter=_as_dims)
    long_name: str
    units: str
    dtype: str = "float64"
    flags: Mapping[int, str] | None = None
    description: str = ""

    @dims.validator
    def _named_dims(self, _attribute: object, value: tuple[str, ...]) -> None:
        # Whether each dimension is declared is checked where the spec is registered:
        # below for this table, by register_fragment for a plug-in's fragment (whose
        # new dimensions are declared beside its variables).
        bad = [d for d in value if not (isinstance(d, str) and d.isidentifier())]
        if bad:
            raise ValueError(f"Dimension names must be identifiers; got {bad}.")


_V = VariableSpec

#: Every variable and coordinate dynalyze writes.
_VARIABLES: dict[str, VariableSpec] = (
    {
        # ---------------------------------------------------------- coordinates
        "fixed_point": _V(("fixed_point",), "fixed point index", "1", "int64"),
        "state": _V(("state",), "flat state index", "1", "int64"),
        "state_in": _V(("state_in",), "flat state index (Jacobian column)", "1", "int64"),
        "input": _V(("input",), "input unit index", "1", "int64"),
        "eigenmode": _V(("eigenmode",), "eigenmode rank by decreasing |eigenvalue|", "1", "int64"),
        "branch": _V(("branch",), "branch index", "1", "int64"),
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
        "initial_state": _V(("fixed_point", "state"), "initial state the search started from", "1"),
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
        "shared_steps": _V(
            ("fixed_point",),
            "iterations whose step used another candidate's factorisation (chord steps)",
            "1",
            "int64",
        ),
        "status": _V(
            ("fixed_point",),
            "solver status",
            "1",
            "int8",
            STATUS_FLAGS,
            "converged: speed <= tolerance; slow_point: a stationary point of the speed "
            "above the tolerance (relative gradient below stationarity_tol); failed: neither "
            "within the iteration budget; stalled: the solver stopped early (tiny steps or "
            "no damped step lowered the speed) at a non-stationary point; at_bounds: the same "
            "on the face of the state box; slow_manifold: above the tolerance, its residual "
            "along nearly neutral directions of J - I (90% of the speed or more along "
            "singular directions with singular values at most neutral_tol): a point of a "
            "slow manifold, where the flow crawls",
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
        "jacobian_input": _V(("fixed_point", "state", "input"), "input Jacobian dF_i/dx_k", "1"),
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
            "time constant tau = -1 / ln|lambda| of a decaying mode (infinite at |lambda| = 1, "
            "NaN for a growing mode), in steps",
            "1",
        ),
        "growth_rate": _V(
            ("fixed_point", "eigenmode"),
            "growth rate ln|lambda| per step of a growing mode (NaN if it does not grow)",
            "1",
        ),
        "condition_number": _V(
            ("fixed_point", "eigenmode"),
            "eigenvalue condition number ||l|| ||r|| / |l . r| (1: normal; inf: defective)",
            "1",
        ),
        "is_stable": _V(
            ("fixed_point",),
            "stable by FixedPointFinder's convention (every |lambda| < 1)",
            "1",
            "int8",
            FLAG_NO_YES,
        ),
        "stability": _V(
            ("fixed_point",),
            "linear stability class",
            "1",
            "int8",
            STABILITY_FLAGS,
            "stable: all |lambda| < 1 - tol; marginal: none > 1 + tol and some within "
            "tol of 1; saddle: some > 1 + tol, not all; unstable: all > 1 + tol",
        ),
        # --------------------------------------------------------- trajectories
        "example": _V(("example",), "example index within its data split", "1", "int64"),
        "time": _V(("time",), "step (token position) within the sequence", "1", "int64"),
        "hidden_state": _V(
            ("example", "time", "state"),
            "recurrent state after each token (NaN at padding)",
            "1",
            "float32",
            description="computed by the recurrent layer's own forward pass (float32)",
        ),
        "token_id": _V(
            ("example", "time"), "vocabulary id of the token at each step", "1", "int32"
        ),
        "step_token": _V(("example", "time"), "token at each step ('' at padding)", "1", "str"),
        "valid": _V(
            ("example", "time"), "step holds a real token (not padding)", "1", "int8", FLAG_NO_YES
        ),
        "length": _V(("example",), "number of real tokens in the sequence", "1", "int64"),
        "label": _V(("example",), "true class label", "1", "int8"),
        "logit": _V(("example",), "network output logit for the positive class", "1", "float32"),
        # ------------------------------------------------------- line attractor
        "component": _V(("component",), "principal component rank", "1", "int64"),
        "threshold": _V(("threshold",), "acceptance threshold on ||F(h, x_b) - h||^2 / N", "1"),
        "trial": _V(("trial",), "random draw index", "1", "int64"),
        "relaxation_step": _V(
            ("relaxation_step",), "steps of relaxation at the baseline input", "1", "int64"
        ),
        "token": _V(("token",), "vocabulary token", "1", "str"),
        "class": _V(("class",), "class name", "1", "str"),
        "modifier": _V(("modifier",), "modifier word", "1", "str"),
        "separation": _V(("separation",), "filler tokens between modifier and word", "1", "int64"),
        "word_sign": _V(
            ("word_sign",), "sign of the valence words (positive, negative)", "1", "str"
        ),
        # ------------------------------------------------------- modifier words
        "modifier_strength": _V(
            ("modifier", "separation"),
            "valence word's effect after the modifier / its effect after a neutral filler "
            "(each against a neutral word in its slot)",
            "1",
        ),
        "modifier_strength_low": _V(
            ("modifier", "separation"), "2.5th bootstrap percentile over contexts", "1"
        ),
        "modifier_strength_high": _V(
            ("modifier", "separation"), "97.5th bootstrap percentile over contexts", "1"
        ),
        "modifier_strength_by_sign": _V(
            ("modifier", "separation", "word_sign"),
            "the strength for the positive and for the negative valence words alone",
            "1",
        ),
        "ablated_modifier_strength": _V(
            ("modifier", "separation"),
            "the same strength with the modifier's push off its subspace",
            "1",
        ),
        "modifier_decay_amplitude": _V(
            ("modifier",), "a in strength(s) - 1 = a exp(-s / tau)", "1"
        ),
        "modifier_time_constant": _V(
            ("modifier",), "tau in strength(s) - 1 = a exp(-s / tau) (tokens)", "1"
        ),
        "modifier_subspace_dim": _V(
            ("modifier",), "directions holding 90% of the modifier's push", "1", "int64"
        ),
        "modifier_fast_mode_share": _V(
            ("modifier",), "share of the modifier subspace inside the fast eigenmodes", "1"
        ),
        "modifier_slow_mode_share": _V(
            ("modifier",), "share of the modifier subspace inside the slow eigenmodes", "1"
        ),
        "plain_bow_accuracy": _V((), "test accuracy of a counts bag of words", "1"),
        "augmented_bow_accuracy": _V(
            (), "test accuracy of a bag of words with modifier-scaled counts", "1"
        ),
        "recovered_fraction": _V((), "(augmented BoW - BoW) / (RNN - BoW) test accuracy", "1"),
        "recovered_fraction_low": _V((), "2.5th bootstrap percentile of it", "1"),
        "recovered_fraction_high": _V((), "97.5th bootstrap percentile of it", "1"),
        "class_b": _V(("class_b",), "class name", "1", "str"),
        # ------------------------------------------------------ N-class simplex
        "n_classes": _V((), "number of classes", "1", "int64"),
        "expected_dimension": _V(
            (), "dimension of an N-class evidence simplex, N - 1", "1", "int64"
        ),
        "late_state_variance_ratio": _V(
            ("component",), "fraction of the final states' variance per PC", "1"
        ),
        "late_state_dim_95": _V(
            (), "principal components holding 95% of the final states' variance", "1", "int64"
        ),
        "late_state_participation_ratio": _V(
            (),
            "participation ratio (sum of PC variances)^2 / sum of squares, final states",
            "1",
        ),
        "fixed_point_dim_95": _V(
            (), "principal components holding 95% of the fixed points' variance", "1", "int64"
        ),
        "n_fixed_points_used": _V((), "converged fixed points analysed", "1", "int64"),
        "median_n_slow_modes": _V(
            (), "median number of eigenmodes with |eigenvalue| above the slow threshold", "1"
        ),
        "slow_readout_alignment": _V(
            (),
            "share of the readout-difference space inside the slow subspace at the centroid",
            "1",
        ),
        "late_state_readout_alignment": _V(
            (),
            "share of the readout-difference space inside the final states' top N-1 PCs",
            "1",
        ),
        "readout_cosine": _V(
            ("class", "class_b"), "cosine between centred class readout directions", "1"
        ),
        "simplex_cosine": _V((), "cosine between the vertices of a regular simplex", "1"),
        "readout_simplex_error": _V(
            (), "largest |readout cosine - regular-simplex cosine| between classes", "1"
        ),
        "reduced_origin": _V(("state",), "state the reduced model starts from", "1"),
        "reduced_token_effect": _V(
            ("token", "state"), "token's push on the state within the integration subspace", "1"
        ),
        "readout_matrix": _V(("state", "class"), "readout weights per class", "1"),
        "token_class_effect": _V(
            ("token", "class"),
            "token's push on each class logit through the integration subspace, minus the "
            "mean over classes",
            "1",
        ),
        "readout_bias_vector": _V(("class",), "readout bias per class", "1"),
        "token_index": _V(("token",), "vocabulary id of the token", "1", "int64"),
        "state_variance_ratio": _V(
            ("component",), "fraction of hidden-state variance per PC (trained network)", "1"
        ),
        "untrained_state_variance_ratio": _V(
            ("component",),
            "fraction of hidden-state variance per PC (untrained network of the same shape)",
            "1",
        ),
        "fixed_point_variance_ratio": _V(
            ("component",), "fraction of fixed-point variance per PC", "1"
        ),
        "state_pc_axes": _V(
            ("component", "state"), "principal axes of the visited states (rows)", "1"
        ),
        "sample": _V(("sample",), "sample index", "1", "int64"),
        "sampled_state": _V(
            ("sample", "state"),
            "visited state drawn uniformly among all analysed steps",
            "1",
            "float32",
        ),
        "sampled_label": _V(
            ("sample",),
            "label of the document the sampled state belongs to (-1 unknown)",
            "1",
            "int8",
        ),
        "readout_weight": _V(("state",), "readout weights over the flat state", "1"),
        "state_mean": _V(("state",), "mean visited state", "1"),
        "accepted_count": _V(
            ("threshold",),
            "number of candidates with ||F(h, x_b) - h||^2 / N below threshold",
            "1",
            "int64",
        ),
        "normalized_speed": _V(
            ("fixed_point",),
            "||F(h, x_b) - h||^2 / N (the paper's fixed-point criterion, at the baseline input)",
            "1",
        ),
        "manifold_coordinate": _V(
            ("fixed_point",),
            "1-D coordinate along the fixed-point manifold (projection on its first PC)",
            "1",
        ),
        "manifold_tangent": _V(
            ("fixed_point", "state"),
            "unit tangent of the fixed-point manifold (local PCA of nearest neighbours)",
            "1",
        ),
        "slow_mode_right": _V(
            ("fixed_point", "state"),
            "top right eigenvector r1 (real, unit norm, signed so readout . r1 >= 0)",
            "1",
        ),
        "slow_mode_left": _V(
            ("fixed_point", "state"), "top left eigenvector l1 (real, l1 . r1 = 1)", "1"
        ),
        "slow_mode_imaginary_fraction": _V(
            ("fixed_point",), "||Im r1|| / ||r1|| (0 for a real top eigenvalue)", "1"
        ),
        "readout_gain": _V(
            ("fixed_point",), "change of the readout logit per unit move along r1 (w . r1)", "1"
        ),
        "alignment_r1_tangent": _V(
            ("fixed_point",), "|cos| between r1 and the manifold tangent", "1"
        ),
        "alignment_readout_tangent": _V(
            ("fixed_point",), "|cos| between the readout and the manifold tangent", "1"
        ),
        "alignment_readout_r1": _V(("fixed_point",), "|cos| between the readout and r1", "1"),
        "alignment_null": _V(
            ("trial",), "|cos| between a fixed direction and a random unit vector (null)", "1"
        ),
        "token_projection": _V(
            ("token",),
            "input projection l1 . J_inp e(token), averaged along the manifold weighted by "
            "the time states spend in each slice",
            "1",
            description="how far one occurrence of the token moves the state along the line "
            "attractor (state units along unit r1); positive pushes towards the positive class",
        ),
        "token_projection_spread": _V(
            ("token",),
            "time-weighted standard deviation of the projection along the manifold",
            "1",
        ),
        "token_displacement": _V(
            ("token",),
            "nonlinear one-step displacement along l1 at the most populated stable point: "
            "l1 . (F(h*, e(token)) - F(h*, 0))",
            "1",
        ),
        "bow_weight": _V(("token",), "bag-of-words logistic regression weight", "1"),
        "vader_valence": _V(("token",), "VADER human valence rating (NaN if not rated)", "1"),
        "true_valence": _V(("token",), "generating valence of the synthetic task", "1"),
        "linearization_error": _V(
            ("example", "time"),
            "one-step relative error ||h_full - h_lin|| / ||h_full|| around the nearest "
            "fixed point (NaN at padding)",
            "1",
        ),
        "reduced_score": _V(
            ("example",),
            "line coordinate s_L of s_t = lambda_1 s_{t-1} + token_projection(x_t), s_0 = 0",
            "1",
        ),
        "reduced_logit": _V(("example",), "logit predicted by the reduced line model", "1"),
        "relaxation_speed": _V(
            ("relaxation_step",),
            "median ||F(h, x_b) - h|| relative to its initial value, relaxing from visited states",
            "1",
        ),
        # ------------------------------------------------- line-attractor summary
        "n_candidates": _V((), "number of fixed-point candidates searched", "1", "int64"),
        "n_accepted": _V(
            (), "number of unique candidates passing the paper's criterion", "1", "int64"
        ),
        "n_slow_point_searches": _V(
            (), "candidate searches that ended at a slow point (status slow_point)", "1", "int64"
        ),
        "n_slow_manifold_searches": _V(
            (),
            "candidate searches that ended on a slow manifold, above the criterion "
            "(status slow_manifold)",
            "1",
            "int64",
        ),
        "n_unsettled_searches": _V(
            (),
            "candidate searches that ended neither converged nor classified "
            "(status failed, stalled or at_bounds)",
            "1",
            "int64",
        ),
        "state_top3_variance": _V(
            (), "fraction of state variance in the top 3 PCs (trained)", "1", "float64"
        ),
        "untrained_state_top3_variance": _V(
            (), "fraction of state variance in the top 3 PCs (untrained)", "1", "float64"
        ),
        "manifold_coverage": _V(
            (),
            "fraction of the visited states' extent along the fixed-point line that fixed "
            "points tile (within 2% of the extent)",
            "1",
        ),
        "n_fixed_point_groups": _V(
            (),
            "separate groups of fixed points along the line (gaps > 5% of the extent)",
            "1",
            "int64",
        ),
        "fixed_point_pc1_variance": _V(
            (), "fraction of fixed-point variance on their first PC", "1", "float64"
        ),
        "median_top_eigenvalue_magnitude": _V(
            (), "median |lambda_1| across fixed points", "1", "float64"
        ),
        "median_slow_time_constant": _V(
            (), "median time constant of the top mode across fixed points (steps)", "1", "float64"
        ),
        "median_second_time_constant": _V(
            (),
            "median time constant of the second mode across fixed points (steps)",
            "1",
            "float64",
        ),
        "median_alignment_r1_tangent": _V((), "median |cos(r1, tangent)|", "1", "float64"),
        "median_alignment_readout_tangent": _V(
            (), "median |cos(readout, tangent)|", "1", "float64"
        ),
        "median_alignment_readout_r1": _V((), "median |cos(readout, r1)|", "1", "float64"),
        "null_alignment_median": _V(
            (), "median |cos| of random unit vectors (null)", "1", "float64"
        ),
        "null_alignment_p95": _V(
            (), "95th percentile of |cos| of random unit vectors (null)", "1", "float64"
        ),
        "bow_pearson_r": _V(
            (),
            "Pearson r between token projections and BoW weights over the vocabulary",
            "1",
            "float64",
        ),
        "bow_sign_agreement": _V(
            (),
            "sign agreement of token projections with BoW weights on the top positive and "
            "negative BoW words",
            "1",
            "float64",
        ),
        "vader_pearson_r": _V(
            (),
            "Pearson r between token projections and VADER valence over shared words",
            "1",
            "float64",
        ),
        "vader_n_shared": _V((), "number of vocabulary words rated by VADER", "1", "int64"),
        "true_valence_pearson_r": _V(
            (),
            "Pearson r between token projections and the synthetic task's true valences",
            "1",
            "float64",
        ),
        "linearization_error_median": _V(
            (), "median one-step relative linearization error", "1", "float64"
        ),
        "linearization_error_mean": _V(
            (), "mean one-step relative linearization error", "1", "float64"
        ),
        "network_accuracy": _V(
            (), "accuracy of the network on the analysed documents", "1", "float64"
        ),
        "reduced_accuracy": _V(
            (),
            "accuracy of the reduced line-attractor model on the analysed documents",
            "1",
            "float64",
        ),
        "reduced_agreement": _V(
            (),
            "fraction of documents where the reduced model and the network agree",
            "1",
            "float64",
        ),
        "reduced_logit_pearson_r": _V(
            (), "Pearson r between reduced-model and network logits", "1", "float64"
        ),
        "reduced_decay": _V(
            (),
            "reduced model: per-token decay along the line (time-weighted median real "
            "lambda_1 along the manifold, <= 1)",
            "1",
        ),
        "reduced_gain": _V(
            (),
            "reduced model: logit change per unit of line coordinate (fitted)",
            "1",
            "float64",
        ),
        "reduced_offset": _V(
            (), "reduced model: logit offset fitted on calibration documents", "1", "float64"
        ),
        "n_unstable_modes": _V(
            ("fixed_point",), "number of eigenmodes with |lambda| > 1 + tol", "1", "int64"
        ),
        # ------------------------------------------------ fixed-point structure
        "cluster": _V(("cluster",), "row of the fixed-point structure", "1", "int64"),
        "cluster_kind": _V(
            ("cluster",),
            "fixed point, slow region, continuum or isolated root",
            "1",
            "int8",
            flags=CLUSTER_KIND_FLAGS,
        ),
        "cluster_size": _V(("cluster",), "accepted candidates in the cluster", "1", "int64"),
        "cluster_n_roots": _V(
            ("cluster",), "Newton searches that converged to the row's root(s)", "1", "int64"
        ),
        "cluster_position": _V(
            ("cluster",), "position of the representative on the manifold axis", "1"
        ),
        "cluster_position_low": _V(("cluster",), "lowest member position on the axis", "1"),
        "cluster_position_high": _V(("cluster",), "highest member position on the axis", "1"),
        "cluster_state": _V(
            ("cluster", "state"),
            "representative: the exact root, or the slowest member of a slow region",
            "1",
        ),
        "cluster_root_distance": _V(
            ("cluster",), "distance from the slowest member to the root (NaN: none)", "1"
        ),
        "cluster_normalized_speed": _V(
            ("cluster",), "||F(h, x_b) - h||^2 / N at the representative", "1"
        ),
        "cluster_eigenvalue": _V(
            ("cluster", "eigenmode"),
            "leading Jacobian eigenvalues at the representative",
            "1",
            "complex128",
        ),
        "cluster_is_stable": _V(
            ("cluster",),
            "every |lambda| < 1 (FixedPointFinder's convention)",
            "1",
            "int8",
            flags=FLAG_NO_YES,
        ),
        "cluster_stability": _V(
            ("cluster",),
            "linear stability class at the representative",
            "1",
            "int8",
            flags=STABILITY_FLAGS,
        ),
        "cluster_n_unstable_modes": _V(
            ("cluster",),
            "eigenmodes with |lambda| > 1 + tol at the representative",
            "1",
            "int64",
        ),
        "cluster_token_projection": _V(
            ("cluster", "token"),
            "input projection l1 . J_inp e(token) at the representative",
            "1",
        ),
        "cluster_token_gain": _V(
            ("cluster",),
            "RMS token projection of the frequent tokens at the representative",
            "1",
        ),
        "fixed_point_cluster": _V(
            ("fixed_point",), "structure row each accepted candidate belongs to", "1", "int64"
        ),
        "cluster_link_distance": _V(
            (), "single-linkage distance joining candidates (link_fraction x extent)", "1"
        ),
        "n_fixed_point_clusters": _V((), "distinct clusters of accepted candidates", "1", "int64"),
        "n_stable_clusters": _V((), "clusters whose representative is stable", "1", "int64"),
        "n_unstable_clusters": _V(
            (), "clusters whose representative has a mode with |lambda| > 1 + tol", "1", "int64"
        ),
        "n_marginal_clusters": _V((), "clusters with top |lambda| in [1, 1 + tol]", "1", "int64"),
        "n_slow_regions": _V((), "clusters with no exact root nearby", "1", "int64"),
        "n_continua": _V((), "rows that are a continuum of exact roots", "1", "int64"),
        "n_isolated_roots": _V(
            (), "exact roots found from visited states that no cluster surrounds", "1", "int64"
        ),
        # --------------------------------------------------- manifold profile
        "manifold_position": _V(
            ("manifold_position",), "centre of a slice of the manifold axis", "1"
        ),
        "manifold_axis": _V(
            ("state",), "unit manifold axis (PC1 of visited states, readout increasing)", "1"
        ),
        "manifold_axis_mean": _V(("state",), "origin of the manifold axis (mean state)", "1"),
        "manifold_extent": _V((), "5th-95th percentile range of visited states on the axis", "1"),
        "manifold_low": _V((), "5th percentile of visited states on the axis", "1"),
        "manifold_high": _V((), "95th percentile of visited states on the axis", "1"),
        "manifold_visited_low": _V((), "1st percentile of visited states on the axis", "1"),
        "manifold_visited_high": _V((), "99th percentile of visited states on the axis", "1"),
        "manifold_pc1_variance": _V((), "fraction of visited-state variance on the axis", "1"),
        "manifold_curvature": _V(
            (), "fraction of off-axis variance explained by position along the axis", "1"
        ),
        "median_document_length": _V((), "median analysed document length (tokens)", "1", "int64"),
        "manifold_density": _V(
            ("manifold_position",), "fraction of visited states in the slice", "1"
        ),
        "manifold_state": _V(
            ("manifold_position", "state"), "slowest settled state of the slice", "1"
        ),
        "manifold_normalized_speed": _V(
            ("manifold_position",), "||F(h, x_b) - h||^2 / N at the slice's slowest state", "1"
        ),
        "manifold_axial_speed": _V(
            ("manifold_position",),
            "median speed along the axis per token at the baseline input",
            "1",
        ),
        "manifold_drift": _V(
            ("manifold_position",),
            "median drift along the axis at the baseline input over one median document, as a "
            "fraction "
            "of the extent",
            "1",
        ),
        "manifold_eigenvalue": _V(
            ("manifold_position", "eigenmode"),
            "leading eigenvalues at the slowest state",
            "1",
            "complex128",
        ),
        "manifold_time_constant": _V(
            ("manifold_position", "eigenmode"), "time constants there (NaN: growing)", "1"
        ),
        "manifold_slow_dim": _V(
            ("manifold_position",), "modes with |lambda| >= exp(-1 / median length)", "1", "int64"
        ),
        "manifold_token_gain": _V(("manifold_position",), "||J_inp^T l1|| at the slice", "1"),
        "manifold_token_projection_gain": _V(
            ("manifold_position",), "RMS projection of the frequent tokens at the slice", "1"
        ),
        "manifold_readout_slow_alignment": _V(
            ("manifold_position",), "cos of the angle of the readout with the slow subspace", "1"
        ),
        "manifold_tangent_slow_alignment": _V(
            ("manifold_position",),
            "cos of the angle of the local tangent with the slow subspace",
            "1",
        ),
        "manifold_is_slow": _V(
            ("manifold_position",),
            "drift below tolerance and a slow mode present",
            "1",
            "int8",
            flags=FLAG_NO_YES,
        ),
        "manifold_inside": _V(
            ("manifold_position",),
            "slice inside the 5th-95th percentile range",
            "1",
            "int8",
            flags=FLAG_NO_YES,
        ),
        "drift_tolerance": _V((), "drift per document below which a slice is slow", "1"),
        "slow_fraction": _V((), "fraction of the slices (5-95% range) that are slow", "1"),
        "slow_fraction_visited": _V((), "fraction of visited states in slow slices", "1"),
        "median_drift_per_document": _V(
            (), "time-weighted median drift per document (fraction of the extent)", "1"
        ),
        "max_drift_per_document": _V((), "largest slice drift per document", "1"),
        "tokens_to_cross": _V(
            (), "sum of slice width / axial speed over the 5-95% range (tokens)", "1"
        ),
        "median_slow_subspace_dim": _V((), "time-weighted median slow-subspace dimension", "1"),
        "median_alignment_readout_slow": _V(
            (), "time-weighted median cos(readout, slow subspace)", "1"
        ),
        "median_alignment_tangent_slow": _V(
            (), "time-weighted median cos(tangent, slow subspace)", "1"
        ),
        "n_slow_ranges": _V((), "contiguous slow ranges along the axis", "1", "int64"),
        "state_dim_95": _V(
            (), "principal components holding 95% of the state variance", "1", "int64"
        ),
        "matched_null_alignment_median": _V(
            (), "median |cos(readout, random direction inside the 95%-variance subspace)|", "1"
        ),
        "matched_null_alignment_p95": _V(
            (),
            "95th percentile of |cos(readout, random direction in the 95%-variance subspace)|",
            "1",
        ),
        "matched_null_tangent_alignment_p95": _V(
            (),
            "95th percentile of |cos(manifold axis, random direction in the 95% subspace)|",
            "1",
        ),
        "null_subspace_alignment_p95": _V(
            (), "95th percentile of cos(random direction, slow subspace), isotropic", "1"
        ),
        "matched_null_subspace_alignment_p95": _V(
            (),
            "95th pct of cos(readout, random subspace of the slow dimension in the 95% subspace)",
            "1",
        ),
        "stable_median_alignment_r1_tangent": _V(
            (), "median |cos(r1, manifold axis)| over the stable clusters' roots", "1"
        ),
        "stable_median_alignment_readout_r1": _V(
            (), "median |cos(readout, r1)| over the stable clusters' roots", "1"
        ),
        "cluster_alignment_r1_axis": _V(
            ("cluster",), "|cos(r1, manifold axis)| at the representative", "1"
        ),
        "cluster_alignment_readout_r1": _V(
            ("cluster",), "|cos(readout, r1)| at the representative", "1"
        ),
        "median_third_time_constant": _V(
            (), "median time constant of the third mode across fixed points (steps)", "1"
        ),
        "token_count": _V(
            ("token",), "occurrences of the token in the analysed documents", "1", "int64"
        ),
        "token_count_floor": _V((), "frequency floor of the token gains and figure", "1", "int64"),
        "saddle_token_gain_ratio": _V(
            (), "largest token gain at an unstable point / largest at a stable point", "1"
        ),
        "valence_share_near_unstable": _V(
            (), "share of the time-weighted token gain read where |lambda_1| > 1", "1"
        ),
        # ----------------------------------------------------- baseline input
        "baseline_input": _V(("input",), "baseline input x_b the dynamics are analysed at", "1"),
        "baseline_kind": _V(
            (),
            "what the baseline input is",
            "1",
            "int8",
            BASELINE_FLAGS,
            "mean: the expected embedding of a token in the given documents (padding "
            "excluded); zero: x = 0 (the paper's literal choice); explicit: given by the caller",
        ),
        "baseline_norm": _V((), "norm of the baseline input ||x_b||", "1"),
        "baseline_relative_norm": _V(
            (), "||x_b|| over the median embedding norm of a token occurrence", "1"
        ),
        "baseline_n_tokens": _V(
            (), "token occurrences averaged for the mean baseline (0 otherwise)", "1", "int64"
        ),
        "matched_null_informative": _V(
            (),
            "whether the matched readout null can reject (its 95th percentile below 0.95)",
            "1",
            "int8",
            FLAG_NO_YES,
        ),
        "matched_null_tangent_informative": _V(
            (),
            "whether the matched manifold-axis null can reject (95th percentile below 0.95)",
            "1",
            "int8",
            FLAG_NO_YES,
        ),
        "matched_null_subspace_informative": _V(
            (),
            "whether the matched slow-subspace null can reject (95th percentile below 0.95)",
            "1",
            "int8",
            FLAG_NO_YES,
        ),
        "middle_drift_per_document": _V(
            (),
            "median drift per document over the slices of the middle half of the line",
            "1",
        ),
        # --------------------------------------------- drift under neutral words
        "neutral_token": _V(
            ("token",),
            "token used in the neutral streams (frequent, smallest one-step readout effect)",
            "1",
            "int8",
            FLAG_NO_YES,
        ),
        "neutral_token_effect": _V(
            ("token",),
            "median |readout change| of one step with the token instead of x_b, over "
            "visited states (NaN: not a candidate)",
            "1",
        ),
        "n_neutral_tokens": _V((), "tokens in the neutral streams", "1", "int64"),
        "manifold_neutral_drift": _V(
            ("manifold_position",),
            "median drift along the axis over one median document under random streams of "
            "neutral tokens, as a fraction of the extent",
            "1",
        ),
        "manifold_zero_drift": _V(
            ("manifold_position",),
            "median drift along the axis over one median document at zero input, as a "
            "fraction of the extent",
            "1",
        ),
        "median_neutral_drift_per_document": _V(
            (), "time-weighted median drift per document under neutral streams", "1"
        ),
        "middle_neutral_drift_per_document": _V(
            (), "median neutral-stream drift per document over the middle half of the line", "1"
        ),
        "neutral_drift_error_baseline": _V(
            (),
            "median |neutral-stream drift - drift at the baseline input| over the slices",
            "1",
        ),
        "neutral_drift_error_zero": _V(
            (), "median |neutral-stream drift - drift at zero input| over the slices", "1"
        ),
        # ------------------------------------------------------- continuation
        "continuation_branch": _V(("continuation",), "branch of the point", "1", "int64"),
        "continuation_s": _V(
            ("continuation",), "position s on the input path x(s) = x_0 + s (x_1 - x_0)", "1"
        ),
        "continuation_state": _V(
            ("continuation", "state"), "fixed point of F(h, x(s)) on the branch", "1"
        ),
        "continuation_position": _V(
            ("continuation",), "coordinate of the point along the manifold axis", "1"
        ),
        "continuation_top_eigenvalue_magnitude": _V(
            ("continuation",), "|lambda_1| of the Jacobian at the point", "1"
        ),
        "continuation_stability": _V(
            ("continuation",),
            "linear stability at the point (stable: every |lambda| < 1)",
            "1",
            "int8",
            STABILITY_FLAGS,
        ),
        "continuation_is_fold": _V(
            ("continuation",),
            "fold: the branch turns back in s (two roots meet)",
            "1",
            "int8",
            FLAG_NO_YES,
        ),
        "branch_start_s": _V(("branch",), "s where the branch starts", "1"),
        "branch_end_s": _V(("branch",), "s where the branch ends", "1"),
        "branch_status": _V(("branch",), "how the branch ended", "1", "int8", BRANCH_STATUS_FLAGS),
        "branch_origin": _V(
            ("branch",), "end of the path the branch starts from", "1", "int8", BRANCH_ORIGIN_FLAGS
        ),
        "branch_n_folds": _V(("branch",), "folds on the branch", "1", "int64"),
        "n_folds": _V((), "folds on all branches", "1", "int64"),
        "path_start_input": _V(("input",), "input x_0 at s = 0", "1"),
        "path_end_input": _V(("input",), "input x_1 at s = 1", "1"),
    }
)
#: Every variable and coordinate dynalyze writes (read-only view; plug-in fragments add theirs).
VARIABLES: Mapping[str, VariableSpec] = MappingProxyType(_VARIABLES)

#: Kinds of datasets and the variables each must contain.
_KINDS: dict[str, tuple[str, ...]] = (
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
        "trajectories": ("hidden_state", "token_id", "valid", "length"),
        "modifiers": ("modifier_strength", "ablated_modifier_strength"),
        "simplex_attractor": (
            "n_classes",
            "expected_dimension",
            "late_state_dim_95",
            "fixed_point_dim_95",
            "readout_cosine",
            "reduced_token_effect",
        ),
        "line_attractor": (
            "state_variance_ratio",
            "fixed_point_state",
            "manifold_coordinate",
            "alignment_r1_tangent",
            "token_projection",
        ),
        "line_attractor_view": (
            "baseline_kind",
            "cluster_kind",
            "manifold_drift",
            "slow_fraction",
        ),
        "continuation": (
            "continuation_s",
            "continuation_state",
            "continuation_stability",
            "branch_status",
        ),
    }
)
#: Kinds of datasets and their required variables (read-only view).
KINDS: Mapping[str, tuple[str, ...]] = MappingProxyType(_KINDS)


def _check_table() -> None:
    for name, spec in _VARIABLES.items():
        unknown = [d for d in spec.dims if d not in _DIMENSIONS]
        if unknown:
            raise ValueError(f"{name}: unknown dimension(s) {unknown}; declare them in DIMENSIONS.")
    for kind, required in _KINDS.items():
        missing = [name for name in required if name not in _VARIABLES]
        if missing:
            raise ValueError(f"Kind {kind!r} requires undeclared variables {missing}.")


_check_table()
