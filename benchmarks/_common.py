"""Shared helpers for the benchmark scripts: random Keras-like cells, timing, tables.

Every script takes ``--quick`` (tiny sizes, seconds: what CI runs so the scripts
cannot rot) and ``--json PATH`` (dump the rows and the machine description), and
prints one Markdown table per measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Keep TensorFlow's start-up chatter out of the tables (only scripts that need it import it).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from dynalyze.systems.base import RecurrentSystem
from dynalyze.systems.gru import GRUSystem
from dynalyze.systems.lstm import LSTMSystem


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def orthogonal_blocks(rng: np.random.Generator, units: int, blocks: int) -> np.ndarray:
    """Keras-like orthogonal recurrent kernel: one orthogonal (units, units) block per gate."""
    out = []
    for _ in range(blocks):
        q, r = np.linalg.qr(rng.normal(size=(units, units)))
        out.append(q * np.sign(np.diag(r)))
    return np.concatenate(out, axis=1)


def random_gru(units: int, gain: float = 1.0, *, input_dim: int = 32, seed: int = 0) -> GRUSystem:
    """A GRU with Keras's default initialisation, recurrent kernel scaled by ``gain``."""
    rng = np.random.default_rng(seed)
    return GRUSystem(
        glorot_uniform(rng, (input_dim, 3 * units)),
        gain * orthogonal_blocks(rng, units, 3),
        rng.normal(scale=0.1, size=(2, 3 * units)),
    )


def random_lstm(units: int, gain: float = 1.0, *, input_dim: int = 32, seed: int = 0) -> LSTMSystem:
    """An LSTM with Keras's default initialisation (forget bias 1), recurrent kernel scaled."""
    rng = np.random.default_rng(seed)
    bias = rng.normal(scale=0.1, size=4 * units)
    bias[units : 2 * units] += 1.0
    return LSTMSystem(
        glorot_uniform(rng, (input_dim, 4 * units)), gain * orthogonal_blocks(rng, units, 4), bias
    )


