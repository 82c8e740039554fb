"""The paper's line attractor, fitted to a trained recurrent classifier.

Implements the analysis of Maheswaranathan et al. (NeurIPS 2019): PCA of the
visited states (trained vs untrained), approximate fixed points at zero input
accepted with ``||h - F(h, 0)||^2 / N < 1e-8``, the geometry of the fixed-point
manifold, alignments of the top eigenvectors and the readout with it (each
beside a random-vector null), eigenvalue spectra and time constants, token
input projections for the whole vocabulary compared with a bag-of-words model
and human valence ratings, the one-step linearization error along real
trajectories, a reduced model that integrates token projections along the
line, and the zero-input relaxation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from dynalyze._timing import Stopwatch
from dynalyze._validation import (
    FloatArray,
    attrs_non_negative,
    attrs_positive,
    attrs_positive_int,
)
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
from dynalyze.errors import ConfigurationError, DataError
from dynalyze.fixedpoints import LevenbergMarquardtFinder, sample_initial_states
from dynalyze.fixedpoints.selection import unique_fixed_points
from dynalyze.linearization import Linearization
from dynalyze.results.build import make_dataset, state_coords
from dynalyze.trajectories import TrajectorySource, as_source

if TYPE_CHECKING:  # pragma: no cover
    from dynalyze.classifier import RecurrentClassifier

__all__ = ["LineAttractor", "LineAttractorResult", "pearson_r", "sign_agreement"]

logger = logging.getLogger(__name__)

_SPECIAL_TOKENS = 2  # padding (id 0) and [UNK] (id 1) are never analysed as words


def _thresholds(value: Any) -> tuple[float, ...]:
    return tuple(sorted(float(v) for v in value))


def pearson_r(a: ArrayLike, b: ArrayLike) -> float:
    """Pearson correlation over the entries finite in both (NaN if fewer than 3).

    Examples
    --------
    >>> round(pearson_r([1.0, 2.0, 3.0, np.nan], [2.0, 4.0, 6.5, 1.0]), 3)
    0.998
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3 or np.std(x[keep]) == 0 or np.std(y[keep]) == 0:
        return float("nan")
    return float(np.corrcoef(x[keep], y[keep])[0, 1])


