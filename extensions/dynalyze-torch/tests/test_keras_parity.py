"""A Keras GRU and a PyTorch GRU holding the same weights are the same dynamical system.

The weights are converted here, independently of dynalyze-torch: PyTorch's gate
blocks r|z|n become Keras's z|r|h, matrices are transposed, and PyTorch's two
biases are Keras's two bias rows (``reset_after=True``, the recurrent bias of
the candidate inside the reset product in both).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from dynalyze_torch import from_torch
from torch import nn

import dynalyze
from dynalyze.analyses.line_attractor import Evidence
from dynalyze.classifier import RecurrentClassifier
from dynalyze.testing.toys import INTEGRATOR_VALENCES
from dynalyze.vocabulary import Vocabulary

keras = pytest.importorskip("keras")

UNITS, INPUTS = 6, 3


def _zrh(blocks: np.ndarray) -> np.ndarray:
    r, z, n = np.split(blocks, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


def _keras_twin(gru: nn.GRU) -> Any:
    """A built Keras GRU layer holding ``gru``'s (float32) weights."""
    layer = keras.layers.GRU(UNITS, reset_after=True, return_sequences=True, return_state=True)
    layer.build((None, None, INPUTS))
    p = {name: value.detach().numpy() for name, value in gru.named_parameters()}
    layer.set_weights(
        [
            _zrh(p["weight_ih_l0"]).T,
            _zrh(p["weight_hh_l0"]).T,
            np.stack([_zrh(p["bias_ih_l0"]), _zrh(p["bias_hh_l0"])]),
        ]
    )
    return layer


@pytest.fixture(scope="module")
def twins() -> tuple[nn.GRU, Any]:
    torch.manual_seed(0)
    gru = nn.GRU(INPUTS, UNITS, batch_first=True)
    with torch.no_grad():
        for name, parameter in gru.named_parameters():
            if "weight_hh" in name:
                parameter.mul_(8.0)  # strong recurrence: several fixed points
    return gru, _keras_twin(gru)


def test_the_frameworks_agree_on_their_own_forward_pass(twins: tuple[nn.GRU, Any]) -> None:
    gru, layer = twins
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(4, 9, INPUTS)).astype(np.float32)
    h0 = rng.uniform(-1, 1, size=(4, UNITS)).astype(np.float32)
    with torch.no_grad():
        out, _ = gru(torch.as_tensor(xs), torch.as_tensor(h0)[None])
    k_out, _ = layer(xs, initial_state=[h0])
    np.testing.assert_allclose(np.asarray(k_out), out.numpy(), atol=1e-5)


def test_the_same_step_fixed_points_and_eigenvalues(twins: tuple[nn.GRU, Any]) -> None:
    gru, layer = twins
    k_system, t_system = dynalyze.wrap(layer), dynalyze.wrap(gru)
    assert (type(k_system).__name__, type(t_system).__name__) == ("GRUSystem", "TorchGRUSystem")
    rng = np.random.default_rng(1)
    h, x = rng.uniform(-1, 1, size=(8, UNITS)), rng.normal(size=(8, INPUTS))
    np.testing.assert_allclose(t_system.step(h, x), k_system.step(h, x), rtol=0, atol=1e-12)
    for a, b in zip(t_system.jacobians(h, x), k_system.jacobians(h, x), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    starts = rng.uniform(-1, 1, size=(40, UNITS))
    k_fp = dynalyze.find_fixed_points(k_system, starts)
    t_fp = dynalyze.find_fixed_points(t_system, starts)
    np.testing.assert_array_equal(t_fp["status"], k_fp["status"])
    np.testing.assert_array_equal(t_fp["is_duplicate"], k_fp["is_duplicate"])
    np.testing.assert_allclose(t_fp["fixed_point_state"], k_fp["fixed_point_state"], atol=1e-10)
    unique = k_fp["fixed_point"][(k_fp["is_duplicate"] == 0) & (k_fp["status"] == 0)]
    assert len(unique) >= 2  # a non-trivial comparison
    k_lin = dynalyze.linearize(k_system, k_fp.sel(fixed_point=unique))
    t_lin = dynalyze.linearize(t_system, t_fp.sel(fixed_point=unique))
    np.testing.assert_allclose(t_lin["eigenvalue"], k_lin["eigenvalue"], atol=1e-10)
    np.testing.assert_array_equal(t_lin["stability"], k_lin["stability"])


def test_the_same_line_attractor_summary(twins: tuple[nn.GRU, Any]) -> None:
    gru, layer = twins
    vocab = Vocabulary(["", "[UNK]", *INTEGRATOR_VALENCES])
    torch.manual_seed(1)
    embed, head = nn.Embedding(len(vocab), INPUTS), nn.Linear(UNITS, 1)
    model = nn.ModuleDict({"embed": embed, "rnn": gru, "head": head})
    t_clf = from_torch(model, vocab)
    k_clf = RecurrentClassifier(
        system=dynalyze.wrap(layer),
        embedding=embed.weight.detach().numpy(),
        readout_weight=head.weight.detach().numpy().T,
        readout_bias=head.bias.detach().numpy(),
        vocabulary=vocab,
    )
    ids = np.random.default_rng(2).integers(2, len(vocab), size=(40, 10)).astype(np.int32)
    config = dynalyze.LineAttractor(
        n_initial=50,
        evidence=Evidence(
            n_plot=40, n_null=100, relaxation_steps=5, n_relaxation=10, min_token_count=5
        ),
    )
    k_ds = config.fit(k_clf, k_clf.trajectories(ids))
    t_ds = config.fit(t_clf, t_clf.trajectories(ids))
    assert int(t_ds["n_accepted"]) == int(k_ds["n_accepted"]) > 0
    for name in ("eigenvalue", "token_projection", "fixed_point_pc1_variance"):
        np.testing.assert_allclose(t_ds[name], k_ds[name], rtol=1e-6, atol=1e-8)
