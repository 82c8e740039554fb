"""The :class:`FixedPointFinder` abstraction.

A finder searches, from many initial states at once, for states ``h*`` with
``F(h*, x) = h*``. Every finder returns the same labelled dataset: one entry per
initial state, with the returned state, the speed recomputed there, the number
of iterations, a status and flags for duplicates and outliers. The status is
decided from the returned state itself, not from the solver's word:

``converged``
    the speed is at most the tolerance;
``slow_point``
    a genuine stationary point of the speed above the tolerance (its relative
    gradient, recomputed, is below ``stationarity_tol``): a local minimum of
    ``q``, e.g. a ghost of a fixed point;
``failed``
    the iteration budget ran out before either;
``stalled``
    the solver stopped early (steps too small to matter, or no step it could
    damp enough lowered the speed) at a point that is not stationary;
``at_bounds``
    like ``stalled``, but on the face of the system's state box, where the
    projected steps cannot go further (the unconstrained minimum lies outside
    the reachable states);
``slow_manifold``
    above the tolerance and not stationary, but its residual lies (almost)
    entirely along nearly neutral directions, where ``J - I`` nearly vanishes
    (90% or more of ``q``, recomputed, along left singular directions of
    ``J - I`` whose singular values are at most ``neutral_tol``): a point of
    a slow manifold, e.g. a near-continuum of fixed points, where the flow
    crawls along the manifold and no step of any local solver lowers ``q``
    much. A search that stops there is not a failed one; more iterations
    would only crawl. Nothing is dropped; :func:`unique_fixed_points`
selects.
"""

from __future__ import annotations

import abc
import logging
import time
from functools import partial
from typing import Any, ClassVar

import attrs
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dynalyze._parallel import map_batches, single_threaded_blas
from dynalyze._validation import (
    FloatArray,
    as_batch,
    attrs_non_negative,
    attrs_optional_positive,
    attrs_positive,
    attrs_positive_int,
)
from dynalyze.errors import InputShapeError
from dynalyze.fixedpoints.neutral import is_neutral, normal_equations
from dynalyze.fixedpoints.selection import deduplicate, outlier_mask
from dynalyze.results.build import make_dataset, state_coords
from dynalyze.systems.base import RecurrentSystem

__all__ = [
    "AT_BOUNDS",
    "CONVERGED",
    "FAILED",
    "SLOW_MANIFOLD",
    "SLOW_POINT",
    "STALLED",
    "FixedPointFinder",
    "SolverOutput",
    "residual_and_speed",
]

logger = logging.getLogger(__name__)

CONVERGED, SLOW_POINT, FAILED, STALLED, AT_BOUNDS, SLOW_MANIFOLD = 0, 1, 2, 3, 4, 5

#: Why a solver stopped iterating a point (:attr:`SolverOutput.stop_reason`).
STOP_TOLERANCE, STOP_STATIONARY, STOP_SMALL_STEP, STOP_DAMPING, STOP_BUDGET, STOP_NEUTRAL = range(6)


