"""Geometry of state clouds and fixed-point manifolds (float64 NumPy, no Keras).

The building blocks of :class:`dynalyze.LineAttractor`: streaming
PCA, 1-D ordering and local tangents of a fixed-point manifold, alignments
with a random-vector null, and eigenvector orientation.
"""

from __future__ import annotations

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from dynalyze._validation import FloatArray, as_float_array
from dynalyze.errors import InputShapeError

__all__ = [
    "PCAResult",
    "StreamingPCA",
    "abs_cosine",
    "eigenvector_span",
    "local_tangents",
    "oriented_top_mode",
    "pca",
    "random_alignment_null",
]


@attrs.frozen
class PCAResult:
    """Principal components of a point cloud.

    Parameters
    ----------
    mean : ndarray, shape (d,)
        Centroid.
    components : ndarray, shape (d, d)
        Principal directions as rows, by decreasing variance.
    variance : ndarray, shape (d,)
        Variance along each direction.
    n_samples : int
        Number of points.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.analyses.geometry import pca
    >>> result = pca(np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]]))
    >>> result.mean.tolist(), np.abs(result.components[0]).tolist(), result.n_samples
    ([2.0, 0.0], [1.0, 0.0], 3)
    """

    mean: FloatArray
    components: FloatArray
    variance: FloatArray
    n_samples: int

    @property
    def explained_variance_ratio(self) -> FloatArray:
        """Fraction of the total variance held by each component."""
        total = float(self.variance.sum())
        if total <= 0:
            return np.zeros_like(self.variance)
        ratio: FloatArray = self.variance / total
        return ratio

    def transform(self, points: ArrayLike, n_components: int | None = None) -> FloatArray:
        """Coordinates of ``points`` on the leading ``n_components`` directions."""
        centred = np.asarray(points, dtype=np.float64) - self.mean
        out: FloatArray = centred @ self.components[:n_components].T
        return out


class StreamingPCA:
    """PCA from batches, in O(d^2) memory whatever the number of points.

    Accumulates the sum and the scatter matrix in float64 around a shift taken
    from the first batch (for numerical stability).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> points = rng.normal(size=(1000, 3)) * [3.0, 1.0, 0.1]
    >>> acc = StreamingPCA(3)
    >>> for batch in np.array_split(points, 7):
    ...     acc.update(batch)
    >>> np.round(acc.result().explained_variance_ratio, 2).tolist()
    [0.9, 0.1, 0.0]
    """

    def __init__(self, dim: int) -> None:
        self.dim = int(dim)
        self._n = 0
        self._shift: FloatArray | None = None
        self._sum = np.zeros(self.dim)
        self._scatter = np.zeros((self.dim, self.dim))

    def update(self, points: ArrayLike) -> None:
        """Add a batch of points ``(m, dim)`` (NaN rows are ignored)."""
        batch = np.asarray(points, dtype=np.float64).reshape(-1, self.dim)
        batch = batch[np.all(np.isfinite(batch), axis=1)]
        if batch.shape[0] == 0:
            return
        if self._shift is None:
            self._shift = batch.mean(axis=0)
        centred = batch - self._shift
        self._n += batch.shape[0]
        self._sum += centred.sum(axis=0)
        self._scatter += centred.T @ centred

    @property
    def n_samples(self) -> int:
        """Number of points seen."""
        return self._n

    def result(self) -> PCAResult:
        """Principal components of everything seen so far."""
        if self._n < 2 or self._shift is None:
            raise InputShapeError(
                f"PCA needs at least 2 finite points; got {self._n}. Pass more states."
            )
        mean_c = self._sum / self._n
        cov = (self._scatter - self._n * np.outer(mean_c, mean_c)) / (self._n - 1)
        cov = 0.5 * (cov + cov.T)
        values, vectors = np.linalg.eigh(cov)
        order = np.argsort(values)[::-1]
        values = np.clip(values[order], 0.0, None)
        vectors = vectors[:, order].T
        # Deterministic signs: largest-magnitude entry of each component positive.
        signs = np.sign(vectors[np.arange(self.dim), np.argmax(np.abs(vectors), axis=1)])
        vectors *= np.where(signs == 0, 1.0, signs)[:, None]
        return PCAResult(self._shift + mean_c, vectors, values, self._n)


def pca(points: ArrayLike) -> PCAResult:
    """PCA of a point cloud ``(m, d)`` (NaN rows ignored).

    Examples
    --------
    >>> pca([[0.0, 0.0], [2.0, 0.0], [4.0, 0.1]]).explained_variance_ratio.round(4).tolist()
    [0.9998, 0.0002]
    """
    array = as_float_array(points, "points")
    if array.ndim != 2:
        raise InputShapeError(f"points must be 2-D (m, d); got shape {array.shape}.")
    acc = StreamingPCA(array.shape[1])
    acc.update(array)
    return acc.result()