def visited_states(
    system: RecurrentSystem, n: int, *, steps: int = 50, noise: float = 0.0, seed: int = 0
) -> np.ndarray:
    """States visited by driving the system with random inputs, plus optional noise."""
    rng = np.random.default_rng(seed)
    h = np.zeros((n, system.state_dim))
    for _ in range(steps):
        h = system.step(h, rng.normal(size=(n, system.input_dim)))
    return h + noise * rng.normal(size=h.shape)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def table(rows: Sequence[dict[str, Any]]) -> str:
    """Format rows as a Markdown table."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    cells = [[_fmt(row.get(k)) for k in keys] for row in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = [
        "| " + " | ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) + " |"
        for cell in cells
    ]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.3g}" if abs(value) < 100 else f"{value:.1f}"
        return f"{value:.2e}"
    return str(value)


# ------------------------------------------------------------------ command line
def make_parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark shares."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, a few seconds (CI smoke run)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the rows to this JSON file")
    return parser


def csv_ints(text: str) -> list[int]:
    """``"64,128"`` -> ``[64, 128]`` (argparse ``type=``)."""
    return [int(item) for item in text.split(",") if item.strip()]


def csv_strings(text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]`` (argparse ``type=``)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def machine() -> dict[str, Any]:
    """Where the numbers were measured: CPUs, versions and the BLAS in use."""
    from threadpoolctl import threadpool_info

    from dynalyze._parallel import cpu_count

    try:
        import scipy

        scipy_version = scipy.__version__
    except ImportError:  # pragma: no cover - scipy is a dependency
        scipy_version = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus_usable": cpu_count(),
        "cpus_total": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy_version,
        "blas": [
            {k: info.get(k) for k in ("internal_api", "num_threads", "version", "architecture")}
            for info in threadpool_info()
            if info.get("user_api") == "blas"
        ],
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def emit(
    tables: Mapping[str, Sequence[dict[str, Any]]],
    args: argparse.Namespace,
    *,
    notes: Sequence[str] = (),
    script: str = "",
) -> None:
    """Print each table (with a heading) and the notes; write them all to ``--json``."""
    for title, rows in tables.items():
        print(f"\n### {title}\n")
        print(table(rows))
    if notes:
        print()
        for note in notes:
            print(f"- {note}")
    if getattr(args, "json", None):
        payload = {
            "script": script,
            "argv": sys.argv[1:],
            "args": {k: v for k, v in vars(args).items() if k != "json"},
            "machine": machine(),
            "tables": {title: list(rows) for title, rows in tables.items()},
            "notes": list(notes),
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


# ------------------------------------------------------------------------ timing
_CONTROLLER: list[Any] = []


@contextlib.contextmanager
def blas_threads(limit: int | None) -> Iterator[None]:
    """Limit BLAS to ``limit`` threads inside the block (``None``: leave the default).

    The BLAS libraries are looked up once (``threadpool_limits`` would scan the
    process's memory map on every call, ~0.1-1 ms, which would swamp small timings).
    """
    if limit is None:
        yield
        return
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    with _CONTROLLER[0].limit(limits=limit, user_api="blas"):
        yield


def best_time(fn: Callable[[], Any], *, repeat: int = 3, budget_s: float = 10.0) -> float:
    """Best wall time of up to ``repeat`` calls (stop early once ``budget_s`` is spent)."""
    best, spent = np.inf, 0.0
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent > budget_s:
            break
    return float(best)


#: A call shorter than this is repeated (up to :data:`SHORT_REPEAT` calls in all) and
#: its best time kept: on a noisy machine one call of a second or so varies by +-30%
#: (FixedPointFinder tuned on one random GRU-128: 1.02 s and 1.61 s in two records).
SHORT_CALL_S = 3.0
SHORT_REPEAT = 3


def best_of_short(call: Callable[[], tuple[float, Any]]) -> tuple[float, Any]:
    """``(best seconds, last result)`` of ``call()``, repeated while its calls are short.

    ``call`` reports its own seconds (a tool's row may time only its inner call),
    unlike :func:`best_time`, which times ``fn`` whole and keeps no result.

    The same rule for every tool: a call under :data:`SHORT_CALL_S` seconds is
    run again, up to :data:`SHORT_REPEAT` calls, and the least time kept
    (``timeit``'s rule: the minimum is the run least disturbed by the machine).
    """
    seconds, result = call()
    for _ in range(SHORT_REPEAT - 1):
        if seconds >= SHORT_CALL_S:
            break
        again, result = call()
        seconds = min(seconds, again)
    return seconds, result


# ----------------------------------------------------------------- trained models
def run_recipe(model_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The training recipe of the ``dynalyze run`` that saved ``model_path`` (``{}`` if unknown).

    Read from ``run.json`` in the model folder or the run folder above it.
    """
    folder = Path(model_path)
    for candidate in (folder / "run.json", folder.parent / "run.json"):
        if candidate.is_file():
            try:
                recipe = json.loads(candidate.read_text()).get("recipe", {})
            except ValueError:
                return {}
            return dict(recipe) if isinstance(recipe, dict) else {}
    return {}


def recipe_max_len(model_path: str | os.PathLike[str], default: int = 400) -> int:
    """``max_len`` of the run that saved ``model_path`` (``default`` if unknown)."""
    value = run_recipe(model_path).get("max_len")
    return int(value) if isinstance(value, int) and value > 0 else default


def recipe_keep(model_path: str | os.PathLike[str]) -> str:
    """Which end of long documents the run kept (``"first"`` if unknown)."""
    value = run_recipe(model_path).get("keep")
    return value if value in ("first", "last") else "first"


def split_documents(dataset: str, n_docs: int) -> tuple[list[str], np.ndarray]:
    """The first ``n_docs`` test documents (and labels) of a built-in dataset."""
    from dynalyze.sentiment import load_dataset

    texts, labels = load_dataset(dataset).split("test")
    return list(texts[:n_docs]), np.asarray(labels[:n_docs])
