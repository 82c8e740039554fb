"""Follow fixed points as the input moves: pseudo-arclength continuation.

The fixed points of ``h = F(h, x)`` change with the input ``x``: as a network's
input moves from ``x = 0`` (where the paper analyses it) to its baseline input
``x_b`` (where it runs), or from ``x_b`` to one word's embedding, roots move,
and pairs of them can meet and vanish (a *fold*, or saddle-node) or be born.
:func:`continue_fixed_points` follows every root along the straight input path
``x(s) = x_0 + s (x_1 - x_0)``, ``s`` from 0 to 1:

1. **Tangent.** On the solution curve of ``G(h, s) = F(h, x(s)) - h = 0`` in
   ``(h, s)`` space the tangent ``t`` spans the null space of
   ``[J_h - I, J_x (x_1 - x_0)]``; it is solved from the bordered system
   ``[[J_h - I, J_x dx], [t_prev^T]] t = [0, 1]`` (oriented like the previous
   tangent, so the curve is followed through a fold).
2. **Predictor-corrector (pseudo-arclength).** Step ``ds`` along ``t``, then
   Newton on ``G = 0`` together with ``t . (y - y_pred) = 0``; the step grows
   when Newton converges quickly and halves when it does not.
3. **Folds.** Where the tangent's ``s`` component changes sign the branch turns
   back in ``s``: two roots meet there. The fold is located by bisecting the
   arclength step (to ``fold_tol``) and marked; the branch is followed on (its
   other half has the other root's stability).
4. **Both ends.** Branches start from the given roots at ``s = 0`` (forward) and
   from roots at ``s = 1`` (backward) that no forward branch reached, so roots
   born at a fold between the ends are found too. A branch ends where it
   reaches ``s = 1`` or returns to ``s = 0`` (the root there is solved exactly),
   leaves the system's state box, or runs out of steps.

The result is a ``continuation`` dataset: every point of every branch with its
``s``, state, ``|lambda_1|`` and stability, the folds flagged, and per branch
where it started and ended and how.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from dynalyze._validation import (
    FloatArray,
    as_batch,
    as_float_array,
    attrs_positive,
    attrs_positive_int,
)
from dynalyze.errors import InputShapeError, UnsupportedModelError
from dynalyze.linearization import MARGINAL_TOL, eigendecompose, stability_class
from dynalyze.results.build import make_dataset, state_coords
from dynalyze.systems.base import RecurrentSystem

__all__ = [
    "BRANCH_STATUS",
    "Continuation",
    "branch_rows",
    "continue_fixed_points",
]

logger = logging.getLogger(__name__)

#: How a branch ended (``branch_status`` flags).
BRANCH_STATUS = {
    0: "reached_end",
    1: "returned",
    2: "step_budget",
    3: "failed",
    4: "left_bounds",
}
REACHED_END, RETURNED, STEP_BUDGET, FAILED, LEFT_BOUNDS = range(5)


@attrs.frozen
class _Branch:
    s: FloatArray
    states: FloatArray
    is_fold: np.ndarray
    status: int
    origin: int  # 0: from a root at s = 0, 1: from a root at s = 1


@attrs.frozen(kw_only=True)
class Continuation:
    """Pseudo-arclength continuation of fixed points along an input path.

    Parameters
    ----------
    step : float
        First arclength step (in the joint ``(h, s)`` space).
    max_step, min_step : float
        Bounds of the adaptive step; a branch whose corrector fails below
        ``min_step`` ends as ``failed``.
    max_steps : int
        Steps per branch.
    newton_tol : float
        Corrector convergence: ``||F(h, x(s)) - h|| <= newton_tol``.
    max_newton : int
        Corrector iterations per step.
    fold_tol : float
        Arclength to which a fold is located.
    match_tol : float
        Roots closer than this (relative to ``max(1, ||h||)``) are the same.
    marginal_tol : float
        Band of ``|lambda|`` around 1 called marginal (stability flags).

    Examples
    --------
    ``h' = tanh(1.5 h + x)``: two stable roots and a saddle at ``x = 0``; the
    lower stable root meets the saddle at a fold when ``x`` reaches
    ``x* = a sqrt(1 - 1/a) - atanh(sqrt(1 - 1/a))`` (``a = 1.5``):

    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(1), 1.5 * np.eye(1), np.zeros(1))
    >>> roots = np.array([[-0.8586], [0.0], [0.8586]])
    >>> ds = Continuation().compute(system, roots, [0.0], [1.0])
    >>> a = 1.5; h = np.sqrt(1 - 1 / a); x_star = a * h - np.arctanh(h)
    >>> fold_s = ds["continuation_s"].values[ds["continuation_is_fold"].values == 1]
    >>> bool(np.allclose(fold_s, x_star, atol=1e-6)), int(ds["n_folds"])
    (True, 1)
    """

    step: float = attrs.field(default=0.02, validator=attrs_positive)
    max_step: float = attrs.field(default=0.1, validator=attrs_positive)
    min_step: float = attrs.field(default=1e-7, validator=attrs_positive)
    max_steps: int = attrs.field(default=3000, validator=attrs_positive_int)
    newton_tol: float = attrs.field(default=1e-10, validator=attrs_positive)
    max_newton: int = attrs.field(default=8, validator=attrs_positive_int)
    fold_tol: float = attrs.field(default=1e-9, validator=attrs_positive)
    match_tol: float = attrs.field(default=1e-5, validator=attrs_positive)
    marginal_tol: float = attrs.field(default=MARGINAL_TOL, validator=attrs_positive)

    def compute(
        self,
        system: RecurrentSystem,
        roots: ArrayLike,
        start_input: ArrayLike | None,
        end_input: ArrayLike,
        *,
        end_roots: ArrayLike | None = None,
    ) -> xr.Dataset:
        """Follow ``roots`` (fixed points at ``start_input``) to ``end_input``.

        Parameters
        ----------
        system : RecurrentSystem
            The map ``F``.
        roots : array_like, shape (k, state_dim)
            Fixed points at ``start_input`` (e.g. exact roots from
            :func:`dynalyze.find_fixed_points` with a tight ``tol``).
        start_input : array_like, shape (input_dim,) or None
            ``x_0`` (None: zero input).
        end_input : array_like, shape (input_dim,)
            ``x_1``.
        end_roots : array_like, shape (m, state_dim), optional
            Fixed points at ``end_input``; those no branch from ``roots`` reaches
            are followed backwards (roots born at a fold on the way).

        Returns
        -------
        xarray.Dataset
            A ``continuation`` dataset.
        """
        if not isinstance(system, RecurrentSystem):
            raise UnsupportedModelError(
                f"continue_fixed_points() needs a dynalyze RecurrentSystem; got "
                f"{type(system).__name__}. Wrap a Keras object with dynalyze.wrap(obj) first."
            )
        n, m = system.state_dim, system.input_dim
        x0 = np.zeros(m) if start_input is None else _vector(start_input, m, "start_input")
        x1 = _vector(end_input, m, "end_input")
        starts = _roots(roots, n, "roots")
        ends = np.zeros((0, n)) if end_roots is None else _roots(end_roots, n, "end_roots")
        tracer = _Tracer(self, system, x0, x1)
        branches: list[_Branch] = []
        for h in starts:
            if _reached(branches, h, 0.0, self.match_tol):
                continue  # another branch folded back onto this root: the same branch
            branches.append(tracer.trace(h, 0.0, +1.0, origin=0))
        for h in ends:
            if _reached(branches, h, 1.0, self.match_tol):
                continue
            branches.append(tracer.trace(h, 1.0, -1.0, origin=1))
        return self._assemble(system, branches, x0, x1)

    def _assemble(
        self, system: RecurrentSystem, branches: list[_Branch], x0: FloatArray, x1: FloatArray
    ) -> xr.Dataset:
        n = system.state_dim
        if branches:
            s = np.concatenate([b.s for b in branches])
            states = np.concatenate([b.states for b in branches])
            fold = np.concatenate([b.is_fold for b in branches])
            which = np.concatenate([np.full(b.s.size, i) for i, b in enumerate(branches)])
        else:
            s, states = np.zeros(0), np.zeros((0, n))
            fold, which = np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
        magnitude = np.full(s.size, np.nan)
        stability = np.full(s.size, 1, dtype=np.int8)
        for begin in range(0, s.size, 512):
            part = slice(begin, begin + 512)
            x = x0 + s[part, None] * (x1 - x0)
            values, _, _ = eigendecompose(system._jacobian_state(states[part], x))
            magnitude[part] = np.abs(values[:, 0])
            stability[part] = _stability(values, self.marginal_tol)
        variables: dict[str, Any] = {
            "continuation_branch": which,
            "continuation_s": s,
            "continuation_state": states,
            "continuation_top_eigenvalue_magnitude": magnitude,
            "continuation_stability": stability,
            "continuation_is_fold": fold.astype(np.int8),
            "branch_start_s": [float(b.s[0]) for b in branches],
            "branch_end_s": [float(b.s[-1]) for b in branches],
            "branch_status": np.asarray([b.status for b in branches], dtype=np.int8),
            "branch_origin": np.asarray([b.origin for b in branches], dtype=np.int8),
            "branch_n_folds": np.asarray([int(b.is_fold.sum()) for b in branches]),
            "n_folds": int(fold.sum()),
            "path_start_input": x0,
            "path_end_input": x1,
        }
        coords: dict[str, Any] = {
            **state_coords(system.layout.component_labels(), system.layout.unit_indices()),
            "branch": np.arange(len(branches)),
        }
        logger.info(
            "continuation: %d branches, %d folds, %d points",
            len(branches),
            int(fold.sum()),
            s.size,
        )
        return make_dataset(
            "continuation",
            variables,
            coords,
            config=self,
            provenance=system.describe(),
            title="dynalyze fixed-point continuation along an input path",
        )


def continue_fixed_points(
    system: RecurrentSystem,
    roots: ArrayLike,
    start_input: ArrayLike | None,
    end_input: ArrayLike,
    *,
    end_roots: ArrayLike | None = None,
    **options: Any,
) -> xr.Dataset:
    """Follow fixed points from ``start_input`` to ``end_input`` (see :class:`Continuation`).

    Ask how one word reshapes the fixed points: continue the roots at the
    baseline input ``x_b`` to that word's embedding.

    Examples
    --------
    A leaky unit ``h' = 0.5 h + x``: its one root moves linearly from 0 to 2 as
    ``x`` goes from 0 to 1, with no fold.

    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(1), 0.5 * np.eye(1), np.zeros(1), activation="linear")
    >>> ds = continue_fixed_points(system, [[0.0]], None, [1.0])
    >>> float(ds["continuation_state"].values[-1, 0]), int(ds["n_folds"])
    (2.0, 0)
    """
    return Continuation(**options).compute(
        system, roots, start_input, end_input, end_roots=end_roots
    )


def branch_rows(ds: xr.Dataset) -> list[dict[str, Any]]:
    """Each branch of a ``continuation`` dataset as a plain dict (for reports and JSON).

    Positions are along the manifold axis when the dataset has
    ``continuation_position`` (a line-attractor analysis adds it), else NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(1), 1.5 * np.eye(1), np.zeros(1))
    >>> ds = continue_fixed_points(system, [[-0.8586], [0.0], [0.8586]], [0.0], [1.0])
    >>> [(r["start_stability"], r["end_stability"], r["status"]) for r in branch_rows(ds)]
    [('stable', 'unstable', 'returned'), ('stable', 'stable', 'reached_end')]
    """
    flags = {0: "stable", 1: "marginal", 2: "saddle", 3: "unstable"}
    which = ds["continuation_branch"].values
    s = ds["continuation_s"].values
    magnitude = ds["continuation_top_eigenvalue_magnitude"].values
    stability = ds["continuation_stability"].values
    fold = ds["continuation_is_fold"].values.astype(bool)
    position = (
        ds["continuation_position"].values
        if "continuation_position" in ds
        else np.full(s.size, np.nan)
    )
    rows = []
    for b in range(ds.sizes.get("branch", 0)):
        idx = np.flatnonzero(which == b)
        first, last = idx[0], idx[-1]
        rows.append(
            {
                "origin": "start" if int(ds["branch_origin"].values[b]) == 0 else "end",
                "status": BRANCH_STATUS[int(ds["branch_status"].values[b])],
                "start_s": float(s[first]),
                "end_s": float(s[last]),
                "start_position": float(position[first]),
                "end_position": float(position[last]),
                "start_stability": flags[int(stability[first])],
                "end_stability": flags[int(stability[last])],
                "start_top_eigenvalue_magnitude": float(magnitude[first]),
                "end_top_eigenvalue_magnitude": float(magnitude[last]),
                "fold_s": [float(v) for v in s[idx][fold[idx]]],
                "fold_position": [float(v) for v in position[idx][fold[idx]]],
            }
        )
    return rows


# ------------------------------------------------------------------ numerics
class _Tracer:
    """One branch at a time: predictor, corrector, tangents and folds."""

    def __init__(
        self, config: Continuation, system: RecurrentSystem, x0: FloatArray, x1: FloatArray
    ) -> None:
        self.c = config
        self.system = system
        self.x0, self.dx = x0, x1 - x0
        self.n = system.state_dim
        bounds = system.state_bounds
        self.bounds = None if bounds is None else (np.asarray(bounds[0]), np.asarray(bounds[1]))

    # -- the map and its Jacobians at y = (h, s)
    def _residual(self, y: FloatArray) -> FloatArray:
        h, x = y[None, : self.n], (self.x0 + y[self.n] * self.dx)[None]
        out: FloatArray = self.system._step(h, x)[0] - y[: self.n]
        return out

    def _jacobian(self, y: FloatArray) -> FloatArray:
        """``[J_h - I, J_x dx]``, shape (n, n + 1)."""
        h, x = y[None, : self.n], (self.x0 + y[self.n] * self.dx)[None]
        jac_h, jac_x = self.system._jacobians(h, np.ascontiguousarray(x))
        out = np.empty((self.n, self.n + 1))
        out[:, : self.n] = jac_h[0] - np.eye(self.n)
        out[:, self.n] = jac_x[0] @ self.dx
        return out

    def _tangent(self, y: FloatArray, previous: FloatArray) -> FloatArray | None:
        jac = self._jacobian(y)
        bordered = np.vstack([jac, previous[None]])
        rhs = np.zeros(self.n + 1)
        rhs[-1] = 1.0
        try:
            t = np.linalg.solve(bordered, rhs)
        except np.linalg.LinAlgError:
            return None
        norm = np.linalg.norm(t)
        return None if not np.isfinite(norm) or norm == 0 else t / norm

    def _initial_tangent(self, y: FloatArray, direction: float) -> FloatArray | None:
        # Null vector of [J_h - I, J_x dx] by SVD: valid even where J_h - I is singular.
        _, _, vt = np.linalg.svd(self._jacobian(y))
        t = vt[-1]
        if t[self.n] == 0:
            return None
        return np.asarray(t * np.sign(t[self.n]) * direction, dtype=np.float64)

    def _correct(self, predicted: FloatArray, tangent: FloatArray) -> tuple[FloatArray | None, int]:
        y = predicted.copy()
        for it in range(1, self.c.max_newton + 1):
            residual = self._residual(y)
            if np.linalg.norm(residual) <= self.c.newton_tol:
                return y, it - 1
            jac = np.vstack([self._jacobian(y), tangent[None]])
            rhs = np.concatenate([-residual, [-(tangent @ (y - predicted))]])
            try:
                delta = np.linalg.solve(jac, rhs)
            except np.linalg.LinAlgError:
                return None, it
            y = y + delta
            if not np.all(np.isfinite(y)):
                return None, it
        ok = np.linalg.norm(self._residual(y)) <= self.c.newton_tol
        return (y if ok else None), self.c.max_newton

    def _root_at(self, guess: FloatArray, s: float) -> FloatArray | None:
        """Newton on ``h`` with ``s`` fixed (the exact root where a branch meets an end)."""
        y = np.append(guess, s)
        for _ in range(self.c.max_newton * 2):
            residual = self._residual(y)
            if np.linalg.norm(residual) <= self.c.newton_tol:
                return y
            try:
                y[: self.n] += np.linalg.solve(self._jacobian(y)[:, : self.n], -residual)
            except np.linalg.LinAlgError:
                return None
        return y if np.linalg.norm(self._residual(y)) <= self.c.newton_tol else None

    def _outside(self, h: FloatArray) -> bool:
        if self.bounds is None:
            return False
        lo, hi = self.bounds
        return bool(np.any(h < lo - 1e-9) or np.any(h > hi + 1e-9))

    def _locate_fold(self, y: FloatArray, t: FloatArray, ds: float) -> FloatArray:
        """Bisect the step length from ``y`` until the tangent's s-sign change is pinned."""
        lo, hi = 0.0, ds
        best = y
        sign = np.sign(t[self.n])
        while hi - lo > self.c.fold_tol:
            mid = 0.5 * (lo + hi)
            point, _ = self._correct(y + mid * t, t)
            if point is None:
                break
            tangent = self._tangent(point, t)
            if tangent is None:
                best = point
                break
            if np.sign(tangent[self.n]) == sign:
                lo, best = mid, point
            else:
                hi = mid
        return best

    # -- one branch
    def trace(self, h0: FloatArray, s0: float, direction: float, *, origin: int) -> _Branch:
        y = np.append(np.asarray(h0, dtype=np.float64), s0)
        s_list, h_list, folds = [s0], [y[: self.n].copy()], [False]
        t = self._initial_tangent(y, direction)
        status = FAILED
        if t is None:
            return _Branch(np.array(s_list), np.array(h_list), np.array(folds), status, origin)
        ds = self.c.step
        status = STEP_BUDGET
        for _ in range(self.c.max_steps):
            predicted = y + ds * t
            point, iterations = self._correct(predicted, t)
            new_t = None if point is None else self._tangent(point, t)
            if point is None or new_t is None or not _smooth(y, t, point, new_t, predicted, ds):
                ds *= 0.5
                if ds < self.c.min_step:
                    status = FAILED
                    break
                continue
            if np.sign(new_t[self.n]) != np.sign(t[self.n]):
                fold = self._locate_fold(y, t, ds)
                s_list.append(float(fold[self.n]))
                h_list.append(fold[: self.n].copy())
                folds.append(True)
            s_new = float(point[self.n])
            if s_new >= 1.0 or s_new <= 0.0:
                end = 1.0 if s_new >= 1.0 else 0.0
                frac = (end - y[self.n]) / (s_new - y[self.n])
                guess = y[: self.n] + frac * (point[: self.n] - y[: self.n])
                exact = self._root_at(guess, end)
                if exact is not None:
                    s_list.append(end)
                    h_list.append(exact[: self.n].copy())
                    folds.append(False)
                    reached = end != s0
                    status = REACHED_END if reached else RETURNED
                else:
                    status = FAILED
                break
            if self._outside(point[: self.n]):
                status = LEFT_BOUNDS
                break
            s_list.append(s_new)
            h_list.append(point[: self.n].copy())
            folds.append(False)
            y, t = point, new_t
            if iterations <= 2:
                ds = min(ds * 1.5, self.c.max_step)
            elif iterations >= 5:
                ds *= 0.7
        return _Branch(np.array(s_list), np.array(h_list), np.array(folds), status, origin)