@attrs.frozen
class SolverOutput:
    """What a solver hands back to :meth:`FixedPointFinder.find`.

    Parameters
    ----------
    states : ndarray, shape (n, state_dim)
        Final iterates.
    iterations : ndarray of int, shape (n,)
        Iterations spent on each point.
    stop_reason : ndarray of int8, shape (n,)
        Why the solver stopped each point: ``STOP_TOLERANCE`` (0, speed below
        tolerance), ``STOP_STATIONARY`` (1, its own stationarity test),
        ``STOP_SMALL_STEP`` (2, accepted steps too small to matter),
        ``STOP_DAMPING`` (3, no damped step lowered the speed),
        ``STOP_BUDGET`` (4, iteration budget) or ``STOP_NEUTRAL`` (5, crawling
        along nearly neutral directions). The status is decided again
        from the returned states (see :mod:`dynalyze.fixedpoints.base`).
    shared_steps : ndarray of int, shape (n,), optional
        How many of the iterations took a step with another point's
        factorisation (chord steps, :mod:`dynalyze.fixedpoints.sharing`);
        ``None`` for solvers that do not share.
    neutral : ndarray of bool, shape (n,), optional
        Points the solver found, at their returned state and with
        :func:`~dynalyze.fixedpoints.neutral.is_neutral` from that state's
        ``J - I`` and residual, to lie on a slow manifold: their status takes
        that verdict instead of computing it again (an eigendecomposition each,
        often). ``None``: every point's share is computed.

    Examples
    --------
    >>> import numpy as np
    >>> out = SolverOutput(states=np.zeros((2, 3)), iterations=np.array([4, 9]),
    ...                    stop_reason=np.array([STOP_TOLERANCE, STOP_BUDGET], dtype=np.int8))
    >>> out.iterations.tolist(), out.stop_reason.tolist()
    ([4, 9], [0, 4])
    """

    states: FloatArray
    iterations: NDArray[np.int64]
    stop_reason: NDArray[np.int8]
    shared_steps: NDArray[np.int64] | None = None
    neutral: NDArray[np.bool_] | None = None


def residual_and_speed(
    system: RecurrentSystem, h: FloatArray, x: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Residual ``F(h, x) - h`` and speed ``q = 1/2 ||F(h, x) - h||^2`` per point.

    Large batches are split across the worker threads
    (:func:`~dynalyze._parallel.map_batches`); an overflow gives ``inf`` or
    ``NaN`` rows, without a warning (callers test ``np.isfinite``).

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), 0.5 * np.eye(2), activation="linear")
    >>> residual, speed = residual_and_speed(system, np.array([[2.0, 0.0]]), np.zeros((1, 1)))
    >>> residual.tolist(), speed.tolist()
    ([[-1.0, 0.0]], [0.5])
    """
    out: tuple[FloatArray, FloatArray] = map_batches(
        partial(_residual_and_speed, system), [h, x], min_batch=_STEP_BATCH
    )
    return out


#: Fewest points per worker thread worth splitting a step evaluation for.
_STEP_BATCH = 128


def _residual_and_speed(
    system: RecurrentSystem, h: FloatArray, x: FloatArray
) -> tuple[FloatArray, FloatArray]:
    with np.errstate(over="ignore", invalid="ignore"):
        residual = system._step(h, x) - h
        return residual, 0.5 * np.einsum("ni,ni->n", residual, residual)


def _residual_speed_gradient(
    system: RecurrentSystem, h: FloatArray, x: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Residual, speed and the norm of the speed's gradient ``(J - I)^T r`` (a VJP)."""
    residual, speed = _residual_and_speed(system, h, x)
    with np.errstate(over="ignore", invalid="ignore"):
        grad = system._vjp_state(h, x, residual) - residual
    return residual, speed, np.linalg.norm(grad, axis=1)


