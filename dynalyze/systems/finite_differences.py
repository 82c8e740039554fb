"""Central finite-difference Jacobians of any batched step map (NumPy only).

The fallback of :class:`~dynalyze.systems.RecurrentSystem` for systems without
analytic Jacobians, and the independent oracle of :mod:`dynalyze.testing`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dynalyze._validation import FloatArray

__all__ = ["chunks", "finite_difference_jacobians"]

#: Upper bound on the number of float64 Jacobian entries computed in one chunk.
_CHUNK_ENTRIES = 2**25


def chunks(n: int, per_point: int) -> list[slice]:
    """Slices of ``range(n)`` holding at most ``_CHUNK_ENTRIES // per_point`` points each.

    Examples
    --------
    >>> chunks(5, 2**24)
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    size = max(1, _CHUNK_ENTRIES // max(per_point, 1))
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def finite_difference_jacobians(
    step: Callable[[FloatArray, FloatArray], FloatArray],
    h: FloatArray,
    x: FloatArray,
    *,
    relative_step: float = 6e-6,
) -> tuple[FloatArray, FloatArray]:
    """Central finite-difference Jacobians of ``step`` with respect to ``h`` and ``x``.

    All perturbations of a chunk of points are evaluated in one batched call.

    Parameters
    ----------
    step : callable
        Batched map ``(h, x) -> F(h, x)``.
    h, x : ndarray
        States ``(n, state_dim)`` and inputs ``(n, input_dim)``.
    relative_step : float
        Step size relative to ``max(1, |value|)``; the default (about the cube
        root of machine epsilon) minimises truncation plus rounding error.

    Returns
    -------
    tuple of ndarray
        ``dF/dh`` ``(n, state_dim, state_dim)`` and ``dF/dx`` ``(n, state_dim, input_dim)``.

    Examples
    --------
    >>> import numpy as np
    >>> jh, jx = finite_difference_jacobians(
    ...     lambda h, x: np.tanh(h) + x, np.zeros((1, 2)), np.zeros((1, 2)))
    >>> np.allclose(jh[0], np.eye(2)) and np.allclose(jx[0], np.eye(2))
    True
    """
    n, d = h.shape
    m = x.shape[1]
    jh = np.empty((n, d, d))
    jx = np.empty((n, d, m))
    for part in chunks(n, 2 * (d + m) * d):
        hp, xp = h[part], x[part]
        jh[part] = _central(step, hp, xp, wrt=0, relative_step=relative_step)
        if m:
            jx[part] = _central(step, hp, xp, wrt=1, relative_step=relative_step)
    return jh, jx


def _central(
    step: Callable[[FloatArray, FloatArray], FloatArray],
    h: FloatArray,
    x: FloatArray,
    *,
    wrt: int,
    relative_step: float,
) -> FloatArray:
    base = (h, x)[wrt]
    k, dim = base.shape
    eps = relative_step * np.maximum(1.0, np.abs(base))  # (k, dim)
    eye = np.eye(dim)
    delta = eps[:, :, None] * eye[None, :, :]  # (k, dim perturbed, dim)
    plus = (base[:, None, :] + delta).reshape(k * dim, dim)
    minus = (base[:, None, :] - delta).reshape(k * dim, dim)
    other = np.repeat((x, h)[wrt], dim, axis=0)
    args_plus = (plus, other) if wrt == 0 else (other, plus)
    args_minus = (minus, other) if wrt == 0 else (other, minus)
    f_plus = step(*args_plus).reshape(k, dim, -1)
    f_minus = step(*args_minus).reshape(k, dim, -1)
    # (k, perturbed j, output i) -> (k, i, j)
    # The actual step taken is (base + eps) - (base - eps), exact up to rounding.
    taken = (base + eps) - (base - eps)  # (k, dim)
    return np.transpose((f_plus - f_minus) / taken[:, :, None], (0, 2, 1))
