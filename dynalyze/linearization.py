"""Linearization of a recurrent system around expansion points.

Around an expansion point ``(h*, x*)`` (usually a fixed point) the dynamics are
approximately ``h_t - h* = J_rec (h_{t-1} - h*) + J_inp (x_t - x*)``. The
recurrent Jacobian is eigendecomposed as ``J_rec = R diag(lambda) L`` with the
right eigenvectors as the columns of ``R`` (unit norm) and the left eigenvectors
as the rows of ``L = R^-1``, eigenvalues sorted by decreasing magnitude.

A decaying or marginal mode (``|lambda| <= 1 + marginal_tol``) has a time
constant ``tau = |1 / ln|lambda||`` in steps, as the paper reports them
(infinite at ``|lambda| = 1``); a mode growing beyond the marginal band has no
time constant but a growth rate ``ln|lambda|`` per step (its e-folding time is
``1 / ln|lambda|``). Each mode's eigenvalue condition number
``kappa = ||l|| ||r||`` (with ``l . r = 1``) says how far its eigenvectors can
be trusted; a defective or nearly defective Jacobian gives huge (or infinite)
condition numbers and a :class:`~dynalyze.errors.IllConditionedWarning`.

Stability follows FixedPointFinder's convention for "stable" (every
``|lambda| < 1``) with a tolerance band for marginal modes: any mode with
``|lambda| > 1 + tol`` makes a point unstable, a *saddle* when some mode does
not grow.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import attrs
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dynalyze._parallel import fill_batches
from dynalyze._validation import FloatArray, as_batch, attrs_positive, attrs_positive_int
from dynalyze.errors import IllConditionedWarning, InputShapeError, UnsupportedModelError
from dynalyze.results.build import make_dataset, state_coords
from dynalyze.systems.base import RecurrentSystem

__all__ = [
    "MARGINAL",
    "MARGINAL_TOL",
    "SADDLE",
    "STABLE",
    "UNSTABLE",
    "Linearization",
    "condition_numbers",
    "eigendecompose",
    "growth_rates",
    "is_stable",
    "linear_rollout",
    "linear_step",
    "linearize",
    "stability_class",
    "time_constants",
]

logger = logging.getLogger(__name__)

STABLE, MARGINAL, SADDLE, UNSTABLE = 0, 1, 2, 3

ComplexArray = NDArray[np.complex128]


#: Matrices decomposed together: their temporaries (a few MB at 128 units) reuse
#: the allocator's memory instead of faulting in fresh pages (measured: ~0.1 s
#: per fresh 1,024 x 128 x 128 complex array on this class of machine).
_EIG_CHUNK = 32


def eigendecompose(jac: ArrayLike) -> tuple[ComplexArray, ComplexArray, ComplexArray]:
    """Eigendecompose a batch of square matrices.

    Parameters
    ----------
    jac : array_like, shape (n, d, d)
        Matrices.

    Returns
    -------
    eigenvalues : ndarray, complex, shape (n, d)
        Sorted by decreasing magnitude (a complex-conjugate pair: positive
        imaginary part first).
    right : ndarray, complex, shape (n, d, d)
        Right eigenvectors as columns, unit 2-norm: ``J R = R diag(lambda)``.
    left : ndarray, complex, shape (n, d, d)
        Left eigenvectors as rows, ``L = R^-1`` so that ``L R = I`` and
        ``L J = diag(lambda) L``. Where ``R`` is singular (a defective matrix,
        e.g. a Jordan block) ``L`` is the pseudo-inverse: rows that cannot
        satisfy ``L R = I`` then have infinite condition numbers (see
        :func:`condition_numbers`).

    Examples
    --------
    >>> lam, R, L = eigendecompose(np.array([[[0.5, 0.0], [0.0, 0.9]]]))
    >>> lam.real.tolist()
    [[0.9, 0.5]]
    >>> bool(np.allclose(L[0] @ R[0], np.eye(2)))
    True
    """
    matrices = np.asarray(jac, dtype=np.float64)
    if matrices.ndim != 3 or matrices.shape[1] != matrices.shape[2]:
        raise InputShapeError(
            f"Expected a batch of square matrices (n, d, d); got {matrices.shape}."
        )
    if matrices.shape[0] == 0:
        d = matrices.shape[1]
        empty = np.zeros((0, d, d), dtype=np.complex128)
        return np.zeros((0, d), dtype=np.complex128), empty, empty.copy()
    n, d, _ = matrices.shape
    values = np.empty((n, d), dtype=np.complex128)
    right = np.empty((n, d, d), dtype=np.complex128)
    left = np.empty((n, d, d), dtype=np.complex128)

    def fill(part: slice) -> None:
        for lo in range(part.start, part.stop, _EIG_CHUNK):
            chunk = slice(lo, min(part.stop, lo + _EIG_CHUNK))
            _eig_chunk(matrices[chunk], values[chunk], right[chunk], left[chunk])

    fill_batches(fill, n)
    return values, right, left


def _eig_chunk(
    matrices: FloatArray, values: ComplexArray, right: ComplexArray, left: ComplexArray
) -> None:
    """Sorted eigenvalues, unit right eigenvectors and ``R^-1`` of a few matrices, in place."""
    found, vectors = np.linalg.eig(matrices)
    found = found.astype(np.complex128, copy=False)
    order = np.lexsort((-found.imag, -np.abs(found)), axis=-1)
    values[...] = np.take_along_axis(found, order, axis=-1)
    right[...] = np.take_along_axis(vectors, order[:, None, :], axis=-1)
    right /= _column_norms(right)[:, None, :]
    if not _inverse_by_real_form(values, right, left):
        left[...] = _complex_inverse(right)


def _inverse_by_real_form(values: ComplexArray, right: ComplexArray, out: ComplexArray) -> bool:
    """``R^-1`` from one real inverse (a quarter of the complex one's flops).

    A real matrix's eigenvectors come in conjugate pairs: where ``r_{k+1} =
    conj(r_k)``, ``R = Y M`` with ``Y``'s columns ``k, k+1`` the real and
    imaginary parts of ``r_k`` and ``M``'s block ``[[1, 1], [i, -i]]``, so
    ``R^-1 = M^-1 Y^-1``: rows ``(y_k -+ i y_{k+1}) / 2`` of ``Y^-1``. False
    (nothing written) where some pair is not adjacent (two pairs of equal
    magnitude can interleave) or ``Y`` is singular: the caller inverts ``R``.
    """
    pair = (values.imag[:, :-1] > 0) & (values[:, 1:] == values[:, :-1].conj())
    pair &= np.all(right[:, :, 1:] == right[:, :, :-1].conj(), axis=1)
    partner = np.zeros(values.shape, dtype=bool)
    partner[:, 1:] = pair
    first = np.zeros(values.shape, dtype=bool)
    first[:, :-1] = pair
    if np.any((first | partner) != (values.imag != 0)):
        return False
    real = right.real.copy()
    rows, cols = np.nonzero(partner)
    real[rows, :, cols] = right[rows, :, cols - 1].imag
    try:
        inverse = np.linalg.inv(real)
    except np.linalg.LinAlgError:
        return False
    out[...] = inverse
    rows, cols = np.nonzero(first)
    half_re = inverse[rows, cols, :] / 2
    half_im = inverse[rows, cols + 1, :] / 2
    out[rows, cols, :] = half_re - 1j * half_im
    out[rows, cols + 1, :] = half_re + 1j * half_im
    return True


def _complex_inverse(right: ComplexArray) -> ComplexArray:
    """``R^-1``, the pseudo-inverse for a singular ``R`` (a defective matrix)."""
    inverse: ComplexArray = np.empty_like(right)
    try:
        inverse[...] = np.linalg.inv(right)
    except np.linalg.LinAlgError:
        for k in range(right.shape[0]):
            try:
                inverse[k] = np.linalg.inv(right[k])
            except np.linalg.LinAlgError:
                inverse[k] = np.linalg.pinv(right[k])
    return inverse


def _column_norms(matrices: ComplexArray) -> FloatArray:
    """2-norms of the columns of complex ``(n, d, d)`` matrices, without temporaries."""
    n, d, _ = matrices.shape
    parts = matrices.view(np.float64).reshape(n, d, 2 * d)
    squares = np.einsum("nik,nik->nk", parts, parts)
    out: FloatArray = np.sqrt(squares[:, 0::2] + squares[:, 1::2])
    return out


def _row_norms(matrices: ComplexArray) -> FloatArray:
    """2-norms of the rows of complex ``(n, d, d)`` matrices, without temporaries."""
    n, d, _ = matrices.shape
    parts = matrices.view(np.float64).reshape(n, d, 2 * d)
    out: FloatArray = np.sqrt(np.einsum("nik,nik->ni", parts, parts))
    return out


def condition_numbers(right: ArrayLike, left: ArrayLike) -> FloatArray:
    """Eigenvalue condition numbers ``kappa_i = ||l_i|| ||r_i|| / |l_i . r_i|``.

    1 for a normal matrix (orthogonal eigenvectors); large where eigenvectors
    are nearly parallel, so that the mode's eigenvalue and eigenvectors move a
    lot under small perturbations; infinite for a defective matrix.

    Parameters
    ----------
    right : array_like, shape (n, d, d)
        Right eigenvectors as columns.
    left : array_like, shape (n, d, d)
        Left eigenvectors as rows.

    Returns
    -------
    ndarray, shape (n, d)

    Examples
    --------
    >>> _, R, L = eigendecompose(np.array([[[0.9, 0.0], [0.0, 0.5]]]))
    >>> condition_numbers(R, L).tolist()
    [[1.0, 1.0]]
    >>> _, R, L = eigendecompose(np.array([[[1.0, 1.0], [0.0, 1.0]]]))  # a Jordan block
    >>> bool(np.all(condition_numbers(R, L) > 1e8))
    True
    """
    r = np.ascontiguousarray(right, dtype=np.complex128)
    lv = np.ascontiguousarray(left, dtype=np.complex128)
    r_norm = _column_norms(r)
    l_norm = _row_norms(lv)
    dot = np.abs(np.einsum("nij,nji->ni", lv, r))
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = l_norm * r_norm / dot
    out: FloatArray = np.where(np.isfinite(kappa), kappa, np.inf)
    return out


#: Modes with ``| |lambda| - 1 |`` below this are exactly marginal (``tau = inf``).
_UNIT_ATOL = 1e-12
#: Default marginal band: ``| |lambda| - 1 | <= MARGINAL_TOL`` is marginal (as in
#: :func:`stability_class` and :class:`Linearization`).
MARGINAL_TOL = 1e-3


def time_constants(eigenvalues: ArrayLike, marginal_tol: float = MARGINAL_TOL) -> FloatArray:
    """Time constants ``tau = |1 / ln|lambda||`` in steps, as the paper reports them.

    Decaying modes and marginal ones (``|lambda| <= 1 + marginal_tol``, the band
    :func:`stability_class` calls marginal) have one; it is ``inf`` at
    ``|lambda| = 1`` (to 1e-12). A marginal mode just above 1 (e.g. a linear
    line attractor stored in float32, ``|lambda| = 1 + 4e-9``) keeps its
    time constant, the mode a user reads first. Modes beyond the band grow:
    NaN here, and a growth rate from :func:`growth_rates`.

    Examples
    --------
    >>> time_constants([1.0, np.exp(-0.5), 0.0, 1.05]).tolist()
    [inf, 2.0, 0.0, nan]
    >>> float(time_constants([1.0 + 4e-9])[0]) > 1e8  # marginal: a time constant, not NaN
    True
    """
    magnitude = np.abs(np.asarray(eigenvalues))
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.abs(1.0 / np.log(magnitude))
    tau = np.where(magnitude == 0, 0.0, tau)
    tau = np.where(np.abs(magnitude - 1.0) <= _UNIT_ATOL, np.inf, tau)
    out: FloatArray = np.where(magnitude > 1.0 + marginal_tol, np.nan, tau)
    return out


def growth_rates(eigenvalues: ArrayLike, marginal_tol: float = MARGINAL_TOL) -> FloatArray:
    """Growth rates ``ln|lambda|`` per step of growing modes (``|lambda| > 1 + marginal_tol``).

    NaN otherwise (decaying and marginal modes have a time constant instead). A
    growing mode's e-folding time is ``1 / rate`` steps.

    Examples
    --------
    >>> np.round(growth_rates([1.05, 0.9, 1.0, 1.0 + 4e-9]), 4).tolist()
    [0.0488, nan, nan, nan]
    """
    magnitude = np.abs(np.asarray(eigenvalues))
    with np.errstate(divide="ignore"):
        rate = np.log(magnitude)
    out: FloatArray = np.where(magnitude > 1.0 + marginal_tol, rate, np.nan)
    return out


def is_stable(eigenvalues: ArrayLike) -> NDArray[np.bool_]:
    """FixedPointFinder's convention: stable iff every ``|lambda| < 1`` (last axis: modes).

    Examples
    --------
    >>> is_stable([[0.99, 0.5], [1.0, 0.5], [1.2, 0.1]]).tolist()
    [True, False, False]
    """
    out: NDArray[np.bool_] = np.all(np.abs(np.asarray(eigenvalues)) < 1.0, axis=-1)
    return out


def stability_class(eigenvalues: ArrayLike, tol: float = 1e-3) -> NDArray[np.int8]:
    """Classify expansion points from their eigenvalues (last axis: modes).

    Any mode with ``|lambda| > 1 + tol`` makes a point unstable:

    - ``stable``: every ``|lambda| < 1 - tol``;
    - ``marginal``: no mode above ``1 + tol`` and some within ``tol`` of 1;
    - ``saddle``: some modes above ``1 + tol``, not all;
    - ``unstable``: every mode above ``1 + tol`` (a repeller).

    Examples
    --------
    >>> stability_class([[0.5, 0.2], [1.0, 0.5], [2.0, 0.5], [2.0, 1.0], [2.0, 3.0]]).tolist()
    [0, 1, 2, 2, 3]
    """
    magnitude = np.abs(np.asarray(eigenvalues))
    above = magnitude > 1 + tol
    out = np.full(magnitude.shape[:-1], MARGINAL, dtype=np.int8)
    out[np.all(magnitude < 1 - tol, axis=-1)] = STABLE
    out[np.any(above, axis=-1)] = SADDLE
    out[np.all(above, axis=-1)] = UNSTABLE
    return out


@attrs.frozen(kw_only=True)
class Linearization:
    """Linearize a system at expansion points.

    Parameters
    ----------
    marginal_tol : float
        Eigenvalues with ``| |lambda| - 1 | <= marginal_tol`` count as marginal
        when classifying stability.
    condition_warning : float
        Warn (:class:`~dynalyze.errors.IllConditionedWarning`) when one of the
        ``warn_modes`` leading modes has an eigenvalue condition number above
        this: its eigenvectors (and so left-eigenvector projections) are not
        reliable there.
    warn_modes : int
        Leading modes checked for ill-conditioning.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2), np.diag([1.0, 0.5]), np.zeros(2),
    ...                          activation="linear")
    >>> lin = Linearization().compute(system, np.zeros((1, 2)))
    >>> lin["time_constant"].values.tolist()
    [[inf, 1.4426950408889634]]
    >>> lin["stability"].values.tolist()
    [1]
    """

    marginal_tol: float = attrs.field(default=1e-3, validator=attrs_positive)
    condition_warning: float = attrs.field(default=1e8, validator=attrs_positive)
    warn_modes: int = attrs.field(default=3, validator=attrs_positive_int)

    def compute(
        self,
        system: RecurrentSystem,
        points: ArrayLike | xr.Dataset,
        inputs: ArrayLike | None = None,
    ) -> xr.Dataset:
        """Jacobians, eigendecomposition, time constants and stability at ``points``.

        Parameters
        ----------
        system : RecurrentSystem
            The map.
        points : array_like or xarray.Dataset
            Expansion states ``(n, state_dim)``, or a fixed-points dataset (its
            ``fixed_point_state`` and ``fixed_point_input`` are used and its
            ``fixed_point`` coordinate is kept).
        inputs : array_like, optional
            Expansion inputs (``None``: zero, or the dataset's inputs).

        Returns
        -------
        xarray.Dataset
            A ``linearization`` dataset.
        """
        if not isinstance(system, RecurrentSystem):
            raise UnsupportedModelError(
                f"linearize() needs a dynalyze RecurrentSystem; got {type(system).__name__}. "
                "Wrap a Keras model, layer or cell with dynalyze.wrap(obj) first."
            )
        index: Any = None
        if isinstance(points, xr.Dataset):
            if "fixed_point_state" not in points:
                raise InputShapeError(
                    "A dataset passed to linearize() must contain 'fixed_point_state' "
                    "(the output of find_fixed_points); got variables "
                    f"{sorted(map(str, points.data_vars))}."
                )
            if inputs is None and "fixed_point_input" in points:
                inputs = points["fixed_point_input"].values
            index = points["fixed_point"].values if "fixed_point" in points.coords else None
            points = points["fixed_point_state"].values
        h = as_batch(points, system.state_dim, "points", allow_single=False)
        n = h.shape[0]
        x = (
            np.zeros((n, system.input_dim))
            if inputs is None
            else as_batch(inputs, system.input_dim, "inputs", n=n)
        )
        x = np.ascontiguousarray(x)
        image = system._step(h, x)
        jac_h, jac_x = system._jacobians(h, x)
        values, right, left = eigendecompose(jac_h)
        tau = time_constants(values, self.marginal_tol)
        kappa = condition_numbers(right, left)
        self._warn_ill_conditioned(kappa)
        stability = stability_class(values, self.marginal_tol)
        layout = system.layout
        coords: dict[str, Any] = state_coords(layout.component_labels(), layout.unit_indices())
        ds = make_dataset(
            "linearization",
            {
                "fixed_point_state": h,
                "fixed_point_input": x,
                "expansion_image": image,
                "jacobian_state": jac_h,
                "jacobian_input": jac_x,
                "eigenvalue": values,
                "eigenvalue_magnitude": np.abs(values),
                "right_eigenvector": right,
                "left_eigenvector": left,
                "time_constant": tau,
                "growth_rate": growth_rates(values, self.marginal_tol),
                "condition_number": kappa,
                "is_stable": is_stable(values).astype(np.int8),
                "stability": stability,
                "n_unstable_modes": np.sum(np.abs(values) > 1 + self.marginal_tol, axis=1),
            },
            coords,
            config=self,
            provenance=system.describe(),
        )
        if index is not None:
            ds = ds.assign_coords(fixed_point=ds["fixed_point"].copy(data=index))
        return ds

    def _warn_ill_conditioned(self, kappa: FloatArray) -> None:
        top = kappa[:, : min(self.warn_modes, kappa.shape[1])]
        bad = ~(top <= self.condition_warning)
        if bad.any():
            points = int(np.any(bad, axis=1).sum())
            worst = float(np.max(top))
            message = (
                f"{points} of {kappa.shape[0]} expansion points have an ill-conditioned "
                f"leading eigenmode (eigenvalue condition number up to {worst:.3g} > "
                f"{self.condition_warning:.3g}): the Jacobian is (nearly) defective there, "
                "so its eigenvectors and left-eigenvector projections are unreliable. "
                "See the condition_number variable."
            )
            logger.warning(message)
            warnings.warn(message, IllConditionedWarning, stacklevel=3)


def linearize(
    system: RecurrentSystem,
    points: ArrayLike | xr.Dataset,
    inputs: ArrayLike | None = None,
    **options: Any,
) -> xr.Dataset:
    """Linearize ``system`` at ``points`` (see :meth:`Linearization.compute`).

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2), np.diag([1.0, 0.5]), np.zeros(2),
    ...                          activation="linear")
    >>> lin = linearize(system, np.zeros((3, 2)))
    >>> dict(lin.sizes)["eigenmode"]
    2
    """
    return Linearization(**options).compute(system, points, inputs)


def linear_step(
    lin: xr.Dataset, h: ArrayLike, x: ArrayLike, index: ArrayLike | None = None
) -> FloatArray:
    """One-step linear prediction ``F(h*, x*) + J_rec (h - h*) + J_inp (x - x*)``.

    At an exact fixed point ``F(h*, x*) = h*`` and this is the paper's
    ``h* + J_rec (h - h*) + J_inp x`` (for ``x* = 0``); at an approximate one the
    small residual is kept, so the prediction is a true first-order expansion.

    Parameters
    ----------
    lin : xarray.Dataset
        A ``linearization`` dataset.
    h : array_like, shape (m, state_dim)
        Previous states.
    x : array_like, shape (m, input_dim)
        Inputs of this step.
    index : array_like of int, shape (m,), optional
        Position (along ``fixed_point``) of the expansion point to use for each
        row; defaults to the nearest expansion point of each state.

    Returns
    -------
    ndarray, shape (m, state_dim)

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(1), np.array([[0.5]]), np.zeros(1),
    ...                          activation="linear")
    >>> lin = linearize(system, np.zeros((1, 1)))
    >>> linear_step(lin, [[2.0]], [[1.0]]).tolist()
    [[2.0]]
    """
    states = np.asarray(lin["fixed_point_state"].values)
    h = as_batch(h, states.shape[1], "h", allow_single=False)
    inputs_star = np.asarray(lin["fixed_point_input"].values)
    x = as_batch(x, inputs_star.shape[1], "x", n=h.shape[0])
    if index is None:
        from scipy.spatial import cKDTree

        _, idx = cKDTree(states).query(h, k=1)
    else:
        idx = np.asarray(index, dtype=np.int64)
    jac_h = lin["jacobian_state"].values
    jac_x = lin["jacobian_input"].values
    image = lin["expansion_image"].values
    out: FloatArray = (
        image[idx]
        + np.einsum("mij,mj->mi", jac_h[idx], h - states[idx])
        + np.einsum("mij,mj->mi", jac_x[idx], x - inputs_star[idx])
    )
    return out


def linear_rollout(lin: xr.Dataset, h0: ArrayLike, inputs: ArrayLike, index: int = 0) -> FloatArray:
    """Iterate the linearization around one expansion point over an input sequence.

    Parameters
    ----------
    lin : xarray.Dataset
        A ``linearization`` dataset.
    h0 : array_like, shape (state_dim,)
        Initial state.
    inputs : array_like, shape (T, input_dim)
        Input sequence.
    index : int
        Position of the expansion point along ``fixed_point``.

    Returns
    -------
    ndarray, shape (T, state_dim)
        Predicted states after each input.

    Examples
    --------
    The linearization of a linear system is the system itself:

    >>> import numpy as np, dynalyze
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2), np.diag([1.0, 0.5]), activation="linear")
    >>> lin = dynalyze.linearize(system, np.zeros((1, 2)))
    >>> linear_rollout(lin, [0.0, 2.0], np.ones((2, 2))).tolist()
    [[1.0, 2.0], [2.0, 2.0]]
    """
    x = np.asarray(inputs, dtype=np.float64)
    h = np.asarray(h0, dtype=np.float64)
    states = np.empty((x.shape[0], h.shape[0]))
    for t in range(x.shape[0]):
        h = linear_step(lin, h[None], x[t][None], [index])[0]
        states[t] = h
    return states
