"""Any PyTorch recurrent cell as a recurrent system, with ``torch.func`` autodiff Jacobians.

:class:`TorchCellSystem` is the PyTorch counterpart of dynalyze's
:class:`~dynalyze.keras.KerasCellSystem`: it steps a float64 copy of the module
(in eval mode, so dropout is off) and differentiates it with
``torch.func.vmap(torch.func.jacrev(step))``, one exact Jacobian per point. It
takes

- a **cell**: a module with ``forward(x, h) -> h`` or ``forward(x, h) -> (out, h)``,
  ``x`` of shape ``(batch, input_dim)`` and ``h`` of shape ``(batch, state_dim)``
  (a multi-part state, e.g. an LSTM-like cell's ``(h, c)``, is passed and
  returned as a tuple of tensors; give its sizes with ``state_sizes``); torch's
  own ``RNNCell``, ``GRUCell`` and ``LSTMCell`` are such cells;
- a **sequence module** ``torch.nn.RNN``/``GRU``/``LSTM`` (any subclass, any
  depth, ``batch_first`` either way), stepped on sequences of length one with
  ``module(x, h0) -> (out, h_n)``. Its flat state is ordered as
  :class:`~dynalyze_torch.stacked.StackedSystem` orders it: layer by layer, an
  LSTM layer's ``h`` then ``c``.

torch is imported only when such a system is built (which requires a torch
module, so torch is loaded by then anyway).
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from dynalyze._validation import FloatArray
from dynalyze.errors import UnsupportedModelError
from dynalyze.systems import RecurrentSystem, StateLayout
from dynalyze_torch._modules import (
    check_unidirectional,
    describe_module,
    is_module,
    tensor_array,
    torch_class,
)
from dynalyze_torch.stacked import stacked_layout

__all__ = ["CELL_CONTRACT", "TorchCellSystem"]

logger = logging.getLogger(__name__)

#: What a cell module must look like (quoted in errors).
CELL_CONTRACT = (
    "a PyTorch cell module with forward(x, h) -> h or forward(x, h) -> (out, h), x of shape "
    "(batch, input_dim) and h of shape (batch, state_dim) (a tuple of tensors for a "
    "multi-part state), or a torch.nn.RNN/GRU/LSTM"
)


def _torch() -> Any:
    import torch

    return torch


def _component_names(count: int) -> list[str]:
    if count == 1:
        return ["h"]
    if count == 2:
        return ["h", "c"]
    return [f"s{k}" for k in range(count)]


def _positional_arity(module: Any) -> int:
    """How many positional arguments ``module.forward`` accepts (a large number for *args)."""
    try:
        parameters = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return 2  # no signature to read (e.g. a compiled forward): let the probe decide
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return 1_000
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in kinds for p in parameters)


def _sizes_of(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return (int(value),)
    try:
        return tuple(int(v) for v in value)
    except TypeError:
        return None


def _cell_sizes(module: Any, state_sizes: Sequence[int] | int | None) -> tuple[int, ...]:
    """State part sizes of a cell: given, ``state_size``, LSTMCell's ``(h, c)``, ``hidden_size``."""
    given = _sizes_of(state_sizes)
    if given is None:
        lstm_cell = torch_class("LSTMCell")
        hidden: Any = getattr(module, "hidden_size", None)
        if lstm_cell is not None and isinstance(module, lstm_cell):
            given = (int(hidden), int(hidden))
        else:
            given = _sizes_of(getattr(module, "state_size", None)) or _sizes_of(hidden)
    if not given or any(size < 1 for size in given):
        raise UnsupportedModelError(
            f"Cannot tell the state size of {describe_module(module)}: it has no positive "
            "state_size or hidden_size attribute. Pass it, e.g. "
            "TorchCellSystem(cell, input_dim=3, state_sizes=16) (state_sizes=(16, 16) for a "
            "state passed as a tuple (h, c))."
        )
    return given


