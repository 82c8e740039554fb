"""Shared factorisations (chord steps) in the default finder.

Checked against the same finder without sharing (``share_radius=0``) and against
MINPACK: sharing must change how much work is done, not where the searches end.
"""

from __future__ import annotations

import numpy as np
import pytest
from _systems import random_gru
from scipy.optimize import root

from dynalyze.errors import ConfigurationError
from dynalyze.fixedpoints import LevenbergMarquardtFinder
from dynalyze.fixedpoints.sharing import chord_trial, gather, shared_directions
from dynalyze.systems import SimpleRNNSystem
from dynalyze.systems.gru import GRUSystem


def visited(system: GRUSystem, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = np.zeros((n, system.state_dim))
    for _ in range(30):
        h = system.step(h, rng.normal(size=(n, system.input_dim)))
    return h + 0.05 * rng.normal(size=h.shape)


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_sharing_ends_where_own_newton_ends(gain):
    system = random_gru(32, gain, bias_scale=0.1)
    starts = visited(system, 256)
    shared = LevenbergMarquardtFinder().find(system, starts)
    alone = LevenbergMarquardtFinder(share_radius=0.0).find(system, starts)
    assert shared["status"].values.tolist() == alone["status"].values.tolist()
    gap = np.linalg.norm(
        shared["fixed_point_state"].values - alone["fixed_point_state"].values, axis=1
    )
    # The same root from (nearly) every start; the rare exceptions are starts far from
    # every root, where Newton's basins interleave.
    assert np.mean(gap < 1e-8) >= 0.99
    steps = shared["shared_steps"].values
    assert steps.sum() > 0, "the starts gather: some steps must be shared"
    assert np.all(steps <= shared["iterations"].values)
    assert alone["shared_steps"].values.sum() == 0
    converged = shared["status"].values == 0
    assert shared["speed"].values[converged].max() <= 1e-20


def test_shared_roots_are_minpack_roots():
    system = random_gru(24, 1.0, bias_scale=0.1)
    ds = LevenbergMarquardtFinder().find(system, visited(system, 128))
    assert ds["shared_steps"].values.mean() >= 1.0
    for h in ds.dynalyze.unique()["fixed_point_state"].values:
        sol = root(lambda v: system.step(v[None])[0] - v, h, method="hybr", options={"xtol": 1e-13})
        assert np.linalg.norm(sol.x - h) < 1e-9


def test_sharing_saves_factorisations(monkeypatch):
    """Where starts gather, Jacobians are assembled for far fewer point-iterations."""
    system = random_gru(32, 1.0, bias_scale=0.1)
    starts = visited(system, 256)
    counted = {"points": 0}
    original = GRUSystem._jacobian_state

    def counting(self, h, x):
        counted["points"] += h.shape[0]
        return original(self, h, x)

    monkeypatch.setattr(GRUSystem, "_jacobian_state", counting)
    work = {}
    for radius in (0.0, 0.5):
        counted["points"] = 0
        ds = LevenbergMarquardtFinder(share_radius=radius).find(system, starts)
        # The status needs no Jacobian at converged points: all counted ones are the solver's.
        assert (ds["status"].values == 0).all()
        work[radius] = counted["points"]
    assert work[0.5] < 0.4 * work[0.0]


def test_points_do_not_share_across_inputs():
    h = np.zeros((4, 1))
    x = np.array([[0.0], [0.0], [1.0], [1.0]])
    groups = gather(h, x, np.arange(4.0), np.ones(4, dtype=bool), radius=1.0)
    assert [g.tolist() for g in groups.members] == [[0, 1], [2, 3]]


def test_ineligible_points_and_the_leader_budget():
    h = np.arange(6.0)[:, None] * 10.0
    eligible = np.array([True, True, False, True, True, True])
    groups = gather(h, np.zeros((6, 1)), np.arange(6.0), eligible, radius=1.0, max_leads=2)
    assert groups.members == []
    assert groups.alone.tolist() == [0, 1, 2, 3, 4, 5]


def test_far_leaders_share_nothing():
    system = SimpleRNNSystem(
        np.zeros((1, 1)), np.array([[0.5]]), np.array([1.0]), activation="linear"
    )
    h = np.array([[100.0], [100.5]])
    x = np.zeros((2, 1))
    r = system.step(h, x) - h
    groups = gather(h, x, 0.5 * (r**2).sum(1), np.ones(2, dtype=bool), radius=1.0)
    _, ok = shared_directions(system, h, x, r, groups, max_leader_step=1.0)
    assert ok.tolist() == [True, False]  # the leader's own step only


def test_chord_trial_refuses_steps_out_of_the_box():
    system = SimpleRNNSystem(np.zeros((1, 1)), np.array([[0.5]]), np.array([0.0]))
    ok, *_ = chord_trial(
        system,
        np.array([[0.5]]),
        np.zeros((1, 1)),
        np.array([[1.0]]),
        np.array([1.0]),
        system.state_bounds,
        0.25,
    )
    assert ok.tolist() == [False]


@pytest.mark.parametrize(
    "options", [{"share_radius": -1.0}, {"contraction": 1.0}, {"contraction": 0.0}]
)
def test_bad_sharing_options(options):
    with pytest.raises(ConfigurationError):
        LevenbergMarquardtFinder(**options)