def _smooth(
    y: FloatArray,
    t: FloatArray,
    point: FloatArray,
    new_t: FloatArray,
    predicted: FloatArray,
    ds: float,
) -> bool:
    """Accept a step only if it stays on the branch being followed.

    The corrector must stay near the predictor (within ``ds``), move forward along
    the tangent, and the tangent may turn by at most ~25 degrees per step; a longer
    step near a fold could otherwise jump onto another branch or back over itself.
    """
    return bool(
        np.linalg.norm(point - predicted) <= ds and (point - y) @ t > 0 and float(new_t @ t) >= 0.9
    )


def _stability(values: np.ndarray, tol: float) -> np.ndarray:
    """The fixed-point structure's convention: stable iff every ``|lambda| < 1``
    (FixedPointFinder's), unstable beyond ``1 + tol`` (saddle if some mode decays),
    marginal in between."""
    out = np.asarray(stability_class(values, tol), dtype=np.int8)
    out[np.all(np.abs(values) < 1.0, axis=-1)] = 0
    return out


def _reached(branches: list[_Branch], h: FloatArray, s: float, tol: float) -> bool:
    """Whether a traced branch ends (or starts) at root ``h`` at input position ``s``."""
    scale = max(1.0, float(np.linalg.norm(h)))
    for b in branches:
        for k in (0, -1):
            if b.s[k] == s and np.linalg.norm(b.states[k] - h) <= tol * scale:
                return True
    return False


def _vector(value: ArrayLike, dim: int, name: str) -> FloatArray:
    array = as_float_array(value, name).reshape(-1)
    if array.shape != (dim,):
        raise InputShapeError(
            f"{name} must be one input vector of length {dim}; got {array.shape[0]} values."
        )
    out: FloatArray = as_batch(array, dim, name)[0]
    return out


def _roots(value: ArrayLike, dim: int, name: str) -> FloatArray:
    array = as_float_array(value, name)
    if array.size == 0:
        return np.zeros((0, dim))
    return as_batch(array, dim, name, allow_single=True)
