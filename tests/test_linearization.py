"""Linearization: eigendecomposition identities, time constants, stability, prediction."""

from __future__ import annotations

import numpy as np
import pytest

import dynalyze
from dynalyze.errors import InputShapeError
from dynalyze.linearization import (
    eigendecompose,
    growth_rates,
    is_stable,
    linear_rollout,
    linear_step,
    stability_class,
    time_constants,
)
from dynalyze.systems import SimpleRNNSystem


def test_eigendecomposition_identities_on_random_matrices():
    rng = np.random.default_rng(0)
    jac = rng.normal(scale=0.4, size=(50, 12, 12))
    values, right, left = eigendecompose(jac)
    assert values.dtype == np.complex128
    mags = np.abs(values)
    assert np.all(np.diff(mags, axis=1) <= 1e-12)  # sorted by decreasing magnitude
    jr = jac @ right
    np.testing.assert_allclose(jr, right * values[:, None, :], atol=1e-8)
    np.testing.assert_allclose(left @ right, np.broadcast_to(np.eye(12), jac.shape), atol=1e-8)
    np.testing.assert_allclose(np.linalg.norm(right, axis=1), 1.0, atol=1e-12)
    # Left eigenvectors: L J = diag(lambda) L
    np.testing.assert_allclose(left @ jac, values[:, :, None] * left, atol=1e-8)


def test_real_spectrum_is_still_complex_dtype():
    values, _, _ = eigendecompose(np.diag([0.2, -0.9, 0.5])[None])
    assert values.dtype == np.complex128
    assert values.real.tolist() == [[-0.9, 0.5, 0.2]]


def test_eigendecompose_rejects_non_square():
    with pytest.raises(InputShapeError):
        eigendecompose(np.zeros((2, 3, 4)))


def test_time_constants():
    tau = time_constants(np.array([1.0, -1.0, np.exp(-1 / 50), 1j * np.exp(-0.25), 0.0]))
    assert np.isinf(tau[:2]).all()
    np.testing.assert_allclose(tau[2:], [50.0, 4.0, 0.0])
    # A growing mode has no time constant; its growth rate is ln|lambda| per step.
    assert np.isnan(time_constants([np.exp(0.1)])[0])
    np.testing.assert_allclose(growth_rates([np.exp(0.1), 0.5, 1.0]), [0.1, np.nan, np.nan])


def test_stability_classes():
    codes = stability_class(
        [[0.9, 0.1], [1.0005, 0.5], [1.5, 0.5], [1.5, 1.2], [1.5, 1.0], [2.0, 1.0]], tol=1e-3
    )
    # Any mode clearly outside the unit circle makes the point unstable: a saddle unless
    # every mode is outside ([2, 1] is a saddle, not marginal).
    assert codes.tolist() == [0, 1, 2, 3, 2, 2]
    np.testing.assert_array_equal(is_stable([[0.9, 0.1], [1.0005, 0.5], [0.99, 0.2]]), [1, 0, 1])


def test_linearize_labels_and_exact_prediction_for_linear_system():
    rng = np.random.default_rng(1)
    n, m = 5, 3
    w = rng.normal(scale=0.3, size=(n, n))
    kernel = rng.normal(size=(m, n))
    b = rng.normal(size=n)
    system = SimpleRNNSystem(kernel, w.T, b, activation="linear")
    fps = dynalyze.find_fixed_points(system, rng.normal(size=(4, n)), tol=1e-26)
    lin = dynalyze.linearize(system, fps)
    assert set(lin.dims) == {"fixed_point", "state", "state_in", "input", "eigenmode"}
    np.testing.assert_allclose(lin["jacobian_state"].values[0], w, atol=1e-14)
    np.testing.assert_allclose(lin["jacobian_input"].values[0], kernel.T, atol=1e-14)
    for name in lin.variables:
        assert "long_name" in lin[name].attrs and "units" in lin[name].attrs, name
    assert lin["stability"].attrs["flag_meanings"] == "stable marginal saddle unstable"
    # A linear system is its own linearization: one-step and rollout predictions are exact.
    h = rng.normal(size=(6, n))
    x = rng.normal(size=(6, m))
    np.testing.assert_allclose(linear_step(lin, h, x), system.step(h, x), atol=1e-10)
    seq = rng.normal(size=(10, m))
    rollout = linear_rollout(lin, h[0], seq)
    state = h[:1]
    for t in range(10):
        state = system.step(state, seq[t : t + 1])
        np.testing.assert_allclose(rollout[t], state[0], atol=1e-9)


