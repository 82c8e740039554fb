"""Ground truth for the structure, profile and verdict: constructed systems with known answers.

Each system is wrapped in a RecurrentClassifier and analysed by the full
LineAttractor pipeline on trajectories driven by random words; the verdict and
the fixed-point structure must be the ones the system is built to have.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from dynalyze.analyses.line_attractor import Evidence, LineAttractor
from dynalyze.analyses.line_attractor.manifold import subspace_alignment, subspace_null
from dynalyze.analyses.line_attractor.mechanism import mechanism, structure_rows
from dynalyze.analyses.line_attractor.structure import link_clusters, manifold_axis
from dynalyze.classifier import RecurrentClassifier
from dynalyze.results import make_dataset
from dynalyze.systems import SimpleRNNSystem
from dynalyze.vocabulary import Vocabulary

VALENCES = {"good": 0.7, "great": 1.2, "bad": -0.9, "awful": -1.5, "film": 0.0, "plot": 0.05}


def _classifier(system, embedding, readout):
    tokens = ["", "[UNK]", *VALENCES]
    return RecurrentClassifier(
        system=system,
        embedding=embedding,
        readout_weight=np.asarray(readout, dtype=float),
        readout_bias=0.0,
        vocabulary=Vocabulary(tokens),
    )


def _trajectories(clf, n_docs=60, length=40, seed=0):
    rng = np.random.default_rng(seed)
    n_tokens = clf.embedding.shape[0]
    ids = rng.integers(2, n_tokens, size=(n_docs, length)).astype(np.int32)
    d = clf.system.state_dim
    states = np.zeros((n_docs, length, d), dtype=np.float32)
    h = np.zeros((n_docs, d))
    for t in range(length):
        h = clf.system.step(h, clf.embedding[ids[:, t]])
        states[:, t] = h
    logit = clf.readout(h)
    return make_dataset(
        "trajectories",
        {
            "hidden_state": states,
            "token_id": ids,
            "valid": np.ones(ids.shape, dtype=np.int8),
            "length": np.full(n_docs, length),
            "logit": logit,
            "label": (logit > 0).astype(np.int8),
        },
    )


def _analyse(clf, **options):
    """The constructed systems' structure is known at x = 0: analyse them there."""
    traj = _trajectories(clf)
    config = dict(
        n_initial=200,
        evidence=Evidence(n_plot=500, n_null=200, relaxation_steps=5, n_relaxation=20),
        baseline="zero",
    )
    config.update(options)
    ds = LineAttractor(**config).fit(clf, traj)
    return ds, mechanism(ds), structure_rows(ds)


def _embedding(scale, dims, fast=0.3):
    tokens = ["", "[UNK]", *VALENCES]
    emb = np.zeros((len(tokens), dims))
    rng = np.random.default_rng(1)
    for i, token in enumerate(tokens[2:], start=2):
        emb[i, 0] = scale * VALENCES[token]
        if dims > 2:
            emb[i, 1] = scale * rng.normal()
        emb[i, -1] = fast * (i % 2)
    return emb


def test_exact_line_attractor():
    system = SimpleRNNSystem(np.eye(2), np.diag([1.0, 0.3]), np.zeros(2), activation="linear")
    clf = _classifier(system, _embedding(0.2, 2), [1.0, 0.0])
    ds, verdict, rows = _analyse(clf)
    assert verdict.kind == "line_attractor", verdict.headline
    assert [r["kind"] for r in rows] == ["continuum"]
    assert rows[0]["stability"] == "marginal"
    assert float(ds["slow_fraction"]) == 1.0
    assert float(ds["median_slow_subspace_dim"]) == 1.0
    assert int(ds["n_unstable_clusters"]) == 0
    # Token projections are the valences along e_0, everywhere on the line.
    proj = ds["token_projection"].sel(token="great")
    assert float(proj) == pytest.approx(0.2 * 1.2)
    assert float(ds["token_projection_spread"].sel(token="great")) == pytest.approx(0, abs=1e-12)
    assert float(ds["token_displacement"].sel(token="great")) == pytest.approx(0.2 * 1.2)
    assert "line attractor" in verdict.headline
    assert "continuum of fixed points" in verdict.headline


