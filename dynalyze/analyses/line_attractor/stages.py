"""The line attractor's stages that need no configuration: pure functions on arrays.

:class:`~dynalyze.LineAttractor` composes them (with the view stages of
:mod:`.views` and the search of :mod:`.search`) into its analysis: the first pass
over the trajectories, the states' PCA, the modes at the candidates, the alignment
nulls, token projections and their evidence, the one-step linearization error, the
reduced model's calibration and the relaxation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from dynalyze._validation import FloatArray
from dynalyze.analyses.geometry import (
    PCAResult,
    StreamingPCA,
    abs_cosine,
    oriented_top_mode,
    pca,
    random_alignment_null,
)
from dynalyze.analyses.line_attractor.manifold import (
    ManifoldProfile,
    TokenProjections,
    _weighted_median,
    matched_null,
    subspace_null,
)
from dynalyze.analyses.line_attractor.structure import FixedPointStructure, ManifoldAxis
from dynalyze.analyses.line_attractor.views import median
from dynalyze.baseline import BaselineInput
from dynalyze.errors import DataError
from dynalyze.linearization import eigendecompose
from dynalyze.trajectories import TrajectorySource, as_source

if TYPE_CHECKING:  # pragma: no cover
    from dynalyze.classifier import RecurrentClassifier

__all__ = ["pearson_r", "sign_agreement"]


def _vocabulary_conventions(vocabulary: Any) -> tuple[NDArray[np.int64], int]:
    """(ids that are never analysed as words, the padding id), from the vocabulary itself.

    A vocabulary says which of its ids are not words (``special_ids``, e.g.
    padding and ``[UNK]``) and which id pads documents (``pad_id``); one that
    does not say is taken to pad with id 0 and to have no other special ids.
    """
    pad = int(getattr(vocabulary, "pad_id", 0))
    special = np.asarray(getattr(vocabulary, "special_ids", (pad,)), dtype=np.int64)
    return special, pad


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


def _stage_states(first: _FirstPass, source: TrajectorySource, n_plot: int) -> dict[str, Any]:
    """State PCA and the uniform sample of visited states kept for figures."""
    ratio = first.pca.explained_variance_ratio
    plot = slice(0, min(n_plot, first.sample.shape[0]))
    labels = (
        source.labels[first.sample_example][plot].astype(np.int8)
        if source.labels is not None
        else np.full(first.sample[plot].shape[0], -1, dtype=np.int8)
    )
    cumulative = np.cumsum(ratio)
    return {
        "state_variance_ratio": ratio,
        "state_pc_axes": first.pca.components,
        "state_mean": first.pca.mean,
        "state_top3_variance": float(ratio[:3].sum()),
        "state_dim_95": int(np.searchsorted(cumulative, 0.95) + 1),
        "sampled_state": first.sample[plot],
        "sampled_label": labels,
    }


def _stage_untrained(untrained: Any, n_state: int, seed: int) -> dict[str, Any]:
    """PCA of an untrained network's states on the same documents."""
    if isinstance(untrained, (xr.Dataset, TrajectorySource)):
        u_pca = _first_pass(as_source(untrained), None, 0, seed).pca
    else:
        u_pca = pca(np.asarray(untrained, dtype=np.float64).reshape(-1, n_state))
    ratio = u_pca.explained_variance_ratio
    return {
        "untrained_state_variance_ratio": ratio,
        "untrained_state_top3_variance": float(ratio[:3].sum()),
    }


