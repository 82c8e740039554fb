"""How much of a point's speed lies along nearly neutral directions of ``J - I``.

Near a continuum of fixed points (a line attractor that is only approximate,
a slow manifold) ``J - I`` has singular values close to zero along the
manifold. A point whose residual ``r = F(h) - h`` lies along those directions
moves along the manifold, slowly, and no local solver step lowers ``q`` much
there: Newton's steps along the manifold are huge and rejected, damped steps
crawl.

The neutral share of a point is the share of its speed ``q = 1/2 ||r||^2``
along the left singular directions ``u_i`` of ``A = J - I`` whose singular
values are at most ``eps``:

``share = sum_{sigma_i <= eps} (u_i . r)^2 / ||r||^2``

(exactly; the directions with time constants of ``1 / eps`` steps or more).
A point whose share is at least :data:`NEUTRAL_SHARE` is on a slow manifold.

It is computed from the normal equations ``A^T A`` and ``A^T r`` that a damped
solver holds anyway, in two stages. Tikhonov screens (one solve each) bound it:
the step ``delta = -(A^T A + t^2 I)^-1 A^T r`` leaves each component of
``r`` with the factor ``t^2 / (sigma^2 + t^2)``, so
``s = ||r + A delta||^2 / ||r||^2`` weighs a direction's share of ``q`` by at
least ``a = (t^2 / (eps^2 + t^2))^2`` where ``sigma <= eps`` and by less than
``a`` where ``sigma > eps``; hence ``(s - a) / (1 - a) <= share <= s / a``
(for ``t = eps``, ``a = 1/4``: ``(4 s - 1) / 3 <= share <= 4 s``). The screens
run at ``t = eps``, ``2 eps`` and ``8 eps`` (:data:`_SCREENS`), each on the
points the ones before left undecided: on the 713 crawl checks of the
benchmarks' GRU-256 (1,024 starts, tol 1e-12) the first leaves 387 open and
the second and third decide 178 of those (offline, on 625 such open checks,
none differently from the exact share). Where no bound
decides the comparison with :data:`NEUTRAL_SHARE`, the share is computed exactly from the
eigendecomposition ``A^T A = V diag(sigma^2) V^T``: the part of ``q`` along the
directions with ``sigma > eps`` is ``sum (v_i . A^T r)^2 / sigma_i^2`` over
them (no division by a small singular value), and the share is the rest. From
32 units on, only the eigenpairs with ``sigma <= eps`` are computed (LAPACK
``dsyevr`` on that subset) and the stiff part is one Cholesky solve with
``A^T A`` whose neutral eigenvalues are lifted to its mean curvature
(:func:`_stiff_part_subset`): at 256 units, 1.9 ms against 6.5 ms for a full
eigendecomposition with 4 such directions, 4.1 ms against about 5.7 ms on the
slow-manifold points of the benchmarks' GRU-256 (20 to 89 such directions).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from dynalyze._parallel import single_threaded_blas
from dynalyze._validation import FloatArray
from dynalyze.fixedpoints._spd import solve_spd

__all__ = [
    "NEUTRAL_SHARE",
    "is_neutral",
    "neutral_share",
    "neutral_share_normal",
    "normal_equations",
]

#: A point is on a slow manifold when at least this share of its speed q lies along
#: nearly neutral directions.
NEUTRAL_SHARE = 0.9


def neutral_share_normal(
    normal: FloatArray, grad: FloatArray, rr: FloatArray, eps: float
) -> FloatArray:
    """The neutral share from the normal equations: ``A^T A``, ``A^T r`` and ``||r||^2``.

    Exact (an eigendecomposition of each ``A^T A``); :func:`is_neutral` screens first.

    Examples
    --------
    ``A = diag(1, 1e-4)`` and a residual along the second, nearly neutral axis:

    >>> import numpy as np
    >>> a = np.diag([1.0, 1e-4])[None]; r = np.array([[0.1, 1.0]])
    >>> normal = a.transpose(0, 2, 1) @ a; grad = np.einsum("nji,nj->ni", a, r)
    >>> share = neutral_share_normal(normal, grad, (r**2).sum(1), eps=1e-2)
    >>> round(float(share[0]), 3)  # 1 / 1.01 of q lies along the neutral axis
    0.99
    """
    if not normal.shape[0]:
        return np.zeros(0)
    if normal.shape[-1] < _SUBSET_MIN:
        stiff_rr = _stiff_part_full(normal, grad, eps)
    else:
        # One small LAPACK call per matrix: BLAS threads would only wake and wait.
        with single_threaded_blas():
            stiff_rr = np.array(
                [_stiff_part_subset(m, g, eps) for m, g in zip(normal, grad, strict=True)]
            )
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(rr > 0, 1.0 - stiff_rr / rr, 0.0)
    out: FloatArray = np.clip(np.nan_to_num(share, nan=0.0), 0.0, 1.0)
    return out


#: Smallest state size whose exact shares use only the neutral eigenpairs (LAPACK
#: ``dsyevr`` on a subset, matrix by matrix; see the module docstring).
_SUBSET_MIN = 32


def _stiff_part_full(normal: FloatArray, grad: FloatArray, eps: float) -> FloatArray:
    """``||r||^2`` along the stiff directions: ``sum (v_i . A^T r)^2 / sigma_i^2``, full eigh."""
    values, vectors = np.linalg.eigh(normal)
    stiff = values > eps**2
    along = np.einsum("nij,ni->nj", vectors, grad)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.sum(
            np.where(stiff, along**2 / np.where(stiff, values, 1.0), 0.0), axis=1
        )
    return out


def _stiff_part_subset(normal: FloatArray, grad: FloatArray, eps: float) -> float:
    """The same from the neutral eigenpairs only (one matrix).

    With ``Z`` the eigenvectors of ``A^T A`` whose eigenvalues are at most
    ``eps^2``, the stiff part of ``A^T r`` is ``g = (I - Z Z^T) A^T r`` and
    ``sum over stiff (v_i . A^T r)^2 / sigma_i^2 = g^T M^-1 g`` for
    ``M = A^T A + Z (c - diag(sigma_z^2)) Z^T``, which equals ``A^T A`` on the
    stiff directions and ``c`` (the mean curvature) on the neutral ones:
    positive definite, so one Cholesky solve.
    """
    values, vectors, found, _, info = lapack.dsyevr(
        normal.T, compute_v=1, range="V", lower=1, vl=-np.inf, vu=eps**2
    )
    if info != 0:
        return float(_stiff_part_full(normal[None], grad[None], eps)[0])
    zs = vectors[:, :found]
    stiff = grad - zs @ (zs.T @ grad)
    scale = max(float(np.trace(normal)) / normal.shape[0], eps**2)
    lhs = normal + (zs * (scale - values[:found])) @ zs.T
    solved = solve_spd(lhs[None], stiff[None])[0]
    return float(stiff @ solved)


#: Tikhonov parameters of the screens, in units of ``eps`` (module docstring).
_SCREENS = (1.0, 2.0, 8.0)


def _screen(normal: FloatArray, grad: FloatArray, rr: FloatArray, t: float) -> FloatArray:
    """The Tikhonov-weighted share ``s`` at parameter ``t`` (module docstring)."""
    lhs = normal + t**2 * np.eye(normal.shape[-1])
    delta = -solve_spd(lhs, grad)
    change = 2.0 * np.einsum("ni,ni->n", delta, grad) + np.einsum(
        "ni,nij,nj->n", delta, normal, delta
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = np.where(rr > 0, 1.0 + change / rr, 0.0)
    out: FloatArray = np.clip(np.nan_to_num(weighted, nan=0.0), 0.0, 1.0)
    return out


def is_neutral(
    normal: FloatArray,
    grad: FloatArray,
    rr: FloatArray,
    eps: float,
    *,
    share: float = NEUTRAL_SHARE,
) -> np.ndarray:
    """Whether the neutral share is at least ``share``: screened, exact where undecided.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.diag([1.0, 0.02])[None]     # one stiff, one slow direction (sigma 0.02 < 0.03)
    >>> normal = a.transpose(0, 2, 1) @ a
    >>> for r in ([0.0, 1.0], [1.0, 1.0]):
    ...     r = np.array([r]); g = np.einsum("nji,nj->ni", a, r)
    ...     print(is_neutral(normal, g, (r**2).sum(1), eps=0.03).tolist())
    [True]
    [False]
    """
    out = np.zeros(normal.shape[0], dtype=bool)
    undecided = np.arange(normal.shape[0])
    for factor in _SCREENS:
        if not undecided.size:
            break
        t = factor * eps
        weight = (t**2 / (eps**2 + t**2)) ** 2
        # Every point is open at the first screen: no gathered copy of the matrices then.
        sub = normal if undecided.size == normal.shape[0] else normal[undecided]
        weighted = _screen(sub, grad[undecided], rr[undecided], t)
        sure = (weighted - weight) / (1.0 - weight) >= share
        out[undecided[sure]] = True
        undecided = undecided[~sure & (weighted >= share * weight)]
    if undecided.size:
        exact = neutral_share_normal(normal[undecided], grad[undecided], rr[undecided], eps)
        out[undecided] = exact >= share
    return out


def neutral_share(jac: FloatArray, residual: FloatArray, eps: float) -> FloatArray:
    """The neutral share at points with Jacobians ``jac`` and residuals ``residual``.

    Examples
    --------
    >>> import numpy as np
    >>> jac = np.eye(2)[None] + np.diag([-1.0, -1e-4])[None]   # J - I = diag(-1, -1e-4)
    >>> neutral_share(jac, np.array([[1.0, 0.0]]), 1e-2).round(6).tolist()   # stiff
    [0.0]
    >>> neutral_share(jac, np.array([[0.0, 1.0]]), 1e-2).round(3).tolist()   # neutral
    [1.0]
    """
    return neutral_share_normal(*normal_equations(jac, residual), eps)


def normal_equations(
    jac: FloatArray, residual: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``A^T A``, ``A^T r`` and ``||r||^2`` with ``A = J - I``.

    Examples
    --------
    >>> import numpy as np
    >>> normal, grad, rr = normal_equations(np.diag([3.0, 1.0])[None], np.array([[1.0, 2.0]]))
    >>> normal[0].tolist(), grad.tolist(), rr.tolist()
    ([[4.0, 0.0], [0.0, 0.0]], [[2.0, 0.0]], [5.0])
    """
    a = jac - np.eye(jac.shape[-1])
    normal = np.matmul(np.transpose(a, (0, 2, 1)), a)
    grad = np.einsum("nji,nj->ni", a, residual)
    return normal, grad, np.einsum("ni,ni->n", residual, residual)