class TorchCellSystem(RecurrentSystem):
    """A PyTorch cell's (or RNN module's) one-step map, differentiated by ``torch.func``.

    Parameters
    ----------
    module : torch.nn.Module
        A cell (``forward(x, h) -> h`` or ``-> (out, h)``) or a
        ``torch.nn.RNN``/``GRU``/``LSTM`` (unidirectional, ``proj_size=0``). It is
        copied, in float64 and eval mode; the original is never changed.
    input_dim : int, optional
        Input size; by default the module's ``input_size``.
    state_sizes : int or sequence of int, optional
        Sizes of the cell's state parts (one int for a single tensor state). By
        default the module's ``state_size`` or ``hidden_size`` (twice for an
        ``LSTMCell``); a sequence module's are read from it.
    chunk_size : int, optional
        Points per vectorized Jacobian batch (bounds memory); None for all at once.

    Examples
    --------
    >>> import numpy as np, torch
    >>> class Leaky(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.input_size, self.hidden_size = 2, 3
    ...         self.inp, self.rec = torch.nn.Linear(2, 3), torch.nn.Linear(3, 3)
    ...     def forward(self, x, h):
    ...         return 0.5 * h + 0.5 * torch.tanh(self.inp(x) + self.rec(h))
    >>> system = TorchCellSystem(Leaky())
    >>> system.state_dim, system.input_dim, system.jacobian_method
    (3, 2, 'autodiff')
    >>> system.jacobian_state(np.zeros((4, 3)), np.ones(2)).shape
    (4, 3, 3)
    """

    name: ClassVar[str] = "torch"

    def __init__(
        self,
        module: Any,
        *,
        input_dim: int | None = None,
        state_sizes: Sequence[int] | int | None = None,
        chunk_size: int | None = 256,
    ) -> None:
        if not is_module(module):
            raise UnsupportedModelError(
                f"TorchCellSystem expects {CELL_CONTRACT}; got an object of type "
                f"{type(module).__name__}."
            )
        rnn_base = torch_class("RNNBase")
        self._sequence = rnn_base is not None and isinstance(module, rnn_base)
        if self._sequence:
            check_unidirectional(module)
            self._layers = int(module.num_layers)
            self._lstm = str(module.mode) == "LSTM"
            hidden = int(module.hidden_size)
            self._part_sizes: tuple[int, ...] = (hidden, hidden) if self._lstm else (hidden,)
            self._time_dim = 1 if module.batch_first else 0
        else:
            if _positional_arity(module) < 2:
                raise UnsupportedModelError(
                    f"{describe_module(module)} is not a recurrent cell: its forward takes "
                    "fewer than two arguments (a cell's is forward(x, h)). Expected "
                    f"{CELL_CONTRACT}. Pass the recurrent "
                    "module itself (e.g. model.rnn); for a whole classifier use "
                    "dynalyze_torch.from_torch(model, vocabulary)."
                )
            self._layers, self._lstm, self._time_dim = 1, False, 0
            self._part_sizes = _cell_sizes(module, state_sizes)
        dim = getattr(module, "input_size", None) if input_dim is None else input_dim
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim < 1:
            raise UnsupportedModelError(
                f"Cannot tell the input size of {describe_module(module)}: it has no positive "
                "input_size attribute. Pass it, e.g. TorchCellSystem(cell, input_dim=3)."
            )
        self._input_dim = int(dim)
        self.chunk_size = chunk_size
        self.source_module = module
        for name, parameter in module.named_parameters():
            tensor_array(parameter, name)  # NonFiniteError on NaN or infinity
        self.module = self._float64_copy(module)
        self.precision = "float64"
        self._check_call()

    # --------------------------------------------------------------- shape
    @property
    def state_dim(self) -> int:
        """Total state size: the state parts (of every layer), concatenated."""
        return self._layers * sum(self._part_sizes)

    @property
    def input_dim(self) -> int:
        """Input size."""
        return self._input_dim

    @property
    def layout(self) -> StateLayout:
        """``h``; ``h``, ``c``; or ``s0``, ``s1``, ...; per layer ``h0``, ``c0``, ``h1``, ..."""
        names = _component_names(len(self._part_sizes))
        one = StateLayout.from_sizes(dict(zip(names, self._part_sizes, strict=True)))
        return one if self._layers == 1 else stacked_layout([one] * self._layers)

    @property
    def jacobian_method(self) -> str:
        """Always ``"autodiff"``."""
        return "autodiff"

    def describe(self) -> dict[str, Any]:
        """Provenance, including the PyTorch module class and the precision used."""
        cls = type(self.source_module)
        return {
            **super().describe(),
            "torch_module_class": f"{cls.__module__}.{cls.__qualname__}",
            "precision": self.precision,
        }

    # --------------------------------------------------------- the module
    def _float64_copy(self, module: Any) -> Any:
        try:
            clone = copy.deepcopy(module)
        except Exception as exc:
            raise UnsupportedModelError(
                f"Could not copy {describe_module(module)} to float64 "
                f"({type(exc).__name__}: {exc}). dynalyze-torch steps a deep copy, so that the "
                "analysis never changes your module; make the module deep-copyable."
            ) from exc
        clone = clone.to(device="cpu", dtype=_torch().float64).eval()
        for parameter in clone.parameters():
            parameter.requires_grad_(False)
        return clone

    def _call(self, h: Any, x: Any) -> Any:
        """``F(h, x)`` on float64 tensors ``(n, state_dim)``, ``(n, input_dim)``."""
        torch = _torch()
        n = h.shape[0]
        if self._sequence:
            layers, hidden = self._layers, self._part_sizes[0]
            if self._lstm:
                parts = h.reshape(n, layers, 2, hidden).transpose(0, 1)
                hx: Any = (parts[:, :, 0].contiguous(), parts[:, :, 1].contiguous())
            else:
                hx = h.reshape(n, layers, hidden).transpose(0, 1).contiguous()
            _, h_n = self.module(x.unsqueeze(self._time_dim), hx)
            if self._lstm:
                return torch.stack([h_n[0], h_n[1]], dim=2).transpose(0, 1).reshape(n, -1)
            return h_n.transpose(0, 1).reshape(n, -1)
        sizes = list(self._part_sizes)
        state = torch.split(h, sizes, dim=-1) if len(sizes) > 1 else h
        new = self._new_state(self.module(x, tuple(state) if len(sizes) > 1 else state))
        flat = new[0] if len(new) == 1 else torch.cat(list(new), dim=-1)
        return flat.to(torch.float64)

    def _new_state(self, result: Any) -> tuple[Any, ...]:
        """The new state parts of a result: ``h``, ``(out, h)``, ``(h, c)`` or ``(out, (h, c))``."""
        torch = _torch()
        parts = len(self._part_sizes)

        def tensors(value: Any) -> bool:
            return isinstance(value, (tuple, list)) and all(
                isinstance(v, torch.Tensor) for v in value
            )

        if isinstance(result, torch.Tensor) and parts == 1:
            return (result,)
        if isinstance(result, (tuple, list)) and len(result) == 2:
            if parts == 1 and isinstance(result[1], torch.Tensor):
                return (result[1],)  # (out, h)
            if parts > 1 and tensors(result[1]) and len(result[1]) == parts:
                return tuple(result[1])  # (out, (h, c, ...))
        if parts > 1 and tensors(result) and len(result) == parts:
            return tuple(result)  # (h, c, ...)
        raise UnsupportedModelError(
            f"{describe_module(self.source_module)} returned {_shape_of(result)} from "
            f"forward(x, h); expected the new state ({parts} part(s) of sizes "
            f"{list(self._part_sizes)}) as h, (out, h), or a tuple of parts. Expected "
            f"{CELL_CONTRACT}; pass state_sizes= if the state has several parts."
        )

    def _check_call(self) -> None:
        rng = np.random.default_rng(0)
        h = 0.5 * rng.standard_normal((3, self.state_dim))
        x = rng.standard_normal((3, self.input_dim))
        try:
            out = self._step(h, x)
        except UnsupportedModelError:
            raise
        except Exception as exc:
            raise UnsupportedModelError(
                f"Calling {describe_module(self.source_module)} as forward(x, h) with x of "
                f"shape (3, {self.input_dim}) and states of sizes {list(self._part_sizes)} "
                f"failed ({type(exc).__name__}: {exc}). Expected {CELL_CONTRACT}; check "
                "input_dim= and state_sizes=."
            ) from exc
        if out.shape != (3, self.state_dim):
            raise UnsupportedModelError(
                f"{describe_module(self.source_module)} returned new states of total shape "
                f"{out.shape}; expected (batch, {self.state_dim}) from state sizes "
                f"{list(self._part_sizes)}. Pass state_sizes= to match what forward returns."
            )

    # ---------------------------------------------------------------- math
    def _tensors(self, *arrays: FloatArray) -> list[Any]:
        torch = _torch()
        # A copy: the arrays may be read-only views, which torch does not accept.
        return [torch.from_numpy(np.array(a, dtype=np.float64, order="C")) for a in arrays]

    def _single(self, h: Any, x: Any) -> Any:
        """``F`` at one point (vectors), as ``torch.func`` transforms it."""
        return self._call(h.unsqueeze(0), x.unsqueeze(0)).squeeze(0)

    def _vectorized(self, transform: Callable[..., Any]) -> Callable[..., Any]:
        from torch.func import vmap

        return vmap(transform, chunk_size=self.chunk_size)

    def _step(self, h: FloatArray, x: FloatArray) -> FloatArray:
        torch = _torch()
        hh, xx = self._tensors(h, x)
        with torch.no_grad():
            out = self._call(hh, xx)
        return np.asarray(out.detach().numpy(), dtype=np.float64)

    def _jacobians(self, h: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        from torch.func import jacrev

        hh, xx = self._tensors(h, x)
        jh, jx = self._vectorized(jacrev(self._single, argnums=(0, 1)))(hh, xx)
        return jh.numpy(), jx.numpy()

    def _jacobian_state(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self._step_and_jacobian_state(h, x)[1]

    def _jacobian_input(self, h: FloatArray, x: FloatArray) -> FloatArray:
        from torch.func import jacrev

        hh, xx = self._tensors(h, x)
        out: FloatArray = self._vectorized(jacrev(self._single, argnums=1))(hh, xx).numpy()
        return out

    def _step_and_jacobian_state(
        self, h: FloatArray, x: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        from torch.func import jacrev

        def with_value(hv: Any, xv: Any) -> tuple[Any, Any]:
            y = self._single(hv, xv)
            return y, y.detach()

        hh, xx = self._tensors(h, x)
        jh, y = self._vectorized(jacrev(with_value, argnums=0, has_aux=True))(hh, xx)
        return y.numpy(), jh.numpy()

    def _vjp_state(self, h: FloatArray, x: FloatArray, v: FloatArray) -> FloatArray:
        # Points are independent, so the VJP of the batch map is the per-point VJP.
        from torch.func import vjp

        hh, xx, vv = self._tensors(h, x, v)
        pullback = vjp(lambda states: self._call(states, xx), hh)[1]
        out: FloatArray = pullback(vv)[0].detach().numpy()
        return out

    def __repr__(self) -> str:
        return (
            f"TorchCellSystem({describe_module(self.source_module)}, "
            f"state_dim={self.state_dim}, input_dim={self.input_dim})"
        )


def _shape_of(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a tensor of shape {tuple(shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of ({', '.join(_shape_of(v) for v in value)})"
    return f"an object of type {type(value).__name__}"