def _stage_candidate_modes(
    lin: xr.Dataset | None,
    readout: FloatArray,
    tangent: FloatArray,
    n_state: int,
    input_dim: int,
    k: int,
) -> dict[str, Any]:
    """Top modes at each accepted candidate and their alignments (per candidate)."""
    if lin is not None:
        eig = lin["eigenvalue"].values
        r1, l1, imag = oriented_top_mode(
            lin["right_eigenvector"].values[:, :, 0],
            lin["left_eigenvector"].values[:, 0, :],
            readout,
        )
        tau = lin["time_constant"].values
    else:
        eig = np.zeros((0, n_state), dtype=complex)
        r1 = l1 = np.zeros((0, n_state))
        imag = np.zeros(0)
        tau = np.zeros((0, n_state))
    a_r1_t = abs_cosine(r1, tangent)
    a_w_t = abs_cosine(tangent, readout)
    a_w_r1 = abs_cosine(r1, readout)
    return {
        "eigenvalue": eig[:, :k],
        "time_constant": tau[:, :k],
        "slow_mode_right": r1,
        "slow_mode_left": l1,
        "slow_mode_imaginary_fraction": imag,
        "readout_gain": r1 @ readout,
        "alignment_r1_tangent": a_r1_t,
        "alignment_readout_tangent": a_w_t,
        "alignment_readout_r1": a_w_r1,
        # Pooled over every accepted candidate (saddles included); the structure
        # and profile variables say where each value comes from.
        "median_top_eigenvalue_magnitude": median(np.abs(eig[:, 0]) if eig.size else []),
        "median_slow_time_constant": median(tau[:, 0] if tau.size else []),
        "median_second_time_constant": median(tau[:, 1] if tau.shape[1] > 1 else []),
        "median_third_time_constant": median(tau[:, 2] if tau.shape[1] > 2 else []),
        "median_alignment_r1_tangent": median(a_r1_t),
        "median_alignment_readout_tangent": median(a_w_t),
        "median_alignment_readout_r1": median(a_w_r1),
    }


def _stage_alignment_nulls(
    state_pca: PCAResult,
    readout: FloatArray,
    axis: ManifoldAxis,
    n_null: int,
    seed: int,
    variables: Mapping[str, Any],
) -> dict[str, Any]:
    """Isotropic nulls, and matched nulls of directions inside the 95%-variance subspace.

    The matched nulls compare the same fixed reference as the measurement (the
    readout, or the manifold axis for r1-tangent) with random directions (or
    random subspaces of the slow subspace's dimension) drawn inside the
    subspace that holds 95% of the states' variance: the directions a
    state-derived vector could take by chance.

    A matched null can only tell when it leaves room above it: inside a 1- or
    2-D subspace nearly every random direction is aligned with a reference that
    lies in it (95th percentile ~1), so no measured value could beat it. Such a
    null is flagged uninformative (95th percentile above :data:`NULL_CEILING`);
    readers then judge against the isotropic null and say so.
    """
    n_state = readout.shape[0]
    # At least 2 dimensions: inside a 1-D subspace every direction is "aligned".
    k95 = max(int(variables["state_dim_95"]), min(2, n_state))
    basis = state_pca.components[:k95]
    slow_dim = variables.get("median_slow_subspace_dim")
    s = round(slow_dim) if slow_dim is not None and np.isfinite(slow_dim) else 1
    s = max(s, 1)
    null = random_alignment_null(n_state, n_null, seed=seed)
    readout_null = matched_null(basis, readout, 1, n_null, seed=seed + 1)
    tangent_null = matched_null(basis, axis.direction, 1, n_null, seed=seed + 2)
    sub_iso = subspace_null(n_state, s, n_null, seed=seed + 3)
    sub_matched = matched_null(basis, readout, s, n_null, seed=seed + 4)
    return {
        "alignment_null": null,
        "null_alignment_median": float(np.median(null)),
        "null_alignment_p95": float(np.quantile(null, 0.95)),
        "matched_null_alignment_median": float(np.median(readout_null)),
        "matched_null_alignment_p95": float(np.quantile(readout_null, 0.95)),
        "matched_null_tangent_alignment_p95": float(np.quantile(tangent_null, 0.95)),
        "null_subspace_alignment_p95": float(np.quantile(sub_iso, 0.95)),
        "matched_null_subspace_alignment_p95": float(np.quantile(sub_matched, 0.95)),
        "matched_null_informative": _informative(readout_null),
        "matched_null_tangent_informative": _informative(tangent_null),
        "matched_null_subspace_informative": _informative(sub_matched),
    }


#: A null whose 95th percentile is above this cannot reject: nearly every random
#: direction is as aligned as any measured one could be.
NULL_CEILING = 0.95

#: The null variables a zero-input view shares with the baseline view (they depend
#: on the visited states and the readout, not on the input).
_NULL_NAMES = (
    "state_dim_95",
    "null_alignment_median",
    "null_alignment_p95",
    "matched_null_alignment_median",
    "matched_null_alignment_p95",
    "matched_null_tangent_alignment_p95",
    "null_subspace_alignment_p95",
    "matched_null_subspace_alignment_p95",
    "matched_null_informative",
    "matched_null_tangent_informative",
    "matched_null_subspace_informative",
)


