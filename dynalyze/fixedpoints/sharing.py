"""Shared factorisations: chord steps for the starts of a search that have gathered.

A search from many starts spends most of its time factorising ``J - I``, one
matrix per start and iteration. But most starts end at a few roots, and once
their iterates have gathered the Jacobians at them are nearly one matrix. Here
the points of one iteration are grouped (the lowest-speed point leads; every
point with the same input within ``radius`` of it joins), the leader's
``J - I`` is factorised once, and every member takes the chord
(simplified-Newton) step ``-(J_leader - I)^-1 r`` with it: two triangular
solves instead of a Jacobian and an LU factorisation of its own. The leader's
own step is its exact Newton step; a leader whose step is longer than
``radius`` is still far from its root and shares nothing.

A chord step is kept only when it shrinks the member's residual by at least
the factor ``contraction``; a member whose step does not is left where it was
and takes its own Newton step next (and so never converges to a root its own
Newton iteration would not reach from the same state). The factorisation is
fresh every iteration (the leader's current state): as the leader converges,
its Jacobian becomes the root's, and chord steps there converge like Newton's.

These are pure functions on arrays; :class:`~dynalyze.fixedpoints.LevenbergMarquardtFinder`
calls them (``share_radius``).
"""

from __future__ import annotations

import attrs
import numpy as np

from dynalyze._validation import FloatArray
from dynalyze.fixedpoints.base import residual_and_speed
from dynalyze.systems.base import RecurrentSystem

__all__ = ["Groups", "chord_trial", "gather", "shared_directions"]

#: At most this many leaders are tried per iteration (the grouping is a Python loop
#: over leaders, each O(points x state)); the points left over take their own Newton
#: steps, so where points do not gather the grouping costs next to nothing.
MAX_LEADS = 32


@attrs.frozen
class Groups:
    """Points of one iteration grouped around leaders (positions into the iteration's points).

    Parameters
    ----------
    members : list of ndarray
        Each group's positions, its leader first; every group has two or more.
    alone : ndarray
        Positions in no group: they take their own Newton step.

    Examples
    --------
    >>> import numpy as np
    >>> groups = Groups([np.array([3, 0, 1])], np.array([2]))
    >>> groups.leaders.tolist(), groups.alone.tolist()
    ([3], [2])
    """

    members: list[np.ndarray]
    alone: np.ndarray

    @property
    def leaders(self) -> np.ndarray:
        """Each group's leader."""
        return np.array([group[0] for group in self.members], dtype=np.int64)


def gather(
    h: FloatArray,
    x: FloatArray,
    cost: FloatArray,
    eligible: np.ndarray,
    radius: float,
    *,
    max_leads: int = MAX_LEADS,
) -> Groups:
    """Group points around the lowest-speed ones: same input, within ``radius``.

    Greedy: the eligible point of least speed not yet grouped leads, and every
    eligible, ungrouped point with the same input within Euclidean distance
    ``radius`` of it joins. A leader that nobody joins stays alone; after
    ``max_leads`` leaders the rest stay alone too.

    Examples
    --------
    Two clusters and a straggler; the lowest-speed point of each cluster leads:

    >>> import numpy as np
    >>> h = np.array([[0.0], [0.1], [5.0], [5.2], [9.0]])
    >>> groups = gather(h, np.zeros((5, 1)), np.array([3.0, 1.0, 2.0, 4.0, 0.5]),
    ...                 np.ones(5, dtype=bool), radius=0.5)
    >>> [g.tolist() for g in groups.members], groups.alone.tolist()
    ([[1, 0], [2, 3]], [4])
    """
    free = np.asarray(eligible, dtype=bool).copy()
    members: list[np.ndarray] = []
    alone: list[int] = list(np.flatnonzero(~free))
    tries = 0
    for lead in np.argsort(cost, kind="stable"):
        if tries >= max_leads or not free.any():
            break
        if not free[lead]:
            continue
        tries += 1
        candidates = np.flatnonzero(free)
        offset = h[candidates] - h[lead]
        near = np.einsum("ij,ij->i", offset, offset) <= radius**2
        join = candidates[near & np.all(x[candidates] == x[lead], axis=1)]
        join = np.concatenate([[lead], join[join != lead]]).astype(np.int64)
        free[join] = False
        if join.size > 1:
            members.append(join)
        else:
            alone.append(int(lead))
    alone.extend(np.flatnonzero(free).tolist())
    return Groups(members, np.sort(np.asarray(alone, dtype=np.int64)))


