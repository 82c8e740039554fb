"""Fixed-point finders against closed-form oracles (NumPy systems, no Keras)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import dynalyze
from dynalyze.errors import (
    ConfigurationError,
    InputShapeError,
    NonFiniteError,
    UnsupportedModelError,
)
from dynalyze.fixedpoints import (
    AdamFinder,
    deduplicate,
    sample_initial_states,
    unique_fixed_points,
)
from dynalyze.systems import RecurrentSystem, SimpleRNNSystem


def linear_system(w_map: np.ndarray, b: np.ndarray, n_in: int = 1) -> SimpleRNNSystem:
    """h' = W h + b (map convention) as a Keras-layout SimpleRNN."""
    rng = np.random.default_rng(1)
    return SimpleRNNSystem(rng.normal(size=(n_in, len(b))), w_map.T, b, activation="linear")


class SlowValley(RecurrentSystem):
    """1-D map F(h) = h + h^2 + 0.1: no fixed point, the speed has a minimum at h = 0."""

    name = "test-slow-valley"

    @property
    def state_dim(self) -> int:
        return 1

    @property
    def input_dim(self) -> int:
        return 1

    def _step(self, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        return h + h**2 + 0.1 + 0.0 * x

    def _jacobian_state(self, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        return (1.0 + 2.0 * h)[:, :, None]

    def _jacobian_input(self, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.zeros((h.shape[0], 1, 1))


def recomputed_speed(system: RecurrentSystem, ds: xr.Dataset) -> np.ndarray:
    h = ds["fixed_point_state"].values
    r = system.step(h, ds["fixed_point_input"].values) - h
    return 0.5 * np.sum(r * r, axis=1)


def test_contractive_linear_system_closed_form():
    rng = np.random.default_rng(0)
    n = 6
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    w = q @ np.diag(rng.uniform(-0.9, 0.9, size=n)) @ q.T + 0.05 * rng.normal(size=(n, n))
    assert np.max(np.abs(np.linalg.eigvals(w))) < 1
    b = rng.normal(size=n)
    system = linear_system(w, b)
    expected = np.linalg.solve(np.eye(n) - w, b)
    ds = dynalyze.find_fixed_points(system, rng.normal(scale=3.0, size=(20, n)), tol=1e-26)
    assert (ds["status"] == 0).all()
    np.testing.assert_allclose(
        ds["fixed_point_state"].values, np.tile(expected, (20, 1)), atol=1e-10, rtol=0
    )
    unique = unique_fixed_points(ds)
    assert unique.sizes["fixed_point"] == 1
    np.testing.assert_allclose(
        ds["speed"].values, recomputed_speed(system, ds), rtol=1e-12, atol=1e-300
    )


def test_line_attractor_oracle():
    rng = np.random.default_rng(3)
    n = 5
    # Upper-triangular map with eigenvalue exactly 1 on e_0: fixed points are t * e_0.
    w = np.triu(rng.normal(scale=0.3, size=(n, n)), k=1)
    w[np.diag_indices(n)] = [1.0, 0.5, -0.3, 0.2, 0.6]
    system = linear_system(w, np.zeros(n))
    starts = rng.normal(size=(64, n))
    ds = dynalyze.find_fixed_points(system, starts, tol=1e-24, dedup_tol=1e-8)
    assert (ds["status"] == 0).all()
    fps = ds["fixed_point_state"].values
    np.testing.assert_allclose(fps[:, 1:], 0.0, atol=1e-10)
    # Points stay spread along the line, not collapsed onto one point.
    assert np.ptp(fps[:, 0]) > 1.0
    assert unique_fixed_points(ds).sizes["fixed_point"] > 50

    lin = dynalyze.linearize(system, ds)
    top = lin["eigenvalue"].isel(eigenmode=0).values
    np.testing.assert_allclose(np.abs(top), 1.0, atol=1e-9)
    assert np.isinf(lin["time_constant"].isel(eigenmode=0).values).all()
    right = lin["right_eigenvector"].isel(eigenmode=0).values
    np.testing.assert_allclose(np.abs(right[:, 0]), 1.0, atol=1e-9)
    assert (lin["stability"] == 1).all()  # marginal


def test_rotated_line_attractor_eigenvalue_and_tau():
    rng = np.random.default_rng(4)
    n = 8
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    w = q @ np.diag([1.0, 0.8, 0.6, 0.4, -0.5, 0.3, 0.1, -0.2]) @ q.T
    system = linear_system(w, np.zeros(n))
    ds = dynalyze.find_fixed_points(system, rng.normal(size=(32, n)), tol=1e-24)
    fps = ds["fixed_point_state"].values
    direction = q[:, 0]
    off_line = fps - np.outer(fps @ direction, direction)
    np.testing.assert_allclose(off_line, 0.0, atol=1e-10)
    lin = dynalyze.linearize(system, unique_fixed_points(ds))
    np.testing.assert_allclose(np.abs(lin["eigenvalue"].isel(eigenmode=0)), 1.0, atol=1e-9)
    assert (lin["time_constant"].isel(eigenmode=0) > 1e8).all()


def test_tanh_rnn_fixed_points_are_true_roots_and_speed_is_recomputed():
    rng = np.random.default_rng(5)
    n = 16
    system = SimpleRNNSystem(
        rng.normal(size=(2, n)),
        rng.normal(scale=1.5 / np.sqrt(n), size=(n, n)),
        rng.normal(scale=0.1, size=n),
    )
    ds = dynalyze.find_fixed_points(system, rng.normal(size=(100, n)))
    np.testing.assert_allclose(
        ds["speed"].values, recomputed_speed(system, ds), rtol=1e-10, atol=1e-300
    )
    converged = ds["status"].values == 0
    assert converged.mean() > 0.9
    assert (ds["speed"].values[converged] <= 1e-12).all()
    assert np.all(ds["iterations"].values[converged] < 100)


def test_duplicates_are_labelled_not_dropped():
    system = linear_system(0.5 * np.eye(3), np.ones(3))
    ds = dynalyze.find_fixed_points(system, np.random.default_rng(0).normal(size=(10, 3)))
    assert ds.sizes["fixed_point"] == 10
    assert int(ds["is_duplicate"].sum()) == 9
    rep = int(ds["duplicate_of"].values[0])
    assert (ds["duplicate_of"] == rep).all()
    assert ds["speed"].values[rep] == ds["speed"].values.min()


def test_outliers_are_flagged():
    # Fixed point at (100, 100, 100), starts near the origin.
    system = linear_system(0.5 * np.eye(3), 50 * np.ones(3))
    starts = np.random.default_rng(0).normal(scale=0.1, size=(5, 3))
    ds = dynalyze.find_fixed_points(system, starts, outlier_scale=10.0)
    assert (ds["is_outlier"] == 1).all()
    assert unique_fixed_points(ds).sizes["fixed_point"] == 0
    ds = dynalyze.find_fixed_points(system, starts, outlier_scale=None)
    assert (ds["is_outlier"] == 0).all()


def test_slow_point_and_failed_statuses():
    system = SlowValley()
    ds = dynalyze.find_fixed_points(system, np.array([[0.7], [-0.4]]), outlier_scale=None)
    assert ds["status"].values.tolist() == [1, 1]
    np.testing.assert_allclose(ds["fixed_point_state"].values, 0.0, atol=1e-6)
    assert ds.dynalyze.labels("status").values.tolist() == ["slow_point", "slow_point"]

    rng = np.random.default_rng(5)
    n = 16
    hard = SimpleRNNSystem(np.zeros((1, n)), rng.normal(scale=3 / np.sqrt(n), size=(n, n)))
    ds = dynalyze.find_fixed_points(hard, rng.normal(size=(20, n)), max_iter=1)
    assert ds.sizes["fixed_point"] == 20
    assert (ds["status"] == 2).any()
    assert (ds["iterations"] <= 1).all()


def test_input_conditioned_fixed_points():
    rng = np.random.default_rng(6)
    n, m = 4, 2
    w = 0.3 * np.eye(n)
    kernel = rng.normal(size=(m, n))
    system = SimpleRNNSystem(kernel, w.T, np.zeros(n), activation="linear")
    inputs = rng.normal(size=(7, m))
    ds = dynalyze.find_fixed_points(system, np.zeros((7, n)), inputs, tol=1e-26)
    expected = (inputs @ kernel) / 0.7
    np.testing.assert_allclose(ds["fixed_point_state"].values, expected, atol=1e-10)
    np.testing.assert_array_equal(ds["fixed_point_input"].values, inputs)
    # Different inputs are never duplicates of each other.
    assert int(ds["is_duplicate"].sum()) == 0
    shared = dynalyze.find_fixed_points(system, np.zeros((3, n)), inputs[0], tol=1e-26)
    np.testing.assert_allclose(
        shared["fixed_point_state"].values, np.tile(expected[0], (3, 1)), atol=1e-10
    )


def test_one_input_row_broadcasts_like_fixedpointfinder():
    """FixedPointFinder's convention: ``inputs`` of shape (1, n_inputs) for every start."""
    rng = np.random.default_rng(7)
    n, m = 3, 2
    kernel = rng.normal(size=(m, n))
    system = SimpleRNNSystem(kernel, 0.4 * np.eye(n), np.zeros(n), activation="linear")
    u = rng.normal(size=(1, m))
    starts = rng.normal(size=(5, n))
    for finder_method in ("lm", "adam"):
        kwargs = {"tol": 1e-26} if finder_method == "lm" else {"tol": 1e-14, "max_iter": 20000}
        ds = dynalyze.find_fixed_points(system, starts, u, method=finder_method, **kwargs)
        np.testing.assert_allclose(
            ds["fixed_point_state"].values, np.tile(u @ kernel / 0.6, (5, 1)), atol=1e-6
        )
        np.testing.assert_array_equal(ds["fixed_point_input"].values, np.tile(u, (5, 1)))
    # The same convention for stepping, Jacobians and linearizations.
    np.testing.assert_allclose(system.step(starts, u), system.step(starts, u[0]))
    lin = dynalyze.Linearization().compute(system, starts, u)
    np.testing.assert_allclose(lin["jacobian_input"].values, np.tile(kernel.T, (5, 1, 1)))
    # Two rows for five starts is still a mistake, and the message says what fits.
    with pytest.raises(InputShapeError, match=r"single row of shape \(1, 2\)"):
        dynalyze.find_fixed_points(system, starts, np.zeros((2, m)))


def test_adam_reference_finds_the_same_point():
    system = linear_system(np.diag([0.5, 0.2]), np.array([1.0, -1.0]))
    starts = np.random.default_rng(0).normal(size=(4, 2))
    ds = AdamFinder(learning_rate=0.05, tol=1e-16).find(system, starts)
    np.testing.assert_allclose(ds["fixed_point_state"].values, [[2.0, -1.25]] * 4, atol=1e-6)
    assert (ds["status"] == 0).all()


def test_same_seed_same_result():
    rng = np.random.default_rng(9)
    n = 8
    system = SimpleRNNSystem(np.zeros((1, n)), rng.normal(scale=1.2 / np.sqrt(n), size=(n, n)))
    traj = rng.normal(size=(3, 20, n))
    a = dynalyze.find_fixed_points(system, sample_initial_states(traj, 30, noise=0.1, seed=2))
    b = dynalyze.find_fixed_points(system, sample_initial_states(traj, 30, noise=0.1, seed=2))
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())


def test_sample_initial_states_mask_and_errors():
    traj = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    mask = np.array([[True, False, False], [False, False, True]])
    out = sample_initial_states(traj, 10, mask=mask, seed=0)
    assert {tuple(r) for r in out} <= {(0.0, 1.0), (10.0, 11.0)}
    with pytest.raises(InputShapeError, match="mask"):
        sample_initial_states(traj, 2, mask=mask[:, :2])
    with pytest.raises(InputShapeError, match="No visited states"):
        sample_initial_states(traj, 2, mask=np.zeros((2, 3), bool))
    with pytest.raises(ConfigurationError):
        sample_initial_states(traj, 0)


def test_deduplicate_scales_to_many_points():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(100, 16))
    points = np.repeat(centres, 100, axis=0) + 1e-9 * rng.normal(size=(10_000, 16))
    rep = deduplicate(points, 1e-6)
    assert len(np.unique(rep)) == 100


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"tol": 0.0}, "tol"),
        ({"tol": -1e-3}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"dedup_tol": -1.0}, "dedup_tol"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_options(options, match):
    system = linear_system(0.5 * np.eye(2), np.ones(2))
    with pytest.raises(ConfigurationError, match=match):
        dynalyze.find_fixed_points(system, np.zeros((1, 2)), **options)


def test_bad_arrays():
    system = linear_system(0.5 * np.eye(2), np.ones(2))
    with pytest.raises(InputShapeError, match="empty"):
        dynalyze.find_fixed_points(system, np.zeros((0, 2)))
    with pytest.raises(InputShapeError, match=r"shape \(n, 2\)"):
        dynalyze.find_fixed_points(system, np.zeros((3, 5)))
    with pytest.raises(InputShapeError, match="inputs"):
        dynalyze.find_fixed_points(system, np.zeros((3, 2)), np.zeros((2, 1)))
    with pytest.raises(NonFiniteError, match="NaN"):
        dynalyze.find_fixed_points(system, np.array([[np.nan, 0.0]]))
    with pytest.raises(NonFiniteError):
        dynalyze.find_fixed_points(system, np.zeros((1, 2)), np.array([np.inf]))
    with pytest.raises(UnsupportedModelError, match="wrap"):
        dynalyze.find_fixed_points("not a system", np.zeros((1, 2)))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="method"):
        dynalyze.find_fixed_points(system, np.zeros((1, 2)), method="newton-raphson")