def _informative(null: FloatArray) -> int:
    return int(float(np.quantile(null, 0.95)) <= NULL_CEILING)


def _check_found_at(ds: xr.Dataset | None, baseline: BaselineInput, name: str) -> None:
    """A fixed-points or linearization dataset given to the analysis must be at its baseline."""
    if ds is None or "fixed_point_input" not in ds or ds.sizes.get("fixed_point", 0) == 0:
        return
    found = np.asarray(ds["fixed_point_input"].values, dtype=np.float64)
    scale = max(1.0, baseline.norm)
    if (
        found.shape[-1] != baseline.vector.size
        or np.max(np.abs(found - baseline.vector)) > 1e-9 * scale
    ):
        raise DataError(
            f"The {name} given were computed at an input of norm "
            f"{float(np.linalg.norm(found.reshape(-1, found.shape[-1]), axis=1).max()):.4g}, "
            f"but this analysis is at the {baseline.kind} baseline input (norm "
            f"{baseline.norm:.4g}). Find them at the baseline (inputs=x_b, x_b from "
            "LineAttractor.fit(..., baseline_ids=)) or leave them out to have them found here."
        )


def _optional_per_token(
    values: Any, vocab_size: int, name: str, special: NDArray[np.int64]
) -> FloatArray | None:
    return None if values is None else _per_token(values, vocab_size, name, special)


def _token_counts(source: TrajectorySource, vocab_size: int) -> NDArray[np.int64]:
    ids = np.asarray(source.token_ids).ravel().astype(np.int64)
    return np.bincount(ids, minlength=vocab_size)[:vocab_size]


def _exact_roots(structure: FixedPointStructure) -> FloatArray:
    """The structure's exact roots (fixed points, continua, isolated roots; no slow regions)."""
    out: FloatArray = structure.state[structure.kind != 1]
    return out


def _stage_tokens(
    system: Any,
    embedding: FloatArray,
    tokens: TokenProjections,
    profile: ManifoldProfile,
    structure: FixedPointStructure,
    counts: NDArray[np.integer],
    readout: FloatArray,
    special: NDArray[np.int64],
) -> dict[str, Any]:
    """Token projections along the manifold, at each fixed point, and where they are read."""
    projection = tokens.mean.copy()
    projection[special] = np.nan
    spread = tokens.spread.copy()
    spread[special] = np.nan
    gain = tokens.per_cluster_gain
    stable = structure.is_stable
    unstable = structure.is_unstable
    ratio = (
        float(np.max(gain[unstable]) / np.max(gain[stable]))
        if unstable.any() and stable.any() and np.max(gain[stable]) > 0
        else float("nan")
    )
    # Share of the time-weighted gain read where the top mode is unstable (|lambda_1| > 1):
    # the saddle's neighbourhood, where states are pushed away along the line.
    weights = np.nan_to_num(profile.density * tokens.per_slice_gain)
    near = profile.valid & (np.nan_to_num(np.abs(profile.eigenvalues[:, 0])) > 1.0 + 1e-3)
    share = float(weights[near].sum() / weights.sum()) if weights.sum() > 0 else float("nan")
    # Nonlinear one-step displacement at the most visited stable point (the slowest slice
    # where no stable point exists).
    centre: FloatArray | None
    l1: FloatArray | None
    if stable.any():
        centre = structure.state[stable][np.argmax(structure.size[stable])]
        l1 = _top_left(system, centre[None], readout)
    else:
        valid = np.flatnonzero(profile.valid)
        b = valid[np.argmin(profile.normalized_speed[valid])] if valid.size else None
        centre = profile.state[b] if b is not None else None
        l1 = profile.left[b][None] if b is not None else None
    if centre is not None and l1 is not None:
        base = system.step(centre[None])
        moved = system.step(np.repeat(centre[None], embedding.shape[0], axis=0), embedding)
        displacement = (moved - base) @ l1[0]
    else:
        displacement = np.full(embedding.shape[0], np.nan)
    return {
        "token_projection": projection,
        "token_projection_spread": spread,
        "token_displacement": displacement,
        "token_count": counts.astype(np.int64),
        "cluster_token_projection": tokens.per_cluster,
        "cluster_token_gain": gain,
        "manifold_token_projection_gain": tokens.per_slice_gain,
        "saddle_token_gain_ratio": ratio,
        "valence_share_near_unstable": share,
    }


