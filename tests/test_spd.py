"""The Cholesky solves of the damped normal equations against LU and closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from dynalyze.fixedpoints._spd import solve_spd


@pytest.mark.parametrize("d", [8, 32, 100])
def test_solve_spd_matches_numpy_solve_on_damped_normal_equations(d):
    rng = np.random.default_rng(d)
    a = rng.normal(size=(5, d, d)) / np.sqrt(d)
    lhs = np.transpose(a, (0, 2, 1)) @ a + np.geomspace(1e-8, 1.0, 5)[:, None, None] * np.eye(d)
    rhs = rng.normal(size=(5, d))
    expected = np.linalg.solve(lhs, rhs[..., None])[..., 0]
    got = solve_spd(lhs.copy(), rhs)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    # The residuals are at rounding level, also where mu = 1e-8 leaves it ill-conditioned.
    residual = np.einsum("nij,nj->ni", lhs, got) - rhs
    assert np.abs(residual).max() < 1e-9


def test_solve_spd_falls_back_to_lu_and_marks_singular_matrices():
    """Not positive definite: LU's answer; singular: NaN for that matrix only."""
    rng = np.random.default_rng(1)
    d = 40
    base = rng.normal(size=(d, d))
    lhs = np.stack([base @ base.T + np.eye(d), base + base.T, np.zeros((d, d))])
    rhs = rng.normal(size=(3, d))
    got = solve_spd(lhs.copy(), rhs)
    np.testing.assert_allclose(lhs[0] @ got[0], rhs[0], atol=1e-10)
    # Indefinite: Cholesky breaks down part-way, so the solve must use the original matrix.
    np.testing.assert_allclose(got[1], np.linalg.solve(lhs[1], rhs[1]), rtol=1e-8)
    assert np.isnan(got[2]).all()
