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
from typing import ClassVar

import attrs
import numpy as np
from tqdm.auto import tqdm

from dynalyze._parallel import map_batches, single_threaded_blas
from dynalyze._validation import FloatArray, attrs_positive
from dynalyze.fixedpoints.base import FixedPointFinder, SolverOutput
from dynalyze.systems.base import RecurrentSystem

__all__ = ["LevenbergMarquardtFinder"]

logger = logging.getLogger(__name__)

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
    bounded: bool = True

    def _solve(self, system: RecurrentSystem, h0: FloatArray, x: FloatArray) -> SolverOutput:
        n, d = h0.shape
        chunk = max(1, _CHUNK_BYTES // (3 * 8 * d * d))
        states = np.empty_like(h0)
        iterations = np.zeros(n, dtype=np.int64)
        stationary = np.zeros(n, dtype=bool)
        with (
            tqdm(
                total=n, desc="fixed points (LM)", unit="pt", disable=not self.progress, leave=False
            ) as bar,
            # Small BLAS calls between the batched solves: threads cost more than they give.
            single_threaded_blas(),
        ):
            for start in range(0, n, chunk):
                part = slice(start, min(start + chunk, n))
                states[part], iterations[part], stationary[part] = self._solve_chunk(
                    system, h0[part], x[part], bar
                )
        return SolverOutput(states, iterations, stationary)

    def _solve_chunk(
        self, system: RecurrentSystem, h0: FloatArray, x: FloatArray, bar: tqdm
    ) -> tuple[FloatArray, np.ndarray, np.ndarray]:
        m, d = h0.shape
        h = h0.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            r = system._step(h, x) - h
        cost = 0.5 * np.einsum("ni,ni->n", r, r)
        iterations = np.zeros(m, dtype=np.int64)
        stationary = np.zeros(m, dtype=bool)
        mu = np.zeros(m)
        nu = np.full(m, 2.0)
        normal = np.empty((m, d, d))  # A^T A
        grad = np.empty((m, d))  # A^T r
        trace = np.zeros(m)  # trace(A^T A)

        bounds = system.state_bounds if self.bounded else None
        active = np.flatnonzero(~(cost <= self.tol))
        bar.update(m - active.size)
        relinearize = active
        while active.size:
            if relinearize.size:
                jac = system._jacobian_state(h[relinearize], x[relinearize])
                # Written into `normal` by the workers: no full-size gather or scatter here.
                diag, grad[relinearize] = map_batches(
                    partial(_normal_equations, normal), [relinearize, jac, r[relinearize]]
                )
                del jac
                trace[relinearize] = diag.sum(axis=1)
                fresh = mu[relinearize] == 0.0
                mu[relinearize[fresh]] = self.initial_damping * np.maximum(
                    diag[fresh].max(axis=1), 1e-12
                )
                # Stationary points of the speed above tolerance: slow points.
                scale = np.sqrt(diag.sum(axis=1) / d) * np.sqrt(2.0 * cost[relinearize])
                flat = np.linalg.norm(grad[relinearize], axis=1) <= self.stationarity_tol * scale
                stationary[relinearize[flat]] = True
                if flat.any():
                    active = active[~stationary[active]]
                    bar.update(int(flat.sum()))
                    if not active.size:
                        break

            delta = map_batches(partial(_damped_step, normal), [active, mu[active], grad[active]])
            trial = h[active] + delta
            predicted = 0.5 * np.einsum("ni,ni->n", delta, mu[active, None] * delta - grad[active])
            if bounds is not None:
                # Projected step: stay in the invariant box of reachable states.
                inside = np.clip(trial, bounds[0], bounds[1])
                moved = np.flatnonzero(np.any(inside != trial, axis=1))
                if moved.size:
                    trial = inside
                    delta[moved] = trial[moved] - h[active[moved]]
                    # Decrease the quadratic model predicts for the projected step.
                    step = delta[moved]
                    curvature = np.einsum("nij,nj->ni", normal[active[moved]], step)
                    predicted[moved] = -(
                        np.einsum("ni,ni->n", step, grad[active[moved]])
                        + 0.5 * np.einsum("ni,ni->n", step, curvature)
                    )
            with np.errstate(over="ignore", invalid="ignore"):
                r_trial = system._step(trial, x[active]) - trial
                cost_trial = 0.5 * np.einsum("ni,ni->n", r_trial, r_trial)
            with np.errstate(invalid="ignore", divide="ignore"):
                rho = (cost[active] - cost_trial) / predicted
            accept = np.isfinite(cost_trial) & (cost_trial < cost[active]) & (rho > 0)

            iterations[active] += 1
            acc, rej = active[accept], active[~accept]
            small = np.linalg.norm(delta[accept], axis=1) <= self.step_tol * (
                np.linalg.norm(h[acc], axis=1) + self.step_tol
            )
            h[acc], r[acc], cost[acc] = trial[accept], r_trial[accept], cost_trial[accept]
            mu[acc] *= np.maximum(1.0 / 3.0, 1.0 - (2.0 * rho[accept] - 1.0) ** 3)
            nu[acc] = 2.0
            mu[rej] *= nu[rej]
            nu[rej] *= 2.0

            stalled = np.zeros(m, dtype=bool)
            stalled[acc[small]] = True
            # Damping this large means no descent direction is left: a stationary point.
            hopeless = mu[rej] > 1e16 * np.maximum(1.0, trace[rej])
            stalled[rej[hopeless]] = True
            stationary[stalled] = True
            done = (
                (cost[active] <= self.tol) | stalled[active] | (iterations[active] >= self.max_iter)
            )
            bar.update(int(done.sum()))
            relinearize = acc[~done[accept]]
            active = active[~done]
        return h, iterations, stationary


def _normal_equations(
    normal: FloatArray, index: np.ndarray, jac: FloatArray, r: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Store ``A^T A`` in ``normal[index]``; return its diagonal and ``A^T r`` (``A = J - I``).

    One block of points (``index`` ascending); a contiguous block is written in place.
    """
    a = jac - np.eye(jac.shape[1])
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
