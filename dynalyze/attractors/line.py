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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from dynalyze._validation import (
    FloatArray,
    attrs_non_negative,
    attrs_positive,
    attrs_positive_int,
)
from dynalyze.attractors.base import AttractorModel
from dynalyze.attractors.geometry import (
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

if TYPE_CHECKING:  # pragma: no cover
    from dynalyze.classifier import RecurrentClassifier

__all__ = ["LineAttractor", "pearson_r", "sign_agreement"]

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
    seed: int = 0
    progress: bool = False

    # ------------------------------------------------------------ stages
    def finder(self, state_dim: int) -> LevenbergMarquardtFinder:
        """The fixed-point finder configured with the paper's criterion."""
        return LevenbergMarquardtFinder(
            tol=0.5 * self.criterion * state_dim,
            max_iter=self.max_iter,
            dedup_tol=self.dedup_tol,
            progress=self.progress,
        )

    def find_fixed_points(
        self, classifier: RecurrentClassifier, trajectories: xr.Dataset
    ) -> xr.Dataset:
        """Search for zero-input fixed points from states sampled among those visited."""
        states = trajectories["hidden_state"]
        initial = sample_initial_states(
            states.values,
            self.n_initial,
            noise=self.initial_noise,
            seed=self.seed,
            mask=trajectories["valid"].values.astype(bool),
        )
        return self.finder(classifier.system.state_dim).find(classifier.system, initial)

    def accepted(self, fixed_points: xr.Dataset) -> xr.Dataset:
        """Unique candidates that meet the criterion (converged, not duplicate/outlier)."""
        return unique_fixed_points(fixed_points)

    def linearize(self, classifier: RecurrentClassifier, accepted: xr.Dataset) -> xr.Dataset:
        """Linearization at the accepted fixed points."""
        return Linearization().compute(classifier.system, accepted)

    # --------------------------------------------------------------- fit
    def fit(
        self,
        classifier: RecurrentClassifier,
        trajectories: xr.Dataset,
        **evidence: Any,
    ) -> xr.Dataset:
        """Fit the line-attractor description.

        Parameters
        ----------
        classifier : RecurrentClassifier
            The network.
        trajectories : xarray.Dataset
            Hidden-state trajectories of documents (:meth:`RecurrentClassifier.trajectories`),
            ideally held-out ones with ``label``.
        **evidence
            Optional inputs, by keyword:

            - ``fixed_points``: a fixed-points dataset (found here if omitted);
            - ``linearization``: linearization at the accepted points;
            - ``untrained_states``: states of an untrained network of the same
              shape on the same documents (array ``(..., state_dim)`` or a
              trajectories dataset), for the PCA comparison;
            - ``bow_weights``: one bag-of-words weight per vocabulary id;
            - ``vader``: mapping token -> human valence;
            - ``true_valence``: one generating valence per vocabulary id
              (synthetic task);
            - ``calibration_ids``: token ids of documents (e.g. the validation
              split) on which the reduced model's offset is fitted; defaults to
              the trajectories' own documents.

        Returns
        -------
        xarray.Dataset
            A ``line_attractor`` dataset.
        """
        known = {
            "fixed_points",
            "linearization",
            "untrained_states",
            "bow_weights",
            "vader",
            "true_valence",
            "calibration_ids",
        }
        unknown = sorted(set(evidence) - known)
        if unknown:
            raise ConfigurationError(
                f"Unknown evidence {unknown} for LineAttractor.fit; expected some of "
                f"{sorted(known)}."
            )
        system = classifier.system
        n_state = system.state_dim
        vocab_size = len(classifier.vocabulary)
        _check_trajectories(trajectories, n_state)
        valid = trajectories["valid"].values.astype(bool)
        hidden = trajectories["hidden_state"].values

        variables: dict[str, Any] = {}
        # 1. State PCA, trained and untrained.
        trained_pca = _stream_pca(hidden, valid)
        variables["state_variance_ratio"] = trained_pca.explained_variance_ratio
        variables["state_pc_axes"] = trained_pca.components
        variables["state_mean"] = trained_pca.mean
        variables["state_top3_variance"] = float(trained_pca.explained_variance_ratio[:3].sum())
        untrained = evidence.get("untrained_states")
        if untrained is not None:
            if isinstance(untrained, xr.Dataset):
                u_pca = _stream_pca(
                    untrained["hidden_state"].values, untrained["valid"].values.astype(bool)
                )
            else:
                u_pca = pca(np.asarray(untrained, dtype=np.float64).reshape(-1, n_state))
            variables["untrained_state_variance_ratio"] = u_pca.explained_variance_ratio
            variables["untrained_state_top3_variance"] = float(
                u_pca.explained_variance_ratio[:3].sum()
            )

        # 2. Fixed points with the paper's criterion.
        fixed_points = evidence.get("fixed_points")
        if fixed_points is None:
            fixed_points = self.find_fixed_points(classifier, trajectories)
        normalized = 2.0 * fixed_points["speed"].values / n_state
        eligible = (fixed_points["is_duplicate"].values == 0) & (
            fixed_points["is_outlier"].values == 0
        )
        counts = [int(np.sum(eligible & (normalized < t))) for t in self.thresholds]
        accepted = self.accepted(fixed_points)
        accepted = accepted.isel(
            fixed_point=np.flatnonzero(2.0 * accepted["speed"].values / n_state < self.criterion)
        )
        n_acc = int(accepted.sizes["fixed_point"])
        variables["accepted_count"] = counts
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
        if n_acc >= 2:
            fp_pca = pca(fps)
            ratio = fp_pca.explained_variance_ratio
            coordinate = fp_pca.transform(fps, 1)[:, 0]
            tangent = local_tangents(fps, self.tangent_neighbours, reference=fp_pca.components[0])
        else:
            ratio = np.full(n_state, np.nan)
            coordinate = np.zeros(n_acc)
            tangent = np.full((n_acc, n_state), np.nan)
        variables["fixed_point_variance_ratio"] = ratio
        variables["fixed_point_pc1_variance"] = float(ratio[0])
        variables["manifold_coordinate"] = coordinate
        variables["manifold_tangent"] = tangent

        # 4. Linearization, slow modes and alignments.
        lin = evidence.get("linearization")
        if lin is None and n_acc:
            lin = self.linearize(classifier, accepted)
        k = min(self.n_modes, n_state)
        if n_acc:
            assert lin is not None
            if lin.sizes["fixed_point"] != n_acc:
                raise DataError(
                    f"The linearization has {lin.sizes['fixed_point']} expansion points but "
                    f"{n_acc} fixed points were accepted; linearize the accepted points."
                )
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
            for start in range(0, vocab_size, 4096):
                block = embedding[start : start + 4096] @ u.T  # (tokens, fixed points)
                proj[start : start + 4096, 0] = block.mean(axis=1)
                proj[start : start + 4096, 1] = block.std(axis=1)
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

        # 7. One-step linearization error along the trajectories.
        if n_acc and lin is not None:
            error = _linearization_error(classifier, trajectories, lin)
        else:
            error = np.full(valid.shape, np.nan)
        variables["linearization_error"] = error
        variables["linearization_error_median"] = float(np.nanmedian(error)) if n_acc else np.nan
        variables["linearization_error_mean"] = float(np.nanmean(error)) if n_acc else np.nan

        # 8. Reduced model: integrate token projections along the line.
        ids = trajectories["token_id"].values
        score = self._score(projection, ids)
        gain_mean = float(np.mean(gain)) if n_acc else float("nan")
        network_logit = trajectories["logit"].values.astype(np.float64)
        calibration = evidence.get("calibration_ids")
        if calibration is not None:
            cal_ids = np.asarray(calibration)
            cal_score = self._score(projection, cal_ids)
            cal_logit = classifier.logits(cal_ids).astype(np.float64)
        else:
            cal_score, cal_logit = score, network_logit
        offset = float(np.nanmean(cal_logit - gain_mean * cal_score)) if n_acc else float("nan")
        reduced = gain_mean * score + offset
        variables["reduced_score"] = score
        variables["reduced_logit"] = reduced
        variables["reduced_gain"] = gain_mean
        variables["reduced_offset"] = offset
        variables["reduced_agreement"] = float(np.mean((reduced > 0) == (network_logit > 0)))
        variables["reduced_logit_pearson_r"] = pearson_r(reduced, network_logit)
        if "label" in trajectories:
            labels = trajectories["label"].values
            variables["network_accuracy"] = float(np.mean((network_logit > 0) == (labels == 1)))
            variables["reduced_accuracy"] = float(np.mean((reduced > 0) == (labels == 1)))

        # 9. Zero-input relaxation from visited states.
        starts = sample_initial_states(hidden, self.n_relaxation, seed=self.seed + 1, mask=valid)
        variables["relaxation_speed"] = _relaxation(system, starts, self.relaxation_steps)

        coords: dict[str, Any] = {
            **state_coords(system.layout.component_labels(), system.layout.unit_indices()),
            "fixed_point": accepted["fixed_point"].values,
            "threshold": np.asarray(self.thresholds),
            "token": np.asarray(classifier.vocabulary.tokens, dtype=object),
            "token_index": np.arange(vocab_size),
            "example": trajectories["example"].values,
        }
        return make_dataset(
            self.kind,
            variables,
            coords,
            config=self,
            provenance={**classifier.provenance, **trajectories.dynalyze.provenance},
            title="dynalyze line-attractor analysis",
        )

    # ------------------------------------------------------ reduced model
    @staticmethod
    def _score(projection: FloatArray, ids: NDArray[np.integer]) -> FloatArray:
        values = np.nan_to_num(projection, nan=0.0)
        ids = np.asarray(ids)
        out: FloatArray = np.where(ids > 0, values[ids], 0.0).sum(axis=1)
        return out

    def predict(self, fitted: xr.Dataset, ids: ArrayLike) -> FloatArray:
        """Reduced-model logits: ``gain * sum_t projection(token_t) + offset``.

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
        score = self._score(projection, matrix)
        out: FloatArray = float(fitted["reduced_gain"]) * score + float(fitted["reduced_offset"])
        return out


# ---------------------------------------------------------------- helpers
def _median(values: ArrayLike) -> float:
    array = np.asarray(values, dtype=np.float64)
    array = array[~np.isnan(array)]
    return float(np.median(array)) if array.size else float("nan")


def _check_trajectories(ds: xr.Dataset, n_state: int) -> None:
    needed = ["hidden_state", "valid", "token_id", "logit"]
    missing = [name for name in needed if name not in ds]
    if missing:
        raise DataError(
            f"The trajectories dataset lacks {missing}; build it with "
            "RecurrentClassifier.trajectories(ids, labels=...)."
        )
    if ds.sizes.get("state") != n_state:
        raise DataError(
            f"The trajectories have {ds.sizes.get('state')} state units but the classifier's "
            f"system has {n_state}; they come from different networks."
        )


def _stream_pca(hidden: NDArray[Any], valid: NDArray[np.bool_]) -> Any:
    acc = StreamingPCA(hidden.shape[-1])
    for start in range(0, hidden.shape[0], 256):
        block = hidden[start : start + 256]
        acc.update(block[valid[start : start + 256]])
    return acc.result()


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
    classifier: RecurrentClassifier, trajectories: xr.Dataset, lin: xr.Dataset
) -> FloatArray:
    """||h_t - h_lin|| / ||h_t|| with h_lin expanded around the fixed point nearest h_{t-1}."""
    hidden = trajectories["hidden_state"].values.astype(np.float64)
    ids = trajectories["token_id"].values
    valid = trajectories["valid"].values.astype(bool)
    n_ex, n_time, n_state = hidden.shape
    previous = np.concatenate([np.zeros((n_ex, 1, n_state)), hidden[:, :-1]], axis=1)
    rows = np.flatnonzero(valid.reshape(-1))
    h_prev = previous.reshape(-1, n_state)[rows]
    h_next = hidden.reshape(-1, n_state)[rows]
    x = classifier.embedding[ids.reshape(-1)[rows]]
    points = lin["fixed_point_state"].values
    image = lin["expansion_image"].values
    jac_h = lin["jacobian_state"].values
    jac_x = lin["jacobian_input"].values
    _, nearest = cKDTree(points).query(h_prev, k=1)
    predicted = np.empty_like(h_next)
    for k in np.unique(nearest):
        sel = np.flatnonzero(nearest == k)
        predicted[sel] = image[k] + (h_prev[sel] - points[k]) @ jac_h[k].T + x[sel] @ jac_x[k].T
    norm = np.linalg.norm(h_next, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.linalg.norm(h_next - predicted, axis=1) / norm
    out = np.full(n_ex * n_time, np.nan)
    out[rows] = rel
    return out.reshape(n_ex, n_time)


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
