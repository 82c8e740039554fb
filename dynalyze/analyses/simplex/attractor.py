"""N-class integration: a k-dimensional attractor (Aitken et al. 2021).

An N-class RNN that accumulates evidence for every class should hold it on an
(N-1)-dimensional attractor (a simplex of fixed points, ~95% of the final
states' variance in N-1 dimensions), whose slow modes span the readout's
class-difference space; ordered classes (star ratings) need fewer dimensions.
:class:`SimplexAttractor` measures exactly these, as a pipeline of named
stages, and fits the k-dimensional analogue of the line-attractor reduced
model: every token pushes the state by its input Jacobian projected onto the
final states' top N-1 principal components, and the pushes add up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from dynalyze._validation import FloatArray, attrs_positive, attrs_positive_int
from dynalyze.analyses.attractor import AttractorModel
from dynalyze.analyses.geometry import eigenvector_span, pca
from dynalyze.baseline import BaselineSpec, check_baseline, classifier_baseline
from dynalyze.errors import ConfigurationError, DataError
from dynalyze.results.build import make_dataset, state_coords
from dynalyze.trajectories import TrajectorySource, as_source

if TYPE_CHECKING:  # pragma: no cover
    from dynalyze.classifier import RecurrentClassifier

__all__ = ["SimplexAttractor", "dimension_for", "participation_ratio", "subspace_share"]


def dimension_for(variance_ratio: ArrayLike, level: float = 0.95) -> int:
    """Principal components needed to reach ``level`` of the variance.

    Examples
    --------
    >>> dimension_for([0.6, 0.3, 0.08, 0.02])
    3
    """
    ratio = np.asarray(variance_ratio, dtype=np.float64)
    if ratio.size == 0 or not np.isfinite(ratio).all():
        return 0
    return int(np.searchsorted(np.cumsum(ratio), level - 1e-12) + 1)


def participation_ratio(variance: ArrayLike) -> float:
    """Effective dimension ``(sum v)^2 / sum v^2`` of PC variances (1 to their count).

    Unlike a variance threshold it does not jump: a cloud with 89% of its variance
    on one axis has a ratio near 1.25 whatever the threshold.

    Examples
    --------
    >>> participation_ratio([1.0, 1.0, 0.0]), round(participation_ratio([0.9, 0.1]), 3)
    (2.0, 1.22)
    """
    v = np.asarray(variance, dtype=np.float64)
    total = float(np.sum(v**2))
    return float(np.sum(v) ** 2 / total) if total > 0 else 0.0


def subspace_share(space: ArrayLike, subspace: ArrayLike) -> float:
    """Share of ``space`` (rows span it) lying inside ``subspace`` (rows span it), in [0, 1].

    ``||P_sub Q||_F^2 / k`` for an orthonormal basis ``Q`` of the ``k``-dim space:
    1 when the space is contained in the subspace, 0 when orthogonal to it.

    Examples
    --------
    >>> round(subspace_share([[1.0, 1.0, 0.0]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), 6)
    1.0
    >>> round(subspace_share([[1.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]]), 3)
    0.5
    """
    a = np.atleast_2d(np.asarray(space, dtype=np.float64))
    b = np.atleast_2d(np.asarray(subspace, dtype=np.float64))
    if a.size == 0 or b.size == 0:
        return 0.0
    qa = _orthonormal(a)
    qb = _orthonormal(b)
    if qa.shape[1] == 0 or qb.shape[1] == 0:
        return 0.0
    return float(np.sum((qb.T @ qa) ** 2) / qa.shape[1])


def _orthonormal(rows: FloatArray) -> FloatArray:
    u, s, _ = np.linalg.svd(rows.T, full_matrices=False)
    keep = s > 1e-10 * max(float(s.max()) if s.size else 0.0, 1e-300)
    return u[:, keep]


def _final_and_visited(
    source: TrajectorySource, n_visited: int, seed: int
) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """Final state and label of every document, and a uniform sample of visited states."""
    rng = np.random.default_rng([seed, 31])
    finals = np.full((source.n_examples, source.state_dim), np.nan)
    pool: list[FloatArray] = []
    total = int(np.asarray(source.token_ids != 0).sum())
    keep_p = min(1.0, 4.0 * n_visited / max(total, 1))
    for batch in source.batches():
        lengths = batch.valid.sum(axis=1)
        has = lengths > 0
        rows = np.flatnonzero(has)
        finals[batch.index[rows]] = batch.states[rows, lengths[rows] - 1]
        states = batch.states[batch.valid].astype(np.float64)
        pool.append(states[rng.random(states.shape[0]) < keep_p])
    visited = np.concatenate(pool) if pool else np.zeros((0, source.state_dim))
    if visited.shape[0] > n_visited:
        visited = visited[rng.choice(visited.shape[0], n_visited, replace=False)]
    labels = source.labels if source.labels is not None else np.full(source.n_examples, -1)
    return finals, visited, np.asarray(labels)


@attrs.frozen(kw_only=True)
class SimplexAttractor(AttractorModel):
    """The (N-1)-dimensional attractor of an N-class classifier.

    Parameters
    ----------
    n_initial : int
        Fixed-point searches, started from visited states.
    slow_magnitude : float
        Eigenmodes with ``|lambda|`` above this are slow (time constant above
        ``-1 / ln(slow_magnitude)`` tokens: about 9.5 for 0.9).
    variance : float
        Variance level of the dimension estimates (0.95 as in the paper).
    max_linearized : int
        Fixed points linearized for the slow-mode count.
    baseline : {"mean", "zero"} or array_like
        The input the dynamics are analysed at (:mod:`dynalyze.baseline`): fixed
        points and slow modes of ``F(h, x_b)``, token pushes ``J_inp (e_w - x_b)``.
        ``"mean"`` averages the token embeddings of ``baseline_ids`` (default:
        the analysed documents).
    seed : int
        Seed of the sampling of visited states.

    Examples
    --------
    >>> SimplexAttractor(n_initial=100).kind
    'simplex_attractor'
    """

    kind: ClassVar[str] = "simplex_attractor"

    n_initial: int = attrs.field(default=500, validator=attrs_positive_int)
    slow_magnitude: float = attrs.field(default=0.9, validator=attrs_positive)
    variance: float = attrs.field(default=0.95, validator=attrs_positive)
    max_linearized: int = attrs.field(default=200, validator=attrs_positive_int)
    baseline: BaselineSpec = attrs.field(default="mean", converter=check_baseline)
    seed: int = 0

    def fit(
        self,
        classifier: RecurrentClassifier,
        trajectories: xr.Dataset | TrajectorySource,
        *,
        baseline_ids: ArrayLike | None = None,
    ) -> xr.Dataset:
        """Measure the attractor's dimension, slow modes and readout geometry.

        Stages: final and visited states -> PCA of the final states -> fixed
        points and their PCA -> slow modes (linearization) -> readout geometry
        -> reduced model.

        Parameters
        ----------
        classifier : RecurrentClassifier
            An N-class classifier (``classifier.n_outputs >= 3``).
        trajectories : xarray.Dataset or TrajectorySource
            Hidden states of labelled documents.
        baseline_ids : array_like, optional
            Documents whose mean token embedding is the baseline input when
            ``baseline="mean"`` (the training documents; default the analysed ones).

        Returns
        -------
        xarray.Dataset
            A ``simplex_attractor`` dataset.

        Examples
        --------
        A linear network integrating three classes' evidence in two dimensions:

        >>> import numpy as np
        >>> from dynalyze.classifier import RecurrentClassifier
        >>> from dynalyze.results.build import make_dataset
        >>> from dynalyze.systems import SimpleRNNSystem
        >>> from dynalyze.vocabulary import Vocabulary
        >>> vertices = np.array([[1.0, 0.0], [-0.5, 0.87], [-0.5, -0.87]])
        >>> system = SimpleRNNSystem(np.eye(3, 3), np.diag([1.0, 1.0, 0.2]), activation="linear")
        >>> embedding = np.zeros((5, 3))
        >>> embedding[2:, :2] = np.array([[0.3], [0.37], [0.23]]) * vertices  # no ties
        >>> clf = RecurrentClassifier(system=system, embedding=embedding,
        ...     readout_weight=np.c_[vertices, np.zeros(3)].T, readout_bias=np.zeros(3),
        ...     vocabulary=Vocabulary(["", "[UNK]", "a", "b", "c"]))
        >>> rng = np.random.default_rng(0)
        >>> ids = rng.integers(2, 5, size=(300, 12)).astype(np.int32)
        >>> h = np.zeros((300, 3)); states = []
        >>> for t in range(12):
        ...     h = system.step(h, embedding[ids[:, t]]); states.append(h)
        >>> states = np.stack(states, axis=1).astype(np.float32)
        >>> traj = make_dataset("trajectories", {"hidden_state": states, "token_id": ids,
        ...     "valid": np.ones((300, 12), np.int8), "length": np.full(300, 12),
        ...     "label": np.argmax(clf.readout(states[:, -1]), axis=1).astype(np.int8)})
        >>> ds = SimplexAttractor(n_initial=50).fit(clf, traj)
        >>> int(ds["late_state_dim_95"]), int(ds["expected_dimension"])
        (2, 2)
        >>> round(float(ds["readout_simplex_error"]), 2), float(ds["reduced_agreement"])
        (0.0, 1.0)
        """
        n = getattr(classifier, "n_outputs", 1)
        if n < 3:
            raise ConfigurationError(
                f"SimplexAttractor describes N-class classifiers (N >= 3); this one has {n} "
                "output(s). Use LineAttractor for a binary classifier."
            )
        source = as_source(trajectories)
        if source.state_dim != classifier.system.state_dim:
            raise DataError(
                f"The trajectories have {source.state_dim} state units but the classifier's "
                f"system has {classifier.system.state_dim}; they come from different networks."
            )
        ids = source.token_ids if baseline_ids is None else baseline_ids
        baseline = classifier_baseline(
            self.baseline, classifier, ids, given=baseline_ids is not None
        )
        # Every stage sees the network at its baseline: zero input is x_b there.
        classifier = classifier.at_input(baseline.vector)
        finals, visited, labels = _final_and_visited(source, self.n_initial, self.seed)
        ok: np.ndarray = np.asarray(np.isfinite(finals).all(axis=1))
        if ok.sum() < 3:
            raise DataError("SimplexAttractor needs at least 3 non-empty documents.")
        late = _stage_late_states(finals[ok], self.variance)
        fixed = _stage_fixed_points(classifier, visited, self.variance)
        slow = _stage_slow_modes(
            classifier, fixed["points"], finals[ok], self.slow_magnitude, self.max_linearized
        )
        geometry = _stage_readout_geometry(classifier, slow["slow_basis"], late["basis"])
        reduced = _stage_reduced_model(classifier, source, finals, ok, late["basis"], labels)
        return _assemble(
            classifier, n, late, fixed, slow, geometry, reduced, self, baseline.variables()
        )

    def predict(self, fitted: xr.Dataset, ids: ArrayLike) -> FloatArray:
        """Reduced-model logits ``(n, N)``: the origin plus every token's push, read out.

        Examples
        --------
        See :meth:`fit`.
        """
        matrix = np.asarray(ids)
        effect = fitted["reduced_token_effect"].values
        state = fitted["reduced_origin"].values + effect[matrix].sum(axis=1)
        out: FloatArray = state @ fitted["readout_matrix"].values
        out = out + fitted["readout_bias_vector"].values
        return out


def _stage_late_states(finals: FloatArray, level: float) -> dict[str, Any]:
    result = pca(finals)
    ratio = np.asarray(result.explained_variance_ratio, dtype=np.float64)
    return {
        "variance_ratio": ratio,
        "dim": dimension_for(ratio, level),
        "basis": np.asarray(result.components, dtype=np.float64),
    }


def _stage_fixed_points(
    classifier: RecurrentClassifier, visited: FloatArray, level: float
) -> dict[str, Any]:
    from dynalyze.fixedpoints import find_fixed_points, unique_fixed_points

    if visited.shape[0] == 0:
        return {
            "points": np.zeros((0, classifier.system.state_dim)),
            "ratio": np.zeros(0),
            "dim": 0,
        }
    fps = find_fixed_points(classifier.system, visited)
    points = np.asarray(unique_fixed_points(fps)["fixed_point_state"].values, dtype=np.float64)
    if points.shape[0] >= 2:
        ratio = np.asarray(pca(points).explained_variance_ratio, dtype=np.float64)
        dim = dimension_for(ratio, level)
    else:
        ratio, dim = np.zeros(classifier.system.state_dim), 0
    return {"points": points, "ratio": ratio, "dim": dim}


def _stage_slow_modes(
    classifier: RecurrentClassifier,
    points: FloatArray,
    finals: FloatArray,
    threshold: float,
    cap: int,
) -> dict[str, Any]:
    from dynalyze.linearization import linearize

    d = classifier.system.state_dim
    if points.shape[0] == 0:
        return {"median_n_slow": float("nan"), "slow_basis": np.zeros((0, d))}
    pick = np.linspace(0, points.shape[0] - 1, min(cap, points.shape[0])).astype(int)
    lin = linearize(classifier.system, points[pick])
    magnitude = np.abs(lin["eigenvalue"].values)
    counts = (magnitude > threshold).sum(axis=1)
    centre = finals.mean(axis=0)
    nearest = int(np.argmin(np.linalg.norm(points[pick] - centre, axis=1)))
    basis = eigenvector_span(
        lin["right_eigenvector"].values[nearest], magnitude[nearest] > threshold
    )
    return {"median_n_slow": float(np.median(counts)), "slow_basis": basis}


def _stage_readout_geometry(
    classifier: RecurrentClassifier, slow_basis: FloatArray, late_basis: FloatArray
) -> dict[str, Any]:
    w = np.asarray(classifier.readout_weight, dtype=np.float64)  # (state, N)
    n = w.shape[1]
    centred = w - w.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=0)
    cosine = (centred.T @ centred) / np.maximum(np.outer(norms, norms), 1e-300)
    simplex = -1.0 / (n - 1)
    off = ~np.eye(n, dtype=bool)
    return {
        "cosine": cosine,
        "simplex_cosine": simplex,
        "simplex_error": float(np.max(np.abs(cosine[off] - simplex))),
        "slow_alignment": subspace_share(centred.T, slow_basis),
        "late_alignment": subspace_share(centred.T, late_basis[: n - 1]),
    }


def _stage_reduced_model(
    classifier: RecurrentClassifier,
    source: TrajectorySource,
    finals: FloatArray,
    ok: np.ndarray,
    late_basis: FloatArray,
    labels: np.ndarray,
) -> dict[str, Any]:
    n = classifier.n_outputs
    u = late_basis[: n - 1]  # (N-1, state)
    centre = finals[ok].mean(axis=0)
    jac_in = classifier.system.jacobian_input(centre[None])[0]  # (state, input)
    effect = (classifier.embedding @ jac_in.T) @ u.T @ u  # (vocab, state)
    special = list(getattr(classifier.vocabulary, "special_ids", (0,)))
    effect[special] = 0.0
    ids = np.asarray(source.token_ids)
    summed = effect[ids].sum(axis=1)
    origin = np.mean(finals[ok] - summed[ok], axis=0)
    predicted = classifier.readout(origin + summed)
    network = classifier.readout(np.where(ok[:, None], finals, 0.0))
    agree = float(np.mean(np.argmax(predicted[ok], 1) == np.argmax(network[ok], 1)))
    has_labels = labels.shape == (finals.shape[0],) and (labels >= 0).all()
    return {
        "effect": effect,
        "origin": origin,
        "agreement": agree,
        "reduced_accuracy": float(np.mean(np.argmax(predicted[ok], 1) == labels[ok]))
        if has_labels
        else float("nan"),
        "network_accuracy": float(np.mean(np.argmax(network[ok], 1) == labels[ok]))
        if has_labels
        else float("nan"),
    }


def _centred(values: FloatArray) -> FloatArray:
    out: FloatArray = values - values.mean(axis=1, keepdims=True)
    return out


def _assemble(
    classifier: RecurrentClassifier,
    n: int,
    late: dict[str, Any],
    fixed: dict[str, Any],
    slow: dict[str, Any],
    geometry: dict[str, Any],
    reduced: dict[str, Any],
    model: SimplexAttractor,
    extra: dict[str, Any],
) -> xr.Dataset:
    names = [f"class{c}" for c in range(n)]
    class_names = list(getattr(classifier, "class_names", None) or names)
    d = classifier.system.state_dim
    ratio_fixed = np.zeros(d)
    ratio_fixed[: fixed["ratio"].size] = fixed["ratio"][:d]
    variables: dict[str, Any] = {
        "n_classes": np.int64(n),
        "expected_dimension": np.int64(n - 1),
        "late_state_variance_ratio": late["variance_ratio"][:d],
        "late_state_dim_95": np.int64(late["dim"]),
        "late_state_participation_ratio": participation_ratio(late["variance_ratio"]),
        "fixed_point_variance_ratio": ratio_fixed,
        "fixed_point_dim_95": np.int64(fixed["dim"]),
        "n_fixed_points_used": np.int64(fixed["points"].shape[0]),
        "median_n_slow_modes": slow["median_n_slow"],
        "slow_readout_alignment": geometry["slow_alignment"],
        "late_state_readout_alignment": geometry["late_alignment"],
        "readout_cosine": geometry["cosine"],
        "simplex_cosine": geometry["simplex_cosine"],
        "readout_simplex_error": geometry["simplex_error"],
        "reduced_origin": reduced["origin"],
        "reduced_token_effect": reduced["effect"],
        "readout_matrix": np.asarray(classifier.readout_weight, dtype=np.float64),
        "token_class_effect": _centred(reduced["effect"] @ classifier.readout_weight),
        "readout_bias_vector": np.asarray(classifier.readout_bias, dtype=np.float64),
        "network_accuracy": reduced["network_accuracy"],
        "reduced_accuracy": reduced["reduced_accuracy"],
        "reduced_agreement": reduced["agreement"],
        **extra,
    }
    coords: dict[str, Any] = {
        **state_coords(
            classifier.system.layout.component_labels(), classifier.system.layout.unit_indices()
        ),
        "component": np.arange(d),
        "class": class_names,
        "class_b": class_names,
        "token": np.asarray(classifier.vocabulary.tokens, dtype=str),
    }
    return make_dataset(
        "simplex_attractor",
        variables,
        coords,
        config=model,
        provenance=classifier.provenance,
        title="dynalyze N-class (simplex) attractor",
    )
