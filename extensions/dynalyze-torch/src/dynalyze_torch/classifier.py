"""A PyTorch token classifier as a dynalyze :class:`~dynalyze.classifier.RecurrentClassifier`.

:func:`from_torch` takes a trained ``nn.Module`` apart into the three pieces
every dynalyze analysis needs: the ``nn.Embedding`` (token -> input vector),
the recurrent module (as a float64 system, :func:`dynalyze.wrap`) and the
``nn.Linear`` readout of the top layer's final hidden state. The result is an
ordinary :class:`~dynalyze.classifier.RecurrentClassifier`, so
:class:`dynalyze.LineAttractor` and every other analysis run on it unchanged
and produce the same xarray datasets as for a Keras model.

Forward passes (trajectories, logits) run the system's own float64 NumPy
steps, as for any classifier built from arrays; they equal the module's
forward to rounding, but are not run by torch (a torch forward pass is future
work). The state is held over padding tokens, as a Keras model with masking
does: a PyTorch model that runs its RNN over padding gives other final states
for padded documents unless it packs its sequences.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dynalyze.classifier import RecurrentClassifier
from dynalyze.errors import AmbiguousModelError, ConfigurationError, UnsupportedModelError
from dynalyze.systems import RecurrentSystem
from dynalyze.vocabulary import Vocabulary
from dynalyze_torch._modules import describe_module, is_module, tensor_array, torch_class
from dynalyze_torch.adapters import recurrent_submodules
from dynalyze_torch.forward import torch_forward

__all__ = ["from_torch", "readout_slice"]

_SHAPE = "embedding -> recurrent module -> linear readout of the final hidden state"


def _named(model: Any, value: Any, role: str) -> tuple[str, Any]:
    """A submodule given by name (``"encoder.rnn"``) or as the module itself."""
    if isinstance(value, str):
        try:
            return value, model.get_submodule(value)
        except AttributeError:
            names = [name for name, _ in model.named_modules() if name]
            raise ConfigurationError(
                f"{role}={value!r} names no submodule of {describe_module(model)}; its "
                f"submodules are {names}."
            ) from None
    if is_module(value):
        for name, sub in model.named_modules():
            if sub is value:
                return name, sub
        return f"<{type(value).__name__}>", value
    raise ConfigurationError(
        f"{role}= takes the name of a submodule or the submodule itself; got "
        f"{type(value).__name__}."
    )


def _only(model: Any, found: list[tuple[str, Any]], role: str, what: str) -> tuple[str, Any]:
    if len(found) == 1:
        return found[0]
    if not found:
        raise UnsupportedModelError(
            f"Expected a model of the shape {_SHAPE}; {describe_module(model)} holds no "
            f"{what}. {_HINT[role]}"
        )
    raise AmbiguousModelError(
        f"{describe_module(model)} holds several {what}s {[name for name, _ in found]}; name "
        f"the one to use, e.g. from_torch(model, vocabulary, {role}={found[0][0]!r})."
    )


_HINT = {
    "embedding": (
        "from_torch needs the nn.Embedding to map the vocabulary's tokens to input vectors; "
        "for a network fed vectors build RecurrentClassifier(system=dynalyze.wrap(rnn), "
        "embedding=..., readout_weight=..., readout_bias=..., vocabulary=...) yourself."
    ),
    "recurrent": (
        "Name your recurrent cell module with recurrent='name' (any cell with forward(x, h) works)."
    ),
    "readout": "Name the readout with readout='name'; it must be an nn.Linear.",
}


def _of_type(model: Any, cls_name: str, exclude: Any = None) -> list[tuple[str, Any]]:
    cls = torch_class(cls_name)
    inside = set() if exclude is None else {id(m) for m in exclude.modules()}
    return [
        (name, sub)
        for name, sub in model.named_modules()
        if cls is not None and isinstance(sub, cls) and id(sub) not in inside
    ]


def _parts(model: Any, *, embedding: Any, recurrent: Any, readout: Any) -> list[tuple[str, Any]]:
    """The embedding, recurrent module and readout of ``model``: as named, else by type."""
    if recurrent is None:
        found = recurrent_submodules(model)
        rec = _only(model, found, "recurrent", "recurrent module")
    else:
        rec = _named(model, recurrent, "recurrent")
    if embedding is None:
        emb = _only(model, _of_type(model, "Embedding"), "embedding", "nn.Embedding")
    else:
        emb = _named(model, embedding, "embedding")
    if readout is None:  # the readout is outside the recurrent module (a cell may hold Linears)
        out = _only(model, _of_type(model, "Linear", rec[1]), "readout", "nn.Linear")
    else:
        out = _named(model, readout, "readout")
    return [emb, rec, out]


def readout_slice(system: RecurrentSystem, width: int) -> slice:
    """The part of the flat state a readout of ``width`` inputs reads: the top layer's ``h``.

    That is the component ``h`` (one layer), ``h<L-1>`` (the top of ``L``
    stacked layers), or the whole state if its size is ``width``.

    Examples
    --------
    >>> import torch, dynalyze
    >>> readout_slice(dynalyze.wrap(torch.nn.LSTM(2, 3, num_layers=2)), 3)
    slice(6, 9, None)
    """
    layout = system.layout
    tops = [n for n in layout.names if n == "h" or (n[:1] == "h" and n[1:].isdigit())]
    if tops:
        top = max(tops, key=lambda n: int(n[1:] or 0))
        part = layout.slice(top)
        if part.stop - part.start == width:
            return part
    if system.state_dim == width:
        return slice(0, width)
    raise UnsupportedModelError(
        f"The readout takes {width} inputs, but the recurrent system's state "
        f"{layout.to_dict()} has no hidden part of that size. Expected a readout of the "
        "top layer's final hidden state h."
    )


def from_torch(
    module: Any,
    vocabulary: Vocabulary,
    *,
    embedding: Any = None,
    recurrent: Any = None,
    readout: Any = None,
    system: str | None = None,
) -> RecurrentClassifier:
    """Take a trained PyTorch ``Embedding -> RNN -> Linear`` classifier apart.

    Parameters
    ----------
    module : torch.nn.Module
        The trained model. Its parts are found by type: the one ``nn.Embedding``,
        the one recurrent module (``nn.RNN``/``GRU``/``LSTM`` or a cell) and the
        one ``nn.Linear`` outside it; name them when there are several.
    vocabulary : Vocabulary
        Its vocabulary: token ``i`` is row ``i`` of the embedding.
    embedding, recurrent, readout : str or torch.nn.Module, optional
        A part named by its path in ``module`` (``"encoder.rnn"``) or given as
        the submodule itself. ``recurrent`` may be any cell module
        (``forward(x, h)``), wrapped with autodiff Jacobians.
    system : str, optional
        Force a registered system for the recurrent module, e.g. ``"torch"``
        for ``torch.func`` autodiff Jacobians.

    Returns
    -------
    RecurrentClassifier
        Built from float64 arrays; its forward passes (trajectories, logits)
        run a float64 copy of the PyTorch module token by token
        (:func:`~dynalyze_torch.forward.torch_forward`: every layer's state at
        every step), holding the state over padding; a recurrent module of
        another kind runs the system's own NumPy steps.

    Raises
    ------
    dynalyze.errors.UnsupportedModelError
        No embedding, recurrent module or readout; a readout that does not read
        the top layer's hidden state; an unsupported recurrent module.
    dynalyze.errors.AmbiguousModelError
        Several candidates for a part and none named.

    Examples
    --------
    >>> import torch
    >>> from dynalyze.vocabulary import Vocabulary
    >>> class Net(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.embed = torch.nn.Embedding(4, 2)
    ...         self.rnn = torch.nn.GRU(2, 3, batch_first=True)
    ...         self.out = torch.nn.Linear(3, 1)
    >>> clf = from_torch(Net(), Vocabulary(["", "[UNK]", "good", "bad"]))
    >>> type(clf.system).__name__, clf.readout_weight.shape, clf.provenance["recurrent"]
    ('TorchGRUSystem', (3,), 'rnn')
    """
    if not is_module(module):
        raise UnsupportedModelError(
            f"from_torch expects a torch.nn.Module ({_SHAPE}); got an object of type "
            f"{type(module).__name__}."
        )
    (emb_name, emb), (rec_name, rec), (out_name, out) = _parts(
        module, embedding=embedding, recurrent=recurrent, readout=readout
    )
    import dynalyze

    rnn = dynalyze.wrap(rec, system=system)
    weight = tensor_array(out.weight, f"{out_name}.weight")  # (n_outputs, width)
    bias = tensor_array(out.bias, f"{out_name}.bias") if out.bias is not None else None
    n_outputs, width = weight.shape
    full = np.zeros((rnn.state_dim, n_outputs))
    full[readout_slice(rnn, width)] = weight.T
    cls = type(module)
    return RecurrentClassifier(
        system=rnn,
        embedding=tensor_array(emb.weight, f"{emb_name}.weight"),
        readout_weight=full,
        readout_bias=np.zeros(n_outputs) if bias is None else bias,
        vocabulary=vocabulary,
        forward=torch_forward(emb, rec, pad_id=int(getattr(vocabulary, "pad_id", 0))),
        provenance={
            "framework": "torch",
            "torch_model_class": f"{cls.__module__}.{cls.__qualname__}",
            "embedding": emb_name,
            "recurrent": rec_name,
            "readout": out_name,
            "readout_activation": "linear",
        },
    )
