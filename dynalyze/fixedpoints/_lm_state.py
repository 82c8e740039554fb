"""The mutable state of a Levenberg-Marquardt search and of one iteration's trial steps.

Private to :mod:`dynalyze.fixedpoints.levenberg_marquardt`: plain arrays, one row per point.
"""

from __future__ import annotations

import attrs
import numpy as np

from dynalyze._validation import FloatArray
from dynalyze.fixedpoints.base import residual_and_speed
from dynalyze.systems.base import RecurrentSystem

#: Stop-reason placeholder while a point is still being iterated.
_RUNNING = -1


@attrs.define
class _Iterates:
    """The mutable state of one chunk's search, one row per point."""

    h: FloatArray
    x: FloatArray
    r: FloatArray  # F(h, x) - h
    cost: FloatArray  # q = 1/2 ||r||^2
    iterations: np.ndarray
    shared: np.ndarray  # iterations whose step came from another point's factorisation
    stop: np.ndarray  # why each point stopped (_RUNNING while it goes on)
    newton: np.ndarray  # still taking Newton steps (else damped LM)
    own: np.ndarray  # a chord step failed: its own Newton step next
    chord: np.ndarray  # this iteration's step is a chord step
    newton_step: FloatArray
    mu: FloatArray  # damping
    nu: FloatArray  # damping growth after a rejection
    normal: FloatArray  # A^T A (points in damped mode)
    grad: FloatArray  # A^T r
    trace: FloatArray  # trace(A^T A)
    mark_iter: np.ndarray  # where the current crawl window began (iteration) ...
    mark_cost: FloatArray  # ... and the speed there
    rejected: np.ndarray  # damped steps rejected since then

    @classmethod
    def start(
        cls, system: RecurrentSystem, h0: FloatArray, x: FloatArray, *, newton: bool
    ) -> _Iterates:
        m, d = h0.shape
        h = h0.copy()
        r, cost = residual_and_speed(system, h, x)
        return cls(
            h=h,
            x=x,
            r=r,
            cost=cost,
            iterations=np.zeros(m, dtype=np.int64),
            shared=np.zeros(m, dtype=np.int64),
            stop=np.full(m, _RUNNING, dtype=np.int8),
            newton=np.full(m, newton),
            own=np.zeros(m, dtype=bool),
            chord=np.zeros(m, dtype=bool),
            newton_step=np.zeros((m, d)),
            mu=np.zeros(m),
            nu=np.full(m, 2.0),
            normal=np.empty((m, d, d)),
            grad=np.empty((m, d)),
            trace=np.zeros(m),
            mark_iter=np.zeros(m, dtype=np.int64),
            mark_cost=cost.copy(),
            rejected=np.zeros(m, dtype=np.int64),
        )

    def start_window(self, index: np.ndarray) -> None:
        """A new crawl window at ``index``: from this iteration and speed, no rejections yet."""
        self.mark_iter[index] = self.iterations[index]
        self.mark_cost[index] = self.cost[index]
        self.rejected[index] = 0


@attrs.define
class _Trial:
    """Each active point's trial step: the step, where it lands, and whether it is taken."""

    delta: FloatArray
    state: FloatArray
    res: FloatArray
    value: FloatArray
    accept: np.ndarray
    rho: FloatArray  # gain ratio of damped steps

    @classmethod
    def empty(cls, k: int, d: int) -> _Trial:
        return cls(
            delta=np.empty((k, d)),
            state=np.empty((k, d)),
            res=np.empty((k, d)),
            value=np.full(k, np.inf),
            accept=np.zeros(k, dtype=bool),
            rho=np.zeros(k),
        )

    def set(
        self,
        pos: np.ndarray,
        accept: np.ndarray,
        delta: FloatArray,
        state: FloatArray,
        res: FloatArray,
        value: FloatArray,
    ) -> None:
        self.accept[pos], self.delta[pos], self.state[pos] = accept, delta, state
        self.res[pos], self.value[pos] = res, value
