"""How dynalyze builds a :class:`~dynalyze_leaky.system.LeakyRNNSystem` from a Keras cell.

This adapter is what ``pyproject.toml`` registers under the entry-point group
``dynalyze.systems``. dynalyze loads it whenever it looks for systems, also in
programs that never touch Keras, so it does not import Keras: the cell class is
named by path, and dynalyze looks it up among the modules already imported (if
:mod:`dynalyze_leaky.cell` was never imported, no object can be a
``LeakyRNNCell``).

The adapter claims a built ``LeakyRNNCell`` (or an RNN layer holding one)
whose ``call`` is not overridden and whose activation dynalyze implements
analytically; any other cell is left to dynalyze's autodiff system.
"""

from __future__ import annotations

from typing import Any

from dynalyze.keras.adapters import CellAdapter, activation_name, keras_weight
from dynalyze_leaky.system import LeakyRNNSystem

__all__ = ["ADAPTER", "leaky_from_cell"]


def leaky_from_cell(cell: Any) -> LeakyRNNSystem:
    """Copy the weights, leak and activation of a built ``LeakyRNNCell``."""
    return LeakyRNNSystem(
        keras_weight(cell, "kernel"),
        keras_weight(cell, "recurrent_kernel"),
        keras_weight(cell, "bias") if cell.use_bias else None,
        leak=cell.leak,
        activation=activation_name(cell.activation),
    )


#: The entry point: ``leaky = "dynalyze_leaky.adapter:ADAPTER"``.
ADAPTER = CellAdapter(
    LeakyRNNSystem, "dynalyze_leaky.cell:LeakyRNNCell", leaky_from_cell, ("activation",)
)