@attrs.frozen(kw_only=True)
class FixedPointFinder(abc.ABC):
    """Base class of fixed-point finders; the configuration is the finder.

    Parameters
    ----------
    tol : float
        A candidate has converged when its speed ``q = 1/2 ||F(h, x) - h||^2`` is
        at most ``tol``.
    max_iter : int
        Iteration budget per candidate.
    dedup_tol : float
        Candidates of the same status closer than this (Euclidean distance in
        the joint state-input space) are duplicates of the lowest-speed one.
    outlier_scale : float or None
        A candidate farther from every initial state than ``outlier_scale``
        times the mean distance of the initial states from their centroid is
        flagged as an outlier. ``None`` disables the check.
    stationarity_tol : float
        A non-converged candidate is a slow point when the relative gradient of
        the speed ``||(J - I)^T r|| / (max(||J - I||_F / sqrt(N), 1) ||r||)`` is below
        this (a stationary point of the speed); otherwise it stalled, stopped
        at the state bounds or failed (see the module docstring).
    neutral_tol : float
        A non-converged, non-stationary candidate with 90% or more of its
        speed along nearly neutral directions of ``J - I`` is on a slow
        manifold (status ``slow_manifold``; see
        :mod:`dynalyze.fixedpoints.neutral`): nearly neutral are the singular
        directions of ``J - I`` with singular values at most ``neutral_tol``
        (exactly; with the default 0.03, time constants of about 33 steps or
        more).
    progress : bool
        Show a progress bar.

    Examples
    --------
    The built-in finders are its subclasses; ``find`` returns a labelled dataset:

    >>> import numpy as np
    >>> from dynalyze.fixedpoints import LevenbergMarquardtFinder
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> finder = LevenbergMarquardtFinder()
    >>> isinstance(finder, FixedPointFinder), finder.method
    (True, 'lm')
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), 0.5 * np.eye(2))
    >>> fps = finder.find(system, np.ones((3, 2)))
    >>> fps.attrs["dynalyze_kind"], fps["status"].values.tolist()
    ('fixed_points', [0, 0, 0])
    """

    #: Short name used by :func:`dynalyze.find_fixed_points` (``method=``).
    method: ClassVar[str] = ""

    tol: float = attrs.field(default=1e-12, validator=attrs_positive)
    max_iter: int = attrs.field(default=200, validator=attrs_positive_int)
    dedup_tol: float = attrs.field(default=1e-3, validator=attrs_non_negative)
    outlier_scale: float | None = attrs.field(default=10.0, validator=attrs_optional_positive)
    stationarity_tol: float = attrs.field(default=1e-6, validator=attrs_positive)
    neutral_tol: float = attrs.field(default=3e-2, validator=attrs_positive)
    progress: bool = False

    def find(
        self,
        system: RecurrentSystem,
        initial_states: ArrayLike,
        inputs: ArrayLike | None = None,
    ) -> xr.Dataset:
        """Search for fixed points from every initial state.

        Parameters
        ----------
        system : RecurrentSystem
            The map ``F``.
        initial_states : array_like, shape (n, state_dim)
            Where the searches start.
        inputs : array_like, optional
            ``None`` for zero input, one vector ``(input_dim,)`` shared by all
            points, or ``(n, input_dim)``: one input per point (input-conditioned
            fixed points).

        Returns
        -------
        xarray.Dataset
            A ``fixed_points`` dataset (see :mod:`dynalyze.results.schema`) with
            one entry per initial state.
        """
        if not isinstance(system, RecurrentSystem):
            from dynalyze.errors import UnsupportedModelError

            raise UnsupportedModelError(
                f"find() needs a dynalyze RecurrentSystem; got {type(system).__name__}. "
                "Wrap a Keras model, layer or cell with dynalyze.wrap(obj) first."
            )
        h0 = as_batch(initial_states, system.state_dim, "initial_states", allow_single=False)
        if h0.shape[0] == 0:
            raise InputShapeError(
                "initial_states is empty; expected at least one state of length "
                f"{system.state_dim}. Sample some with dynalyze.fixedpoints.sample_initial_states."
            )
        n = h0.shape[0]
        if inputs is None:
            x = np.zeros((n, system.input_dim))
        else:
            x = np.ascontiguousarray(as_batch(inputs, system.input_dim, "inputs", n=n))
        # BLAS on one thread throughout: parallelism comes from map_batches. A BLAS
        # call on several threads leaves them spinning for a while afterwards, on
        # the cores the worker threads need (measured: a GRU-64 search at 2 threads
        # took 0.10-0.12 s with BLAS on 2 threads in the caller, 0.07-0.09 s on 1).
        with single_threaded_blas():
            start = time.perf_counter()
            out = self._solve(system, h0.copy(), x)
            elapsed = time.perf_counter() - start
            return self._assemble(system, h0, x, out, elapsed)

    @abc.abstractmethod
    def _solve(self, system: RecurrentSystem, h0: FloatArray, x: FloatArray) -> SolverOutput:
        """Run the solver on validated arrays."""

    # ---------------------------------------------------------------- output
    def _assemble(
        self,
        system: RecurrentSystem,
        h0: FloatArray,
        x: FloatArray,
        out: SolverOutput,
        elapsed: float,
    ) -> xr.Dataset:
        h = out.states
        # Recompute the speed at the returned states: never report a stale value.
        finite = np.all(np.isfinite(h), axis=1)
        residual = np.full_like(h, np.nan)
        speed = np.full(h.shape[0], np.inf)
        grad_norm = np.full(h.shape[0], np.nan)
        relative_grad = np.full(h.shape[0], np.inf)
        rows = np.flatnonzero(finite)
        if rows.size:
            residual[rows], speed[rows], grad_norm[rows] = map_batches(
                partial(_residual_speed_gradient, system), [h[rows], x[rows]], min_batch=_STEP_BATCH
            )
        # The scale-free stationarity test needs ||J - I||: only where it decides the status.
        undecided = rows[~(speed[rows] <= self.tol)]
        neutral = np.zeros(h.shape[0], dtype=bool)
        known = np.zeros(h.shape[0], dtype=bool) if out.neutral is None else out.neutral
        relative_grad[undecided], neutral[undecided] = _slow_tests(
            system,
            (h[undecided], x[undecided]),
            (residual[undecided], grad_norm[undecided]),
            known[undecided],
            self.neutral_tol,
        )
        _, speed0 = residual_and_speed(system, h0, x)
        status = _status(
            system,
            h,
            speed,
            (relative_grad, neutral),
            out.stop_reason,
            (self.tol, self.stationarity_tol),
        )

        joint = np.concatenate([np.where(finite[:, None], h, 0.0), x], axis=1)
        duplicate_of = _duplicates(joint, status, speed, self.dedup_tol)
        is_outlier, distance = outlier_mask(
            np.where(finite[:, None], h, np.inf), h0, self.outlier_scale
        )
        is_outlier &= finite
        counts = {name: int(np.sum(status == code)) for code, name in STATUS_CODES.items()}
        n_unique = int(
            np.sum((status == CONVERGED) & (duplicate_of == np.arange(h.shape[0])) & ~is_outlier)
        )
        logger.info(
            "%s: %d candidates in %.2f s: %s; %d unique converged fixed points",
            type(self).__name__,
            h.shape[0],
            elapsed,
            counts,
            n_unique,
        )
        layout = system.layout
        provenance: dict[str, Any] = {
            **system.describe(),
            "finder": type(self).__name__,
            "wall_time_s": round(elapsed, 6),
        }
        return make_dataset(
            "fixed_points",
            {
                "fixed_point_state": h,
                "fixed_point_input": x,
                "initial_state": h0,
                "speed": speed,
                "initial_speed": speed0,
                "gradient_norm": grad_norm,
                "iterations": out.iterations,
                **({} if out.shared_steps is None else {"shared_steps": out.shared_steps}),
                "status": status,
                "is_duplicate": (duplicate_of != np.arange(h.shape[0])).astype(np.int8),
                "duplicate_of": duplicate_of,
                "is_outlier": is_outlier.astype(np.int8),
                "distance_to_initial_states": distance,
            },
            state_coords(layout.component_labels(), layout.unit_indices()),
            config=self,
            provenance=provenance,
        )


