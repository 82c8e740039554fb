"""The default finder on a strongly recurrent random GRU (gain 2).

Every claim is checked by independent root solves (MINPACK).
"""

from __future__ import annotations

import numpy as np
import pytest
from _systems import random_gru
from scipy.optimize import root

import dynalyze
from dynalyze.systems.gru import GRUSystem


# (units, seed): both have several fixed points plus slow points at gain 2.
@pytest.fixture(scope="module", params=[(24, 1), (16, 2)], ids=["gru24", "gru16"])
def problem(request):
    units, seed = request.param
    system = random_gru(units, 2.0, seed=seed)
    rng = np.random.default_rng(1)
    h = np.zeros((256, units))
    for _ in range(30):
        h = system.step(h, rng.normal(size=(256, 4)))
    starts = h + 0.1 * rng.normal(size=h.shape)
    return system, starts, dynalyze.find_fixed_points(system, starts)


def residual(system: GRUSystem, h: np.ndarray) -> np.ndarray:
    return system.step(h[None])[0] - h


def independent_root(system: GRUSystem, start: np.ndarray):
    # MINPACK hybrd with its own finite-difference Jacobian: independent of dynalyze's Jacobians.
    return root(lambda h: residual(system, h), start, method="hybr", options={"xtol": 1e-13})


def test_converged_points_are_true_fixed_points(problem):
    system, _, ds = problem
    converged = ds.isel(fixed_point=np.flatnonzero(ds["status"].values == 0))
    assert converged.sizes["fixed_point"] > 64
    assert converged.dynalyze.unique().sizes["fixed_point"] >= 2
    for h in converged.dynalyze.unique()["fixed_point_state"].values:
        sol = independent_root(system, h)
        assert np.linalg.norm(residual(system, sol.x)) < 1e-10
        assert np.linalg.norm(sol.x - h) < 1e-8
    # And directly: the residual at every converged point is tiny.
    h = converged["fixed_point_state"].values
    assert np.max(np.linalg.norm(system.step(h) - h, axis=1)) < 1e-9


def test_reported_speed_is_recomputed(problem):
    system, _, ds = problem
    h = ds["fixed_point_state"].values
    r = system.step(h) - h
    np.testing.assert_allclose(
        ds["speed"].values, 0.5 * np.sum(r * r, axis=1), rtol=1e-12, atol=1e-300
    )
    # Non-converged candidates are reported, never hidden, and never pass the tolerance.
    status = ds["status"].values
    assert ds.sizes["fixed_point"] == 256
    assert np.all(ds["speed"].values[status != 0] > 1e-20)


def test_no_reachable_fixed_point_is_missed(problem):
    system, starts, ds = problem
    found = ds.dynalyze.unique()["fixed_point_state"].values
    roots = []
    for start in starts:
        sol = independent_root(system, start)
        if np.linalg.norm(residual(system, sol.x)) < 1e-10:
            roots.append(sol.x)
    assert roots, "the independent solver should reach some fixed points"
    roots_unique = dynalyze.fixedpoints.deduplicate(np.array(roots), 1e-6)
    for i in np.unique(roots_unique):
        distance = np.min(np.linalg.norm(found - roots[i], axis=1))
        assert distance < 1e-6, f"fixed point {roots[i][:3]}... found by MINPACK was missed"
