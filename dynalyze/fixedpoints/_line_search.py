"""Backtracking line search along Newton directions, every candidate length in one batch.

Private to :mod:`dynalyze.fixedpoints.levenberg_marquardt`.
"""

from __future__ import annotations

import numpy as np

from dynalyze._validation import FloatArray
from dynalyze.fixedpoints.base import residual_and_speed
from dynalyze.systems.base import RecurrentSystem

__all__ = ["newton_line_search"]

#: Step lengths tried along a Newton direction, longest first (backtracking line search).
_NEWTON_STEP_LENGTHS = np.array([1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125])
#: Armijo constant: a Newton step of length t must lower q by at least this share of 2 t q.
_ARMIJO = 1e-4


def newton_line_search(
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
        r_all, q_flat = residual_and_speed(system, flat, np.tile(x[todo], (lengths.size, 1)))
        q_all = q_flat.reshape(lengths.size, todo.size)
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
