"""Attractor geometry and the line-attractor analysis on closed-form systems (no Keras)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from dynalyze.analyses.geometry import (
    StreamingPCA,
    abs_cosine,
    local_tangents,
    oriented_top_mode,
    pca,
    random_alignment_null,
)
from dynalyze.analyses.line_attractor import (
    Evidence,
    LineAttractor,
    Search,
    pearson_r,
    sign_agreement,
)
from dynalyze.analyses.line_attractor.attractor import _calibrate, _hash_keys
from dynalyze.classifier import RecurrentClassifier
from dynalyze.errors import ConfigurationError, DataError
from dynalyze.testing.toys import INTEGRATOR_VALENCES, exact_integrator
from dynalyze.vocabulary import Vocabulary


def test_streaming_pca_matches_numpy():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(3000, 5)) @ rng.normal(size=(5, 5)) + 10.0
    acc = StreamingPCA(5)
    for block in np.array_split(points, 11):
        acc.update(block)
    result = acc.result()
    expected = np.sort(np.linalg.eigvalsh(np.cov(points.T)))[::-1]
    np.testing.assert_allclose(result.variance, expected, rtol=1e-10)
    np.testing.assert_allclose(result.mean, points.mean(axis=0), rtol=1e-12)
    assert result.n_samples == 3000
    # Rows with NaN (padding) are ignored.
    acc.update(np.full((4, 5), np.nan))
    assert acc.result().n_samples == 3000


def test_tangents_of_a_circle_are_perpendicular_to_the_radius():
    theta = np.linspace(0, np.pi, 200)
    circle = np.stack([np.cos(theta), np.sin(theta), 0 * theta], axis=1)
    tangents = local_tangents(circle, k=4)
    # Away from the two ends (one-sided neighbourhoods) the tangent is exact to O(k^2 dtheta^2).
    radial = np.abs(np.sum(tangents * circle, axis=1))
    np.testing.assert_allclose(radial[3:-3], 0.0, atol=1e-3)
    assert radial.max() < 0.05
    # Consistently oriented along the first PC.
    assert np.all(tangents @ pca(circle).components[0] >= -1e-12)


def test_alignment_null_and_cosine():
    null = random_alignment_null(100, 5000, seed=1)
    # |cos| of random directions in 100-D: mean sqrt(2 / (pi * 100)) ~ 0.08.
    assert abs(null.mean() - np.sqrt(2 / (np.pi * 100))) < 0.005
    assert abs_cosine([3.0, 0.0], [-1.0, 0.0]) == pytest.approx(1.0)


def test_oriented_top_mode_follows_the_readout_and_keeps_l_dot_r():
    r = np.array([[0.0, -1.0], [0.6j, -0.8j]])
    l_vec = np.array([[0.0, -1.0], [-0.6j, 0.8j]])
    assert np.allclose(np.sum(l_vec * r, axis=1), 1.0)
    r1, l1, imag = oriented_top_mode(r, l_vec, readout=np.array([0.0, 1.0]))
    assert np.all(r1 @ np.array([0.0, 1.0]) > 0)
    np.testing.assert_allclose(np.sum(l1 * r1, axis=1), 1.0)
    np.testing.assert_allclose(imag, 0.0, atol=1e-12)


def test_comparison_statistics():
    assert pearson_r([1, 2, 3], [1, 2, 2.9]) > 0.99
    assert np.isnan(pearson_r([1, 1, 1], [1, 2, 3]))
    proj = np.array([1.0, 2.0, -1.0, -3.0, 0.1])
    bow = np.array([0.5, 1.0, -0.2, -2.0, -0.01])
    assert sign_agreement(proj, bow, top=2) == 1.0
    assert sign_agreement(-proj, bow, top=2) == 0.0


def test_hash_keys_do_not_depend_on_batching():
    ex = np.repeat(np.arange(50), 20)
    t = np.tile(np.arange(20), 50)
    keys = _hash_keys(ex, t, seed=3)
    perm = np.random.default_rng(0).permutation(ex.size)
    np.testing.assert_array_equal(_hash_keys(ex[perm], t[perm], seed=3), keys[perm])
    assert not np.array_equal(_hash_keys(ex, t, seed=4), keys)
    assert 0.45 < keys.mean() < 0.55


def test_calibration_of_the_reduced_model():
    score = np.linspace(-3, 3, 200)
    labels = (score > 0.5).astype(int)
    gain, offset = _calibrate(score, labels, is_label=True)
    assert gain > 0 and -offset / gain == pytest.approx(0.5, abs=0.05)
    gain, offset = _calibrate(score, 2 * score + 1, is_label=False)
    assert (gain, offset) == pytest.approx((2.0, 1.0))


class _PadOnlyVocabulary:
    """A vocabulary with other conventions: only id 0 (padding) is special, no [UNK]."""

    pad_id = 0
    special_ids = (0,)

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tuple(tokens)

    def __len__(self) -> int:
        return len(self.tokens)


def _integrator(pad_only: bool = False) -> tuple[RecurrentClassifier, xr.Dataset]:
    """The exact line attractor of dynalyze.testing.toys, optionally with a pad-only vocabulary."""
    tokens = ["", *INTEGRATOR_VALENCES] if pad_only else ["", "[UNK]", *INTEGRATOR_VALENCES]
    return exact_integrator(_PadOnlyVocabulary(tokens) if pad_only else Vocabulary(tokens))


def test_line_attractor_on_an_exact_integrator():
    clf, traj = _integrator()
    ds = LineAttractor(
        n_initial=60,
        evidence=Evidence(n_plot=50, n_null=200, relaxation_steps=5, n_relaxation=10),
    ).fit(clf, traj)
    assert int(ds["n_accepted"]) >= 30
    np.testing.assert_allclose(np.abs(ds["eigenvalue"].isel(eigenmode=0)), 1.0, atol=1e-12)
    assert float(ds["fixed_point_pc1_variance"]) > 0.999
    assert float(ds["median_alignment_r1_tangent"]) > 0.999
    assert float(ds["median_alignment_readout_r1"]) > 0.999
    for token, valence in {k: v for k, v in INTEGRATOR_VALENCES.items() if v}.items():
        assert float(ds["token_projection"].sel(token=token)) == pytest.approx(valence)
    # The linearization of a linear system is exact, and the reduced model is the network.
    assert float(ds["linearization_error_median"]) < 1e-6
    assert float(ds["reduced_decay"]) == pytest.approx(1.0)
    np.testing.assert_allclose(ds["reduced_score"], traj["logit"], atol=1e-5)
    assert float(ds["reduced_agreement"]) == 1.0
    model = LineAttractor()
    np.testing.assert_allclose(model.predict(ds, traj["token_id"].values), ds["reduced_logit"])


def test_token_conventions_come_from_the_vocabulary():
    """Id 1 is a word here ("good"), not [UNK]: it gets its projection like any other word."""
    clf, traj = _integrator(pad_only=True)
    ds = LineAttractor(
        n_initial=60,
        evidence=Evidence(n_plot=50, n_null=200, relaxation_steps=5, n_relaxation=10),
    ).fit(clf, traj)
    assert ds["token"].values[1] == "good"
    for token, valence in {k: v for k, v in INTEGRATOR_VALENCES.items() if v}.items():
        assert float(ds["token_projection"].sel(token=token)) == pytest.approx(valence)
    assert np.isnan(float(ds["token_projection"].isel(token=0)))  # padding is no word
    np.testing.assert_allclose(ds["reduced_score"], traj["logit"], atol=1e-5)


def test_line_attractor_errors():
    clf, traj = _integrator()
    with pytest.raises(TypeError, match="bogus"):
        LineAttractor().fit(clf, traj, bogus=1)
    with pytest.raises(ConfigurationError, match="FixedPointFinder"):
        LineAttractor(search=Search(finder="lm"))
    with pytest.raises(ConfigurationError, match="mapping"):
        LineAttractor(n_initial=10, evidence=Evidence(n_plot=10)).fit(clf, traj, vader=[1.0])
    with pytest.raises(DataError, match="one value per vocabulary id"):
        small = LineAttractor(n_initial=10, evidence=Evidence(n_plot=10))
        small.fit(clf, traj, bow_weights=[1.0, 2.0])
    with pytest.raises(DataError):
        LineAttractor().fit(clf, traj.drop_vars("hidden_state"))
    with pytest.raises(ConfigurationError):
        LineAttractor(n_initial=0)
