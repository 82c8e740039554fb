"""Analytic float64 NumPy Jacobians vs TensorFlow autodiff, for every built-in cell.

For each Keras cell (SimpleRNN, GRU with ``reset_after`` True and False, LSTM,
and dynalyze's UGRNN) at ``--units`` units, the built-in analytic system
(:func:`dynalyze.wrap`) and the generic autodiff system
(:class:`dynalyze.keras.KerasCellSystem`: a float64 clone of the
same cell, ``tf.function`` + ``GradientTape.batch_jacobian``) compute the
Jacobians at the same ``--states`` random states, each in its default
threading. ``state`` times ``jacobian_state`` (what the fixed-point finder
uses), ``both`` times ``jacobians`` (state and input, what linearization uses).
Autodiff is traced once before timing. ``max abs diff`` compares the two state
Jacobians. Target (issue 4): analytic at least 3x faster for GRU-128 at 1,024
states.

Usage::

    python benchmarks/jacobians.py                    # 128 units, 1,024 states
    python benchmarks/jacobians.py --units 64,256 --json jacobians.json
    python benchmarks/jacobians.py --quick            # tiny smoke run (CI)
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_time, csv_ints, emit, make_parser


def keras_cells(units: int, seed: int) -> dict[str, Callable[[], Any]]:
    """Constructors of the built-in cells (imports Keras)."""
    import keras

    from dynalyze.keras import UGRNNCell

    init = keras.initializers
    return {
        "SimpleRNN": lambda: keras.layers.SimpleRNNCell(
            units, kernel_initializer=init.GlorotUniform(seed)
        ),
        "GRU (reset_after)": lambda: keras.layers.GRUCell(
            units, reset_after=True, kernel_initializer=init.GlorotUniform(seed)
        ),
        "GRU (reset_before)": lambda: keras.layers.GRUCell(
            units, reset_after=False, kernel_initializer=init.GlorotUniform(seed)
        ),
        "LSTM": lambda: keras.layers.LSTMCell(units, kernel_initializer=init.GlorotUniform(seed)),
        "UGRNN": lambda: UGRNNCell(units, kernel_initializer=init.GlorotUniform(seed)),
    }


def benchmark_cell(
    name: str, cell: Any, input_dim: int, n_states: int, repeat: int, seed: int
) -> dict[str, Any]:
    import dynalyze
    from dynalyze.keras import KerasCellSystem

    cell.build((None, input_dim))
    analytic = dynalyze.wrap(cell)
    autodiff = KerasCellSystem(cell)
    if analytic.jacobian_method != "analytic":
        raise RuntimeError(f"{name}: expected an analytic system, got {analytic!r}")
    rng = np.random.default_rng(seed)
    h = 0.5 * rng.standard_normal((n_states, analytic.state_dim))
    x = rng.standard_normal((n_states, input_dim))
    # Trace the autodiff functions (and touch the analytic code) before timing.
    reference = autodiff.jacobian_state(h, x)
    autodiff.jacobians(h, x)
    diff = float(np.max(np.abs(analytic.jacobian_state(h, x) - reference)))
    times = {
        (kind, method): best_time(
            partial(system.jacobian_state if kind == "state" else system.jacobians, h, x),
            repeat=repeat,
        )
        for kind in ("state", "both")
        for method, system in (("analytic", analytic), ("autodiff", autodiff))
    }
    return {
        "cell": name,
        "units": int(cell.units),
        "state_dim": analytic.state_dim,
        "states": n_states,
        "state: analytic ms": 1e3 * times["state", "analytic"],
        "state: autodiff ms": 1e3 * times["state", "autodiff"],
        "state: x faster": times["state", "autodiff"] / times["state", "analytic"],
        "both: analytic ms": 1e3 * times["both", "analytic"],
        "both: autodiff ms": 1e3 * times["both", "autodiff"],
        "both: x faster": times["both", "autodiff"] / times["both", "analytic"],
        "max abs diff": diff,
    }


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--units", type=csv_ints, default=[128])
    parser.add_argument("--states", type=int, default=1024)
    parser.add_argument("--input-dim", type=int, default=64, help="input (embedding) size")
    parser.add_argument("--repeat", type=int, default=5, help="best of this many calls")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.units, args.states, args.input_dim, args.repeat = [16], 64, 8, 2
    # Every KerasCellSystem traces its own tf.functions: TensorFlow's retracing warning is noise.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)

    rows: list[dict[str, Any]] = []
    for units in args.units:
        for name, make in keras_cells(units, args.seed).items():
            rows.append(
                benchmark_cell(name, make(), args.input_dim, args.states, args.repeat, args.seed)
            )
    notes = [
        f"{row['cell']}-{row['units']}: analytic state Jacobian {row['state: x faster']:.1f}x "
        f"faster than autodiff (target >= 3x): {'met' if row['state: x faster'] >= 3 else 'MISSED'}"
        for row in rows
        if row["cell"] == "GRU (reset_after)"
    ]
    emit({"Jacobians: analytic vs autodiff": rows}, args, notes=notes, script="jacobians")


if __name__ == "__main__":
    main()
