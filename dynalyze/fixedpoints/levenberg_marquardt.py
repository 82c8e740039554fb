"""The default fixed-point finder: batched Levenberg-Marquardt.

Solves ``r(h) = F(h, x) - h = 0`` for many starting points at once using the
system's Jacobians. Each point carries its own damping ``mu``; a point is frozen
as soon as it converges (or stalls), so converged points cost nothing while the
slow ones finish. There is no Python loop over points: every iteration is a few
batched NumPy calls over the points still active.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any, ClassVar

import attrs
import numpy as np
from tqdm.auto import tqdm

from dynalyze._parallel import map_batches
from dynalyze._validation import (
    FloatArray,
    attrs_non_negative,
    attrs_non_negative_int,
    attrs_positive,
    attrs_unit_interval,
)
from dynalyze.fixedpoints._line_search import newton_line_search
from dynalyze.fixedpoints._lm_state import _RUNNING, _Iterates, _Trial
from dynalyze.fixedpoints._spd import solve_lu, solve_spd
from dynalyze.fixedpoints.base import (
    STOP_BUDGET,
    STOP_DAMPING,
    STOP_NEUTRAL,
    STOP_SMALL_STEP,
    STOP_STATIONARY,
    STOP_TOLERANCE,
    FixedPointFinder,
    SolverOutput,
    residual_and_speed,
)
from dynalyze.fixedpoints.neutral import is_neutral
from dynalyze.fixedpoints.sharing import chord_trial, gather, shared_directions
from dynalyze.systems.base import RecurrentSystem

__all__ = ["LevenbergMarquardtFinder"]

logger = logging.getLogger(__name__)

#: A point crawls when a whole ``crawl_window`` lowered its speed by less than 10%
#: (or too slowly to reach the tolerance within the budget).
_CRAWL = 0.9

#: ... within the budget, or, for a window whose damped steps were all accepted,
#: within this many more windows if that is sooner: a point on a slow manifold whose
#: speed falls linearly (e.g. towards a degenerate root along it, 0.7-0.8 per window
#: of 3) would otherwise crawl on for up to 100 iterations before the budget's
#: extrapolation gives up on it. A window with rejected steps holds the damping's
#: adaptation, not a rate to extrapolate (a trained GRU-128's search that was 3
#: iterations from its root would have stopped there).
_HORIZON = 10

#: Bytes of Jacobian-sized work arrays allowed per chunk of points.
_CHUNK_BYTES = 2**30


@attrs.frozen(kw_only=True)
class LevenbergMarquardtFinder(FixedPointFinder):
    """Batched Levenberg-Marquardt (damped Gauss-Newton) fixed-point finder.

    Each iteration solves ``(A^T A + mu I) delta = -A^T r`` with
    ``A = dF/dh - I`` and ``r = F(h, x) - h`` for every active point, accepts the
    step when it lowers the speed and adapts the per-point damping ``mu`` from
    the ratio of actual to predicted decrease (Nielsen's rule). Near a regular
    fixed point ``mu`` shrinks and the method becomes Newton's method with
    quadratic convergence.

    Parameters
    ----------
    tol : float
        Converged when the speed ``q = 1/2 ||F(h, x) - h||^2 <= tol``. The default,
        1e-20, is cheap for a second-order method (quadratic convergence costs
        one or two extra iterations) and locates isolated fixed points to about
        1e-10; the paper's criterion for approximate fixed points along a line
        attractor is ``||F(h) - h||^2 / N < 1e-8``, i.e. ``tol = 0.5e-8 * N``.
    max_iter, dedup_tol, outlier_scale, stationarity_tol, progress
        See :class:`dynalyze.fixedpoints.FixedPointFinder`.
    initial_damping : float
        ``mu`` starts at ``initial_damping * max(diag(A^T A))`` for each point.
    step_tol : float
        A point whose accepted step is smaller than ``step_tol * (||h|| + step_tol)``
        has stalled and stops.
    newton_steps : bool
        Try the full Newton step ``delta = -(J - I)^-1 r`` first (no normal
        equations: about 3x cheaper per iteration); a point whose Newton step
        does not lower the speed, or would leave the state box, switches to
        damped Levenberg-Marquardt steps for the rest of its search. Turn it off
        to move every point by damped steps only, which keeps points that reach
        the tolerance spread along a slow manifold rather than jumping along it
        to its exact roots (what :class:`dynalyze.LineAttractor` does).
    share_radius : float
        Shared factorisations (:mod:`dynalyze.fixedpoints.sharing`): points
        taking Newton steps that have gathered within this distance of a
        lower-speed point with the same input take chord steps with that
        point's factorisation of ``J - I`` instead of factorising their own,
        as long as each such step shrinks their residual by ``contraction``
        or more (otherwise they take their own Newton step next). ``0`` turns
        it off. The chord steps are counted among the ``iterations`` and apart
        (``shared_steps``).
    contraction : float
        Least shrinking of ``||F(h) - h||`` a chord step must achieve to be kept.
    crawl_window : int
        A point taking damped steps whose speed fell by less than 10% over this
        many iterations (or too slowly to reach ``tol`` within ``max_iter``, or
        within 10 more windows if all its steps were accepted, at that rate;
        not in the first window of a search damped from its start)
        and lies (90% or more) along nearly neutral directions of
        ``J - I`` (:mod:`dynalyze.fixedpoints.neutral`, ``neutral_tol``)
        stops there (status ``slow_manifold``): it is crawling along a slow
        manifold, where no local step lowers ``q`` much. A point that falls back
        from Newton to damped steps starts its windows there; an over-damped
        point (``mu`` above ``trace(A^T A)``, whose steps are slow because of the
        damping) gets no verdict. ``0`` turns it off. On the near-continuum
        GRU-256 of the benchmarks (1,024 starts, tol 1e-12) these rules, with
        windows of 3 instead of 10, took the search from 26,084 to 17,861
        iterations; 420 searches converge instead of 456, the other 36 now
        stopping on the manifold instead of crawling down to the root; the
        10-window horizon for windows of accepted steps took it on to 15,576
        iterations with the same statuses (and from 13,324 to 13,199 at the
        paper's tolerance).
        :class:`dynalyze.LineAttractor` uses 10: it collects the points that
        crawl down to the paper's criterion.
    bounded : bool
        Keep the iterates inside the system's :attr:`~RecurrentSystem.state_bounds`
        (the box no trajectory leaves, e.g. ``[-1, 1]`` for a tanh GRU) by
        projecting each step onto it. Without it the solver can drift to
        spurious roots no trajectory reaches (saturated gates far outside the
        box). No effect for systems that declare no bounds.

    Examples
    --------
    The fixed point of the contractive linear map ``h' = 0.5 h + 1`` is ``h* = 2``:

    >>> import numpy as np, dynalyze
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 1)), np.array([[0.5]]), np.array([1.0]),
    ...                          activation="linear")
    >>> ds = LevenbergMarquardtFinder().find(system, np.array([[10.0], [-3.0]]))
    >>> np.round(ds["fixed_point_state"].values.ravel(), 9).tolist()
    [2.0, 2.0]
    >>> ds["status"].values.tolist()
    [0, 0]
    """

    method: ClassVar[str] = "lm"

    tol: float = attrs.field(default=1e-20, validator=attrs_positive)
    initial_damping: float = attrs.field(default=1e-3, validator=attrs_positive)
    step_tol: float = attrs.field(default=1e-15, validator=attrs_positive)
    newton_steps: bool = True
    share_radius: float = attrs.field(default=0.5, validator=attrs_non_negative)
    contraction: float = attrs.field(default=0.25, validator=attrs_unit_interval)
    crawl_window: int = attrs.field(default=3, validator=attrs_non_negative_int)
    bounded: bool = True

    def _solve(self, system: RecurrentSystem, h0: FloatArray, x: FloatArray) -> SolverOutput:
        n, d = h0.shape
        chunk = max(1, _CHUNK_BYTES // (3 * 8 * d * d))
        states = np.empty_like(h0)
        iterations = np.zeros(n, dtype=np.int64)
        shared = np.zeros(n, dtype=np.int64)
        stop = np.empty(n, dtype=np.int8)
        # BLAS is on one thread here (FixedPointFinder.find): the small BLAS calls between
        # the batched solves would cost more on threads than they give.
        with tqdm(
            total=n, desc="fixed points (LM)", unit="pt", disable=not self.progress, leave=False
        ) as bar:
            for start in range(0, n, chunk):
                part = slice(start, min(start + chunk, n))
                it = self._solve_chunk(system, h0[part], x[part], bar)
                states[part], iterations[part], stop[part] = it.h, it.iterations, it.stop
                shared[part] = it.shared
        # A point stops as crawling only where is_neutral held at the state it returns.
        return SolverOutput(
            states, iterations, stop, shared_steps=shared, neutral=stop == STOP_NEUTRAL
        )

    def _solve_chunk(
        self, system: RecurrentSystem, h0: FloatArray, x: FloatArray, bar: tqdm[Any]
    ) -> _Iterates:
        """Iterate one chunk of points until each converges, stops or runs out of budget."""
        it = _Iterates.start(system, h0, x, newton=self.newton_steps)
        active = np.flatnonzero(~(it.cost <= self.tol))
        bar.update(it.h.shape[0] - active.size)
        relinearize = active
        while active.size:
            if relinearize.size:
                active = self._relinearize(system, it, relinearize, active, bar)
                if not active.size:
                    break
            trial = self._trial_steps(system, it, active)
            active, relinearize = self._update(it, active, trial, bar)
        it.stop[it.cost <= self.tol] = STOP_TOLERANCE
        it.stop[it.stop == _RUNNING] = STOP_BUDGET
        return it

    def _relinearize(
        self,
        system: RecurrentSystem,
        it: _Iterates,
        index: np.ndarray,
        active: np.ndarray,
        bar: tqdm[Any],
    ) -> np.ndarray:
        """New steps at the points that moved: Newton directions or damped normal equations.

        Returns the points still active (damped points can turn out stationary).
        """
        rel_newton = index[it.newton[index]]
        if rel_newton.size:
            self._directions(system, it, rel_newton)
        rel_damped = index[~it.newton[index]]
        if rel_damped.size:
            active = self._linearize_damped(system, it, rel_damped, active, bar)
        return active

    def _directions(self, system: RecurrentSystem, it: _Iterates, index: np.ndarray) -> None:
        """Newton directions at ``index``: shared factorisations where points have gathered."""
        it.chord[index] = False
        own = index
        if self.share_radius > 0 and index.size > 1:
            groups = gather(
                it.h[index], it.x[index], it.cost[index], ~it.own[index], self.share_radius
            )
            if groups.members:
                step, ok = shared_directions(
                    system,
                    it.h[index],
                    it.x[index],
                    it.r[index],
                    groups,
                    max_leader_step=self.share_radius,
                )
                it.newton_step[index[ok]] = step[ok]
                # The leaders' steps are their own Newton steps; their members' are chord steps.
                it.chord[index[ok]] = True
                it.chord[index[groups.leaders]] = False
                own = index[~ok]
        it.own[index] = False
        if own.size:
            it.newton_step[own] = map_batches(
                partial(_newton_directions, system), [it.h[own], it.x[own], it.r[own]]
            )

    def _trial_steps(self, system: RecurrentSystem, it: _Iterates, active: np.ndarray) -> _Trial:
        """One trial step per active point: Newton (line search), chord or damped."""
        bounds = system.state_bounds if self.bounded else None
        trial = _Trial.empty(active.size, it.h.shape[1])
        is_newton = it.newton[active]
        is_chord = it.chord[active] & is_newton
        own_newton = np.flatnonzero(is_newton & ~is_chord)
        if own_newton.size:
            at = active[own_newton]
            found, *moved = newton_line_search(
                system, it.h[at], it.x[at], it.newton_step[at], it.cost[at], bounds
            )
            trial.set(own_newton, found, *moved)
        chord = np.flatnonzero(is_chord)
        if chord.size:
            at = active[chord]
            found, state, res, value = chord_trial(
                system,
                it.h[at],
                it.x[at],
                it.newton_step[at],
                it.cost[at],
                bounds,
                self.contraction,
            )
            trial.set(chord, found, state - it.h[at], state, res, value)
        damped_pos = np.flatnonzero(~is_newton)
        if damped_pos.size:
            self._damped_trials(system, it, active[damped_pos], damped_pos, trial, bounds)
        return trial

    def _damped_trials(
        self,
        system: RecurrentSystem,
        it: _Iterates,
        damped: np.ndarray,
        pos: np.ndarray,
        trial: _Trial,
        bounds: tuple[FloatArray, FloatArray] | None,
    ) -> None:
        """Damped LM steps (projected onto the state box) and their gain ratios into ``trial``."""
        grad = it.grad[damped]
        pinned = np.zeros(grad.shape, dtype=bool)
        if bounds is not None:
            # Coordinates on a face of the box that the descent direction pushes out of it
            # stay there (projected Newton, Bertsekas 1982): the step solves the damped
            # normal equations in the others. Clipping a full step instead would move them
            # along a step the quadratic model never predicted (often an ascent).
            h = it.h[damped]
            pinned = ((h <= bounds[0]) & (grad > 0)) | ((h >= bounds[1]) & (grad < 0))
            grad = np.where(pinned, 0.0, grad)
        step = map_batches(partial(_damped_step, it.normal), [damped, it.mu[damped], grad, pinned])
        predicted = 0.5 * np.einsum("ni,ni->n", step, it.mu[damped, None] * step - grad)
        state = it.h[damped] + step
        if bounds is not None:
            # Projected step: stay in the invariant box of reachable states.
            inside = np.clip(state, bounds[0], bounds[1])
            moved = np.flatnonzero(np.any(inside != state, axis=1))
            if moved.size:
                state[moved] = inside[moved]
                step[moved] = state[moved] - it.h[damped[moved]]
                # Decrease the quadratic model predicts for the projected step.
                curvature = _products(it.normal, damped[moved], step[moved])
                predicted[moved] = -(
                    np.einsum("ni,ni->n", step[moved], grad[moved])
                    + 0.5 * np.einsum("ni,ni->n", step[moved], curvature)
                )
        res, value = residual_and_speed(system, state, it.x[damped])
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = (it.cost[damped] - value) / predicted
        accept = np.isfinite(value) & (value < it.cost[damped]) & (ratio > 0)
        trial.set(pos, accept, step, state, res, value)
        trial.rho[pos] = ratio

    def _update(
        self, it: _Iterates, active: np.ndarray, trial: _Trial, bar: tqdm[Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Accept or reject the trial steps, adapt the damping, stop finished points.

        Returns the points still active and those among them that need new steps.
        """
        accept = trial.accept
        is_newton = it.newton[active]
        is_chord = it.chord[active] & is_newton
        it.iterations[active] += 1
        it.shared[active[is_chord]] += 1
        acc, rej = active[accept], active[~accept]
        small = np.linalg.norm(trial.delta[accept], axis=1) <= self.step_tol * (
            np.linalg.norm(it.h[acc], axis=1) + self.step_tol
        )
        it.h[acc], it.r[acc], it.cost[acc] = (
            trial.state[accept],
            trial.res[accept],
            trial.value[accept],
        )
        acc_damped = acc[~it.newton[acc]]
        it.mu[acc_damped] *= np.maximum(
            1.0 / 3.0, 1.0 - (2.0 * trial.rho[accept & ~is_newton] - 1.0) ** 3
        )
        it.nu[acc_damped] = 2.0
        rej_newton = rej[it.newton[rej] & ~it.chord[rej]]
        rej_chord = rej[it.newton[rej] & it.chord[rej]]
        rej_damped = rej[~it.newton[rej]]
        it.mu[rej_damped] *= it.nu[rej_damped]
        it.rejected[rej_damped] += 1
        it.nu[rej_damped] *= 2.0
        # A rejected Newton step (no step length along it lowers the speed): switch the
        # point to damped (LM) steps from here on, its crawl windows starting here (the
        # Newton steps' rate says nothing of the damped ones). A rejected chord step: its
        # own Newton step next, from where it is.
        it.newton[rej_newton] = False
        it.start_window(rej_newton)
        it.own[rej_chord] = True

        it.stop[acc[small]] = STOP_SMALL_STEP
        # Damping this large means no damped step lowers the speed any more.
        hopeless = it.mu[rej_damped] > 1e16 * np.maximum(1.0, it.trace[rej_damped])
        it.stop[rej_damped[hopeless]] = STOP_DAMPING
        reached = it.cost[active] <= self.tol
        it.stop[active[reached]] = STOP_TOLERANCE
        done = reached | (it.stop[active] != _RUNNING) | (it.iterations[active] >= self.max_iter)
        bar.update(int(done.sum()))
        still = np.zeros(it.h.shape[0], dtype=bool)
        still[active[~done]] = True
        # Accepted points move (new linearization); rejected Newton points need the
        # normal equations at their unchanged state, rejected chord points their own step.
        relinearize = np.union1d(acc, np.union1d(rej_newton, rej_chord))
        return active[~done], relinearize[still[relinearize]]

    def _linearize_damped(
        self,
        system: RecurrentSystem,
        it: _Iterates,
        index: np.ndarray,
        active: np.ndarray,
        bar: tqdm[Any],
    ) -> np.ndarray:
        """Normal equations at ``index``; flag stationary points; return the still-active."""
        d = it.h.shape[1]
        # Written into `normal` by the workers: no full-size gather or scatter here.
        diag, it.grad[index] = map_batches(
            partial(_damped_linearization, system, it.normal),
            [index, it.h[index], it.x[index], it.r[index]],
        )
        it.trace[index] = diag.sum(axis=1)
        fresh = it.mu[index] == 0.0
        it.mu[index[fresh]] = self.initial_damping * np.maximum(diag[fresh].max(axis=1), 1e-12)
        # Stationary points of the speed above tolerance: slow points.
        # The same scale-free test as the status (FixedPointFinder._relative_gradient).
        scale = np.maximum(np.sqrt(diag.sum(axis=1) / d), 1.0) * np.sqrt(2.0 * it.cost[index])
        flat = np.linalg.norm(it.grad[index], axis=1) <= self.stationarity_tol * scale
        crawling = self._crawling(it, index) & ~flat
        it.stop[index[crawling]] = STOP_NEUTRAL
        it.stop[index[flat]] = STOP_STATIONARY
        stopped = int(flat.sum() + crawling.sum())
        if stopped:
            active = active[it.stop[active] == _RUNNING]
            bar.update(stopped)
        return active

    def _crawling(self, it: _Iterates, index: np.ndarray) -> np.ndarray:
        """Points at ``index`` crawling along a slow manifold.

        Every ``crawl_window`` iterations each point's speed is compared with
        the window's start; where it fell by less than 10%, or (except in the
        first window of a search damped from its start) too slowly to reach
        ``tol`` within the budget (or :data:`_HORIZON` more windows), and the
        point is not over-damped, the neutral share of its speed is tested from
        the normal equations at hand
        (:func:`~dynalyze.fixedpoints.neutral.is_neutral`: one more solve, an
        eigendecomposition where that does not decide); at
        :data:`~dynalyze.fixedpoints.neutral.NEUTRAL_SHARE` or more it crawls.
        """
        if not self.crawl_window:
            return np.zeros(index.size, dtype=bool)
        full = it.iterations[index] - it.mark_iter[index] >= self.crawl_window
        crawling = np.zeros(index.size, dtype=bool)
        ratio = it.cost[index] / it.mark_cost[index]
        # Windows left in the budget (at most _HORIZON after a window of accepted steps); at
        # the window's rate the speed would end at ratio**left q.
        left = np.maximum(self.max_iter - it.iterations[index], 0) / self.crawl_window
        left = np.where(it.rejected[index] == 0, np.minimum(left, _HORIZON), left)
        with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
            hopeless = ratio**left * it.cost[index] > self.tol
        # The first window of a search damped from its start holds its first descent: no
        # rate to extrapolate yet.
        first = it.mark_iter[index] == 0
        # Over-damped (mu above the whole curvature trace(A^T A) of the model): the steps
        # are gradient steps of length ~|A^T r| / mu, slow because of the damping, not the
        # landscape (e.g. on the way down to a slow point, a ghost): no verdict.
        judged = it.mu[index] <= it.trace[index]
        check = np.flatnonzero(full & judged & ((ratio > _CRAWL) | (hopeless & ~first)))
        if check.size:
            at = index[check]
            crawling[check] = is_neutral(
                it.normal[at], it.grad[at], 2.0 * it.cost[at], self.neutral_tol
            )
        it.start_window(index[full])
        return crawling