def test_bistable_system_with_a_saddle():
    # h' = tanh(1.05 h) beside a fast unit: stable roots at +-h*, a saddle at 0.
    system = SimpleRNNSystem(np.eye(2), np.diag([1.05, 0.3]), np.zeros(2))
    clf = _classifier(system, _embedding(0.05, 2), [1.0, 0.0])
    ds, verdict, rows = _analyse(clf)
    h_star = 0.0
    for _ in range(2000):  # the positive root of h = tanh(1.05 h), by fixed-point iteration
        h_star = np.tanh(1.05 * (h_star if h_star else 0.5))
    fixed = [r for r in rows if r["kind"] in ("fixed_point", "isolated_root")]
    assert [r["stability"] for r in fixed] == ["stable", "saddle", "stable"], rows
    keep = [i for i, r in enumerate(rows) if r["kind"] in ("fixed_point", "isolated_root")]
    roots = ds["cluster_state"].values[keep]
    np.testing.assert_allclose(roots, [[-h_star, 0.0], [0.0, 0.0], [h_star, 0.0]], atol=1e-8)
    saddle = fixed[1]
    assert saddle["n_unstable_modes"] == 1
    assert saddle["top_eigenvalue_magnitudes"][0] == pytest.approx(1.05, abs=1e-9)
    assert verdict.kind in ("bistable", "partially_slow"), verdict.headline
    assert "saddle" in verdict.headline
    assert "2 stable" in verdict.headline or "2 stable ends" in verdict.headline
    # The one-step displacement at the most populated stable point has the word's sign.
    assert float(ds["token_displacement"].sel(token="great")) > 0
    assert float(ds["token_displacement"].sel(token="awful")) < 0
    # Words are read where they move the state most: at the saddle (slope 1.05 vs ~0.9).
    gains = [r["token_gain"] for r in fixed]
    assert gains[1] > max(gains[0], gains[2])


def test_plane_attractor():
    system = SimpleRNNSystem(np.eye(3), np.diag([1.0, 1.0, 0.3]), np.zeros(3), activation="linear")
    clf = _classifier(system, _embedding(0.2, 3), [1.0, 0.0, 0.0])
    ds, verdict, _ = _analyse(clf)
    assert verdict.kind == "plane_attractor", verdict.headline
    assert float(ds["median_slow_subspace_dim"]) == 2.0
    assert "2-D attractor, not a line" in verdict.headline
    # The readout and the tangent both lie inside the 2-D slow subspace.
    assert float(ds["median_alignment_readout_slow"]) == pytest.approx(1.0)


def test_leaky_integrator():
    system = SimpleRNNSystem(np.eye(2), np.diag([0.8, 0.3]), np.zeros(2), activation="linear")
    clf = _classifier(system, _embedding(0.5, 2), [1.0, 0.0])
    ds, verdict, rows = _analyse(clf)
    assert verdict.kind == "leaky_integrator", verdict.headline
    roots = [r for r in rows if r["kind"] in ("fixed_point", "isolated_root")]
    assert len(roots) == 1 and roots[0]["stability"] == "stable"
    assert roots[0]["position"] == pytest.approx(
        float(-ds["manifold_axis_mean"].values @ ds["manifold_axis"].values), abs=1e-9
    )
    assert roots[0]["top_eigenvalue_magnitudes"][0] == pytest.approx(0.8)
    assert float(ds["slow_fraction"]) == 0.0
    assert "forgets" in verdict.headline


def test_link_clusters_scale_and_axis_orientation():
    rng = np.random.default_rng(0)
    points = np.r_[rng.normal(0, 0.01, (50, 3)), rng.normal(1, 0.01, (50, 3))]
    labels = link_clusters(points, 0.1)
    assert sorted(np.bincount(labels)) == [50, 50]
    assert np.unique(link_clusters(points, 5.0)).size == 1
    axis = manifold_axis(points, readout=[-1.0, -1.0, -1.0])
    assert axis.direction @ np.ones(3) < 0


def test_subspace_alignment_and_matched_null():
    basis = np.eye(4)[:2]
    assert subspace_alignment(basis, [1.0, 1.0, 0.0, 0.0])[0] == pytest.approx(1.0)
    assert subspace_alignment(basis, [0.0, 0.0, 1.0, 0.0])[0] == pytest.approx(0.0)
    # E ||P_S u||^2 = s / k for a uniform u in k dims.
    null = subspace_null(10, 2, n_trials=20000, seed=0)
    assert np.mean(null**2) == pytest.approx(0.2, abs=0.01)


