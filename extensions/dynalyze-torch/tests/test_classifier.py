"""from_torch: a PyTorch Embedding -> RNN -> Linear classifier runs every analysis unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dynalyze_torch import StackedSystem, from_torch
from torch import nn

import dynalyze
from dynalyze.analyses.line_attractor import Evidence
from dynalyze.testing.toys import INTEGRATOR_VALENCES
from dynalyze.vocabulary import Vocabulary

VOCAB = Vocabulary(["", "[UNK]", *INTEGRATOR_VALENCES])


class Sentiment(nn.Module):
    """The usual PyTorch sentiment model: logits of the last step's top hidden state."""

    def __init__(self, rnn: nn.Module, n_outputs: int = 1) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(VOCAB), 4, padding_idx=0)
        self.rnn = rnn
        self.head = nn.Linear(rnn.hidden_size, n_outputs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(ids))
        return self.head(out[:, -1]).squeeze(-1)


def _documents(n: int = 60, length: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(2, len(VOCAB), size=(n, length)).astype(np.int32)


@pytest.mark.parametrize(
    ("rnn", "outputs"),
    [
        (nn.GRU(4, 6, batch_first=True), 1),
        (nn.LSTM(4, 5, num_layers=2, batch_first=True), 1),
        (nn.RNN(4, 6, batch_first=True), 3),
    ],
    ids=["gru", "stacked-lstm", "rnn-3-classes"],
)
def test_the_classifier_computes_the_models_logits(rnn: nn.Module, outputs: int) -> None:
    torch.manual_seed(0)
    model = Sentiment(rnn, outputs)
    clf = from_torch(model, VOCAB)
    assert clf.provenance["recurrent"] == "rnn" and clf.provenance["readout"] == "head"
    assert clf.n_outputs == outputs
    if isinstance(rnn, nn.LSTM):
        assert isinstance(clf.system, StackedSystem)
        top = clf.system.layout.slice("h1")
        assert not clf.readout_weight[: top.start].any()  # reads the top layer's h only
    ids = _documents()
    with torch.no_grad():
        want = model.double()(torch.as_tensor(ids, dtype=torch.long)).numpy()
    np.testing.assert_allclose(clf.logits(ids), want, rtol=1e-6, atol=1e-6)  # float32 output
    states = clf.trajectories(ids)["hidden_state"].values[:, -1].astype(np.float64)
    np.testing.assert_allclose(clf.readout(states), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "rnn",
    [
        nn.GRU(4, 6, batch_first=True),
        nn.LSTM(4, 5, num_layers=2),
        nn.RNN(4, 3, num_layers=3, nonlinearity="relu", batch_first=True),
        nn.LSTMCell(4, 5),
    ],
    ids=["gru", "stacked-lstm", "stacked-relu-rnn", "lstm-cell"],
)
def test_trajectories_run_in_torch_and_equal_the_systems_own_steps(rnn: nn.Module) -> None:
    """Every layer's state at every step, from the module itself, held over padding."""
    torch.manual_seed(1)
    embed = nn.Embedding(len(VOCAB), 4, padding_idx=0)
    model = nn.ModuleDict({"embed": embed, "rnn": rnn, "head": nn.Linear(5, 1)})
    if not isinstance(rnn, (nn.LSTM, nn.LSTMCell)):
        model["head"] = nn.Linear(rnn.hidden_size, 1)
    clf = from_torch(model, VOCAB)
    ids = _documents(n=12, length=9)
    ids[3, 4:] = 0  # padding: the state is held
    in_torch = clf.trajectories(ids)["hidden_state"].values
    numpy_steps = dynalyze.classifier.RecurrentClassifier(
        system=clf.system,
        embedding=clf.embedding,
        readout_weight=clf.readout_weight,
        readout_bias=clf.readout_bias,
        vocabulary=VOCAB,
    ).trajectories(ids)["hidden_state"].values
    np.testing.assert_allclose(in_torch, numpy_steps, rtol=0, atol=1e-6, equal_nan=True)
    assert np.isnan(in_torch[3, 4:]).all() and np.isfinite(in_torch[3, :4]).all()


def test_a_line_attractor_run_on_a_pytorch_classifier() -> None:
    torch.manual_seed(0)
    clf = from_torch(Sentiment(nn.GRU(4, 8, batch_first=True)), VOCAB)
    trajectories = clf.trajectories(_documents())
    config = dynalyze.LineAttractor(
        n_initial=50,
        evidence=Evidence(
            n_plot=50, n_null=200, relaxation_steps=5, n_relaxation=10, min_token_count=5
        ),
    )
    result = config.analyze(clf, trajectories)
    ds = result.attractor
    assert ds.attrs["dynalyze_kind"] == "line_attractor"
    assert int(ds["n_accepted"]) > 0
    assert set(ds["token"].values) >= set(INTEGRATOR_VALENCES)
    assert result.fixed_points.attrs["dynalyze_kind"] == "fixed_points"
    assert '"system_name": "torch_gru"' in result.fixed_points.attrs["dynalyze_provenance"]
