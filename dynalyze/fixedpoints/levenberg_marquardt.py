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

from dynalyze._parallel import map_batches, single_threaded_blas
from dynalyze._validation import FloatArray, attrs_positive
from dynalyze.fixedpoints.base import (
    STOP_BUDGET,
    STOP_DAMPING,
    STOP_SMALL_STEP,
    STOP_STATIONARY,
    STOP_TOLERANCE,
    FixedPointFinder,
    SolverOutput,
)
from dynalyze.systems.base import RecurrentSystem

__all__ = ["LevenbergMarquardtFinder"]

logger = logging.getLogger(__name__)

#: Stop-reason placeholder while a point is still being iterated.
_RUNNING = -1

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
    bounded: bool = True

    def _solve(self, system: RecurrentSystem, h0: FloatArray, x: FloatArray) -> SolverOutput:
        n, d = h0.shape
        chunk = max(1, _CHUNK_BYTES // (3 * 8 * d * d))
        states = np.empty_like(h0)
        iterations = np.zeros(n, dtype=np.int64)
        stop = np.empty(n, dtype=np.int8)
        with (
            tqdm(
                total=n, desc="fixed points (LM)", unit="pt", disable=not self.progress, leave=False
            ) as bar,
            # Small BLAS calls between the batched solves: threads cost more than they give.
            single_threaded_blas(),
        ):
            for start in range(0, n, chunk):
                part = slice(start, min(start + chunk, n))
                states[part], iterations[part], stop[part] = self._solve_chunk(
                    system, h0[part], x[part], bar
                )
        return SolverOutput(states, iterations, stop)

    def _solve_chunk(
        self, system: RecurrentSystem, h0: FloatArray, x: FloatArray, bar: tqdm[Any]
    ) -> tuple[FloatArray, np.ndarray, np.ndarray]:
        m, d = h0.shape
        h = h0.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            r = system._step(h, x) - h
        cost = 0.5 * np.einsum("ni,ni->n", r, r)
        iterations = np.zeros(m, dtype=np.int64)
        stop = np.full(m, _RUNNING, dtype=np.int8)  # why each point stopped
        newton = np.full(m, self.newton_steps)  # still trying full Newton steps
        newton_step = np.zeros((m, d))
        mu = np.zeros(m)
        nu = np.full(m, 2.0)
        normal = np.empty((m, d, d))  # A^T A (points in damped mode)
        grad = np.empty((m, d))  # A^T r
        trace = np.zeros(m)  # trace(A^T A)
        bounds = system.state_bounds if self.bounded else None

        active = np.flatnonzero(~(cost <= self.tol))
        bar.update(m - active.size)
        relinearize = active
        while active.size:
            if relinearize.size:
                # Newton points: the full step solves A delta = -r (no normal equations).
                rel_newton = relinearize[newton[relinearize]]
                if rel_newton.size:
                    newton_step[rel_newton] = map_batches(
                        partial(_newton_directions, system),
                        [h[rel_newton], x[rel_newton], r[rel_newton]],
                    )
                rel_damped = relinearize[~newton[relinearize]]
                if rel_damped.size:
                    active = self._linearize_damped(
                        system,
                        h,
                        x,
                        r,
                        cost,
                        rel_damped,
                        normal,
                        grad,
                        trace,
                        mu,
                        stop,
                        active,
                        bar,
                    )
                    if not active.size:
                        break

            is_newton = newton[active]
            delta = np.empty((active.size, d))
            trial = np.empty((active.size, d))
            r_trial = np.empty((active.size, d))
            cost_trial = np.full(active.size, np.inf)
            accept = np.zeros(active.size, dtype=bool)
            rho = np.zeros(active.size)
            if is_newton.any():
                at = active[is_newton]
                found, step, state, res, value = _newton_line_search(
                    system, h[at], x[at], newton_step[at], cost[at], bounds
                )
                delta[is_newton], trial[is_newton] = step, state
                r_trial[is_newton], cost_trial[is_newton] = res, value
                accept[is_newton] = found
            damped_pos = np.flatnonzero(~is_newton)
            damped = active[damped_pos]
            if damped.size:
                step = map_batches(
                    partial(_damped_step, normal), [damped, mu[damped], grad[damped]]
                )
                predicted = 0.5 * np.einsum(
                    "ni,ni->n", step, mu[damped, None] * step - grad[damped]
                )
                state = h[damped] + step
                if bounds is not None:
                    # Projected step: stay in the invariant box of reachable states.
                    inside = np.clip(state, bounds[0], bounds[1])
                    moved = np.flatnonzero(np.any(inside != state, axis=1))
                    if moved.size:
                        state[moved] = inside[moved]
                        step[moved] = state[moved] - h[damped[moved]]
                        # Decrease the quadratic model predicts for the projected step.
                        curvature = np.einsum("nij,nj->ni", normal[damped[moved]], step[moved])
                        predicted[moved] = -(
                            np.einsum("ni,ni->n", step[moved], grad[damped[moved]])
                            + 0.5 * np.einsum("ni,ni->n", step[moved], curvature)
                        )
                with np.errstate(over="ignore", invalid="ignore"):
                    res = system._step(state, x[damped]) - state
                    value = 0.5 * np.einsum("ni,ni->n", res, res)
                with np.errstate(invalid="ignore", divide="ignore"):
                    ratio = (cost[damped] - value) / predicted
                delta[damped_pos], trial[damped_pos] = step, state
                r_trial[damped_pos], cost_trial[damped_pos] = res, value
                rho[damped_pos] = ratio
                accept[damped_pos] = np.isfinite(value) & (value < cost[damped]) & (ratio > 0)

            iterations[active] += 1
            acc, rej = active[accept], active[~accept]
            small = np.linalg.norm(delta[accept], axis=1) <= self.step_tol * (
                np.linalg.norm(h[acc], axis=1) + self.step_tol
            )
            h[acc], r[acc], cost[acc] = trial[accept], r_trial[accept], cost_trial[accept]
            acc_damped = acc[~newton[acc]]
            mu[acc_damped] *= np.maximum(
                1.0 / 3.0, 1.0 - (2.0 * rho[accept & ~is_newton] - 1.0) ** 3
            )
            nu[acc_damped] = 2.0
            rej_newton = rej[newton[rej]]
            rej_damped = rej[~newton[rej]]
            mu[rej_damped] *= nu[rej_damped]
            nu[rej_damped] *= 2.0
            # A rejected Newton step (no step length along it lowers the speed): switch the
            # point to damped (LM) steps from here on.
            newton[rej_newton] = False

            stop[acc[small]] = STOP_SMALL_STEP
            # Damping this large means no damped step lowers the speed any more.
            hopeless = mu[rej_damped] > 1e16 * np.maximum(1.0, trace[rej_damped])
            stop[rej_damped[hopeless]] = STOP_DAMPING
            reached = cost[active] <= self.tol
            stop[active[reached]] = STOP_TOLERANCE
            done = reached | (stop[active] != _RUNNING) | (iterations[active] >= self.max_iter)
            bar.update(int(done.sum()))
            keep = ~done
            still = np.zeros(m, dtype=bool)
            still[active[keep]] = True
            # Accepted points move (new linearization); rejected Newton points need the
            # normal equations at their unchanged state.
            relinearize = np.union1d(acc, rej_newton)
            relinearize = relinearize[still[relinearize]]
            active = active[keep]
        stop[cost <= self.tol] = STOP_TOLERANCE
        stop[stop == _RUNNING] = STOP_BUDGET
        return h, iterations, stop

    def _linearize_damped(
        self,
        system: RecurrentSystem,
        h: FloatArray,
        x: FloatArray,
        r: FloatArray,
        cost: FloatArray,
        index: np.ndarray,
        normal: FloatArray,
        grad: FloatArray,
        trace: FloatArray,
        mu: FloatArray,
        stop: np.ndarray,
        active: np.ndarray,
        bar: tqdm[Any],
    ) -> np.ndarray:
        """Normal equations at ``index``; flag stationary points; return the still-active."""
        d = h.shape[1]
        # Written into `normal` by the workers: no full-size gather or scatter here.
        diag, grad[index] = map_batches(
            partial(_damped_linearization, system, normal), [index, h[index], x[index], r[index]]
        )
        trace[index] = diag.sum(axis=1)
        fresh = mu[index] == 0.0
        mu[index[fresh]] = self.initial_damping * np.maximum(diag[fresh].max(axis=1), 1e-12)
        # Stationary points of the speed above tolerance: slow points.
        # The same scale-free test as the status (FixedPointFinder._relative_gradient).
        scale = np.maximum(np.sqrt(diag.sum(axis=1) / d), 1.0) * np.sqrt(2.0 * cost[index])
        flat = np.linalg.norm(grad[index], axis=1) <= self.stationarity_tol * scale
        stop[index[flat]] = STOP_STATIONARY
        if flat.any():
            active = active[stop[active] == _RUNNING]
            bar.update(int(flat.sum()))
        return active


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


def _damped_step(
    normal: FloatArray, index: np.ndarray, mu: FloatArray, grad: FloatArray
) -> FloatArray:
    """Solve ``(A^T A + mu I) delta = -A^T r`` for one block of points ``normal[index]``."""
    lhs = normal[index]  # a copy, damped in place
    diagonal = np.einsum("nii->ni", lhs)
    diagonal += mu[:, None]
    out = -np.linalg.solve(lhs, grad[..., None])[..., 0]
    return np.asarray(out, dtype=np.float64)


#: Step lengths tried along a Newton direction, longest first (backtracking line search).
_NEWTON_STEP_LENGTHS = np.array([1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125])
#: Armijo constant: a Newton step of length t must lower q by at least this share of 2 t q.
_ARMIJO = 1e-4


def _newton_line_search(
    system: RecurrentSystem,
    h: FloatArray,
    x: FloatArray,
    direction: FloatArray,
    cost: FloatArray,
    bounds: tuple[FloatArray, FloatArray] | None,
) -> tuple[np.ndarray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Backtrack along the Newton direction: the longest step in the box that lowers q enough.

    The Newton direction is a descent direction of q wherever ``J - I`` is
    regular (its slope is ``-2 q``), so some step length lowers q unless the
    linearization is (nearly) singular. Every candidate length is evaluated in
    one batched step call (a step costs a small fraction of the Jacobian and
    its solve). Returns ``(found, step, state, residual, q)``; points
    with no acceptable length get ``found = False``.
    """
    k, d = h.shape
    finite = np.all(np.isfinite(direction), axis=1)
    step = np.where(finite[:, None], direction, 0.0)
    found = np.zeros(k, dtype=bool)
    length = np.zeros(k)
    state = h.copy()
    res = np.zeros_like(h)
    value = np.full(k, np.inf)
    # The full step first (it is taken almost everywhere near a root); only the points
    # it fails for try the shorter lengths, all of them in one batched step call.
    for lengths, todo in (
        (_NEWTON_STEP_LENGTHS[:1], np.flatnonzero(finite)),
        (_NEWTON_STEP_LENGTHS[1:], None),
    ):
        if todo is None:
            todo = np.flatnonzero(finite & ~found)
        if not todo.size:
            continue
        trials = h[todo][None] + lengths[:, None, None] * step[todo][None]  # (lengths, k', d)
        valid = np.ones((lengths.size, todo.size), dtype=bool)
        if bounds is not None:
            valid &= np.all((trials >= bounds[0]) & (trials <= bounds[1]), axis=2)
        flat = trials.reshape(-1, d)
        with np.errstate(over="ignore", invalid="ignore"):
            r_all = system._step(flat, np.tile(x[todo], (lengths.size, 1))) - flat
            q_all = 0.5 * np.einsum("ni,ni->n", r_all, r_all).reshape(lengths.size, todo.size)
        with np.errstate(invalid="ignore"):
            valid &= np.isfinite(q_all) & (
                q_all <= cost[todo] * (1.0 - _ARMIJO * 2.0 * lengths[:, None])
            )
        ok = valid.any(axis=0)
        pick = np.argmax(valid, axis=0)[ok]  # the longest acceptable length
        rows = pick * todo.size + np.flatnonzero(ok)
        chosen = todo[ok]
        found[chosen] = True
        length[chosen] = lengths[pick]
        state[chosen] = flat[rows]
        res[chosen] = r_all[rows]
        value[chosen] = q_all[pick, np.flatnonzero(ok)]
    return found, length[:, None] * step, state, res, value


def _newton_step(jac: FloatArray, r: FloatArray) -> FloatArray:
    """Solve ``(J - I) delta = -r`` for one block of points (NaN where singular).

    ``jac`` is overwritten with ``J - I``.
    """
    a = jac
    np.einsum("nii->ni", a)[...] -= 1.0
    try:
        out = -np.linalg.solve(a, r[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.full_like(r, np.nan)
        for k in range(a.shape[0]):
            try:
                out[k] = -np.linalg.solve(a[k], r[k])
            except np.linalg.LinAlgError:
                continue
    return np.asarray(out, dtype=np.float64)
