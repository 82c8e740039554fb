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
    attrs_positive,
    attrs_positive_int,
)
from dynalyze.attractors.base import AttractorModel
from dynalyze.attractors.drift import neutral_drift, neutral_summary, neutral_tokens
from dynalyze.attractors.geometry import (
    PCAResult,
    StreamingPCA,
    abs_cosine,
    oriented_top_mode,
    pca,
    random_alignment_null,
)
from dynalyze.attractors.manifold import (
    ManifoldProfile,
    TokenProjections,
    _weighted_median,
    matched_null,
    subspace_null,
    token_projections,
)
from dynalyze.attractors.search import Search, accepted_counts, search_fixed_points
from dynalyze.attractors.structure import FixedPointStructure, ManifoldAxis, manifold_axis
from dynalyze.attractors.views import (
    DynamicsView,
    View,
    dynamics_view,
    median,
    middle_half,
)
from dynalyze.baseline import BaselineInput, BaselineSpec, check_baseline, classifier_baseline
from dynalyze.errors import ConfigurationError, DataError
from dynalyze.fixedpoints import sample_initial_states
from dynalyze.fixedpoints.continuation import continue_fixed_points
from dynalyze.linearization import Linearization, eigendecompose
from dynalyze.results.build import make_dataset, make_variable, state_coords
from dynalyze.systems.base import RecurrentSystem
from dynalyze.trajectories import TrajectorySource, as_source

if TYPE_CHECKING:  # pragma: no cover
    from dynalyze.classifier import RecurrentClassifier

__all__ = [
    "BaselineComparison",
    "Evidence",
    "LineAttractor",
    "LineAttractorResult",
    "pearson_r",
    "sign_agreement",
]

