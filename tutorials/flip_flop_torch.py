"""Tutorial: FixedPointFinder's own PyTorch flip-flop GRU, analysed with dynalyze-torch.

FixedPointFinder (Golub & Sussillo, JOSS 2018) ships a PyTorch example,
``examples/torch/run_FlipFlop.py`` with its model ``examples/torch/FlipFlop.py``
and data ``examples/helper/FlipFlopData.py``: a ``torch.nn.GRU`` (16 units,
``batch_first=True``) with a linear readout learns the 3-bit flip-flop (three
channels of +1/-1 pulses; each output holds the sign of its channel's last
pulse), and ``FixedPointFinderTorch`` then finds its fixed points from 1,024
noisy samples of the states the network visits. A network that solves the task
holds its 2^3 = 8 memories as 8 stable fixed points.

This script re-implements that example with its settings (data: 3 bits, 64 time
steps, pulse probability 0.5, 512 training and 128 validation trials from
``RandomState(0)``; model: the GRU-16 with a trainable initial state and a
linear readout; training: Adam with learning rate 1/sqrt(128), eps 1e-3, batch
128, ``ReduceLROnPlateau(factor=0.95, patience=1)``, until the epoch's mean
squared error is below 1e-4; fixed points: 1,024 starts, noise 0.5, zero input,
``lr_init=1.0``, ``max_iters=10000``, ``outlier_distance_scale=10``). Upstream's
script sets ``rnn_type='tanh'`` by default (its comment says fixed-point finding
on the PyTorch GRU was "not working as expected"); this tutorial uses its
``rnn_type='gru'`` model, the case the note is about. Added: fixed seeds, a cap
on the epochs (upstream trains until the loss criterion, however long that
takes), and the starts are drawn once, with ``dynalyze.sample_initial_states``
(visited states plus Gaussian noise, as ``FixedPointFinder.sample_states``
draws them), so that every tool gets the same array.

Then it analyses the same trained ``torch.nn.GRU`` from those starts, each
tool pinned to one thread:

1. dynalyze-torch, in three lines (``dynalyze.wrap`` gives a float64
   ``TorchGRUSystem`` with analytic Jacobians)::

       system = dynalyze.wrap(model.rnn)
       fps = dynalyze.find_fixed_points(system, starts, np.zeros((1, 3)))
       lin = dynalyze.Linearization().compute(system, dynalyze.unique_fixed_points(fps))

2. ``FixedPointFinderTorch`` with the example's hyperparameters (float32, as it
   ships; its ``find_fixed_points`` also computes and decomposes the Jacobians),
   twice: with the example's ``lr_init=1.0`` and with ``lr_init=0.05``, the
   value dynalyze's benchmarks tune it to (``benchmarks/fixed_points.py``).

It prints each run's stable fixed points (with the memory the readout reads
there, and whether the search reached its tolerance: FixedPointFinder keeps
searches that did not among its unique fixed points), matches the converged
ones (mutual nearest neighbours within ``MATCH_DISTANCE``) and prints the
seconds each took and their ratio.

Run it with ``python tutorials/flip_flop_torch.py`` (the example's settings;
about 20 s on a 2-core CPU, the network trains in a few seconds) or ``--quick``
(the same network, 256 starts; what dynalyze's test suite runs,
``tests/test_tutorials.py``). It works
without installing dynalyze-torch (it then imports it from
``extensions/dynalyze-torch/src`` and builds the system with
``dynalyze_torch.system_from_module``, which is what ``dynalyze.wrap`` calls once
the package is installed). FixedPointFinder is found on ``sys.path``, at
``--fpf PATH`` or in ``../shared/anchors/fixed-point-finder`` beside the
checkout; without it the comparison is skipped, with a note.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import dynalyze

HERE = Path(__file__).resolve().parent
try:  # installed (pip install ./extensions/dynalyze-torch) or straight from its source
    import dynalyze_torch
except ImportError:
    sys.path.insert(0, str(HERE.parent / "extensions" / "dynalyze-torch" / "src"))
    import dynalyze_torch

#: Where dynalyze's benchmarks keep the unmodified FixedPointFinder (beside the checkout).
DEFAULT_FPF = HERE.parent.parent / "shared" / "anchors" / "fixed-point-finder"
#: Two tools' stable points are the same point when closer than this (Euclidean).
MATCH_DISTANCE = 1e-3


@dataclass(frozen=True)
class Settings:
    """FixedPointFinder's ``examples/torch`` flip-flop settings (``FULL``); ``QUICK`` for tests."""

    n_bits: int = 3
    n_time: int = 64
    pulse_probability: float = 0.5
    n_train: int = 512
    n_valid: int = 128
    n_hidden: int = 16
    batch_size: int = 128
    learning_rate: float = 1.0 / math.sqrt(128)
    min_loss: float = 1e-4
    max_epochs: int = 3000
    n_inits: int = 1024
    noise_scale: float = 0.5
    max_iters: int = 10000
    outlier_distance_scale: float = 10.0
    seed: int = 0