def test_mechanism_from_a_summary_with_a_saddle_names_it():
    rows = [
        {
            "kind": "fixed_point",
            "size": 300,
            "position": -5.0,
            "position_low": -5.1,
            "position_high": -4.9,
            "stability": "stable",
            "n_unstable_modes": 0,
            "top_eigenvalue_magnitudes": [0.998],
        },
        {
            "kind": "fixed_point",
            "size": 280,
            "position": 1.0,
            "position_low": 0.9,
            "position_high": 1.1,
            "stability": "saddle",
            "n_unstable_modes": 1,
            "top_eigenvalue_magnitudes": [1.049],
        },
        {
            "kind": "fixed_point",
            "size": 420,
            "position": 4.0,
            "position_low": 3.9,
            "position_high": 4.1,
            "stability": "stable",
            "n_unstable_modes": 0,
            "top_eigenvalue_magnitudes": [0.997],
        },
    ]
    summary = {
        "slow_fraction": 0.2,
        "median_slow_subspace_dim": 1.0,
        "median_drift_per_document": 0.3,
        "max_drift_per_document": 0.7,
        "median_document_length": 172,
        "fixed_point_structure": rows,
    }
    verdict = mechanism(summary)
    assert verdict.kind == "bistable"
    assert "saddle" in verdict.headline and "1.0490" in verdict.headline
    assert "30%" in verdict.headline and "172 tokens" in verdict.headline
    slow = mechanism({**summary, "slow_fraction": 0.9})
    assert slow.kind == "approximate_line_attractor"
    assert "saddle" in slow.headline  # the structure sentence still names it
    assert isinstance(xr.Dataset(), xr.Dataset)


def _summary_row(kind, stability, position, lam, unstable=0):
    return {
        "kind": kind,
        "size": 10,
        "position": position,
        "position_low": position - 0.1,
        "position_high": position + 0.1,
        "stability": stability,
        "n_unstable_modes": unstable,
        "top_eigenvalue_magnitudes": [lam],
    }


def test_a_switch_is_named_before_its_time_constants():
    """Two stable ends and a saddle make a switch even when the ends forget within ~70 tokens
    (the seed-0 IMDB UGRNN); the headline then says how long each end keeps evidence."""
    tau = 70.0
    rows = [
        _summary_row("fixed_point", "stable", -4.0, np.exp(-1 / tau)),
        _summary_row("fixed_point", "saddle", 0.5, 1.069, unstable=1),
        _summary_row("fixed_point", "stable", 4.0, np.exp(-1 / tau)),
    ]
    summary = {
        "slow_fraction": 0.0,
        "median_slow_subspace_dim": 0.0,
        "median_drift_per_document": 0.4,
        "median_document_length": 175,
        "fixed_point_structure": rows,
    }
    verdict = mechanism(summary)
    assert verdict.kind == "bistable", verdict.headline
    assert "switch" in verdict.headline and "time constants of 70, 70 tokens" in verdict.headline
    # Without the saddle the same numbers describe a network that forgets.
    assert mechanism({**summary, "fixed_point_structure": rows[:1]}).kind == "leaky_integrator"


def test_a_line_slow_nowhere_is_never_called_an_attractor_and_many_clusters_are_summarised():
    """A GRU-256 with 15 stable slow regions and 5 marginal ones, all beyond the visited
    states, slow on 0% of the line: the headline counts them instead of listing them."""
    rows = [_summary_row("slow_region", "stable", 5.0 + 0.3 * i, 0.999) for i in range(15)]
    rows += [_summary_row("fixed_point", "marginal", 10.0 + 0.3 * i, 1.0005) for i in range(5)]
    summary = {
        "slow_fraction": 0.0,
        "median_slow_subspace_dim": 1.0,
        "median_drift_per_document": 0.5,
        "median_document_length": 500,
        "manifold_visited_low": -4.0,
        "manifold_visited_high": 4.0,
        "fixed_point_structure": rows,
    }
    verdict = mechanism(summary)
    assert verdict.kind == "drifting", verdict.headline
    assert "attractor on part" not in verdict.headline
    assert "Not a line attractor" in verdict.headline
    assert "20 distinct clusters (15 stable, 0 unstable, 5 marginal)" in verdict.headline
    assert "15 stable slow regions without an exact root" in verdict.headline
    assert "5 marginal fixed points" in verdict.headline
    assert "all beyond the visited states" in verdict.headline
    assert verdict.headline.count(" at +") == 0  # not listed one by one
    partial = mechanism({**summary, "slow_fraction": 0.3})
    assert partial.kind == "partially_slow" and "30%" in partial.headline