def shared_directions(
    system: RecurrentSystem,
    h: FloatArray,
    x: FloatArray,
    r: FloatArray,
    groups: Groups,
    *,
    max_leader_step: float = np.inf,
) -> tuple[FloatArray, np.ndarray]:
    """Each group member's step ``-(J_leader - I)^-1 r``: one factorisation per group.

    Returns the directions (rows in the order of the points, NaN where not
    computed) and a mask of the points that got one; a group whose leader's
    ``J - I`` is singular gets none. A group whose leader is still far from its
    root (its own Newton step longer than ``max_leader_step``) shares nothing:
    the leader gets its step, the members take their own (far from the roots
    Newton's basins interleave, and each start should end where its own
    iteration leads).

    Examples
    --------
    On a linear map every Jacobian is the same, so a shared step is the exact Newton
    step and lands on the root ``h* = 2``:

    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 1)), np.array([[0.5]]), np.array([1.0]),
    ...                          activation="linear")
    >>> h = np.array([[1.0], [3.0]]); x = np.zeros((2, 1))
    >>> r = system.step(h, x) - h
    >>> step, ok = shared_directions(system, h, x, r, Groups([np.array([0, 1])], np.array([])))
    >>> (h + step).ravel().tolist(), ok.tolist()
    ([2.0, 2.0], [True, True])
    """
    out = np.full_like(r, np.nan)
    ok = np.zeros(h.shape[0], dtype=bool)
    if not groups.members:
        return out, ok
    leaders = groups.leaders
    jac = system._jacobian_state(h[leaders], x[leaders])
    np.einsum("nii->ni", jac)[...] -= 1.0
    for a, group in zip(jac, groups.members, strict=True):
        try:
            steps = np.linalg.solve(a, -r[group].T).T
        except np.linalg.LinAlgError:
            continue
        good = np.all(np.isfinite(steps), axis=1)
        if not np.linalg.norm(steps[0]) <= max_leader_step:
            good[1:] = False
        out[group[good]] = steps[good]
        ok[group[good]] = True
    return out, ok


def chord_trial(
    system: RecurrentSystem,
    h: FloatArray,
    x: FloatArray,
    step: FloatArray,
    cost: FloatArray,
    bounds: tuple[FloatArray, FloatArray] | None,
    contraction: float,
) -> tuple[np.ndarray, FloatArray, FloatArray, FloatArray]:
    """Take the full chord step where it shrinks ``||r||`` by ``contraction`` or more.

    Returns ``(accepted, state, residual, q)`` at ``h + step``; a step leaving
    the state box, or not finite, is not accepted. No backtracking: a member
    whose chord step is not good enough takes its own Newton step next.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 1)), np.array([[0.5]]), np.array([1.0]),
    ...                          activation="linear")
    >>> h = np.array([[1.0], [1.0]]); cost = np.array([0.125, 0.125])
    >>> ok, state, _, q = chord_trial(system, h, np.zeros((2, 1)), np.array([[1.0], [0.5]]),
    ...                               cost, None, contraction=0.25)
    >>> ok.tolist(), q.tolist()
    ([True, False], [0.0, 0.03125])
    """
    state = h + step
    valid = np.all(np.isfinite(state), axis=1)
    if bounds is not None:
        valid &= np.all((state >= bounds[0]) & (state <= bounds[1]), axis=1)
    safe = np.where(valid[:, None], state, h)
    res, value = residual_and_speed(system, safe, x)
    with np.errstate(invalid="ignore"):
        accepted = valid & np.isfinite(value) & (value <= contraction**2 * cost)
    return accepted, state, res, value