def sign_agreement(projection: ArrayLike, reference: ArrayLike, top: int = 100) -> float:
    """Fraction of the ``top`` most positive and ``top`` most negative reference words
    whose projection has the same sign.

    Examples
    --------
    >>> sign_agreement([1.0, -2.0, 0.5, -0.1], [2.0, -1.0, 1.0, 0.3], top=1)
    1.0
    """
    p = np.asarray(projection, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    keep = np.flatnonzero(np.isfinite(p) & np.isfinite(r))
    if keep.size == 0:
        return float("nan")
    order = keep[np.argsort(r[keep], kind="stable")]
    k = min(top, order.size // 2) or 1
    chosen = np.concatenate([order[:k], order[-k:]])
    return float(np.mean(np.sign(p[chosen]) == np.sign(r[chosen])))


@attrs.frozen
class LineAttractorResult:
    """Everything :meth:`LineAttractor.analyze` produced.

    Parameters
    ----------
    attractor : xarray.Dataset
        The ``line_attractor`` dataset.
    fixed_points : xarray.Dataset
        Every fixed-point search (``fixed_points`` dataset).
    linearization : xarray.Dataset or None
        Linearization at the accepted fixed points (None if there were none).
    timings : dict
        Seconds spent in each part of the analysis.
    """

    attractor: xr.Dataset
    fixed_points: xr.Dataset
    linearization: xr.Dataset | None
    timings: dict[str, float] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class LineAttractor(AttractorModel):
    """Line-attractor analysis of a binary recurrent classifier (the paper's recipe).

    Parameters
    ----------
    n_initial : int
        Fixed-point searches, started from visited states.
    criterion : float
        Paper's acceptance criterion on ``||F(h, 0) - h||^2 / N``. Each search is
        frozen as soon as it meets it, so the points stay spread along the slow
        manifold instead of collapsing onto the few exact fixed points.
    thresholds : tuple of float
        Other criteria at which the number of candidates is also reported.
    initial_noise : float
        Standard deviation of noise added to the initial states.
    max_iter : int
        Iteration budget per search.
    dedup_tol : float
        Candidates closer than this are duplicates.
    tangent_neighbours : int
        Neighbours in the local PCA that gives the manifold tangent.
    n_null : int
        Random unit vectors in the alignment null.
    n_top_words : int
        BoW words at each end compared by sign with the token projections.
    n_modes : int
        Eigenmodes kept in the dataset (all are used for the statistics).
    relaxation_steps, n_relaxation : int
        Length and number of zero-input relaxations from visited states.
    n_plot : int
        Visited states kept (a uniform sample) in the dataset for figures.
    seed : int
        Seed for every random choice.
    progress : bool
        Show progress bars.

    Examples
    --------
    >>> LineAttractor(n_initial=100).criterion
    1e-08
    """

    kind: ClassVar[str] = "line_attractor"

    n_initial: int = attrs.field(default=1000, validator=attrs_positive_int)
    criterion: float = attrs.field(default=1e-8, validator=attrs_positive)
    thresholds: tuple[float, ...] = attrs.field(
        default=(1e-10, 1e-9, 1e-8, 1e-7, 1e-6), converter=_thresholds
    )
    initial_noise: float = attrs.field(default=0.0, validator=attrs_non_negative)
    max_iter: int = attrs.field(default=200, validator=attrs_positive_int)
    dedup_tol: float = attrs.field(default=1e-6, validator=attrs_non_negative)
    tangent_neighbours: int = attrs.field(default=10, validator=attrs_positive_int)
    n_null: int = attrs.field(default=2000, validator=attrs_positive_int)
    n_top_words: int = attrs.field(default=100, validator=attrs_positive_int)
    n_modes: int = attrs.field(default=10, validator=attrs_positive_int)
    relaxation_steps: int = attrs.field(default=100, validator=attrs_positive_int)
    n_relaxation: int = attrs.field(default=256, validator=attrs_positive_int)
    n_plot: int = attrs.field(default=5000, validator=attrs_positive_int)
    seed: int = 0
    progress: bool = False

    # ------------------------------------------------------------ stages
    def finder(self, state_dim: int) -> LevenbergMarquardtFinder:
        """The fixed-point finder configured with the paper's criterion."""
        # Damped steps only: a full Newton step would jump along an approximate line
        # attractor to its exact roots instead of stopping where the criterion is met.
        return LevenbergMarquardtFinder(
            newton_steps=False,
            tol=0.5 * self.criterion * state_dim,
            max_iter=self.max_iter,
            dedup_tol=self.dedup_tol,
            progress=self.progress,
        )

    def accepted(self, fixed_points: xr.Dataset) -> xr.Dataset:
        """Unique candidates that meet the criterion (converged, not duplicate/outlier)."""
        n_state = fixed_points.sizes["state"]
        unique = unique_fixed_points(fixed_points)
        keep = 2.0 * unique["speed"].values / n_state < self.criterion
        return unique.isel(fixed_point=np.flatnonzero(keep))

    def find_fixed_points(
        self, classifier: RecurrentClassifier, trajectories: xr.Dataset | TrajectorySource
    ) -> xr.Dataset:
        """Search for zero-input fixed points from states sampled among those visited."""
        summary = _first_pass(as_source(trajectories), classifier, self._n_sample, self.seed)
        return self._search(classifier, summary.sample)

    def fit(
        self,
        classifier: RecurrentClassifier,
        trajectories: xr.Dataset | TrajectorySource,
        **evidence: Any,
    ) -> xr.Dataset:
        """Fit the line-attractor description (see :meth:`analyze` for the arguments).

        Returns
        -------
        xarray.Dataset
            A ``line_attractor`` dataset.
        """
        return self.analyze(classifier, trajectories, **evidence).attractor

    def analyze(
        self,
        classifier: RecurrentClassifier,
        trajectories: xr.Dataset | TrajectorySource,
        **evidence: Any,
    ) -> LineAttractorResult:
        """Run the whole analysis; return the attractor with the fixed points and linearization.

        Two passes are made over ``trajectories``; with a
        :class:`~dynalyze.trajectories.ModelTrajectories` stream (from
        :meth:`RecurrentClassifier.stream`) memory stays bounded by one batch
        whatever the number of documents.

        Parameters
        ----------
        classifier : RecurrentClassifier
            The network.
        trajectories : xarray.Dataset or TrajectorySource
            Hidden-state trajectories of (ideally held-out, labelled) documents:
            :meth:`RecurrentClassifier.trajectories` or :meth:`RecurrentClassifier.stream`.
        **evidence
            Optional inputs, by keyword:

            - ``fixed_points``: a fixed-points dataset (found here if omitted);
            - ``linearization``: linearization at the accepted points;
            - ``untrained_states``: states of an untrained network of the same
              shape on the same documents (array ``(..., state_dim)``, a
              trajectories dataset or a stream), for the PCA comparison;
            - ``bow_weights``: one bag-of-words weight per vocabulary id;
            - ``vader``: mapping token -> human valence;
            - ``true_valence``: one generating valence per vocabulary id
              (synthetic task);
            - ``calibration_ids``: token ids of documents (e.g. the validation
              split) on which the reduced model's gain and offset are fitted;
              defaults to the analysed documents themselves;
            - ``calibration_labels``: their labels; the gain and offset are then
              a logistic regression of the labels on the line coordinate,
              otherwise a least-squares fit of the network's logits.

        Returns
        -------
        LineAttractorResult
        """
        known = {
            "fixed_points",
            "linearization",
            "untrained_states",
            "bow_weights",
            "vader",
            "true_valence",
            "calibration_ids",
            "calibration_labels",
        }
        unknown = sorted(set(evidence) - known)
        if unknown:
            raise ConfigurationError(
                f"Unknown evidence {unknown} for LineAttractor; expected some of {sorted(known)}."
            )
        system = classifier.system
        n_state = system.state_dim
        vocab_size = len(classifier.vocabulary)
        source = as_source(trajectories)
        if source.state_dim != n_state:
            raise DataError(
                f"The trajectories have {source.state_dim} state units but the classifier's "
                f"system has {n_state}; they come from different networks."
            )
        variables: dict[str, Any] = {}
        clock = Stopwatch()

        # 1. First pass: state PCA, a uniform sample of visited states, final states.
        with clock("trajectories, first pass"):
            first = _first_pass(source, classifier, self._n_sample, self.seed)
        trained_pca = first.pca
        variables["state_variance_ratio"] = trained_pca.explained_variance_ratio
        variables["state_pc_axes"] = trained_pca.components
        variables["state_mean"] = trained_pca.mean
        variables["state_top3_variance"] = float(trained_pca.explained_variance_ratio[:3].sum())
        plot = slice(0, min(self.n_plot, first.sample.shape[0]))
        variables["sampled_state"] = first.sample[plot]
        sample_labels = (
            source.labels[first.sample_example][plot].astype(np.int8)
            if source.labels is not None
            else np.full(first.sample[plot].shape[0], -1, dtype=np.int8)
        )
        variables["sampled_label"] = sample_labels
        untrained = evidence.get("untrained_states")
        if untrained is not None:
            if isinstance(untrained, (xr.Dataset, TrajectorySource)):
                with clock("untrained network"):
                    u_pca = _first_pass(as_source(untrained), None, 0, self.seed).pca
            else:
                u_pca = pca(np.asarray(untrained, dtype=np.float64).reshape(-1, n_state))
            variables["untrained_state_variance_ratio"] = u_pca.explained_variance_ratio
            variables["untrained_state_top3_variance"] = float(
                u_pca.explained_variance_ratio[:3].sum()
            )

        # 2. Fixed points with the paper's criterion.
        fixed_points = evidence.get("fixed_points")
        if fixed_points is None:
            with clock("fixed points"):
                fixed_points = self._search(classifier, first.sample)
        normalized = 2.0 * fixed_points["speed"].values / n_state
        eligible = (fixed_points["is_duplicate"].values == 0) & (
            fixed_points["is_outlier"].values == 0
        )
        variables["accepted_count"] = [
            int(np.sum(eligible & (normalized < t))) for t in self.thresholds
        ]
        accepted = self.accepted(fixed_points)
        n_acc = int(accepted.sizes["fixed_point"])
        variables["n_candidates"] = int(fixed_points.sizes["fixed_point"])
        variables["n_accepted"] = n_acc
        fps = accepted["fixed_point_state"].values
        variables["fixed_point_state"] = fps
        variables["normalized_speed"] = 2.0 * accepted["speed"].values / n_state
        if n_acc == 0:
            logger.warning(
                "No candidate met the criterion ||F(h,0) - h||^2/N < %g; the manifold, "
                "alignment and projection results are empty.",
                self.criterion,
            )

        # 3. Manifold geometry.
        readout = classifier.readout_weight
        variables["readout_weight"] = readout
        coverage, groups = float("nan"), n_acc
        if n_acc >= 2:
            fp_pca = pca(fps)
            ratio = fp_pca.explained_variance_ratio
            coordinate = fp_pca.transform(fps, 1)[:, 0]
            tangent = local_tangents(fps, self.tangent_neighbours, reference=fp_pca.components[0])
            visited = fp_pca.transform(first.sample, 1)[:, 0]
            coverage, groups = _coverage(coordinate, visited)
        else:
            ratio = np.full(n_state, np.nan)
            coordinate = np.zeros(n_acc)
            tangent = np.full((n_acc, n_state), np.nan)
        variables["manifold_coverage"] = coverage
        variables["n_fixed_point_groups"] = groups
        variables["fixed_point_variance_ratio"] = ratio
        variables["fixed_point_pc1_variance"] = float(ratio[0])
        variables["manifold_coordinate"] = coordinate
        variables["manifold_tangent"] = tangent

        # 4. Linearization, slow modes and alignments.
        lin = evidence.get("linearization")
        if lin is None and n_acc:
            with clock("linearization"):
                lin = Linearization().compute(system, accepted)
        if lin is not None and lin.sizes["fixed_point"] != n_acc:
            raise DataError(
                f"The linearization has {lin.sizes['fixed_point']} expansion points but "
                f"{n_acc} fixed points were accepted; linearize the accepted points "
                "(LineAttractor.accepted)."
            )
        k = min(self.n_modes, n_state)
        if lin is not None and n_acc:
            eig = lin["eigenvalue"].values
            r1, l1, imag = oriented_top_mode(
                lin["right_eigenvector"].values[:, :, 0],
                lin["left_eigenvector"].values[:, 0, :],
                readout,
            )
            tau = lin["time_constant"].values
            jac_in = lin["jacobian_input"].values
        else:
            eig = np.zeros((0, n_state), dtype=complex)
            r1 = l1 = np.zeros((0, n_state))
            imag = np.zeros(0)
            tau = np.zeros((0, n_state))
            jac_in = np.zeros((0, n_state, system.input_dim))
        variables["eigenvalue"] = eig[:, :k]
        variables["time_constant"] = tau[:, :k]
        variables["slow_mode_right"] = r1
        variables["slow_mode_left"] = l1
        variables["slow_mode_imaginary_fraction"] = imag
        gain = r1 @ readout
        variables["readout_gain"] = gain
        variables["median_top_eigenvalue_magnitude"] = _median(np.abs(eig[:, 0]) if n_acc else [])
        variables["median_slow_time_constant"] = _median(tau[:, 0] if n_acc else [])
        variables["median_second_time_constant"] = _median(
            tau[:, 1] if n_acc and n_state > 1 else []
        )
        a_r1_t = abs_cosine(r1, tangent)
        a_w_t = abs_cosine(tangent, readout)
        a_w_r1 = abs_cosine(r1, readout)
        null = random_alignment_null(n_state, self.n_null, seed=self.seed)
        variables.update(
            alignment_r1_tangent=a_r1_t,
            alignment_readout_tangent=a_w_t,
            alignment_readout_r1=a_w_r1,
            alignment_null=null,
            median_alignment_r1_tangent=_median(a_r1_t),
            median_alignment_readout_tangent=_median(a_w_t),
            median_alignment_readout_r1=_median(a_w_r1),
            null_alignment_median=float(np.median(null)),
            null_alignment_p95=float(np.quantile(null, 0.95)),
        )

        # 5. Token input projections over the whole vocabulary.
        embedding = classifier.embedding
        if n_acc:
            u = np.einsum("nsi,ns->ni", jac_in, l1)  # J_inp^T l1 per fixed point
            proj = np.empty((vocab_size, 2))
            for begin in range(0, vocab_size, 4096):
                block = embedding[begin : begin + 4096] @ u.T  # (tokens, fixed points)
                proj[begin : begin + 4096, 0] = block.mean(axis=1)
                proj[begin : begin + 4096, 1] = block.std(axis=1)
            centre = int(np.argmin(np.abs(coordinate - np.median(coordinate))))
            base = system.step(fps[centre][None])
            moved = system.step(np.repeat(fps[centre][None], vocab_size, axis=0), embedding)
            displacement = (moved - base) @ l1[centre]
        else:
            proj = np.full((vocab_size, 2), np.nan)
            displacement = np.full(vocab_size, np.nan)
        projection = proj[:, 0]
        projection[:_SPECIAL_TOKENS] = np.nan
        variables["token_projection"] = projection
        variables["token_projection_spread"] = proj[:, 1]
        variables["token_displacement"] = displacement

        # 6. Comparisons with external evidence.
        bow = evidence.get("bow_weights")
        if bow is not None:
            bow_arr = _per_token(bow, vocab_size, "bow_weights")
            variables["bow_weight"] = bow_arr
            variables["bow_pearson_r"] = pearson_r(projection, bow_arr)
            variables["bow_sign_agreement"] = sign_agreement(projection, bow_arr, self.n_top_words)
        vader = evidence.get("vader")
        if vader is not None:
            if not isinstance(vader, Mapping):
                raise ConfigurationError("vader must be a mapping token -> valence.")
            ratings = np.array([float(vader.get(t, np.nan)) for t in classifier.vocabulary.tokens])
            ratings[:_SPECIAL_TOKENS] = np.nan
            variables["vader_valence"] = ratings
            variables["vader_pearson_r"] = pearson_r(projection, ratings)
            variables["vader_n_shared"] = int(np.sum(np.isfinite(ratings)))
        true_valence = evidence.get("true_valence")
        if true_valence is not None:
            truth = _per_token(true_valence, vocab_size, "true_valence")
            variables["true_valence"] = truth
            variables["true_valence_pearson_r"] = pearson_r(projection, truth)

        # 7. Second pass: one-step linearization error along the trajectories.
        if n_acc and lin is not None:
            with clock("trajectories, second pass (linearization error)"):
                error = _linearization_error(classifier, source, lin)
        else:
            error = np.full(source.token_ids.shape, np.nan)
        variables["linearization_error"] = error
        finite_error = error[np.isfinite(error)]
        variables["linearization_error_median"] = (
            float(np.median(finite_error)) if finite_error.size else np.nan
        )
        variables["linearization_error_mean"] = (
            float(np.mean(finite_error)) if finite_error.size else np.nan
        )

        # 8. Reduced model: the linearized dynamics along the top mode,
        #    s_t = lambda_1 s_{t-1} + projection(token_t), read out linearly.
        decay = float(np.clip(_median(eig[:, 0].real if n_acc else []), 0.0, 1.0))
        decay = 1.0 if np.isnan(decay) else decay
        score = self._score(projection, source.token_ids, decay)
        network_logit = first.logit
        calibration = evidence.get("calibration_ids")
        cal_labels = evidence.get("calibration_labels")
        if calibration is not None:
            cal_ids = np.asarray(calibration)
            cal_score = self._score(projection, cal_ids, decay)
            cal_target = (
                np.asarray(cal_labels)
                if cal_labels is not None
                else classifier.logits(cal_ids).astype(np.float64)
            )
        else:
            cal_score, cal_target = score, network_logit
        gain_mean, offset = (
            _calibrate(cal_score, cal_target, is_label=cal_labels is not None)
            if n_acc
            else (float("nan"), float("nan"))
        )
        reduced = gain_mean * score + offset
        variables["logit"] = network_logit
        variables["reduced_score"] = score
        variables["reduced_logit"] = reduced
        variables["reduced_gain"] = gain_mean
        variables["reduced_decay"] = decay
        variables["reduced_offset"] = offset
        variables["reduced_agreement"] = float(np.mean((reduced > 0) == (network_logit > 0)))
        variables["reduced_logit_pearson_r"] = pearson_r(reduced, network_logit)
        if source.labels is not None:
            labels = source.labels
            variables["label"] = labels
            variables["network_accuracy"] = float(np.mean((network_logit > 0) == (labels == 1)))
            variables["reduced_accuracy"] = float(np.mean((reduced > 0) == (labels == 1)))

        # 9. Zero-input relaxation from visited states.
        starts = sample_initial_states(first.sample, self.n_relaxation, seed=self.seed + 1)
        variables["relaxation_speed"] = _relaxation(system, starts, self.relaxation_steps)

        coords: dict[str, Any] = {
            **state_coords(system.layout.component_labels(), system.layout.unit_indices()),
            "fixed_point": accepted["fixed_point"].values,
            "threshold": np.asarray(self.thresholds),
            "token": np.asarray(classifier.vocabulary.tokens, dtype=object),
            "token_index": np.arange(vocab_size),
            "example": source.example_index,
        }
        attractor = make_dataset(
            self.kind,
            variables,
            coords,
            config=self,
            provenance={**classifier.provenance, **source.provenance},
            title="dynalyze line-attractor analysis",
        )
        total = time.perf_counter() - clock.start
        clock.timings["attractor fit (the rest)"] = round(total - sum(clock.timings.values()), 3)
        return LineAttractorResult(attractor, fixed_points, lin, dict(clock.timings))

    @property
    def _n_sample(self) -> int:
        return max(self.n_initial, self.n_relaxation, self.n_plot)

    def _search(self, classifier: RecurrentClassifier, sample: FloatArray) -> xr.Dataset:
        initial = sample_initial_states(
            sample, self.n_initial, noise=self.initial_noise, seed=self.seed
        )
        return self.finder(classifier.system.state_dim).find(classifier.system, initial)

    # ------------------------------------------------------ reduced model
    @staticmethod
    def _score(projection: FloatArray, ids: NDArray[np.integer], decay: float) -> FloatArray:
        """``s_L`` of ``s_t = decay * s_{t-1} + projection(token_t)``, ``s_0 = 0``, per document."""
        values = np.nan_to_num(projection, nan=0.0)
        ids = np.asarray(ids)
        valid = ids > 0
        lengths = valid.sum(axis=1, keepdims=True)
        steps_after = lengths - 1 - np.arange(ids.shape[1])[None, :]  # tokens that follow
        with np.errstate(divide="ignore"):
            weight = np.where(valid, np.power(decay, np.maximum(steps_after, 0)), 0.0)
        out: FloatArray = (np.where(valid, values[ids], 0.0) * weight).sum(axis=1)
        return out

    def predict(self, fitted: xr.Dataset, ids: ArrayLike) -> FloatArray:
        """Reduced-model logits: ``gain * s_L + offset`` with ``s_t = lambda_1 s_{t-1} + p(x_t)``.

        ``p`` is the token projection, ``lambda_1`` the median top eigenvalue
        (``reduced_decay``), ``gain`` the readout's change along the line.

        Parameters
        ----------
        fitted : xarray.Dataset
            Output of :meth:`fit`.
        ids : array_like of int, shape (n, T)
            Token ids padded with 0.

        Returns
        -------
        ndarray, shape (n,)
        """
        projection = fitted["token_projection"].values
        matrix = np.asarray(ids)
        if matrix.ndim != 2 or (matrix.size and matrix.max() >= projection.shape[0]):
            raise DataError(
                f"ids must be a (n, T) matrix of ids below {projection.shape[0]}; got shape "
                f"{matrix.shape}."
            )
        score = self._score(projection, matrix, float(fitted["reduced_decay"]))
        out: FloatArray = float(fitted["reduced_gain"]) * score + float(fitted["reduced_offset"])
        return out


# ---------------------------------------------------------------- helpers
def _median(values: ArrayLike) -> float:
    array = np.asarray(values, dtype=np.float64)
    array = array[~np.isnan(array)]
    return float(np.median(array)) if array.size else float("nan")


@attrs.frozen
class _FirstPass:
    pca: PCAResult
    sample: FloatArray  # uniform sample of visited states, in random order
    sample_example: NDArray[np.int64]  # source position of each sampled state's document
    logit: FloatArray  # readout of each document's final state


def _hash_keys(example: NDArray[np.int64], step: NDArray[np.int64], seed: int) -> FloatArray:
    """Uniform pseudo-random keys in [0, 1) from (seed, example, step) (splitmix64)."""
    with np.errstate(over="ignore"):
        z = (
            np.asarray(example, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
            + np.asarray(step, dtype=np.uint64) * np.uint64(0xBF58476D1CE4E5B9)
            + np.uint64(seed & 0xFFFFFFFF) * np.uint64(0x94D049BB133111EB)
        )
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    out: FloatArray = (z >> np.uint64(11)).astype(np.float64) / float(2**53)
    return out


def _first_pass(
    source: TrajectorySource,
    classifier: RecurrentClassifier | None,
    n_sample: int,
    seed: int,
) -> _FirstPass:
    """One pass: streaming PCA, a uniform reservoir sample of states, final-state logits.

    The sample keeps the ``n_sample`` states with the smallest pseudo-random keys,
    so it is a uniform sample without replacement of every visited state, drawn
    in one pass with memory ``O(n_sample)``. Keys are a hash of (seed, document,
    step), so the sample does not depend on how the documents are batched.
    """
    acc = StreamingPCA(source.state_dim)
    keys = np.zeros(0)
    kept = np.zeros((0, source.state_dim))
    kept_example = np.zeros(0, dtype=np.int64)
    final = np.zeros((source.n_examples, source.state_dim))
    for batch in source.batches():
        rows, cols = np.nonzero(batch.valid)
        visited = batch.states[rows, cols].astype(np.float64)
        acc.update(visited)
        if n_sample:
            new_keys = _hash_keys(batch.index[rows], cols, seed)
            keys = np.concatenate([keys, new_keys])
            kept = np.concatenate([kept, visited])
            kept_example = np.concatenate([kept_example, batch.index[rows]])
            if keys.size > n_sample:
                top = np.argpartition(keys, n_sample - 1)[:n_sample]
                keys, kept, kept_example = keys[top], kept[top], kept_example[top]
        lengths = batch.valid.sum(axis=1)
        has = lengths > 0
        final[batch.index[has]] = batch.states[np.flatnonzero(has), lengths[has] - 1]
    if n_sample and keys.size == 0:
        raise DataError("The trajectories hold no valid (non-padding) step to analyse.")
    order = np.argsort(keys, kind="stable")
    logit = classifier.readout(final) if classifier is not None else np.zeros(source.n_examples)
    return _FirstPass(acc.result(), kept[order], kept_example[order], logit)


def _per_token(values: Any, vocab_size: int, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.shape != (vocab_size,):
        raise DataError(
            f"{name} must hold one value per vocabulary id ({vocab_size}); got {array.shape}."
        )
    out = array.copy()
    out[:_SPECIAL_TOKENS] = np.nan
    return out


def _linearization_error(
    classifier: RecurrentClassifier, source: TrajectorySource, lin: xr.Dataset
) -> FloatArray:
    """||h_t - h_lin|| / ||h_t|| with h_lin expanded around the fixed point nearest h_{t-1}.

    A second pass over the source, batch by batch.
    """
    points = lin["fixed_point_state"].values
    image = lin["expansion_image"].values
    jac_h = lin["jacobian_state"].values
    jac_x = lin["jacobian_input"].values
    tree = cKDTree(points)
    out = np.full(source.token_ids.shape, np.nan)
    for batch in source.batches():
        states = batch.states.astype(np.float64)
        b, _, n_state = states.shape
        previous = np.concatenate([np.zeros((b, 1, n_state)), states[:, :-1]], axis=1)
        rows, cols = np.nonzero(batch.valid)
        h_prev = previous[rows, cols]
        h_next = states[rows, cols]
        x = classifier.embedding[batch.token_id[rows, cols]]
        _, nearest = tree.query(h_prev, k=1)
        predicted = np.empty_like(h_next)
        for k in np.unique(nearest):
            sel = np.flatnonzero(nearest == k)
            predicted[sel] = image[k] + (h_prev[sel] - points[k]) @ jac_h[k].T + x[sel] @ jac_x[k].T
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.linalg.norm(h_next - predicted, axis=1) / np.linalg.norm(h_next, axis=1)
        out[batch.index[rows], cols] = rel
    return out


def _coverage(coordinate: FloatArray, visited: FloatArray) -> tuple[float, int]:
    """How much of the visited states' extent along the manifold the fixed points tile.

    The extent is the 5th-95th percentile range of the visited states' coordinates
    along the fixed points' first PC, cut into 100 cells; a cell is covered when a
    fixed point lies within 2% of the extent of its centre. Fixed points are in
    separate groups where consecutive coordinates are more than 5% of the extent
    apart.
    """
    lo, hi = np.percentile(visited, [5, 95])
    extent = max(float(hi - lo), 1e-12)
    centres = lo + (np.arange(100) + 0.5) * extent / 100
    nearest = np.min(np.abs(centres[:, None] - coordinate[None, :]), axis=1)
    ordered = np.sort(coordinate)
    groups = 1 + int(np.sum(np.diff(ordered) > 0.05 * extent))
    return float(np.mean(nearest <= 0.02 * extent)), groups


def _calibrate(score: FloatArray, target: ArrayLike, *, is_label: bool) -> tuple[float, float]:
    """Gain and offset of the reduced model's readout ``gain * s + offset``.

    With labels: a (weakly regularized) logistic regression of the labels on
    ``s``; otherwise least squares on the network's logits.
    """
    y = np.asarray(target)
    keep = np.isfinite(score)
    if is_label:
        from sklearn.linear_model import LogisticRegression

        if len(np.unique(y[keep])) < 2:
            return float("nan"), float("nan")
        fit = LogisticRegression(C=1e4).fit(score[keep, None], y[keep])
        return float(fit.coef_[0, 0]), float(fit.intercept_[0])
    design = np.stack([score[keep], np.ones(int(keep.sum()))], axis=1)
    (gain, offset), *_ = np.linalg.lstsq(design, y[keep].astype(np.float64), rcond=None)
    return float(gain), float(offset)


def _relaxation(system: Any, starts: FloatArray, steps: int) -> FloatArray:
    h = starts
    speeds = np.empty((steps, h.shape[0]))
    for t in range(steps):
        nxt = system.step(h)
        speeds[t] = np.linalg.norm(nxt - h, axis=1)
        h = nxt
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = speeds / speeds[0]
    return np.asarray(np.nanmedian(relative, axis=1), dtype=np.float64)
