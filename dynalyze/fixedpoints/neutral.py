"""How much of a point's speed lies along nearly neutral directions of ``J - I``.

Near a continuum of fixed points (a line attractor that is only approximate,
a slow manifold) ``J - I`` has singular values close to zero along the
manifold. A point whose residual ``r = F(h) - h`` lies along those directions
moves along the manifold, slowly, and no local solver step lowers ``q`` much
there: Newton's steps along the manifold are huge and rejected, damped steps
crawl. The test here is linear algebra on the point's own linearization:
the Tikhonov step ``delta = -(A^T A + eps^2 I)^-1 A^T r`` (``A = J - I``)
removes the parts of ``r`` along directions whose singular value is well
above ``eps`` and leaves those well below it (a direction with singular value
``sigma`` is left with the factor ``(eps^2 / (sigma^2 + eps^2))^2`` of its
share: 81% at ``eps / 3``, 25% at ``eps``, 1% at ``3 eps``), so

``share = ||r + A delta||^2 / ||r||^2``

is the share of ``q`` lying along directions with singular values well below
``eps`` (time constants well above ``1/eps`` steps). A point whose
share is at least :data:`NEUTRAL_SHARE` is on a slow manifold.
"""

from __future__ import annotations

import numpy as np

from dynalyze._validation import FloatArray

__all__ = ["NEUTRAL_SHARE", "neutral_share", "neutral_share_normal"]

#: A point is on a slow manifold when at least this share of its speed q lies along
#: nearly neutral directions.
NEUTRAL_SHARE = 0.9


def neutral_share_normal(
    normal: FloatArray, grad: FloatArray, rr: FloatArray, eps: float
) -> FloatArray:
    """The neutral share from the normal equations: ``A^T A``, ``A^T r`` and ``||r||^2``.

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
    lhs = normal + eps**2 * np.eye(normal.shape[-1])
    delta = -np.linalg.solve(lhs, grad[..., None])[..., 0]
    change = 2.0 * np.einsum("ni,ni->n", delta, grad) + np.einsum(
        "ni,nij,nj->n", delta, normal, delta
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(rr > 0, 1.0 + change / rr, 0.0)
    out: FloatArray = np.clip(np.nan_to_num(share, nan=0.0), 0.0, 1.0)
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
    a = jac - np.eye(jac.shape[-1])
    normal = np.matmul(np.transpose(a, (0, 2, 1)), a)
    grad = np.einsum("nji,nj->ni", a, residual)
    return neutral_share_normal(normal, grad, np.einsum("ni,ni->n", residual, residual), eps)
