"""Bad input: one clear dynalyze error each, saying what was expected and how to fix it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dynalyze_torch import TorchCellSystem, from_torch
from torch import nn

import dynalyze
from dynalyze.errors import (
    AmbiguousModelError,
    ConfigurationError,
    NonFiniteError,
    UnsupportedModelError,
)
from dynalyze.vocabulary import Vocabulary

VOCAB = Vocabulary(["", "[UNK]", "good", "bad"])


@pytest.mark.parametrize("system", [None, "torch"])
@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("layers", [1, 2])
def test_a_bidirectional_module(kind: str, layers: int, system: str | None) -> None:
    module = getattr(nn, kind)(3, 4, num_layers=layers, bidirectional=True)
    with pytest.raises(UnsupportedModelError, match=r"unidirectional.*bidirectional=False"):
        dynalyze.wrap(module, system=system)


@pytest.mark.parametrize("system", [None, "torch"])
def test_an_lstm_with_projections(system: str | None) -> None:
    with pytest.raises(UnsupportedModelError, match=r"proj_size=2.*proj_size=0"):
        dynalyze.wrap(nn.LSTM(3, 4, proj_size=2), system=system)


@pytest.mark.parametrize("module", [nn.Linear(3, 4), nn.Sequential(nn.Embedding(4, 3)), nn.ReLU()])
def test_a_non_recurrent_module(module: nn.Module) -> None:
    with pytest.raises(UnsupportedModelError, match=r"not a recurrent cell.*forward\(x, h\)"):
        dynalyze.wrap(module)


def test_a_forced_analytic_system_that_does_not_fit() -> None:
    with pytest.raises(
        UnsupportedModelError, match=r"system='torch_gru'.*\['torch_lstm', 'torch'\]"
    ):
        dynalyze.wrap(nn.LSTM(3, 4), system="torch_gru")


def test_non_finite_weights() -> None:
    module = nn.GRU(3, 4)
    with torch.no_grad():
        module.weight_hh_l0[0, 0] = float("nan")
    for system in (None, "torch"):
        with pytest.raises(NonFiniteError, match="weight_hh_l0"):
            dynalyze.wrap(module, system=system)


def test_a_cell_the_autodiff_system_cannot_size_or_call() -> None:
    class NoSizes(nn.Module):
        def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
            return h + x.sum(-1, keepdim=True)

    with pytest.raises(UnsupportedModelError, match="state size"):
        dynalyze.wrap(NoSizes())
    with pytest.raises(UnsupportedModelError, match="input size"):
        TorchCellSystem(NoSizes(), state_sizes=2)
    system = TorchCellSystem(NoSizes(), state_sizes=2, input_dim=3)
    assert system.step(np.zeros((1, 2)), np.ones((1, 3))).tolist() == [[3.0, 3.0]]
    with pytest.raises(UnsupportedModelError, match=r"failed.*check input_dim"):
        TorchCellSystem(nn.GRUCell(3, 4), input_dim=5)
    with pytest.raises(UnsupportedModelError, match="total shape"):
        TorchCellSystem(_Doubling(), state_sizes=2, input_dim=1)
    with pytest.raises(UnsupportedModelError, match="expects a PyTorch cell"):
        TorchCellSystem(object())


class _Doubling(nn.Module):
    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.cat([h, h], -1)


class _NoEmbedding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(3, 4, batch_first=True)
        self.out = nn.Linear(4, 1)


class _Classifier(nn.Module):
    def __init__(self, **parts: nn.Module) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(VOCAB), 3)
        self.rnn = nn.GRU(3, 4, batch_first=True)
        self.out = nn.Linear(4, 1)
        for name, part in parts.items():
            setattr(self, name, part)


def test_a_classifier_without_an_embedding() -> None:
    with pytest.raises(UnsupportedModelError, match=r"no nn\.Embedding.*RecurrentClassifier"):
        from_torch(_NoEmbedding(), VOCAB)


def test_a_classifier_with_several_candidates_or_none() -> None:
    model = _Classifier(rnn2=nn.GRU(3, 4))
    with pytest.raises(AmbiguousModelError, match=r"\['rnn', 'rnn2'\].*recurrent='rnn'"):
        from_torch(model, VOCAB)
    assert from_torch(model, VOCAB, recurrent="rnn2").provenance["recurrent"] == "rnn2"
    with pytest.raises(AmbiguousModelError, match="readout="):
        from_torch(_Classifier(head=nn.Linear(4, 2)), VOCAB)
    clf = from_torch(_Classifier(head=nn.Linear(4, 2)), VOCAB, readout="head")
    assert clf.n_outputs == 2
    with pytest.raises(UnsupportedModelError, match=r"no nn\.Linear"):
        from_torch(_Classifier(out=nn.Identity()), VOCAB)
    with pytest.raises(UnsupportedModelError, match="no recurrent module"):
        from_torch(_Classifier(rnn=nn.Identity()), VOCAB)
    with pytest.raises(ConfigurationError, match="names no submodule"):
        from_torch(_Classifier(), VOCAB, readout="head")
    with pytest.raises(UnsupportedModelError, match=r"expects a torch\.nn\.Module"):
        from_torch(object(), VOCAB)


def test_a_classifier_whose_readout_does_not_read_the_hidden_state() -> None:
    with pytest.raises(UnsupportedModelError, match="readout takes 7 inputs"):
        from_torch(_Classifier(out=nn.Linear(7, 1)), VOCAB)
    with pytest.raises(dynalyze.errors.VocabularyMismatchError):
        from_torch(_Classifier(), Vocabulary(["", "[UNK]", "good"]))