logger = logging.getLogger(__name__)


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
    zero_view : xarray.Dataset or None
        The same structure, profile and alignments at ``x = 0`` (a
        ``line_attractor_view`` dataset), beside the baseline view; None when the
        analysis itself is at zero input or the comparison is off.
    continuation : xarray.Dataset or None
        The roots followed from ``x = 0`` to the baseline input (a
        ``continuation`` dataset with ``continuation_position`` along the axis).

    Examples
    --------
    >>> from dynalyze.testing.toys import exact_integrator
    >>> clf, traj = exact_integrator()
    >>> result = LineAttractor(n_initial=60, evidence=Evidence(n_plot=50, n_null=200,
    ...                        relaxation_steps=5, n_relaxation=10)).analyze(clf, traj)
    >>> result.attractor.attrs["dynalyze_kind"], result.fixed_points.attrs["dynalyze_kind"]
    ('line_attractor', 'fixed_points')
    >>> round(float(result.attractor["token_projection"].sel(token="great")), 6)
    1.2
    """

    attractor: xr.Dataset
    fixed_points: xr.Dataset
    linearization: xr.Dataset | None
    timings: dict[str, float] = attrs.field(factory=dict)
    zero_view: xr.Dataset | None = None
    continuation: xr.Dataset | None = None


@attrs.frozen(kw_only=True)
class BaselineComparison:
    """What a line-attractor analysis measures beside the view at the baseline input.

    Parameters
    ----------
    zero_view : bool
        Also run the structure, profile and alignments at ``x = 0`` (the paper's
        literal choice), so a reader sees how much the verdict depends on it.
    continuation : bool
        Follow the roots from ``x = 0`` to the baseline input
        (:func:`dynalyze.fixedpoints.continue_fixed_points`); needs the zero view.
    neutral_share : float
        Share of the frequent tokens (smallest one-step readout effect first)
        that make up the neutral streams (:mod:`dynalyze.attractors.drift`).
    neutral_min : int
        Keep at least this many neutral tokens (all of them when fewer are frequent).
    neutral_states : int
        Visited states at which each token's one-step readout effect is measured.

    Examples
    --------
    >>> LineAttractor(comparison=BaselineComparison(zero_view=False)).comparison.continuation
    True
    """

    zero_view: bool = True
    continuation: bool = True
    neutral_share: float = attrs.field(default=0.1, validator=attrs_positive)
    neutral_min: int = attrs.field(default=20, validator=attrs_positive_int)
    neutral_states: int = attrs.field(default=64, validator=attrs_positive_int)


@attrs.frozen(kw_only=True)
class Evidence:
    """How a line-attractor analysis measures tokens, nulls and the relaxation.

    Parameters
    ----------
    min_token_count : int
        Frequency floor: tokens seen fewer times in the analysed documents are
        left out of the token gains and the token figure.
    n_null : int
        Random unit vectors in the alignment nulls.
    n_top_words : int
        Bag-of-words words at each end compared by sign with the token projections.
    relaxation_steps, n_relaxation : int
        Length and number of relaxations at the baseline input from visited states.
    n_plot : int
        Visited states kept (a uniform sample) in the dataset for figures.

    Examples
    --------
    >>> Evidence().n_null, Evidence(n_plot=50).n_plot
    (2000, 50)
    """

    min_token_count: int = attrs.field(default=20, validator=attrs_positive_int)
    n_null: int = attrs.field(default=2000, validator=attrs_positive_int)
    n_top_words: int = attrs.field(default=100, validator=attrs_positive_int)
    relaxation_steps: int = attrs.field(default=100, validator=attrs_positive_int)
    n_relaxation: int = attrs.field(default=256, validator=attrs_positive_int)
    n_plot: int = attrs.field(default=5000, validator=attrs_positive_int)


@attrs.frozen(kw_only=True)
class LineAttractor(AttractorModel):
    """Line-attractor analysis of a binary recurrent classifier (the paper's recipe).

    The analysis states the structure before any median: which distinct fixed
    points the accepted candidates form, stable or not, where along the line
    (:mod:`dynalyze.attractors.structure`); how slow the line is between them
    under zero input compared with a document (:mod:`dynalyze.attractors.manifold`);
    where word valence is read; and alignments judged against a null of
    directions the states actually occupy.

    Speeds follow one convention throughout: ``q = 1/2 ||F(h, 0) - h||^2``
    (``speed`` in the fixed-points dataset); the paper's criterion is on
    ``2 q / N = ||F(h, 0) - h||^2 / N`` (``normalized_speed``).

    Parameters
    ----------
    n_initial : int
        Fixed-point searches, started from visited states.
    baseline : {"mean", "zero"} or array_like
        The input the dynamics are analysed at (:mod:`dynalyze.baseline`):
        ``"mean"``, the expected embedding of a token (padding excluded) in the
        documents given as ``baseline_ids`` (default: the analysed ones);
        ``"zero"``, the paper's literal ``x = 0``; or one input vector. Fixed
        points and Jacobians are of ``F(h, x_b)``, token projections use
        ``J_inp (e_w - x_b)``, the one-step linearization the input's deviation
        from ``x_b``.
    search : Search
        The fixed-point search: the paper's criterion, the finder and its budget
        (:class:`dynalyze.attractors.search.Search`).
    view : View
        How the structure and the slow manifold are measured at each input
        (:class:`dynalyze.attractors.views.View`).
    evidence : Evidence
        Token gains, alignment nulls, relaxation and the plotted sample.
    comparison : BaselineComparison
        What is measured beside the baseline view: the zero-input view, the
        continuation from zero to the baseline, the neutral streams.
    seed : int
        Seed for every random choice.
    progress : bool
        Show progress bars.

    Examples
    --------
    >>> LineAttractor(n_initial=100).search.criterion, LineAttractor().baseline
    (1e-08, 'mean')
    >>> LineAttractor(view=View(n_bins=10)).view.n_bins
    10
    >>> LineAttractor(baseline="median")
    Traceback (most recent call last):
    ...
    dynalyze.errors.ConfigurationError: baseline must be 'mean', 'zero' or one input vector; ...
    """

    kind: ClassVar[str] = "line_attractor"

    n_initial: int = attrs.field(default=1000, validator=attrs_positive_int)
    baseline: BaselineSpec = attrs.field(default="mean", converter=check_baseline)
    search: Search = attrs.field(factory=Search)
    view: View = attrs.field(factory=View)
    evidence: Evidence = attrs.field(factory=Evidence)
    comparison: BaselineComparison = attrs.field(factory=BaselineComparison)
    seed: int = 0
    progress: bool = False

    # ------------------------------------------------------------ stages
    def _resolve_baseline(
        self,
        classifier: RecurrentClassifier,
        trajectories: xr.Dataset | TrajectorySource,
        baseline_ids: ArrayLike | None = None,
    ) -> BaselineInput:
        """The baseline input this configuration analyses ``classifier`` at.

        ``"mean"`` averages the token embeddings of ``baseline_ids`` (the
        training documents, ideally), or of the analysed documents when omitted.

        Raises
        ------
        dynalyze.errors.ConfigurationError
            An explicit vector of the wrong width, or ``"mean"`` for a classifier
            without an embedding.
        """
        ids = as_source(trajectories).token_ids if baseline_ids is None else baseline_ids
        return classifier_baseline(self.baseline, classifier, ids, given=baseline_ids is not None)

    def fit(
        self,
        classifier: RecurrentClassifier,
        trajectories: xr.Dataset | TrajectorySource,
        *,
        fixed_points: xr.Dataset | None = None,
        linearization: xr.Dataset | None = None,
        untrained_states: Any = None,
        bow_weights: ArrayLike | None = None,
        vader: Mapping[str, float] | None = None,
        true_valence: ArrayLike | None = None,
        calibration_ids: ArrayLike | None = None,
        calibration_labels: ArrayLike | None = None,
        baseline_ids: ArrayLike | None = None,
    ) -> xr.Dataset:
        """Fit the line-attractor description (see :meth:`analyze` for the arguments).

        Returns
        -------
        xarray.Dataset
            A ``line_attractor`` dataset.
        """
        return self.analyze(
            classifier,
            trajectories,
            fixed_points=fixed_points,
            linearization=linearization,
            untrained_states=untrained_states,
            bow_weights=bow_weights,
            vader=vader,
            true_valence=true_valence,
            calibration_ids=calibration_ids,
            calibration_labels=calibration_labels,
            baseline_ids=baseline_ids,
        ).attractor

    def analyze(
        self,
        classifier: RecurrentClassifier,
        trajectories: xr.Dataset | TrajectorySource,
        *,
        fixed_points: xr.Dataset | None = None,
        linearization: xr.Dataset | None = None,
        untrained_states: Any = None,
        bow_weights: ArrayLike | None = None,
        vader: Mapping[str, float] | None = None,
        true_valence: ArrayLike | None = None,
        calibration_ids: ArrayLike | None = None,
        calibration_labels: ArrayLike | None = None,
        baseline_ids: ArrayLike | None = None,
    ) -> LineAttractorResult:
        """Run the whole analysis; return the attractor with the fixed points and linearization.

        A pipeline of named stages, each taking explicit inputs and returning the
        variables it adds: the baseline input, the states (first pass), the view
        at the baseline (:func:`dynalyze.attractors.views.dynamics_view`), its
        linearization and modes, the alignment nulls, the zero-input view and the
        continuation between the two, the neutral streams, token projections and
        evidence, the linearization error (second pass), the reduced model and
        the relaxation. Two passes are made over ``trajectories``; with a
        :class:`~dynalyze.classifier.ModelTrajectories` stream memory stays
        bounded by one batch whatever the number of documents.

        Parameters
        ----------
        classifier : RecurrentClassifier
            The network.
        trajectories : xarray.Dataset or TrajectorySource
            Hidden-state trajectories of (ideally held-out, labelled) documents:
            :meth:`RecurrentClassifier.trajectories` or :meth:`RecurrentClassifier.stream`.
        fixed_points : xarray.Dataset, optional
            A fixed-points dataset found at the baseline input (found here if omitted).
        linearization : xarray.Dataset, optional
            Linearization at the accepted points (:meth:`accepted`).
        untrained_states : array, dataset or stream, optional
            States of an untrained network of the same shape on the same
            documents (array ``(..., state_dim)``, a trajectories dataset or a
            stream), for the PCA comparison.
        bow_weights : array_like, optional
            One bag-of-words weight per vocabulary id.
        vader : mapping, optional
            Token -> human valence.
        true_valence : array_like, optional
            One generating valence per vocabulary id (synthetic task).
        calibration_ids : array_like, optional
            Token ids of documents (e.g. the validation split) on which the reduced
            model's gain and offset are fitted; defaults to the analysed documents.
        calibration_labels : array_like, optional
            Their labels; the gain and offset are then a logistic regression of the
            labels on the line coordinate, otherwise a least-squares fit of the
            network's logits.
        baseline_ids : array_like, optional
            Documents (token ids) whose mean token embedding is the baseline input
            when ``baseline="mean"``: the training documents; default the analysed
            documents.

        Returns
        -------
        LineAttractorResult

        Raises
        ------
        dynalyze.errors.ConfigurationError
            A baseline of the wrong width or non-finite, or ``"mean"`` without an
            embedding; raised before any work.
        """
        source = self._check(classifier, trajectories, vader)
        baseline = self._resolve_baseline(classifier, source, baseline_ids)
        _check_found_at(fixed_points, baseline, "fixed_points")
        _check_found_at(linearization, baseline, "linearization")
        vocab_size = len(classifier.vocabulary)
        special, _ = _vocabulary_conventions(classifier.vocabulary)
        evidence = {
            "bow": _optional_per_token(bow_weights, vocab_size, "bow_weights", special),
            "truth": _optional_per_token(true_valence, vocab_size, "true_valence", special),
        }
        shifted = classifier.at_input(baseline.vector)
        clock = Stopwatch()
        with clock("trajectories, first pass"):
            first = _first_pass(source, classifier, self._n_sample, self.seed)
        variables: dict[str, Any] = _stage_states(first, source, self.evidence.n_plot)
        if untrained_states is not None:
            with clock("untrained network"):
                variables.update(
                    _stage_untrained(untrained_states, classifier.system.state_dim, self.seed)
                )
        readout = classifier.readout_weight
        doc_length = _median_document_length(source)
        axis = manifold_axis(first.sample, readout)
        view = self._view(classifier, baseline, first, axis, doc_length, fixed_points, clock)
        variables.update(view.variables)
        variables["accepted_count"] = accepted_counts(view.fixed_points, self.search.thresholds)
        linearization = self._linearize(classifier, view, linearization, clock)
        variables.update(self._stage_modes(linearization, view, readout))
        ev = self.evidence
        variables.update(
            _stage_alignment_nulls(first.pca, readout, axis, ev.n_null, self.seed, variables)
        )
        zero = self._zero_view(classifier, baseline, first, axis, doc_length, clock)
        counts = _token_counts(source, vocab_size)
        with clock("neutral streams"):
            variables.update(self._stage_neutral(shifted, view, axis, first, counts, special, zero))
        with clock("token projections"):
            variables.update(self._stage_token_projections(shifted, view, counts, special))
        variables.update(
            _stage_evidence(
                variables["token_projection"],
                evidence["bow"],
                vader,
                evidence["truth"],
                classifier.vocabulary.tokens,
                self.evidence.n_top_words,
                special,
            )
        )
        with clock("trajectories, second pass (linearization error)"):
            error = _linearization_error(classifier, source, linearization)
        variables.update(_stage_linearization_error(error))
        variables.update(
            self._stage_reduced_model(
                shifted,
                source,
                first.logit,
                variables["token_projection"],
                _reduced_decay(view.profile),
                calibration_ids,
                calibration_labels,
            )
        )
        starts = sample_initial_states(first.sample, ev.n_relaxation, seed=self.seed + 1)
        variables["relaxation_speed"] = _relaxation(shifted.system, starts, ev.relaxation_steps)
        continuation = self._continuation(classifier, view, zero, axis, clock)
        return self._assemble(
            classifier, source, view, variables, linearization, zero, continuation, clock
        )

    # ------------------------------------------------------ pipeline stages
    def _check(
        self,
        classifier: RecurrentClassifier,
        trajectories: xr.Dataset | TrajectorySource,
        vader: Any,
    ) -> TrajectorySource:
        if getattr(classifier, "n_outputs", 1) != 1:
            raise ConfigurationError(
                f"LineAttractor describes binary classifiers (one logit); this classifier "
                f"has {classifier.n_outputs} classes. Use dynalyze.attractors.SimplexAttractor "
                "for N-class readouts."
            )
        source = as_source(trajectories)
        n_state = classifier.system.state_dim
        if source.state_dim != n_state:
            raise DataError(
                f"The trajectories have {source.state_dim} state units but the classifier's "
                f"system has {n_state}; they come from different networks."
            )
        if vader is not None and not isinstance(vader, Mapping):
            raise ConfigurationError("vader must be a mapping token -> valence.")
        return source

    def _view(
        self,
        classifier: RecurrentClassifier,
        baseline: BaselineInput,
        first: _FirstPass,
        axis: ManifoldAxis,
        doc_length: int,
        fixed_points: xr.Dataset | None,
        clock: Stopwatch,
        label: str = "",
    ) -> DynamicsView:
        view = dynamics_view(
            classifier.system,
            baseline,
            search=self._search,
            visited=first.sample,
            axis=axis,
            readout=classifier.readout_weight,
            doc_length=doc_length,
            settings=self.view,
            criterion=self.search.criterion,
            seed=self.seed,
            fixed_points=fixed_points,
            clock=clock,
            label=label,
        )
        if view.accepted.sizes["fixed_point"] == 0:
            logger.warning(
                "No candidate met the criterion ||F(h, x_b) - h||^2/N < %g%s; the fixed-point "
                "structure holds only the roots found from visited states.",
                self.search.criterion,
                f" ({label})" if label else "",
            )
        return view

    def _zero_view(
        self,
        classifier: RecurrentClassifier,
        baseline: BaselineInput,
        first: _FirstPass,
        axis: ManifoldAxis,
        doc_length: int,
        clock: Stopwatch,
    ) -> DynamicsView | None:
        """The same stages at ``x = 0``, beside a non-zero baseline."""
        if not self.comparison.zero_view or baseline.kind == "zero":
            return None
        zero = BaselineInput(
            "zero",
            np.zeros(classifier.system.input_dim),
            "x = 0",
            0,
            baseline.median_token_norm,
        )
        return self._view(classifier, zero, first, axis, doc_length, None, clock, "x = 0")

    def _linearize(
        self,
        classifier: RecurrentClassifier,
        view: DynamicsView,
        linearization: xr.Dataset | None,
        clock: Stopwatch,
    ) -> xr.Dataset | None:
        n_acc = view.accepted.sizes["fixed_point"]
        if linearization is None and n_acc:
            with clock("linearization"):
                # The accepted points carry their input (x_b): Jacobians of F(h, x_b).
                linearization = Linearization().compute(classifier.system, view.accepted)
        if linearization is not None and linearization.sizes["fixed_point"] != n_acc:
            raise DataError(
                f"The linearization has {linearization.sizes['fixed_point']} expansion points "
                f"but {n_acc} fixed points were accepted; linearize the accepted points "
                "(LineAttractor.accepted)."
            )
        return linearization if n_acc else None

    def _stage_modes(
        self, linearization: xr.Dataset | None, view: DynamicsView, readout: FloatArray
    ) -> dict[str, Any]:
        system = view.system
        return _stage_candidate_modes(
            linearization,
            readout,
            view.variables["manifold_tangent"],
            system.state_dim,
            system.input_dim,
            min(self.view.n_modes, system.state_dim),
        )

    def _stage_neutral(
        self,
        shifted: RecurrentClassifier,
        view: DynamicsView,
        axis: ManifoldAxis,
        first: _FirstPass,
        counts: NDArray[np.integer],
        special: NDArray[np.int64],
        zero: DynamicsView | None,
    ) -> dict[str, Any]:
        """Drift under random streams of neutral tokens (:mod:`dynalyze.attractors.drift`)."""
        states = first.sample[: self.comparison.neutral_states]
        try:
            neutral = neutral_tokens(
                shifted.system,
                shifted.embedding,
                states,
                shifted.readout_weight,
                counts,
                special=special,
                min_count=self.evidence.min_token_count,
                share=self.comparison.neutral_share,
                min_tokens=self.comparison.neutral_min,
            )
        except DataError as exc:
            logger.info("No neutral streams: %s", exc)
            return {}
        drift = neutral_drift(
            shifted.system, view.profile, axis, shifted.embedding, neutral, seed=self.seed + 5
        )
        flags = np.zeros(counts.shape[0], dtype=np.int8)
        flags[neutral.ids] = 1
        zero_drift = None if zero is None else zero.profile.drift
        out: dict[str, Any] = {
            "neutral_token": flags,
            "neutral_token_effect": neutral.effect,
            "n_neutral_tokens": int(neutral.ids.size),
            "manifold_neutral_drift": drift,
            **neutral_summary(view.profile, middle_half(view.profile, axis), drift, zero_drift),
        }
        if zero_drift is not None:
            out["manifold_zero_drift"] = zero_drift
        return out

    def _stage_token_projections(
        self,
        shifted: RecurrentClassifier,
        view: DynamicsView,
        counts: NDArray[np.integer],
        special: NDArray[np.int64],
    ) -> dict[str, Any]:
        """Token projections ``l1 . J_inp (e_w - x_b)`` along the manifold and at each root."""
        frequent = counts >= self.evidence.min_token_count
        frequent[special] = False
        tokens = token_projections(
            shifted.system,
            view.profile,
            view.structure,
            shifted.embedding,
            readout=shifted.readout_weight,
            frequent=frequent,
        )
        out = _stage_tokens(
            shifted.system,
            shifted.embedding,
            tokens,
            view.profile,
            view.structure,
            counts,
            shifted.readout_weight,
            special,
        )
        out["token_count_floor"] = self.evidence.min_token_count
        return out

    def _continuation(
        self,
        classifier: RecurrentClassifier,
        view: DynamicsView,
        zero: DynamicsView | None,
        axis: ManifoldAxis,
        clock: Stopwatch,
    ) -> xr.Dataset | None:
        """Roots followed from ``x = 0`` (the zero view's) to ``x_b`` (the baseline view's)."""
        if zero is None or not self.comparison.continuation:
            return None
        with clock("continuation from x = 0 to the baseline"):
            cont = continue_fixed_points(
                classifier.system,
                _exact_roots(zero.structure),
                None,
                view.baseline.vector,
                end_roots=_exact_roots(view.structure),
            )
        position = axis.coordinate(cont["continuation_state"].values)
        return cont.assign(continuation_position=make_variable("continuation_position", position))

    def _assemble(
        self,
        classifier: RecurrentClassifier,
        source: TrajectorySource,
        view: DynamicsView,
        variables: dict[str, Any],
        linearization: xr.Dataset | None,
        zero: DynamicsView | None,
        continuation: xr.Dataset | None,
        clock: Stopwatch,
    ) -> LineAttractorResult:
        system = classifier.system
        vocab_size = len(classifier.vocabulary)
        state = state_coords(system.layout.component_labels(), system.layout.unit_indices())
        coords: dict[str, Any] = {
            **state,
            "fixed_point": view.accepted["fixed_point"].values,
            "threshold": np.asarray(self.search.thresholds),
            "token": np.asarray(classifier.vocabulary.tokens, dtype=object),
            "token_index": np.arange(vocab_size),
            "example": source.example_index,
            "cluster": np.arange(view.structure.n_rows),
            "manifold_position": view.profile.position,
        }
        provenance = {**classifier.provenance, **source.provenance}
        attractor = make_dataset(
            self.kind,
            variables,
            coords,
            config=self,
            provenance=provenance,
            title="dynalyze line-attractor analysis",
        )
        zero_ds = None
        if zero is not None:
            nulls = {k: variables[k] for k in _NULL_NAMES if k in variables}
            zero_view = attrs.evolve(zero, variables={**zero.variables, **nulls})
            zero_ds = zero_view.dataset(state, provenance)
        total = time.perf_counter() - clock.start
        clock.timings["attractor fit (the rest)"] = round(total - sum(clock.timings.values()), 3)
        return LineAttractorResult(
            attractor,
            view.fixed_points,
            linearization,
            dict(clock.timings),
            zero_view=zero_ds,
            continuation=continuation,
        )

    @property
    def _n_sample(self) -> int:
        ev = self.evidence
        return max(self.n_initial, ev.n_relaxation, ev.n_plot, self.view.n_profile_starts)

    def _search(
        self, system: RecurrentSystem, sample: FloatArray, inputs: FloatArray
    ) -> xr.Dataset:
        return search_fixed_points(
            self.search,
            system,
            sample,
            inputs,
            n_initial=self.n_initial,
            seed=self.seed,
            progress=self.progress,
        )

    # ------------------------------------------------------ reduced model
    def _stage_reduced_model(
        self,
        classifier: RecurrentClassifier,
        source: TrajectorySource,
        network_logit: FloatArray,
        projection: FloatArray,
        decay: float,
        calibration_ids: ArrayLike | None,
        calibration_labels: ArrayLike | None,
    ) -> dict[str, Any]:
        """The linearized dynamics along the top mode, ``s_t = lambda s_{t-1} + p(x_t)``."""
        _, pad_id = _vocabulary_conventions(classifier.vocabulary)
        score = self._score(projection, source.token_ids, decay, pad_id)
        if calibration_ids is not None:
            cal_ids = np.asarray(calibration_ids)
            cal_score = self._score(projection, cal_ids, decay, pad_id)
            cal_target = (
                np.asarray(calibration_labels)
                if calibration_labels is not None
                else classifier.logits(cal_ids).astype(np.float64)
            )
        else:
            cal_score, cal_target = score, network_logit
        usable = bool(np.any(np.isfinite(projection)))
        gain, offset = (
            _calibrate(cal_score, cal_target, is_label=calibration_labels is not None)
            if usable
            else (float("nan"), float("nan"))
        )
        reduced = gain * score + offset
        out: dict[str, Any] = {
            "logit": network_logit,
            "reduced_score": score,
            "reduced_logit": reduced,
            "reduced_gain": gain,
            "reduced_decay": decay,
            "reduced_offset": offset,
            "reduced_agreement": float(np.mean((reduced > 0) == (network_logit > 0))),
            "reduced_logit_pearson_r": pearson_r(reduced, network_logit),
        }
        if source.labels is not None:
            labels = source.labels
            out["label"] = labels
            out["network_accuracy"] = float(np.mean((network_logit > 0) == (labels == 1)))
            out["reduced_accuracy"] = float(np.mean((reduced > 0) == (labels == 1)))
        return out

    @staticmethod
    def _score(
        projection: FloatArray, ids: NDArray[np.integer], decay: float, pad_id: int = 0
    ) -> FloatArray:
        """``s_L`` of ``s_t = decay * s_{t-1} + projection(token_t)``, ``s_0 = 0``, per document."""
        values = np.nan_to_num(projection, nan=0.0)
        ids = np.asarray(ids)
        valid = ids != pad_id
        lengths = valid.sum(axis=1, keepdims=True)
        steps_after = lengths - 1 - np.arange(ids.shape[1])[None, :]  # tokens that follow
        with np.errstate(divide="ignore"):
            weight = np.where(valid, np.power(decay, np.maximum(steps_after, 0)), 0.0)
        out: FloatArray = (np.where(valid, values[ids], 0.0) * weight).sum(axis=1)
        return out

    def predict(self, fitted: xr.Dataset, ids: ArrayLike, *, pad_id: int = 0) -> FloatArray:
        """Reduced-model logits: ``gain * s_L + offset`` with ``s_t = lambda s_{t-1} + p(x_t)``.

        ``p`` is the token projection, ``lambda`` the top eigenvalue along the
        manifold (``reduced_decay``), ``gain`` and ``offset`` calibrated on labels.

        Parameters
        ----------
        fitted : xarray.Dataset
            Output of :meth:`fit`.
        ids : array_like of int, shape (n, T)
            Token ids, padded with ``pad_id``.
        pad_id : int
            The id that pads documents (the vocabulary's ``pad_id``; 0 for
            :class:`dynalyze.sentiment.Vocabulary`).

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
        score = self._score(projection, matrix, float(fitted["reduced_decay"]), pad_id)
        out: FloatArray = float(fitted["reduced_gain"]) * score + float(fitted["reduced_offset"])
        return out


# ----------------------------------------------------------------- stages
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