#: Bytes of the Jacobians one worker holds at a time: small blocks keep the buffers
#: warm (the allocator reuses them) instead of faulting in fresh pages every iteration.
_BLOCK_BYTES = 2**23


def _blocks(n: int, d: int) -> list[slice]:
    size = max(8, _BLOCK_BYTES // (8 * d * d))
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def _newton_directions(
    system: RecurrentSystem, h: FloatArray, x: FloatArray, r: FloatArray
) -> FloatArray:
    """Newton steps ``-(J - I)^-1 r`` for one worker's points, Jacobians block by block."""
    out = np.empty_like(r)
    for part in _blocks(h.shape[0], h.shape[1]):
        out[part] = _newton_step(system._jacobian_state(h[part], x[part]), r[part])
    return out


def _damped_linearization(
    system: RecurrentSystem,
    normal: FloatArray,
    index: np.ndarray,
    h: FloatArray,
    x: FloatArray,
    r: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Normal equations into ``normal[index]`` for one worker's points, block by block.

    Returns the diagonals of ``A^T A`` and the gradients ``A^T r``.
    """
    diag = np.empty_like(r)
    grad = np.empty_like(r)
    for part in _blocks(h.shape[0], h.shape[1]):
        jac = system._jacobian_state(h[part], x[part])
        diag[part], grad[part] = _normal_equations(normal, index[part], jac, r[part])
    return diag, grad


def _normal_equations(
    normal: FloatArray, index: np.ndarray, jac: FloatArray, r: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Store ``A^T A`` in ``normal[index]``; return its diagonal and ``A^T r`` (``A = J - I``).

    One block of points (``index`` ascending); a contiguous block is written in place.
    ``jac`` is overwritten with ``A``.
    """
    a = jac
    np.einsum("nii->ni", a)[...] -= 1.0
    at = np.transpose(a, (0, 2, 1))
    lo, hi = int(index[0]), int(index[-1]) + 1
    if hi - lo == index.size:
        block = np.matmul(at, a, out=normal[lo:hi])
    else:
        block = np.matmul(at, a)
        normal[index] = block
    return np.einsum("nii->ni", block).copy(), np.einsum("nij,nj->ni", at, r)


def _products(normal: FloatArray, index: np.ndarray, vectors: FloatArray) -> FloatArray:
    """``normal[index[k]] @ vectors[k]`` for each ``k``, without gathering the matrices."""
    out = np.empty_like(vectors)
    for k, i in enumerate(index):
        np.matmul(normal[i], vectors[k], out=out[k])
    return out


def _damped_step(
    normal: FloatArray, index: np.ndarray, mu: FloatArray, grad: FloatArray, pinned: np.ndarray
) -> FloatArray:
    """Solve ``(A^T A + mu I) delta = -A^T r`` for one worker's points ``normal[index]``.

    Coordinates flagged in ``pinned`` (their entries of ``grad`` zero) get a zero step:
    their rows and columns of ``A^T A`` are replaced by those of the identity. Block by
    block, so the damped copies of ``A^T A`` reuse warm buffers.
    """
    out = np.empty_like(grad)
    for part in _blocks(index.size, normal.shape[-1]):
        lhs = normal[index[part]]  # a copy, damped in place
        point, coord = np.nonzero(pinned[part])
        if point.size:
            lhs[point, coord, :] = 0.0
            lhs[point, :, coord] = 0.0
        np.einsum("nii->ni", lhs)[...] += mu[part, None] + pinned[part]
        out[part] = -solve_spd(lhs, grad[part])
    return out


def _newton_step(jac: FloatArray, r: FloatArray) -> FloatArray:
    """Solve ``(J - I) delta = -r`` for one block of points (NaN where singular).

    ``jac`` is overwritten with ``J - I``.
    """
    np.einsum("nii->ni", jac)[...] -= 1.0
    return -solve_lu(jac, r)