def test_linearize_keeps_fixed_point_labels():
    system = SimpleRNNSystem(np.zeros((1, 2)), 0.5 * np.eye(2), np.ones(2), activation="linear")
    fps = dynalyze.find_fixed_points(system, np.zeros((3, 2)))
    subset = fps.isel(fixed_point=[2])
    lin = dynalyze.linearize(system, subset)
    assert lin["fixed_point"].values.tolist() == [2]


def test_tanh_linearization_matches_finite_differences():
    rng = np.random.default_rng(2)
    n = 10
    system = SimpleRNNSystem(
        rng.normal(size=(2, n)), rng.normal(scale=0.5, size=(n, n)), rng.normal(size=n)
    )
    h0 = rng.normal(size=(3, n))
    lin = dynalyze.linearize(system, h0)
    eps = 1e-6
    dh = eps * rng.normal(size=(3, n))
    pred = linear_step(lin, h0 + dh, np.zeros((3, 2)), index=[0, 1, 2])
    true = system.step(h0 + dh)
    assert np.max(np.abs(pred - true)) < 1e-10
    with pytest.raises(InputShapeError):
        dynalyze.linearize(system, np.zeros((2, n + 1)))


def test_a_marginal_top_mode_keeps_its_time_constant():
    """A linear line attractor stored in float32: |lambda_1| = 1 + 4e-9 is marginal."""
    system = SimpleRNNSystem(
        np.eye(2), np.diag([1.0 + 4e-9, 0.5]), np.zeros(2), activation="linear"
    )
    lin = dynalyze.linearize(system, np.zeros((1, 2)))
    tau = float(lin["time_constant"].isel(fixed_point=0, eigenmode=0))
    assert tau == pytest.approx(1.0 / np.log1p(4e-9), rel=1e-6)  # 2.5e8 tokens, not NaN
    assert np.isnan(float(lin["growth_rate"].isel(fixed_point=0, eigenmode=0)))
    assert int(lin["stability"].isel(fixed_point=0)) == 1  # marginal
    # Beyond the band a mode grows: a growth rate and no time constant.
    grows = dynalyze.linearize(
        SimpleRNNSystem(np.eye(2), np.diag([1.01, 0.5]), np.zeros(2), activation="linear"),
        np.zeros((1, 2)),
    )
    assert np.isnan(float(grows["time_constant"].isel(fixed_point=0, eigenmode=0)))
    assert float(grows["growth_rate"].isel(fixed_point=0, eigenmode=0)) == pytest.approx(
        np.log(1.01)
    )


def test_left_eigenvectors_by_real_form_match_the_complex_inverse():
    # A real matrix's complex eigenvectors come in conjugate pairs; R^-1 is then
    # computed from one real inverse. It must be the complex inverse of R.
    from dynalyze.linearization import _inverse_by_real_form

    rng = np.random.default_rng(3)
    jac = rng.normal(scale=0.3, size=(20, 40, 40))
    values, right, left = eigendecompose(jac)
    assert np.all(np.sum(values.imag != 0, axis=1) >= 10)  # many conjugate pairs
    out = np.empty_like(right)
    assert _inverse_by_real_form(values, right, out)
    np.testing.assert_allclose(out, np.linalg.inv(right), atol=1e-10)
    np.testing.assert_allclose(left, out)


def test_interleaved_conjugate_pairs_fall_back_to_the_complex_inverse():
    # Two blocks with the same pair of eigenvalues +-2i: sorted by magnitude then
    # imaginary part, the pairs interleave (2i, 2i, -2i, -2i), so the real form
    # does not apply.
    from dynalyze.linearization import _inverse_by_real_form

    jac = np.zeros((1, 4, 4))
    jac[0, :2, :2] = [[0.0, -4.0], [1.0, 0.0]]
    jac[0, 2:, 2:] = [[0.0, -1.0], [4.0, 0.0]]
    values, right, left = eigendecompose(jac)
    lam = values[0]
    assert lam[0] == lam[1] and lam[2] == lam[3] == lam[0].conj()
    np.testing.assert_allclose(lam, [2j, 2j, -2j, -2j])
    assert not _inverse_by_real_form(values, right, np.empty_like(right))
    np.testing.assert_allclose(left[0] @ right[0], np.eye(4), atol=1e-12)
    np.testing.assert_allclose(left[0] @ jac[0], values[0][:, None] * left[0], atol=1e-12)
