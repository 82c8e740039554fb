"""Searches that end on a slow manifold are said to, not reported as failed.

A constructed map whose answer is known: a stiff direction that settles at once and a
nearly neutral direction along which the residual never vanishes (no fixed point, no
stationary point of the speed): every search must end as ``slow_manifold``, soon.
"""

from __future__ import annotations

import numpy as np
import pytest

from dynalyze.fixedpoints import LevenbergMarquardtFinder
from dynalyze.fixedpoints.base import FAILED, SLOW_MANIFOLD
from dynalyze.fixedpoints.neutral import is_neutral, neutral_share, normal_equations
from dynalyze.systems import RecurrentSystem, SimpleRNNSystem

DRIFT = 1e-3


class SlowDrift(RecurrentSystem):
    """h1' = 0.3 sin(h2) (stiff), h2' = h2 + DRIFT (2 + tanh(h2 / 10)) in the box [-2, 2]^2.

    The manifold h1 = 0.3 sin(h2) drifts at a speed that never vanishes in the box
    and changes by about 1e-4 per unit along it: no fixed point, and the speed's
    gradient there is about 1e-4 of the residual (not a stationary point).
    """

    name = "test-slow-drift"

    @property
    def state_dim(self) -> int:
        return 2

    @property
    def input_dim(self) -> int:
        return 1

    def _step(self, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        h1 = 0.3 * np.sin(h[:, 1])
        h2 = h[:, 1] + DRIFT * (2.0 + np.tanh(h[:, 1] / 10.0))
        return np.stack([h1, h2], axis=1) + 0.0 * x

    def _jacobian_state(self, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        jac = np.zeros((h.shape[0], 2, 2))
        jac[:, 0, 1] = 0.3 * np.cos(h[:, 1])
        jac[:, 1, 1] = 1.0 + 0.1 * DRIFT / np.cosh(h[:, 1] / 10.0) ** 2
        return jac

    @property
    def state_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.full(2, -2.0), np.full(2, 2.0)

    def _jacobian_input(self, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.zeros((h.shape[0], 2, 1))


@pytest.mark.parametrize("newton_steps", [True, False])
def test_searches_on_a_drifting_manifold_end_as_slow_manifold(newton_steps):
    starts = np.random.default_rng(0).uniform(-1, 1, size=(16, 2))
    finder = LevenbergMarquardtFinder(newton_steps=newton_steps, tol=1e-12)
    ds = finder.find(SlowDrift(), starts)
    assert (ds["status"].values == SLOW_MANIFOLD).all()
    assert ds.dynalyze.labels("status").values.tolist() == ["slow_manifold"] * 16
    # On the manifold: 90% of the speed or more is the drift's, the stiff residual is small.
    h = ds["fixed_point_state"].values
    stiff = 0.5 * (0.3 * np.sin(h[:, 1]) - h[:, 0]) ** 2
    assert (stiff <= 0.1 * ds["speed"].values).all()
    assert (ds["speed"].values >= 0.5 * DRIFT**2).all()
    # Found crawling and stopped, instead of crawling on.
    assert ds["iterations"].values.max() < 20
    crawled = LevenbergMarquardtFinder(newton_steps=newton_steps, tol=1e-12, crawl_window=0).find(
        SlowDrift(), starts
    )
    # Without the crawl test every search crawls down the manifold to the face of the box
    # where q is least (h2 = -2; the steps keep h2 on that face), several times longer.
    assert (crawled["iterations"].values > 3 * ds["iterations"].values.max()).all()
    np.testing.assert_array_equal(crawled["fixed_point_state"].values[:, 1], -2.0)
    # The status is decided from the returned state: the crawl ends on the manifold too.
    assert (crawled["status"].values == SLOW_MANIFOLD).all()


def test_a_search_out_of_budget_off_any_manifold_still_failed():
    rng = np.random.default_rng(5)
    n = 16
    hard = SimpleRNNSystem(np.zeros((1, n)), rng.normal(scale=3 / np.sqrt(n), size=(n, n)))
    ds = LevenbergMarquardtFinder(max_iter=1).find(hard, rng.normal(size=(20, n)))
    assert (ds["status"].values == FAILED).any()
    assert not (ds["status"].values == SLOW_MANIFOLD).any()


def _random_svd_system(rng, n, sigma):
    u, _ = np.linalg.qr(rng.normal(size=(n, n)))
    v, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return u, u @ np.diag(sigma) @ v.T


@pytest.mark.parametrize("n", [12, 40, 256])
def test_neutral_share_is_the_share_of_q_along_small_singular_values(n):
    """Closed form: sum over sigma_i <= eps of c_i^2 / sum_i c_i^2, for r = sum c_i u_i.

    Below 32 units from a full eigendecomposition, from 32 on from the neutral
    eigenpairs alone (``dsyevr`` on a subset): both must give the closed form.
    """
    rng = np.random.default_rng(3)
    eps = 0.03
    sigma = np.geomspace(2.0, 1e-4, n)
    u, a = _random_svd_system(rng, n, sigma)
    coeff = rng.normal(size=n)
    residual = u @ coeff
    expected = np.sum(coeff**2 * (sigma <= eps)) / np.sum(coeff**2)
    share = neutral_share((a + np.eye(n))[None], residual[None], eps)
    assert 0.2 < expected < 0.8  # both kinds of directions carry part of q
    np.testing.assert_allclose(share, [expected], rtol=1e-8)
    # The same from numpy's SVD of J - I, an independent factorisation.
    left, values, _ = np.linalg.svd(a)
    along = (left.T @ residual) ** 2
    np.testing.assert_allclose(share, [along[values <= eps].sum() / along.sum()], rtol=1e-8)


def test_is_neutral_screen_agrees_with_the_exact_share():
    """The Tikhonov screen only decides where its bounds are sure; the verdict is the exact one.

    Residuals are drawn so that the exact share lands on both sides of 0.9 and near it,
    with singular values on both sides of eps and right at it.
    """
    rng = np.random.default_rng(7)
    n, eps = 10, 0.03
    sigma = np.array([1.5, 0.6, 0.2, 0.09, 0.045, 0.031, 0.029, 0.02, 0.005, 1e-5])
    u, a = _random_svd_system(rng, n, sigma)
    neutral = sigma <= eps
    coeffs = rng.normal(size=(400, n)) * np.where(neutral, 1.0, rng.uniform(0.0, 0.6, (400, 1)))
    residual = coeffs @ u.T
    normal, grad, rr = normal_equations(np.broadcast_to(a + np.eye(n), (400, n, n)), residual)
    exact = np.sum(coeffs**2 * neutral, axis=1) / np.sum(coeffs**2, axis=1)
    assert (exact >= 0.9).sum() > 50 and (exact < 0.9).sum() > 50
    np.testing.assert_array_equal(is_neutral(normal, grad, rr, eps), exact >= 0.9)
    np.testing.assert_array_equal(is_neutral(normal, grad, rr, eps, share=0.5), exact >= 0.5)


def test_every_tikhonov_screen_brackets_the_exact_share():
    """(s - a) / (1 - a) <= share <= s / a with a = (t^2 / (eps^2 + t^2))^2, for each
    screen's t, on spectra crowded around eps (where the bounds are tightest)."""
    from dynalyze.fixedpoints.neutral import _SCREENS, _screen

    rng = np.random.default_rng(11)
    n, eps = 40, 0.03
    sigma = np.sort(eps * np.exp(rng.uniform(-3.0, 3.0, n)))[::-1]
    u, a = _random_svd_system(rng, n, sigma)
    coeffs = rng.normal(size=(300, n)) * rng.uniform(0.0, 1.0, (300, n))
    normal, grad, rr = normal_equations(np.broadcast_to(a + np.eye(n), (300, n, n)), coeffs @ u.T)
    exact = np.sum(coeffs**2 * (sigma <= eps), axis=1) / np.sum(coeffs**2, axis=1)
    for factor in _SCREENS:
        t = factor * eps
        weight = (t**2 / (eps**2 + t**2)) ** 2
        s = _screen(normal, grad, rr, t)
        assert np.all((s - weight) / (1 - weight) <= exact + 1e-9)
        assert np.all(exact <= s / weight + 1e-9)
        # The bounds are not vacuous: each screen is within 0.5 of the share somewhere.
        assert np.any(s / weight - exact < 0.5)


@pytest.mark.parametrize(
    "options", [{"neutral_tol": 0.0}, {"crawl_window": -1}, {"crawl_window": 2.5}]
)
def test_bad_slow_manifold_options(options):
    from dynalyze.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        LevenbergMarquardtFinder(**options)


def test_crawl_test_extrapolates_the_window_rate_to_the_budget():
    """After the first window, a search whose speed falls too slowly to reach ``tol``
    within ``max_iter`` is tested for neutrality even though it fell by more than 10%;
    one that would get there, or is still in its first window, is not stopped.
    """
    from dynalyze.fixedpoints._lm_state import _Iterates

    finder = LevenbergMarquardtFinder(tol=1e-12, max_iter=200, crawl_window=10)
    h = np.zeros((4, 2))
    it = _Iterates.start(SlowDrift(), h, np.zeros((4, 1)), newton=False)
    # Every point's residual lies along the neutral axis (A = diag(-1, 1e-4)).
    a = np.diag([-1.0, 1e-4])
    r = np.array([0.0, 1e-2])
    it.normal[:] = a.T @ a
    it.grad[:] = a.T @ r
    it.cost[:] = 0.5 * r @ r  # 5e-5
    it.iterations[:] = 30
    # Window ratios: 0.5 (50 more halvings of q would be needed: hopeless), 0.5 in the
    # first window (no rate yet), 1e-3 (reaches 1e-12 in three windows), 0.95 (crawling).
    it.mark_iter[:] = [20, 0, 20, 20]
    it.mark_cost[:] = it.cost / np.array([0.5, 0.5, 1e-3, 0.95])
    it.trace[:] = np.trace(a.T @ a)
    it.mu[:] = 1e-6  # well below trace(A^T A) = 1
    crawling = finder._crawling(it, np.arange(4))
    assert crawling.tolist() == [True, False, False, True]
    # Windows restart where they were full.
    assert it.mark_iter.tolist() == [30, 30, 30, 30]
    # Over-damped (mu above trace(A^T A)): its steps are slow because of the damping,
    # so no verdict, however slowly the speed falls.
    it.iterations[:] = 40
    it.mark_cost[:] = it.cost / 0.95
    it.mu[:] = [1e-6, 2.0, 1e-6, 2.0]
    assert finder._crawling(it, np.arange(4)).tolist() == [True, False, True, False]


def test_crawl_test_looks_at_most_ten_windows_ahead():
    """A speed falling linearly, 0.2 per window, would reach tol = 1e-12 from 5e-5 in 11
    windows, within the budget's 17 but not within the 10-window horizon: tested, and it
    crawls; 0.1 per window gets there in 8: not tested. A window with a rejected step
    holds the damping's adaptation, not a rate: only the budget counts for it."""
    from dynalyze.fixedpoints._lm_state import _Iterates
    from dynalyze.fixedpoints.levenberg_marquardt import _HORIZON

    assert _HORIZON == 10
    finder = LevenbergMarquardtFinder(tol=1e-12, max_iter=200, crawl_window=10)
    it = _Iterates.start(SlowDrift(), np.zeros((3, 2)), np.zeros((3, 1)), newton=False)
    a = np.diag([-1.0, 1e-4])
    r = np.array([0.0, 1e-2])
    it.normal[:], it.grad[:], it.cost[:] = a.T @ a, a.T @ r, 0.5 * r @ r
    it.iterations[:], it.mark_iter[:] = 30, 20
    it.mark_cost[:] = it.cost / np.array([0.2, 0.1, 0.2])
    it.rejected[:] = [0, 0, 1]
    it.trace[:], it.mu[:] = 1.0, 1e-6
    assert finder._crawling(it, np.arange(3)).tolist() == [True, False, False]
    assert it.rejected.tolist() == [0, 0, 0]  # the windows restart
    # With 40 windows of budget left instead, 0.2 per window is no longer judged hopeless
    # by the budget alone: only the horizon makes the first point crawl.
    assert 0.2 ** ((200 - 30) / 10) * it.cost[0] < finder.tol


def test_the_slow_manifold_verdicts_the_finder_hands_over_hold_at_the_returned_states():
    """The status takes the finder's neutral verdicts instead of recomputing them: an
    independent SVD of J - I at each returned state must agree that 90% or more of q lies
    along singular values of at most neutral_tol."""
    rng = np.random.default_rng(1)
    system = SlowDrift()
    starts = rng.uniform(-1.5, 1.5, (8, 2))
    finder = LevenbergMarquardtFinder(tol=1e-12)
    out = finder._solve(system, starts.copy(), np.zeros((8, 1)))
    assert out.neutral is not None and out.neutral.all()
    ds = finder.find(system, starts)
    assert (ds["status"].values == SLOW_MANIFOLD).all()
    h = ds["fixed_point_state"].values
    jac = system._jacobian_state(h, np.zeros((8, 1)))
    residual = system._step(h, np.zeros((8, 1))) - h
    for k in range(8):
        left, values, _ = np.linalg.svd(jac[k] - np.eye(2))
        along = (left.T @ residual[k]) ** 2
        assert along[values <= finder.neutral_tol].sum() >= 0.9 * along.sum()


def test_a_failed_newton_step_starts_the_crawl_windows_of_the_damped_steps():
    """The damped phase's rate is measured from where Newton's steps gave up."""
    from tqdm.auto import tqdm

    from dynalyze.fixedpoints._lm_state import _Iterates, _Trial

    finder = LevenbergMarquardtFinder(tol=1e-12)
    it = _Iterates.start(SlowDrift(), np.zeros((2, 2)), np.zeros((2, 1)), newton=True)
    it.iterations[:] = 4
    cost = it.cost.copy()
    trial = _Trial.empty(2, 2)
    trial.accept[:] = [False, True]
    trial.delta[:], trial.state[:], trial.res[:] = 0.01, it.h + 0.01, it.r
    trial.value[:] = 0.5 * cost
    finder._update(it, np.arange(2), trial, tqdm(disable=True))
    assert it.newton.tolist() == [False, True]
    assert it.mark_iter.tolist() == [5, 0] and it.mark_cost[0] == cost[0]
    # Its damped steps' rejections are counted from there, for the horizon's rule.
    assert it.rejected.tolist() == [0, 0]
    trial = _Trial.empty(1, 2)
    trial.value[:] = np.inf
    it.mu[:], it.grad[:], it.trace[:] = 1e-3, 1.0, 1.0
    finder._update(it, np.arange(1), trial, tqdm(disable=True))
    assert it.rejected.tolist() == [1, 0] and it.mu[0] == 2e-3


def test_damped_steps_keep_pinned_coordinates_and_solve_the_others_exactly():
    """Closed form: the pinned coordinate does not move; the rest solve the reduced system."""
    from dynalyze.fixedpoints.levenberg_marquardt import _damped_step

    rng = np.random.default_rng(2)
    a = rng.normal(size=(5, 5))
    normal = (a.T @ a)[None]
    grad = rng.normal(size=(1, 5))
    pinned = np.array([[False, True, False, False, True]])
    grad[pinned] = 0.0
    mu = np.array([0.1])
    step = _damped_step(normal, np.array([0]), mu, grad, pinned)
    free = ~pinned[0]
    reduced = normal[0][np.ix_(free, free)] + mu[0] * np.eye(free.sum())
    np.testing.assert_allclose(step[0, free], -np.linalg.solve(reduced, grad[0, free]))
    assert (step[0, ~free] == 0.0).all()
    # Nothing pinned: the plain damped normal equations.
    step = _damped_step(normal, np.array([0]), mu, grad, np.zeros_like(pinned))
    np.testing.assert_allclose(step[0], -np.linalg.solve(normal[0] + 0.1 * np.eye(5), grad[0]))


def test_the_line_attractor_report_says_how_the_other_searches_ended():
    """The acceptance row counts the searches that ended on the slow manifold, from the data."""
    from dynalyze.analyses.line_attractor.checks import checks
    from dynalyze.analyses.line_attractor.views import _stage_acceptance, accepted_candidates

    rng = np.random.default_rng(0)
    drifting = LevenbergMarquardtFinder(tol=1e-12).find(SlowDrift(), rng.uniform(-1, 1, (6, 2)))
    counts = _stage_acceptance(drifting, accepted_candidates(drifting, 1e-8))
    assert counts["n_candidates"] == 6 and counts["n_accepted"] == 0
    assert counts["n_slow_manifold_searches"] == 6
    assert counts["n_slow_point_searches"] == counts["n_unsettled_searches"] == 0
    row = next(r for r in checks(counts) if r["quantity"].startswith("approximate fixed points"))
    assert row["ours"].startswith("0 of 6 searches (each stops at the criterion; of the other 6:")
    assert "6 ended on a slow manifold above the criterion" in row["ours"]
    # A contraction: every search converges to the one root; all but one are duplicates.
    contraction = SimpleRNNSystem(np.zeros((1, 2)), 0.5 * np.eye(2), activation="linear")
    found = LevenbergMarquardtFinder().find(contraction, rng.normal(size=(4, 2)))
    counts = _stage_acceptance(found, accepted_candidates(found, 1e-8))
    assert (counts["n_accepted"], counts["n_slow_manifold_searches"]) == (1, 0)
    row = next(r for r in checks(counts) if r["quantity"].startswith("approximate fixed points"))
    assert "of the other 3: 3 converged but were duplicates or outliers" in row["ours"]
