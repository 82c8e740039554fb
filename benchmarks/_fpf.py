"""Run the real FixedPointFinder (Golub & Sussillo, PyTorch back end) on dynalyze's weights.

The anchor's code is not part of dynalyze and is never imported by the library
or its unit tests: this module puts its folder (``--fpf PATH``, by default
``../shared/anchors/fixed-point-finder`` beside the checkout) on ``sys.path``
and imports ``FixedPointFinderTorch`` from there, unmodified.

A Keras GRU (``reset_after=True``) maps onto ``torch.nn.GRU`` exactly: Keras's
gate order is z|r|h, torch's is r|z|n; the kernel's columns become
``weight_ih`` rows, the two bias rows become ``bias_ih`` and ``bias_hh``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from dynalyze.systems.gru import GRUSystem

#: Where the anchor lives in the shared folder beside the checkout.
DEFAULT_FPF = Path(__file__).resolve().parents[2] / "shared" / "anchors" / "fixed-point-finder"


def load_fpf(path: str | Path | None) -> tuple[Any, str]:
    """``(FixedPointFinderTorch class, "")`` or ``(None, why it cannot run)``."""
    folder = Path(path) if path is not None else DEFAULT_FPF
    if not (folder / "FixedPointFinderTorch.py").is_file():
        return None, f"FixedPointFinder not found at {folder} (pass --fpf PATH)"
    try:
        import torch  # noqa: F401
    except ImportError:
        return None, "torch is not installed (pip install 'dynalyze[bench]')"
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    module = importlib.import_module("FixedPointFinderTorch")
    return module.FixedPointFinderTorch, ""


def torch_gru(system: GRUSystem, dtype: str = "float32") -> Any:
    """A one-layer ``torch.nn.GRU(batch_first=True)`` with exactly ``system``'s weights."""
    import torch

    if not system.reset_after:
        raise ValueError("torch.nn.GRU applies the reset gate after the matrix product only")
    u = system.state_dim
    kernel, recurrent, bias = system.kernel, system.recurrent_kernel, system.bias

    def torch_order(matrix: np.ndarray) -> np.ndarray:  # z|r|h columns -> r|z|n rows
        z, r, h = (matrix[..., k * u : (k + 1) * u] for k in range(3))
        return np.concatenate([r, z, h], axis=-1)

    rnn = torch.nn.GRU(system.input_dim, u, num_layers=1, batch_first=True)
    torch_dtype = getattr(torch, dtype)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(torch_order(kernel).T.copy()))
        rnn.weight_hh_l0.copy_(torch.from_numpy(torch_order(recurrent).T.copy()))
        rnn.bias_ih_l0.copy_(torch.from_numpy(torch_order(bias[0]).copy()))
        rnn.bias_hh_l0.copy_(torch.from_numpy(torch_order(bias[1]).copy()))
    rnn = rnn.to(torch_dtype)
    for p in rnn.parameters():
        p.requires_grad = False
    return rnn


def torch_default_gru(units: int, gain: float, *, input_dim: int = 32, seed: int = 0) -> GRUSystem:
    """A GRU with PyTorch's default initialisation (every weight and bias U(-1/sqrt(u), 1/sqrt(u)))
    and the recurrent weights scaled by ``gain``, as a dynalyze system."""
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(units)
    return GRUSystem(
        rng.uniform(-k, k, size=(input_dim, 3 * units)),
        gain * rng.uniform(-k, k, size=(units, 3 * units)),
        rng.uniform(-k, k, size=(2, 3 * units)),
    )


@contextlib.contextmanager
def torch_threads(n: int | None) -> Any:
    """Pin torch's intra-op threads for the block (``None``: leave as is)."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_fpf(
    fpf_class: Any,
    system: GRUSystem,
    starts: np.ndarray,
    *,
    lr_init: float,
    tol_q: float,
    max_iters: int,
    linearize: bool = False,
) -> dict[str, Any]:
    """One ``find_fixed_points`` call; returns its wall time and every start's final state.

    ``seconds`` is the optimisation plus FixedPointFinder's own unique/outlier
    filtering; with ``linearize`` also the Jacobians and their eigendecomposition
    at its unique fixed points (its defaults, the whole job as its users run it;
    otherwise :func:`fpf_linearize_seconds` times those).
    """
    rnn = torch_gru(system)
    inputs = np.zeros((1, system.input_dim), dtype=np.float32)
    finder = fpf_class(
        rnn,
        lr_init=lr_init,
        tol_q=tol_q,
        max_iters=max_iters,
        do_compute_jacobians=linearize,
        do_decompose_jacobians=linearize,
        verbose=False,
    )
    # The anchor prints regardless of verbose (e.g. "Freezing model parameters").
    with contextlib.redirect_stdout(io.StringIO()):
        begin = time.perf_counter()
        unique, every = finder.find_fixed_points(starts.astype(np.float32), inputs)
        seconds = time.perf_counter() - begin
    return {
        "seconds": seconds,
        "states": np.asarray(every.xstar, dtype=np.float64),
        "claimed": np.asarray(every.qstar) <= tol_q,  # its own (float32) verdict
        "iterations": int(np.max(every.n_iters)) if every.n_iters is not None else max_iters,
        "unique_states": np.asarray(unique.xstar, dtype=np.float64),
    }


def fpf_linearize_seconds(
    fpf_class: Any, system: GRUSystem, points: np.ndarray
) -> tuple[float, float]:
    """FixedPointFinder's Jacobians (torch autograd) and eigendecomposition at ``points``.

    Returns the seconds of ``_compute_recurrent_jacobians`` and of
    ``FixedPoints.decompose_jacobians``, the two steps its ``find_fixed_points``
    runs at its unique fixed points.
    """
    fixed_points = importlib.import_module("FixedPoints")
    rnn = torch_gru(system)
    finder = fpf_class(rnn, verbose=False)
    n = points.shape[0]
    fps = fixed_points.FixedPoints(
        xstar=points.astype(np.float32),
        inputs=np.zeros((n, system.input_dim), dtype=np.float32),
        qstar=np.zeros(n, dtype=np.float32),
        dq=np.zeros(n, dtype=np.float32),
        n_iters=np.zeros(n, dtype=np.int64),
        dtype=np.float32,
        verbose=False,
    )
    with contextlib.redirect_stdout(io.StringIO()):
        begin = time.perf_counter()
        fps.J_xstar = finder._compute_recurrent_jacobians(fps)
        jacobians = time.perf_counter() - begin
        begin = time.perf_counter()
        fps.decompose_jacobians()
        return jacobians, time.perf_counter() - begin
