"""The paper's line attractor, fitted to a trained recurrent classifier.

Implements the analysis of Maheswaranathan et al. (NeurIPS 2019): PCA of the
visited states (trained vs untrained), approximate fixed points at the baseline
input x_b accepted with ``||h - F(h, x_b)||^2 / N < 1e-8`` (and the same view at
``x = 0`` beside it), the geometry of the fixed-point
manifold, alignments of the top eigenvectors and the readout with it (each
beside a random-vector null), eigenvalue spectra and time constants, token
input projections for the whole vocabulary compared with a bag-of-words model
and human valence ratings, the one-step linearization error along real
trajectories, a reduced model that integrates token projections along the
line, and the relaxation at x_b. The configuration-free stages are the pure
functions of :mod:`dynalyze.analyses.line_attractor.stages`.
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

from dynalyze._timing import Stopwatch
from dynalyze._validation import (
    FloatArray,
    attrs_positive,
    attrs_positive_int,
)
from dynalyze.analyses.attractor import AttractorModel
from dynalyze.analyses.line_attractor.drift import neutral_drift, neutral_summary, neutral_tokens
from dynalyze.analyses.line_attractor.manifold import (
    token_projections,
)
from dynalyze.analyses.line_attractor.search import Search, accepted_counts, search_fixed_points
from dynalyze.analyses.line_attractor.stages import (  # noqa: F401 - _calibrate, _hash_keys: tested here
    _NULL_NAMES,
    _calibrate,
    _check_found_at,
    _exact_roots,
    _first_pass,
    _FirstPass,
    _hash_keys,
    _linearization_error,
    _median_document_length,
    _optional_per_token,
    _reduced_decay,
    _relaxation,
    _stage_alignment_nulls,
    _stage_candidate_modes,
    _stage_evidence,
    _stage_linearization_error,
    _stage_states,
    _stage_tokens,
    _stage_untrained,
    _token_counts,
    _vocabulary_conventions,
    pearson_r,
    sign_agreement,
)
from dynalyze.analyses.line_attractor.structure import ManifoldAxis, manifold_axis
from dynalyze.analyses.line_attractor.views import (
    DynamicsView,
    View,
    dynamics_view,
    middle_half,
)
from dynalyze.baseline import BaselineInput, BaselineSpec, check_baseline, classifier_baseline
from dynalyze.errors import ConfigurationError, DataError
from dynalyze.fixedpoints import sample_initial_states
from dynalyze.fixedpoints.continuation import continue_fixed_points
from dynalyze.linearization import Linearization
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
        that make up the neutral streams (:mod:`dynalyze.analyses.line_attractor.drift`).
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
    (:mod:`dynalyze.analyses.line_attractor.structure`); how slow the line is between them
    under zero input compared with a document (:mod:`dynalyze.analyses.line_attractor.manifold`);
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
        (:class:`dynalyze.analyses.line_attractor.search.Search`).
    view : View
        How the structure and the slow manifold are measured at each input
        (:class:`dynalyze.analyses.line_attractor.views.View`).
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
        at the baseline (:func:`dynalyze.analyses.line_attractor.views.dynamics_view`), its
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
                f"has {classifier.n_outputs} classes. Use "
                "dynalyze.analyses.simplex.attractor.SimplexAttractor for N-class readouts."
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
        """Drift under random streams of neutral tokens (:mod:`.drift`)."""
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