def local_tangents(
    points: ArrayLike, k: int = 10, reference: ArrayLike | None = None
) -> FloatArray:
    """Unit tangent of a 1-D manifold at each point, from its ``k`` nearest neighbours.

    Each tangent is the leading principal direction of the point and its
    neighbours, signed to agree with ``reference`` (default: the cloud's first
    principal component) so tangents are consistently oriented.

    Parameters
    ----------
    points : array_like, shape (m, d)
        Points sampled along the manifold (m >= 2).
    k : int
        Neighbours per local fit (capped at m - 1).
    reference : array_like, shape (d,), optional
        Orientation reference.

    Returns
    -------
    ndarray, shape (m, d)

    Examples
    --------
    >>> t = np.linspace(0, 1, 20)
    >>> line = np.stack([t, 2 * t, 0 * t], axis=1)
    >>> np.round(local_tangents(line, k=3)[0], 3).tolist()
    [0.447, 0.894, 0.0]
    """
    array = as_float_array(points, "points")
    m = array.shape[0]
    if m < 2:
        raise InputShapeError(f"Tangents need at least 2 points; got {m}.")
    k = int(min(max(k, 1), m - 1))
    ref = pca(array).components[0] if reference is None else np.asarray(reference, float)
    _, idx = cKDTree(array).query(array, k=k + 1)
    neighbourhoods = array[idx]  # (m, k+1, d)
    centred = neighbourhoods - neighbourhoods.mean(axis=1, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    tangents = vt[:, 0, :]
    signs = np.sign(tangents @ ref)
    tangents *= np.where(signs == 0, 1.0, signs)[:, None]
    return np.asarray(tangents, dtype=np.float64)


def abs_cosine(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """``|cos|`` of the angle between matching rows of ``a`` and ``b`` (broadcasting).

    Examples
    --------
    >>> abs_cosine([[1.0, 0.0], [1.0, 1.0]], [0.0, -2.0]).round(3).tolist()
    [0.0, 0.707]
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    num = np.abs(np.sum(x * y, axis=-1))
    den = np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(den > 0, num / den, np.nan)
    return out


def random_alignment_null(dim: int, n_trials: int = 1000, seed: int = 0) -> FloatArray:
    """``|cos|`` between a fixed direction and ``n_trials`` random unit vectors in ``dim`` dims.

    By rotational symmetry this is the null distribution for the alignment of
    any fixed vector with a direction unrelated to it.

    Examples
    --------
    >>> null = random_alignment_null(128, 2000, seed=0)
    >>> bool(0.04 < np.median(null) < 0.08)
    True
    """
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n_trials, dim))
    reference = np.zeros(dim)
    reference[0] = 1.0
    return abs_cosine(vectors, reference)


def oriented_top_mode(
    right: ArrayLike, left: ArrayLike, readout: ArrayLike
) -> tuple[FloatArray, FloatArray, NDArray[np.float64]]:
    """Real top right/left eigenvectors, signed so the readout increases along ``r1``.

    Parameters
    ----------
    right : array_like, complex, shape (n, d)
        Top right eigenvector ``r1`` at each of ``n`` points.
    left : array_like, complex, shape (n, d)
        Matching left eigenvector ``l1`` (``l1 . r1 = 1``).
    readout : array_like, shape (d,)
        Readout weights over the flat state.

    Returns
    -------
    r1, l1 : ndarray, shape (n, d)
        Real parts, flipped together (keeping ``l1 . r1 = 1``) so that
        ``readout . r1 >= 0``.
    imaginary_fraction : ndarray, shape (n,)
        ``||Im r1|| / ||r1||``; large values mean the top mode is oscillatory and
        the real part is only an approximation.

    Examples
    --------
    >>> import numpy as np
    >>> r1, l1, imag = oriented_top_mode([[0.0, -1.0]], [[0.0, -1.0]], readout=[0.0, 1.0])
    >>> r1.tolist(), l1.tolist(), imag.tolist()
    ([[-0.0, 1.0]], [[-0.0, 1.0]], [0.0])
    """
    r = np.asarray(right)
    lv = np.asarray(left)
    # A complex eigenvector is defined up to a phase: rotate so it is as real as possible.
    phase = np.exp(-0.5j * np.angle(np.sum(r * r, axis=-1)))
    rotated = r * phase[:, None]
    imag_fraction = np.linalg.norm(rotated.imag, axis=-1) / np.maximum(
        np.linalg.norm(rotated, axis=-1), 1e-300
    )
    r_real = rotated.real
    l_real = (lv / phase[:, None]).real
    sign = np.sign(r_real @ np.asarray(readout, dtype=np.float64))
    sign = np.where(sign == 0, 1.0, sign)
    return r_real * sign[:, None], l_real * sign[:, None], imag_fraction


def eigenvector_span(right: ArrayLike, select: ArrayLike) -> FloatArray:
    """Real basis (rows) of the span of the selected right eigenvectors (columns).

    Complex eigenvectors contribute their real and imaginary parts.

    Examples
    --------
    >>> right = np.array([[1.0, 1j], [0.0, 1.0]])
    >>> eigenvector_span(right, [False, True]).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    >>> eigenvector_span(right, [False, False]).shape
    (0, 2)
    """
    vectors = np.asarray(right)[:, np.asarray(select, dtype=bool)]
    if vectors.shape[1] == 0:
        return np.zeros((0, vectors.shape[0]))
    parts = [vectors.real.T]
    if np.any(np.abs(vectors.imag) > 0):
        parts.append(vectors.imag.T)
    out: FloatArray = np.concatenate(parts).astype(np.float64)
    return out