#: Status code -> name (the schema's ``status`` flags).
STATUS_CODES = {
    CONVERGED: "converged",
    SLOW_POINT: "slow_point",
    FAILED: "failed",
    STALLED: "stalled",
    AT_BOUNDS: "at_bounds",
    SLOW_MANIFOLD: "slow_manifold",
}


def _status(
    system: RecurrentSystem,
    h: FloatArray,
    speed: FloatArray,
    gradient: tuple[FloatArray, np.ndarray],
    stop_reason: NDArray[np.int8],
    tols: tuple[float, float],
) -> NDArray[np.int8]:
    """Status of each returned state, from its recomputed speed and gradient.

    ``gradient``: the relative gradient and whether the neutral share is
    :data:`~dynalyze.fixedpoints.neutral.NEUTRAL_SHARE` or more
    (:func:`~dynalyze.fixedpoints.neutral.is_neutral`); ``tols``: the speed
    tolerance and ``stationarity_tol``.
    """
    relative_grad, neutral = gradient
    tol, stationarity_tol = tols
    finite = np.all(np.isfinite(h), axis=1)
    status = np.full(h.shape[0], FAILED, dtype=np.int8)
    early = np.isin(stop_reason, (STOP_STATIONARY, STOP_SMALL_STEP, STOP_DAMPING))
    status[finite & early] = STALLED
    bounds = system.state_bounds
    if bounds is not None:
        lo, hi = np.broadcast_to(bounds[0], h.shape[1:]), np.broadcast_to(bounds[1], h.shape[1:])
        width = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
        on_face = np.any((h <= lo + 1e-9 * width) | (h >= hi - 1e-9 * width), axis=1)
        status[finite & early & on_face] = AT_BOUNDS
    status[finite & neutral] = SLOW_MANIFOLD
    status[finite & (relative_grad <= stationarity_tol)] = SLOW_POINT
    status[finite & (speed <= tol)] = CONVERGED
    return status