FULL = Settings()
#: The test's: the same network (it trains in seconds), a quarter of the starts.
QUICK = replace(FULL, n_inits=256)
#: FixedPointFinderTorch's ``lr_init``: the example's, and the one dynalyze's benchmarks tune.
FPF_CONFIGURATIONS = ((1.0, "lr_init 1.0 (the example's)"), (0.05, "lr_init 0.05 (tuned)"))


def flip_flop_data(
    rng: np.random.RandomState, n_trials: int, s: Settings
) -> tuple[np.ndarray, np.ndarray]:
    """Upstream's ``FlipFlopData.generate_data``: the same draws from the same generator.

    Returns
    -------
    inputs, targets : numpy.ndarray, shape (n_trials, n_time, n_bits), float32
        Pulses (+1/-1, every channel pulsed at t = 0) and the last pulse's sign.
    """
    shape = (n_trials, s.n_time, s.n_bits)
    pulses = rng.binomial(1, s.pulse_probability, shape)
    pulses[:, 0, :] = 1
    inputs = pulses * (2 * rng.binomial(1, 0.5, shape) - 1)
    targets = np.zeros(shape)
    held = np.zeros((n_trials, s.n_bits))
    for t in range(s.n_time):
        held = np.where(inputs[:, t] != 0, inputs[:, t], held)
        targets[:, t] = held
    return inputs.astype(np.float32), targets.astype(np.float32)


