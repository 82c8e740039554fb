"""dynalyze for PyTorch: recurrent modules as float64 dynalyze systems.

After ``pip install ./extensions/dynalyze-torch``, :func:`dynalyze.wrap` accepts
PyTorch modules through this package's ``dynalyze.systems`` entry points
(:mod:`dynalyze_torch.adapters`):

- ``torch.nn.RNN`` (tanh, relu), ``GRU``, ``LSTM`` and their cells become
  analytic systems (:class:`TorchRNNSystem`, :class:`TorchGRUSystem`,
  :class:`TorchLSTMSystem`; an LSTM's state is ``concat(h, c)``), a multi-layer
  module a :class:`StackedSystem` of them;
- any other cell module (``forward(x, h) -> h`` or ``-> (out, h)``) a
  :class:`TorchCellSystem` with ``torch.func`` autodiff Jacobians, also reached
  with ``dynalyze.wrap(module, system="torch")`` for any of the above;
- :func:`from_torch` turns an ``Embedding -> RNN -> Linear`` classifier into a
  :class:`~dynalyze.classifier.RecurrentClassifier` for every analysis.

Importing this package does not import torch.

Examples
--------
>>> import torch, dynalyze, dynalyze_torch
>>> system = dynalyze.wrap(torch.nn.GRU(3, 8, batch_first=True))
>>> type(system).__name__, system.state_dim, system.jacobian_method
('TorchGRUSystem', 8, 'analytic')
>>> "torch_gru" in dynalyze.list_systems()
True
"""

from dynalyze_torch.adapters import ADAPTERS, ModuleAdapter, TorchFallbackAdapter
from dynalyze_torch.cell_system import TorchCellSystem
from dynalyze_torch.classifier import from_torch
from dynalyze_torch.stacked import StackedSystem
from dynalyze_torch.systems import (
    TorchGRUSystem,
    TorchLSTMSystem,
    TorchRNNSystem,
    system_from_module,
)

__all__ = [
    "ADAPTERS",
    "ModuleAdapter",
    "StackedSystem",
    "TorchCellSystem",
    "TorchFallbackAdapter",
    "TorchGRUSystem",
    "TorchLSTMSystem",
    "TorchRNNSystem",
    "from_torch",
    "system_from_module",
]

__version__ = "0.1.0"
