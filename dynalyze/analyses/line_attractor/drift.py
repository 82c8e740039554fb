"""Drift along the line under real neutral input, not a constant one.

The deterministic drift of the manifold profile runs the network at one
constant input (the baseline ``x_b``, or zero). A network reading a review never
receives a constant input: it receives tokens, most of them carrying little
valence. This module measures how states move along the line under random
streams of *neutral* tokens, slice by slice, so the two deterministic views can
be judged by how well they predict it.

**Neutral tokens**, defined from the network itself: among the tokens seen at
least ``min_count`` times in the analysed documents (padding and ``[UNK]`` left
out), each token's *one-step readout effect* is the median, over visited
states, of ``|w . (F(h, e_w) - F(h, x_b))|``: how far reading it instead of the
baseline input moves the readout. The ``share`` (default 10%) of those tokens
with the smallest effect (at least ``min_tokens``) are neutral; streams draw them
in proportion to their frequency in the documents.

**Drift**: the profile's settled states are run for one median document length
on independent neutral streams; a state's drift is how far it moved along the
axis, as a fraction of the line's extent, and a slice's is the median over its
states (as for the deterministic drift).
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from dynalyze._validation import FloatArray
from dynalyze.analyses.line_attractor.manifold import ManifoldProfile, _weighted_median
from dynalyze.analyses.line_attractor.structure import ManifoldAxis
from dynalyze.analyses.line_attractor.views import median
from dynalyze.errors import DataError
from dynalyze.systems.base import RecurrentSystem

__all__ = ["NeutralTokens", "neutral_drift", "neutral_tokens"]


@attrs.frozen
class NeutralTokens:
    """The neutral tokens of a network and how streams draw them.

    Parameters
    ----------
    ids : ndarray of int
        Neutral token ids.
    probability : ndarray
        Probability of each in a stream (proportional to its count).
    effect : ndarray, shape (vocab,)
        One-step readout effect of every candidate token (NaN elsewhere).

    Examples
    --------
    >>> tokens = NeutralTokens(np.array([3, 5]), np.array([0.75, 0.25]), np.zeros(6))
    >>> tokens.ids.tolist(), float(tokens.probability.sum())
    ([3, 5], 1.0)
    """

    ids: NDArray[np.int64]
    probability: FloatArray
    effect: FloatArray


def neutral_tokens(
    system: RecurrentSystem,
    deviations: ArrayLike,
    states: ArrayLike,
    readout: ArrayLike,
    counts: ArrayLike,
    *,
    special: ArrayLike = (),
    min_count: int = 20,
    share: float = 0.1,
    min_tokens: int = 20,
) -> NeutralTokens:
    """Choose the neutral tokens (see the module docstring).

    Parameters
    ----------
    system : RecurrentSystem
        The map seen at the baseline input (its zero input is ``x_b``).
    deviations : array_like, shape (vocab, input_dim)
        Each token's input as a deviation from the baseline, ``e_w - x_b``.
    states : array_like, shape (n, d)
        Visited states at which the effect is measured.
    readout : array_like, shape (d,)
        Readout weights.
    counts : array_like of int, shape (vocab,)
        Occurrences of each token in the analysed documents.
    special : array_like of int
        Ids that are never words (padding, ``[UNK]``).
    min_count : int
        Frequency floor of a candidate.
    share : float
        Share of the candidates kept (smallest effect first).
    min_tokens : int
        Keep at least this many.

    Returns
    -------
    NeutralTokens

    Examples
    --------
    An integrator that reads the first input unit: tokens with a small first
    component are neutral.

    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2), np.diag([1.0, 0.5]), np.zeros(2),
    ...                          activation="linear")
    >>> inputs = np.array([[0.0, 0.0], [0.0, 0.0], [2.0, 1.0], [0.01, 1.0], [-1.0, 0.0]])
    >>> chosen = neutral_tokens(system, inputs, np.zeros((4, 2)), [1.0, 0.0], [0, 0, 30, 40, 25],
    ...                         special=[0, 1], share=0.3, min_tokens=1)
    >>> chosen.ids.tolist(), chosen.probability.tolist()
    ([3], [1.0])
    """
    dev = np.asarray(deviations, dtype=np.float64)
    h = np.asarray(states, dtype=np.float64)
    w = np.asarray(readout, dtype=np.float64)
    count = np.asarray(counts, dtype=np.int64)
    candidate = count >= min_count
    candidate[np.asarray(special, dtype=np.int64)] = False
    ids = np.flatnonzero(candidate)
    if ids.size == 0:
        raise DataError(
            f"No token is seen at least {min_count} times in the analysed documents; "
            "analyse more documents or lower the frequency floor (min_token_count)."
        )
    base = system.step(h) @ w
    effect = np.full(dev.shape[0], np.nan)
    chunk = max(1, 2**16 // max(h.shape[0], 1))
    for begin in range(0, ids.size, chunk):
        part = ids[begin : begin + chunk]
        batch_h = np.repeat(h, part.size, axis=0)
        batch_x = np.tile(dev[part], (h.shape[0], 1))
        moved = (system.step(batch_h, batch_x) @ w).reshape(h.shape[0], part.size)
        effect[part] = np.median(np.abs(moved - base[:, None]), axis=0)
    keep = max(min(min_tokens, ids.size), int(np.ceil(share * ids.size)))
    chosen = ids[np.argsort(effect[ids], kind="stable")[:keep]]
    probability = count[chosen] / count[chosen].sum()
    return NeutralTokens(chosen.astype(np.int64), probability, effect)


def neutral_drift(
    system: RecurrentSystem,
    profile: ManifoldProfile,
    axis: ManifoldAxis,
    deviations: ArrayLike,
    neutral: NeutralTokens,
    *,
    seed: int = 0,
) -> FloatArray:
    """Median drift per slice over one median document under random neutral streams.

    Parameters
    ----------
    system : RecurrentSystem
        The map seen at the baseline input.
    profile : ManifoldProfile
        The profile at the baseline (its settled states and slices).
    axis : ManifoldAxis
        The manifold coordinate.
    deviations : array_like, shape (vocab, input_dim)
        ``e_w - x_b`` per token.
    neutral : NeutralTokens
        The tokens the streams draw.
    seed : int
        Seed of the streams.

    Returns
    -------
    ndarray, shape (slices,)
        As a fraction of the line's extent (NaN for slices with no settled state).

    Examples
    --------
    An exact integrator whose neutral token pushes nothing along the line: no drift.

    >>> from dynalyze.analyses.line_attractor.manifold import manifold_profile
    >>> from dynalyze.analyses.line_attractor.structure import manifold_axis
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2), np.diag([1.0, 0.5]), np.zeros(2),
    ...                          activation="linear")
    >>> visited = np.c_[np.linspace(-1, 1, 200), np.zeros(200)]
    >>> axis = manifold_axis(visited)
    >>> profile = manifold_profile(system, visited, axis, readout=[1.0, 0.0], doc_length=20,
    ...                            n_bins=4, settle_steps=0)
    >>> tokens = NeutralTokens(np.array([0]), np.array([1.0]), np.zeros(1))
    >>> neutral_drift(system, profile, axis, [[0.0, 1.0]], tokens).round(12).tolist()
    [0.0, 0.0, 0.0, 0.0]
    """
    dev = np.asarray(deviations, dtype=np.float64)
    h = np.asarray(profile.settled, dtype=np.float64)
    out = np.full(profile.position.size, np.nan)
    if h.shape[0] == 0 or neutral.ids.size == 0:
        return out
    rng = np.random.default_rng(seed)
    start = axis.coordinate(h)
    for _ in range(profile.doc_length):
        tokens = rng.choice(neutral.ids, size=h.shape[0], p=neutral.probability)
        h = system.step(h, dev[tokens])
    drift = np.abs(axis.coordinate(h) - start) / axis.extent
    for b in range(out.size):
        sel = profile.settled_slice == b
        if sel.any():
            out[b] = float(np.median(drift[sel]))
    return out


def neutral_summary(
    profile: ManifoldProfile,
    middle: np.ndarray,
    drift: FloatArray,
    zero_drift: FloatArray | None,
) -> dict[str, Any]:
    """Headline numbers of the neutral-stream drift and how well each constant input predicts it.

    Examples
    --------
    >>> import attrs
    >>> from types import SimpleNamespace
    >>> profile = SimpleNamespace(valid=np.ones(3, bool), inside=np.ones(3, bool),
    ...                           density=np.ones(3) / 3, drift=np.array([0.1, 0.2, 0.3]))
    >>> out = neutral_summary(profile, np.ones(3, bool), np.array([0.1, 0.2, 0.4]),
    ...                       np.array([0.5, 0.5, 0.5]))
    >>> round(out["neutral_drift_error_baseline"], 3), round(out["neutral_drift_error_zero"], 3)
    (0.0, 0.3)
    """
    use = profile.valid & profile.inside & np.isfinite(drift)
    weights = np.where(use, profile.density, 0.0)
    out: dict[str, Any] = {
        "median_neutral_drift_per_document": _weighted_median(drift[use], weights[use]),
        "middle_neutral_drift_per_document": median(drift[middle & use]),
        "neutral_drift_error_baseline": median(np.abs(drift - profile.drift)[use]),
        "neutral_drift_error_zero": float("nan"),
    }
    if zero_drift is not None:
        out["neutral_drift_error_zero"] = median(np.abs(drift - zero_drift)[use])
    return out