class FlipFlop(torch.nn.Module):
    """Upstream's ``FlipFlop`` model with ``rnn_type='gru'``: trainable h0, GRU, linear readout.

    Parameters
    ----------
    n_inputs, n_hidden, n_outputs : int
        Input channels, GRU units, readout channels.
    """

    def __init__(self, n_inputs: int, n_hidden: int, n_outputs: int) -> None:
        super().__init__()
        self.initial_hiddens_1xd = torch.nn.Parameter(torch.zeros(1, n_hidden))
        self.rnn = torch.nn.GRU(n_inputs, n_hidden, batch_first=True)
        self.readout = torch.nn.Linear(n_hidden, n_outputs)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs and hidden states, both ``(batch, time, features)``."""
        h0 = self.initial_hiddens_1xd.expand(1, inputs.shape[0], -1).contiguous()
        hidden, _ = self.rnn(inputs, h0)
        return self.readout(hidden), hidden


def train(s: Settings) -> tuple[FlipFlop, np.ndarray]:
    """Upstream's training loop (its optimiser, scheduler and stopping criterion), seeded.

    Returns
    -------
    model : FlipFlop
        The trained network, in float32.
    hidden : numpy.ndarray, shape (n_valid, n_time, n_hidden)
        Its hidden states on the validation trials (where the starts are sampled).
    """
    torch.manual_seed(s.seed)
    rng = np.random.RandomState(s.seed)
    x, y = (torch.from_numpy(a) for a in flip_flop_data(rng, s.n_train, s))
    x_valid, y_valid = (torch.from_numpy(a) for a in flip_flop_data(rng, s.n_valid, s))
    model = FlipFlop(s.n_bits, s.n_hidden, s.n_bits)
    optimizer = torch.optim.Adam(model.parameters(), lr=s.learning_rate, eps=1e-3)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.95, patience=1)
    shuffle = torch.Generator().manual_seed(s.seed)
    begin = time.perf_counter()
    epochs, loss = 0, math.inf
    while epochs < s.max_epochs and loss >= s.min_loss:
        epochs += 1
        batches = torch.randperm(s.n_train, generator=shuffle).split(s.batch_size)
        loss = 0.0
        for batch in batches:
            output, _ = model(x[batch])
            step_loss = torch.nn.functional.mse_loss(output, y[batch])
            optimizer.zero_grad()
            step_loss.backward()
            optimizer.step()
            loss += step_loss.item() / len(batches)
        scheduler.step(loss)
    with torch.no_grad():
        output, hidden = model(x_valid)
    accuracy = float((torch.sign(output) == y_valid).float().mean())
    print(
        f"Trained GRU-{s.n_hidden}: {epochs} epochs ({time.perf_counter() - begin:.0f} s), "
        f"training loss {loss:.1e} (stops below {s.min_loss:.0e}), "
        f"sign accuracy {accuracy:.4f} on the validation trials"
    )
    return model, hidden.numpy()


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch, BLAS (threadpoolctl) and dynalyze's worker pool, all on one thread."""
    before = os.environ.get("DYNALYZE_NUM_THREADS")
    torch_before = torch.get_num_threads()
    os.environ["DYNALYZE_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(torch_before)
        if before is None:
            os.environ.pop("DYNALYZE_NUM_THREADS", None)
        else:
            os.environ["DYNALYZE_NUM_THREADS"] = before


def wrap_function() -> tuple[Callable[[Any], Any], str]:
    """``dynalyze.wrap`` if dynalyze-torch is installed, else the function it calls."""
    if "torch_gru" in dynalyze.list_systems():
        return dynalyze.wrap, "dynalyze.wrap (dynalyze-torch installed)"
    return dynalyze_torch.system_from_module, (
        "dynalyze_torch.system_from_module (dynalyze-torch not installed, imported from "
        "extensions/dynalyze-torch/src; once installed, dynalyze.wrap calls it)"
    )


@dataclass
class Result:
    """One tool's answer: its unique fixed points, their q, which are stable and converged."""

    tool: str
    unique: np.ndarray
    speed: np.ndarray
    stable: np.ndarray
    converged: np.ndarray
    seconds: float
    detail: str


def run_dynalyze(rnn: torch.nn.GRU, starts: np.ndarray, n_bits: int) -> Result:
    """The three lines (wrap, find, unique + linearize), timed together."""
    wrap, how = wrap_function()
    print(f"dynalyze builds the system with {how}")
    warm = wrap(rnn)
    dynalyze.find_fixed_points(warm, starts[:4], np.zeros((1, n_bits)), max_iter=2)
    begin = time.perf_counter()
    system = wrap(rnn)
    fps = dynalyze.find_fixed_points(system, starts, np.zeros((1, n_bits)))
    lin = dynalyze.Linearization().compute(system, dynalyze.unique_fixed_points(fps))
    seconds = time.perf_counter() - begin
    reached = int((fps["status"] == 0).sum())
    stable = lin["is_stable"].values == 1
    return Result(
        "dynalyze",
        lin["fixed_point_state"].values,
        dynalyze.unique_fixed_points(fps)["speed"].values,
        stable,
        np.ones_like(stable),  # unique_fixed_points keeps converged points only
        seconds,
        f"{type(system).__name__}, float64; {reached} of {starts.shape[0]} searches reached "
        f"q < 1e-20, in at most {int(fps['iterations'].max())} iterations",
    )


def load_fpf(path: Path | None) -> tuple[Any, str]:
    """``(FixedPointFinderTorch, where)``, or ``(None, why not)``."""
    folders = [path] if path is not None else [None, DEFAULT_FPF]
    for folder in folders:
        if folder is not None:
            if not (folder / "FixedPointFinderTorch.py").is_file():
                continue
            sys.path.insert(0, str(folder))
        try:
            module = importlib.import_module("FixedPointFinderTorch")
        except ImportError:
            continue
        return module.FixedPointFinderTorch, str(Path(module.__file__ or "?").parent)
    tried = path if path is not None else f"sys.path or {DEFAULT_FPF}"
    return None, f"FixedPointFinderTorch is not importable (looked on {tried}; pass --fpf PATH)"


def run_fpf(
    fpf_class: Any, rnn: torch.nn.GRU, starts: np.ndarray, s: Settings, lr_init: float, name: str
) -> Result:
    """``FixedPointFinderTorch.find_fixed_points`` with the example's hyperparameters.

    Each call gets its own copy of ``starts``: FixedPointFinderTorch optimises a
    float32 ``initial_states`` array in place (``torch.from_numpy`` shares its memory).
    """
    inputs = np.zeros((1, s.n_bits), dtype=np.float32)
    options = {
        "lr_init": lr_init,
        "outlier_distance_scale": s.outlier_distance_scale,
        "verbose": False,
        "super_verbose": False,
    }
    # It prints regardless of verbose, and its scheduler warns at every iteration.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warm = fpf_class(rnn, max_iters=2, **options)
        warm.find_fixed_points(starts[:4].copy(), inputs)
        finder = fpf_class(rnn, max_iters=s.max_iters, **options)
        begin = time.perf_counter()
        unique, every = finder.find_fixed_points(starts.copy(), inputs)
        seconds = time.perf_counter() - begin
    reached = int(np.sum(every.qstar <= finder.tol_q))
    n = unique.n
    return Result(
        f"FixedPointFinderTorch, {name}",
        np.asarray(unique.xstar, dtype=np.float64).reshape(n, starts.shape[1]),
        np.asarray(unique.qstar, dtype=np.float64).reshape(n),
        np.asarray(unique.is_stable, dtype=bool).reshape(n),
        np.asarray(unique.qstar).reshape(n) <= finder.tol_q,
        seconds,
        f"float32; {reached} of {starts.shape[0]} searches reached tol_q {finder.tol_q:.0e} "
        f"in {int(np.max(every.n_iters))} joint iterations",
    )


def mutual_matches(a: np.ndarray, b: np.ndarray, distance: float) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, d)``: ``a[i]`` and ``b[j]`` are each other's nearest, ``d < distance``."""
    if a.shape[0] == 0 or b.shape[0] == 0:
        return []
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    pairs = []
    for i in range(a.shape[0]):
        j = int(np.argmin(d[i]))
        if int(np.argmin(d[:, j])) == i and d[i, j] < distance:
            pairs.append((i, j, float(d[i, j])))
    return pairs