def _duplicates(
    joint: FloatArray, status: np.ndarray, speed: FloatArray, dedup_tol: float
) -> NDArray[np.int64]:
    """Each point's representative among the points of its status (failed ones: itself).

    ``joint`` holds each point's state and input; the slowest point of a group
    represents it.
    """
    duplicate_of = np.arange(joint.shape[0], dtype=np.int64)
    for code in STATUS_CODES:
        if code == FAILED:
            continue
        idx = np.flatnonzero(status == code)
        if idx.size:
            rep = deduplicate(joint[idx], dedup_tol, order=speed[idx])
            duplicate_of[idx] = idx[rep]
    return duplicate_of


def _slow_tests(
    system: RecurrentSystem,
    at: tuple[FloatArray, FloatArray],
    speed: tuple[FloatArray, FloatArray],
    known: np.ndarray,
    neutral_tol: float,
) -> tuple[FloatArray, np.ndarray]:
    """Relative gradients and neutral verdicts at unconverged points, Jacobians in chunks.

    ``at`` holds the states and inputs, ``speed`` the residuals and the norms of
    the speed's gradient; points whose verdict is ``known`` (the solver's, at the
    same state) keep it instead of having their share computed again.
    """
    (h, x), (residual, grad_norm) = at, speed
    relative = np.empty(h.shape[0])
    neutral = known.copy()
    chunk = max(1, 2**24 // (h.shape[1] ** 2))
    for begin in range(0, h.shape[0], chunk):
        part = np.arange(begin, min(begin + chunk, h.shape[0]))
        jac = system._jacobian_state(h[part], x[part])
        relative[part] = _relative_gradient(jac, residual[part], grad_norm[part])
        ask = ~known[part]
        if ask.any():
            neutral[part[ask]] = is_neutral(
                *normal_equations(jac[ask], residual[part[ask]]), neutral_tol
            )
    return relative, neutral


def _relative_gradient(jac: FloatArray, residual: FloatArray, grad_norm: FloatArray) -> FloatArray:
    """``||(J - I)^T r|| / (max(||J - I||_F / sqrt(N), 1) ||r||)``: small at a stationary point.

    Scale-free in the state's units. Where ``J - I`` is small overall (a map
    close to the identity, or any 1-D map near a ghost) the denominator falls
    back to ``||r||``, so that a vanishing ``J - I`` is not mistaken for a
    gradient that is not small.
    """
    d = residual.shape[1]
    a_norm = np.linalg.norm(jac - np.eye(d)[None], axis=(1, 2)) / np.sqrt(d)
    scale = np.maximum(a_norm, 1.0) * np.linalg.norm(residual, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(scale > 0, grad_norm / scale, 0.0)
    out: FloatArray = np.where(np.isfinite(relative), relative, np.inf)
    return out