def _top_left(system: Any, states: FloatArray, readout: FloatArray) -> FloatArray:
    """Top left eigenvector at ``states``, signed so the readout increases along r1."""
    _, rvec, lvec = eigendecompose(system.jacobian_state(states))
    _, l1, _ = oriented_top_mode(rvec[:, :, 0], lvec[:, 0, :], readout)
    return l1


def _stage_evidence(
    projection: FloatArray,
    bow: FloatArray | None,
    vader: Mapping[str, float] | None,
    truth: FloatArray | None,
    vocabulary: Any,
    n_top_words: int,
    special: NDArray[np.int64],
) -> dict[str, Any]:
    """Comparisons of the token projections with external evidence."""
    out: dict[str, Any] = {}
    if bow is not None:
        out["bow_weight"] = bow
        out["bow_pearson_r"] = pearson_r(projection, bow)
        out["bow_sign_agreement"] = sign_agreement(projection, bow, n_top_words)
    if vader is not None:
        ratings = np.array([float(vader.get(t, np.nan)) for t in vocabulary])
        ratings[special] = np.nan
        out["vader_valence"] = ratings
        out["vader_pearson_r"] = pearson_r(projection, ratings)
        out["vader_n_shared"] = int(np.sum(np.isfinite(ratings)))
    if truth is not None:
        out["true_valence"] = truth
        out["true_valence_pearson_r"] = pearson_r(projection, truth)
    return out


def _stage_linearization_error(error: FloatArray) -> dict[str, Any]:
    finite = error[np.isfinite(error)]
    return {
        "linearization_error": error,
        "linearization_error_median": float(np.median(finite)) if finite.size else np.nan,
        "linearization_error_mean": float(np.mean(finite)) if finite.size else np.nan,
    }


def _reduced_decay(profile: ManifoldProfile) -> float:
    """Time-weighted median top eigenvalue along the manifold, clipped to [0, 1]."""
    use = profile.valid
    value = _weighted_median(profile.eigenvalues[use, 0].real, profile.density[use])
    return 1.0 if np.isnan(value) else float(np.clip(value, 0.0, 1.0))


def _median_document_length(source: TrajectorySource) -> int:
    lengths = (np.asarray(source.token_ids) > 0).sum(axis=1)
    return max(int(np.median(lengths)) if lengths.size else 1, 1)


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


def _per_token(values: Any, vocab_size: int, name: str, special: NDArray[np.int64]) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.shape != (vocab_size,):
        raise DataError(
            f"{name} must hold one value per vocabulary id ({vocab_size}); got {array.shape}."
        )
    out = array.copy()
    out[special] = np.nan
    return out


def _linearization_error(
    classifier: RecurrentClassifier, source: TrajectorySource, lin: xr.Dataset | None
) -> FloatArray:
    """||h_t - h_lin|| / ||h_t|| with h_lin expanded around the fixed point nearest h_{t-1}.

    ``h_lin = F(h*, x*) + J_rec (h_{t-1} - h*) + J_inp (x_t - x*)``: the input
    enters as its deviation from the expansion input ``x*`` (the baseline). A
    second pass over the source, batch by batch (NaN without a linearization).
    """
    out = np.full(source.token_ids.shape, np.nan)
    if lin is None:
        return out
    points = lin["fixed_point_state"].values
    image = lin["expansion_image"].values
    jac_h = lin["jacobian_state"].values
    jac_x = lin["jacobian_input"].values
    x_star = lin["fixed_point_input"].values
    tree = cKDTree(points)
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
            predicted[sel] = (
                image[k]
                + (h_prev[sel] - points[k]) @ jac_h[k].T
                + (x[sel] - x_star[k]) @ jac_x[k].T
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.linalg.norm(h_next - predicted, axis=1) / np.linalg.norm(h_next, axis=1)
        out[batch.index[rows], cols] = rel
    return out


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