def memory(model: FlipFlop, states: np.ndarray) -> list[tuple[int, ...]]:
    """The bits the trained readout reads at each state (signs of its outputs)."""
    weight = model.readout.weight.detach().double().numpy()
    bias = model.readout.bias.detach().double().numpy()
    return [tuple(int(v) for v in np.sign(row)) for row in states @ weight.T + bias]


def report(result: Result, model: FlipFlop) -> None:
    """One tool's unique and stable fixed points, with the memory each stable one holds.

    A GRU's fixed points lie in the box ``|h_i| < 1`` (``h = n``, a tanh), so a
    point with ``max |h_i|`` above 1 is not one, whatever its speed.
    """
    stable, converged = result.unique[result.stable], result.converged[result.stable]
    print(
        f"\n{result.tool}: {result.unique.shape[0]} unique fixed points "
        f"({int(result.converged.sum())} converged), {stable.shape[0]} stable "
        f"({int(converged.sum())} of them converged), in {result.seconds:.2f} s "
        f"({result.detail})"
    )
    sizes, speeds = np.abs(stable).max(axis=1), result.speed[result.stable]
    for bits, size, q, ok in sorted(
        zip(memory(model, stable), sizes, speeds, converged, strict=True)
    ):
        status = "" if ok else ", NOT converged"
        print(f"  stable point, memory {bits}, max |h_i| {size:.3f}, q {q:.1e}{status}")
    held = {bits for bits, ok in zip(memory(model, stable), converged, strict=True) if ok}
    print(f"  distinct memories held by the converged stable points: {len(held)}")


def compare(ours: Result, theirs: Result) -> None:
    """Matched stable points (converged ones) and the time ratio."""
    a = ours.unique[ours.stable & ours.converged]
    b = theirs.unique[theirs.stable & theirs.converged]
    pairs = mutual_matches(a, b, MATCH_DISTANCE)
    largest = max((d for _, _, d in pairs), default=float("nan"))
    print(
        f"\nMatched, {theirs.tool}: {len(pairs)} of dynalyze's {a.shape[0]} and of its "
        f"{b.shape[0]} converged stable points (mutual nearest within {MATCH_DISTANCE:g}; "
        f"largest distance {largest:.1e})"
    )
    every = mutual_matches(
        ours.unique[ours.converged], theirs.unique[theirs.converged], MATCH_DISTANCE
    )
    print(
        f"All converged fixed points (stable or not): {len(every)} matched, of dynalyze's "
        f"{int(ours.converged.sum())} and its {int(theirs.converged.sum())}"
    )
    print(
        f"Seconds (one thread each): dynalyze {ours.seconds:.2f}, {theirs.tool} "
        f"{theirs.seconds:.2f}; ratio {theirs.seconds / ours.seconds:.3g}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the test's shorter settings")
    parser.add_argument("--fpf", type=Path, default=None, help="FixedPointFinder folder")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    print(f"Settings ({'quick' if args.quick else 'the example'}): {settings}")
    torch.set_num_threads(1)
    model, hidden = train(settings)
    # The same starts for both tools: visited validation states plus noise, as float32.
    starts = dynalyze.sample_initial_states(
        hidden.astype(np.float64), settings.n_inits, noise=settings.noise_scale, seed=settings.seed
    ).astype(np.float32)
    with one_thread():
        ours = run_dynalyze(model.rnn, starts.astype(np.float64), settings.n_bits)
    report(ours, model)
    fpf_class, where = load_fpf(args.fpf)
    if fpf_class is None:
        print(f"\nComparison skipped: {where}")
        return
    print(f"\nFixedPointFinderTorch from {where}")
    theirs = []
    for lr_init, name in FPF_CONFIGURATIONS:
        with one_thread():
            theirs.append(run_fpf(fpf_class, model.rnn, starts, settings, lr_init, name))
        report(theirs[-1], model)
    for result in theirs:
        compare(ours, result)


if __name__ == "__main__":
    main()
