"""Default (Levenberg-Marquardt) finder vs the real FixedPointFinder, side by side.

Every finder runs in the same process, on the same weights and the same starts,
with the same thread count (``--threads``, default ``1,2``: each table is
repeated for each count; BLAS, torch's intra-op threads and dynalyze's batched
solves are all pinned to it).

Systems: random GRU-64 and GRU-128 at recurrent gain 1 and 2, with Keras's
default initialisation (Glorot kernel, orthogonal recurrent kernel) and with
PyTorch's (every weight U(-1/sqrt(u), 1/sqrt(u))); a random LSTM-128
(FixedPointFinder cannot analyse an LSTM: our Adam is the reference there); and
optionally a trained classifier saved by ``dynalyze run`` (``--model``), started
from states it visits on IMDB test documents, at tol 1e-12 and at the paper's
criterion ||F(h) - h||^2 / N < 1e-8 (tol = 0.5e-8 N on q); and optionally the
near-continuum GRU-256 of issue 23 (``--continuum FOLDER``: trained there first
with ``dynalyze run --units 256 --embedding-dim 128 --batch-size 64 --epochs 4
--max-len 1000`` if the folder holds no model), the same way.

Finders:

* ``dynalyze LM (default)``: :class:`dynalyze.fixedpoints.LevenbergMarquardtFinder`
  with its defaults (tol 1e-20 on q = 1/2 ||F(h) - h||^2) -- or with the row's
  tolerance for the paper rows.
* ``FixedPointFinder lr 0.05 (tuned)`` and ``FixedPointFinder defaults (lr 1.0)``:
  the anchor's ``FixedPointFinderTorch`` (``--fpf PATH``, default
  ``../shared/anchors/fixed-point-finder``), float32 as it ships, on a
  ``torch.nn.GRU`` holding exactly the same weights, ``inputs`` of shape
  (1, n_inputs), tol_q as in the row, ``max_iters`` 5,000 (``--fpf-iter``).
  Skipped, with a note, when torch or the anchor is missing.
* ``dynalyze-torch LM``: the same finder on the very ``torch.nn.GRU`` that
  FixedPointFinder searches (its float32 weights), read by the PyTorch extension
  (``dynalyze_torch.system_from_module``, what ``dynalyze.wrap`` calls once
  ``extensions/dynalyze-torch`` is installed; imported from its source folder
  otherwise) into a float64 ``TorchGRUSystem``; its q is recomputed on that
  system. Every GRU row, whenever torch is installed.
* ``dynalyze Adam lr 0.05`` (secondary): our own NumPy reimplementation of
  FixedPointFinder's optimiser, float64.

Wall times in this table: every tool's call that takes under 3 s is repeated
(3 calls in all) and its best time kept, the same rule for each (``timeit``'s:
one call of a second varies by +-30% on a busy machine).

Columns (every number recomputed here in float64 with ``system.step`` at the
states each finder returns, for all 1,024 starts): ``reach tol`` the share of
starts whose q is within the row's tolerance; ``q max`` the largest q over
those reported as reaching it (the finder's own claim: status 0 for dynalyze,
FixedPointFinder's float32 qstar <= tol_q for it) and ``q max all`` over
every start; ``unique`` the finder's own count of unique fixed points
(FixedPointFinder's ``unique_fps.n`` after its outlier filter; dynalyze's
``unique_fixed_points``); ``spurious`` the starts a finder reports as fixed
points that are not (recomputed q above 10x the tolerance) or that lie outside
the state box no trajectory leaves (|h| > 1 for a GRU, roots of saturated gates
no input reaches); ``settled`` (dynalyze rows) the share of starts whose
status says where the search ended: converged, slow point or slow manifold,
not failed, stalled or at the bounds; ``x dyn`` the wall time relative to
dynalyze's row.

A second table times the Jacobian + eigendecomposition phase on the same set
of points: FixedPointFinder's ``_compute_recurrent_jacobians`` (torch
autograd) and ``FixedPoints.decompose_jacobians`` (``np.linalg.eig``, float32)
vs dynalyze's ``Linearization().compute`` (analytic Jacobians, eigenvalues,
right and left eigenvectors, condition numbers, float64).

A third table (trained networks; the first GRU with ``--quick``) times the whole
job as each tool's users run it, at the same tolerance: FixedPointFinder's
``find_fixed_points`` with its defaults (its unique and outlier filter, then
Jacobians and eigendecomposition at its unique points) against dynalyze's
``find_fixed_points`` -> ``unique_fixed_points`` -> ``linearize``, with each
tool's unique points and how many are true roots (q recomputed in float64
below 10x the tolerance, inside the state box).

Usage::

    python benchmarks/fixed_points.py --model runs/imdb/model --json fp.json
    python benchmarks/fixed_points.py --systems none --continuum runs/gru256 --json fp256.json
    python benchmarks/fixed_points.py --systems gru128-g2 --threads 1
    python benchmarks/fixed_points.py --quick              # tiny smoke run (CI)

``docs/benchmarks/fixed_points_torch.json`` records the dynalyze-torch rows beside
FixedPointFinder's on torch-initialised GRUs, one thread::

    python benchmarks/fixed_points.py --systems gru64-g1-torch,gru128-g1-torch,gru128-g2-torch \\
        --threads 1 --json fixed_points_torch.json
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SHORT_CALL_S,
    SHORT_REPEAT,
    best_of_short,
    blas_threads,
    csv_ints,
    csv_strings,
    emit,
    make_parser,
    random_gru,
    random_lstm,
    recipe_keep,
    recipe_max_len,
    split_documents,
    visited_states,
)
from _fpf import (
    load_fpf,
    run_fpf,
    torch_default_gru,
    torch_gru,
    torch_threads,
)

from dynalyze._parallel import map_batches
from dynalyze.fixedpoints import (
    AdamFinder,
    LevenbergMarquardtFinder,
    find_fixed_points,
    unique_fixed_points,
)
from dynalyze.fixedpoints.base import CONVERGED, SLOW_MANIFOLD, SLOW_POINT
from dynalyze.linearization import Linearization, linearize
from dynalyze.systems.base import RecurrentSystem
from dynalyze.systems.gru import GRUSystem

#: The PyTorch extension's source folder (used when dynalyze-torch is not installed).
TORCH_EXTENSION = Path(__file__).resolve().parents[1] / "extensions" / "dynalyze-torch" / "src"

#: Statuses that say where a search ended: converged, slow point, slow manifold.
SETTLED = (CONVERGED, SLOW_POINT, SLOW_MANIFOLD)

#: Spurious: reported as a fixed point with a recomputed q above this many tolerances.
SPURIOUS_FACTOR = 10.0

RANDOM_SYSTEMS: dict[str, tuple[str, Callable[[], RecurrentSystem]]] = {
    "gru64-g1": ("GRU-64 gain 1 (Keras init)", lambda: random_gru(64, 1.0)),
    "gru64-g2": ("GRU-64 gain 2 (Keras init)", lambda: random_gru(64, 2.0)),
    "gru128-g1": ("GRU-128 gain 1 (Keras init)", lambda: random_gru(128, 1.0)),
    "gru128-g2": ("GRU-128 gain 2 (Keras init)", lambda: random_gru(128, 2.0)),
    "gru64-g1-torch": ("GRU-64 gain 1 (torch init)", lambda: torch_default_gru(64, 1.0)),
    "gru64-g2-torch": ("GRU-64 gain 2 (torch init)", lambda: torch_default_gru(64, 2.0)),
    "gru128-g1-torch": ("GRU-128 gain 1 (torch init)", lambda: torch_default_gru(128, 1.0)),
    "gru128-g2-torch": ("GRU-128 gain 2 (torch init)", lambda: torch_default_gru(128, 2.0)),
    "lstm128": ("LSTM-128 (Keras init)", lambda: random_lstm(128, 1.0)),
}
QUICK_SYSTEMS: dict[str, tuple[str, Callable[[], RecurrentSystem]]] = {
    "gru16-g1": ("GRU-16 gain 1 (Keras init)", lambda: random_gru(16, 1.0)),
    "gru16-g2-torch": ("GRU-16 gain 2 (torch init)", lambda: torch_default_gru(16, 2.0)),
    "lstm8": ("LSTM-8 (Keras init)", lambda: random_lstm(8, 1.0)),
}


@contextmanager
def pinned(threads: int) -> Iterator[None]:
    """BLAS, torch and dynalyze's own worker pool all limited to ``threads``."""
    before = os.environ.get("DYNALYZE_NUM_THREADS")
    os.environ["DYNALYZE_NUM_THREADS"] = str(threads)
    try:
        with blas_threads(threads), _maybe_torch_threads(threads):
            yield
    finally:
        if before is None:
            os.environ.pop("DYNALYZE_NUM_THREADS", None)
        else:
            os.environ["DYNALYZE_NUM_THREADS"] = before


@contextmanager
def _maybe_torch_threads(threads: int) -> Iterator[None]:
    try:
        import torch  # noqa: F401
    except ImportError:
        yield
        return
    with torch_threads(threads):
        yield


def recomputed_speed(system: RecurrentSystem, h: np.ndarray) -> np.ndarray:
    """q = 1/2 ||F(h, 0) - h||^2 in float64 at ``h`` (inf where not finite)."""
    speed = np.full(h.shape[0], np.inf)
    finite = np.all(np.isfinite(h), axis=1)
    if finite.any():
        x = np.zeros((int(finite.sum()), system.input_dim))
        with np.errstate(over="ignore", invalid="ignore"):
            r = system.step(h[finite], x) - h[finite]
            speed[finite] = 0.5 * np.einsum("ni,ni->n", r, r)
    return np.where(np.isfinite(speed), speed, np.inf)


def outside_box(system: RecurrentSystem, h: np.ndarray) -> np.ndarray:
    bounds = system.state_bounds
    if bounds is None:
        return np.zeros(h.shape[0], dtype=bool)
    tol = 1e-9
    return np.any((h < bounds[0] - tol) | (h > bounds[1] + tol), axis=1)


def _max(values: np.ndarray) -> float:
    return float(np.max(values)) if values.size else float("nan")


def row(
    label: str,
    finder: str,
    tol: float,
    seconds: float,
    system: RecurrentSystem,
    states: np.ndarray,
    claimed: np.ndarray,
    unique: int,
    iterations: int,
    reference: float | None,
    classified: np.ndarray | None = None,
) -> dict[str, Any]:
    speed = recomputed_speed(system, states)
    spurious = claimed & ((speed > SPURIOUS_FACTOR * tol) | outside_box(system, states))
    return {
        "system": label,
        "finder": finder,
        "tol": tol,
        "wall s": seconds,
        "max iters": iterations,
        "reach tol": float(np.mean(speed <= tol)),
        "q max": _max(speed[claimed]),
        "q max all": _max(speed),
        "unique": unique,
        "spurious": int(spurious.sum()),
        "settled": float(np.mean(classified)) if classified is not None else float("nan"),
        "x dyn": seconds / reference if reference else 1.0,
    }


def dynalyze_row(
    label: str,
    name: str,
    finder: Any,
    tol: float,
    system: RecurrentSystem,
    starts: np.ndarray,
    reference: float | None,
) -> tuple[dict[str, Any], np.ndarray]:
    """Time one dynalyze finder (:func:`best_of_short`); its row and its unique fixed points."""

    def call() -> tuple[float, Any]:
        begin = time.perf_counter()
        found = finder.find(system, starts)
        return time.perf_counter() - begin, found

    seconds, ds = best_of_short(call)
    unique = unique_fixed_points(ds)["fixed_point_state"].values
    out = row(
        label,
        name,
        tol,
        seconds,
        system,
        ds["fixed_point_state"].values,
        ds["status"].values == 0,
        int(unique.shape[0]),
        int(ds["iterations"].values.max()),
        reference,
        np.isin(ds["status"].values, SETTLED),
    )
    return out, unique


def load_dynalyze_torch() -> tuple[Callable[[Any], RecurrentSystem] | None, str]:
    """``(dynalyze_torch.system_from_module, "")``, or ``(None, why not)``."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return None, "torch is not installed (pip install 'dynalyze[bench]')"
    try:  # installed (pip install ./extensions/dynalyze-torch) or from its source
        import dynalyze_torch
    except ImportError:
        sys.path.insert(0, str(TORCH_EXTENSION))
        import dynalyze_torch
    return dynalyze_torch.system_from_module, ""


def torch_row(
    label: str,
    lm: LevenbergMarquardtFinder,
    lm_tol: float,
    tol: float,
    system: GRUSystem,
    starts: np.ndarray,
    reference: float,
    from_module: Callable[[Any], RecurrentSystem],
) -> dict[str, Any]:
    """dynalyze-torch on the ``torch.nn.GRU`` FixedPointFinder searches (float32 weights)."""
    torch_system = from_module(torch_gru(system))
    out, _ = dynalyze_row(
        label, f"dynalyze-torch LM (tol {lm_tol:.0e})", lm, tol, torch_system, starts, reference
    )
    return out


def benchmark_system(
    label: str,
    system: RecurrentSystem,
    starts: np.ndarray,
    tols: list[tuple[str, float, float]],
    *,
    threads: int,
    fpf: Any,
    fpf_iter: int,
    adam_iter: int,
    uniques: dict[str, np.ndarray] | None = None,
    from_module: Callable[[Any], RecurrentSystem] | None = None,
) -> list[dict[str, Any]]:
    """Rows for one system: per tolerance group, dynalyze LM first (the time reference).

    ``uniques`` (optional) receives each default-tolerance finder's unique fixed points;
    ``from_module`` (dynalyze-torch's, optional) adds its row on a GRU.
    """
    rows: list[dict[str, Any]] = []
    is_gru = isinstance(system, GRUSystem) and system.reset_after
    with pinned(threads):
        LevenbergMarquardtFinder(max_iter=2).find(system, starts[:4])  # warm-up
        if fpf is not None and is_gru:
            run_fpf(fpf, system, starts[:4], lr_init=0.05, tol_q=1e-12, max_iters=2)
        for group, lm_tol, tol in tols:
            lm = (
                LevenbergMarquardtFinder()
                if group == "default"
                else LevenbergMarquardtFinder(tol=tol)
            )
            lm_row, unique = dynalyze_row(
                label, f"dynalyze LM (tol {lm_tol:.0e})", lm, tol, system, starts, None
            )
            rows.append(lm_row)
            reference = lm_row["wall s"]
            if uniques is not None and group == "default":
                uniques["dynalyze"] = unique
            if from_module is not None and is_gru:
                rows.append(
                    torch_row(label, lm, lm_tol, tol, system, starts, reference, from_module)
                )
            if fpf is not None and is_gru:
                for name, lr in (("tuned, lr 0.05", 0.05), ("defaults, lr 1.0", 1.0)):
                    out = run_fpf_best(fpf, system, starts, lr=lr, tol=tol, max_iters=fpf_iter)
                    if uniques is not None and group == "default" and lr == 0.05:
                        uniques["FixedPointFinder"] = out["unique_states"]
                    rows.append(
                        row(
                            label,
                            f"FixedPointFinder {name}",
                            tol,
                            out["seconds"],
                            system,
                            out["states"],
                            out["claimed"],
                            int(out["unique_states"].shape[0]),
                            out["iterations"],
                            reference,
                        )
                    )
            if not is_gru or fpf is None:
                adam = AdamFinder(
                    learning_rate=0.05, decay_factor=0.95, tol=tol, max_iter=adam_iter
                )
                adam_row, _ = dynalyze_row(
                    label, "dynalyze Adam lr 0.05 (secondary)", adam, tol, system, starts, reference
                )
                rows.append(adam_row)
    return rows


def run_fpf_best(
    fpf: Any, system: GRUSystem, starts: np.ndarray, *, lr: float, tol: float, max_iters: int
) -> dict[str, Any]:
    """:func:`run_fpf`, timed by :func:`best_of_short` like dynalyze's rows."""

    def call() -> tuple[float, dict[str, Any]]:
        out = run_fpf(fpf, system, starts, lr_init=lr, tol_q=tol, max_iters=max_iters)
        return float(out["seconds"]), out

    seconds, out = best_of_short(call)
    return {**out, "seconds": seconds}


def linearization_rows(
    label: str,
    system: GRUSystem,
    point_sets: list[tuple[str, np.ndarray, np.ndarray]],
    *,
    threads: int,
    fpf: Any,
) -> list[dict[str, Any]]:
    """Jacobians and eigendecomposition: FixedPointFinder's vs ``Linearization().compute``.

    ``point_sets``: (what, FixedPointFinder's points, dynalyze's points) -- the
    same points for the per-point cost, or each tool's own unique fixed points
    for the phase as each tool runs it.
    """
    from _fpf import fpf_linearize_seconds

    x = np.zeros(system.input_dim)
    rows = []
    with pinned(threads):
        Linearization().compute(system, point_sets[0][2][:2], x)  # warm-up
        for what, theirs_at, ours_at in point_sets:
            begin = time.perf_counter()
            system.jacobian_state(ours_at, np.zeros((ours_at.shape[0], system.input_dim)))
            our_jac = time.perf_counter() - begin
            begin = time.perf_counter()
            Linearization().compute(system, ours_at, x)
            ours = time.perf_counter() - begin
            their_jac, their_eig = fpf_linearize_seconds(fpf, system, theirs_at)
            rows.append(
                {
                    "system": label,
                    "points": what,
                    "FPF points": theirs_at.shape[0],
                    "dynalyze points": ours_at.shape[0],
                    "FPF jacobian s": their_jac,
                    "FPF eig s": their_eig,
                    "dynalyze jacobian s": our_jac,
                    "dynalyze linearization s": ours,
                    "jacobian ratio": their_jac / our_jac,
                    "phase ratio": (their_jac + their_eig) / ours,
                }
            )
    return rows


def end_to_end_rows(
    label: str,
    system: GRUSystem,
    starts: np.ndarray,
    tols: list[tuple[str, float, float]],
    *,
    threads: int,
    fpf: Any,
    fpf_iter: int,
) -> list[dict[str, Any]]:
    """The whole job as each tool's users run it, at the same tolerance.

    dynalyze: ``find_fixed_points`` (LM, ``tol`` on q) -> ``unique_fixed_points``
    -> ``linearize`` (Jacobians, eigenvalues and eigenvectors, float64).
    FixedPointFinder: ``find_fixed_points`` with its defaults (its unique and
    outlier filter, then the Jacobians and their eigendecomposition at its unique
    points), ``tol_q = tol``, tuned (lr 0.05) and default (lr 1.0) learning rates.
    ``true roots``: unique points whose q, recomputed in float64, is below 10 tol.
    """
    rows: list[dict[str, Any]] = []
    with pinned(threads):
        for _, _, tol in tols:
            begin = time.perf_counter()
            found = find_fixed_points(system, starts, tol=tol)
            unique = unique_fixed_points(found)
            linearize(system, unique)
            ours = time.perf_counter() - begin
            points = unique["fixed_point_state"].values
            rows.append(
                {
                    **_end_to_end(
                        "dynalyze find -> unique -> linearize",
                        label,
                        tol,
                        ours,
                        ours,
                        system,
                        points,
                    ),
                    "eigenvalues only s": eigenvalues_floor(system, points),
                }
            )
            for name, lr in (("tuned, lr 0.05", 0.05), ("defaults, lr 1.0", 1.0)):
                out = run_fpf(
                    fpf, system, starts, lr_init=lr, tol_q=tol, max_iters=fpf_iter, linearize=True
                )
                rows.append(
                    _end_to_end(
                        f"FixedPointFinder {name}",
                        label,
                        tol,
                        out["seconds"],
                        ours,
                        system,
                        out["unique_states"],
                    )
                )
    return rows


def eigenvalues_floor(system: RecurrentSystem, points: np.ndarray) -> float:
    """Seconds for the eigenvalues alone of the Jacobians at ``points`` (no eigenvectors).

    LAPACK's ``dgeev`` without vectors (``np.linalg.eigvals``), split across the
    pinned threads like dynalyze's own eigendecomposition: a floor under any
    tool that decomposes every one of these points, whatever its search costs.
    """
    if points.shape[0] == 0:
        return 0.0
    jac = system.jacobian_state(points)
    begin = time.perf_counter()
    map_batches(np.linalg.eigvals, [jac])
    return time.perf_counter() - begin


def _end_to_end(
    tool: str,
    label: str,
    tol: float,
    seconds: float,
    reference: float,
    system: RecurrentSystem,
    points: np.ndarray,
) -> dict[str, Any]:
    speed = recomputed_speed(system, points)
    true = (speed <= SPURIOUS_FACTOR * tol) & ~outside_box(system, points)
    return {
        "system": label,
        "finder": tool,
        "tol": tol,
        "wall s": seconds,
        "unique": int(points.shape[0]),
        "true roots": int(true.sum()),
        "x dyn": seconds / reference,
    }


def trained_starts(
    path: str, n_starts: int, n_docs: int, max_len: int | None, dataset: str, seed: int
) -> tuple[RecurrentSystem, np.ndarray, str]:
    """The trained network's system and starts sampled from its test-document trajectories."""
    from dynalyze import sample_initial_states
    from dynalyze.classifier import RecurrentClassifier

    clf = RecurrentClassifier.load(path)
    length = max_len if max_len is not None else recipe_max_len(path)
    texts, _ = split_documents(dataset, n_docs)
    ids = clf.vocabulary.encode(texts, length, keep=recipe_keep(path))
    traj = clf.trajectories(ids)
    starts = sample_initial_states(
        traj["hidden_state"].values,
        n_starts,
        mask=traj["valid"].values.astype(bool),
        seed=seed,
    )
    kind = type(clf.system).__name__.removesuffix("System")
    folder = Path(path).resolve()
    run = folder.parent.name if folder.name == "model" else folder.name
    label = f"trained {kind}-{clf.system.state_dim} ({run})"
    return clf.system, starts, label


#: The near-continuum network of issue 23: the renn notebook's recipe on IMDB, seed 0.
CONTINUUM_RECIPE = {
    "units": 256,
    "embedding_dim": 128,
    "batch_size": 64,
    "epochs": 4,
    "max_len": 1000,
}


def continuum_model(folder: str, seed: int) -> str:
    """``folder/model``, trained first (``dynalyze run`` with :data:`CONTINUUM_RECIPE`) if absent.

    The run's own analysis is kept beside it (``run.json``: its stage timings).
    """
    from dynalyze.sentiment.pipeline import RunConfig, run_pipeline

    model = Path(folder) / "model"
    if not model.is_dir():
        logging.getLogger(__name__).warning(
            "training the near-continuum GRU-256 into %s (dynalyze run %s)",
            folder,
            CONTINUUM_RECIPE,
        )
        run_pipeline(RunConfig.build(out=folder, seed=seed, progress=False, **CONTINUUM_RECIPE))
    return str(model)


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument(
        "--systems",
        type=csv_strings,
        default=None,
        help=f"comma-separated subset of {', '.join(RANDOM_SYSTEMS)} (default: all; "
        "'none' for only --model)",
    )
    parser.add_argument("--starts", type=int, default=1024, help="initial states per system")
    parser.add_argument("--fpf", metavar="PATH", default=None, help="FixedPointFinder folder")
    parser.add_argument("--fpf-iter", type=int, default=5000, help="FixedPointFinder max_iters")
    parser.add_argument("--adam-iter", type=int, default=5000, help="our Adam's budget")
    parser.add_argument("--threads", type=csv_ints, default=[1, 2], help="thread counts")
    parser.add_argument("--model", metavar="PATH", help="a `dynalyze run` model/ folder")
    parser.add_argument(
        "--continuum",
        metavar="FOLDER",
        help="the near-continuum GRU-256 (dynalyze run --units 256 --embedding-dim 128 "
        "--batch-size 64 --epochs 4 --max-len 1000, seed --seed): its run folder, trained "
        "there first if it holds no model (about 10 min on 2 cores)",
    )
    parser.add_argument("--docs", type=int, default=1000, help="test documents for --model")
    parser.add_argument(
        "--max-len", type=int, default=None, help="tokens per document (default: the run's)"
    )
    parser.add_argument("--dataset", default="imdb", help="documents for --model (imdb)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.getLogger("dynalyze").setLevel(logging.WARNING)
    # FixedPointFinder's scheduler call triggers a torch UserWarning every iteration.
    warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad")

    catalogue = RANDOM_SYSTEMS
    if args.quick:
        catalogue = QUICK_SYSTEMS
        args.starts, args.adam_iter, args.fpf_iter = 64, 200, 200
        args.docs = min(args.docs, 32)
    names = list(catalogue) if args.systems is None else args.systems
    names = [name for name in names if name != "none"]
    unknown = sorted(set(names) - set(catalogue))
    if unknown:
        parser.error(f"unknown systems {unknown}; choose from {', '.join(catalogue)}")
    fpf, why = load_fpf(args.fpf)
    notes = [] if fpf is not None else [f"FixedPointFinder rows skipped: {why}."]
    from_module, why_not_torch = load_dynalyze_torch()
    if from_module is None:
        notes.append(f"dynalyze-torch rows skipped: {why_not_torch}.")

    jobs: list[tuple[str, RecurrentSystem, np.ndarray, list[tuple[str, float, float]]]] = []
    for name in names:
        label, make = catalogue[name]
        system = make()
        starts = visited_states(system, args.starts, noise=0.05, seed=args.seed + 1)
        jobs.append((label, system, starts, [("default", 1e-20, 1e-12)]))
    # (model folder, whether the Jacobian and end-to-end tables run on it too)
    models = [(args.model, True)] if args.model else []
    if args.continuum:
        models.append((continuum_model(args.continuum, args.seed), False))
    extras: set[str] = set()
    for model, full in models:
        system, starts, label = trained_starts(
            model, args.starts, args.docs, args.max_len, args.dataset, args.seed
        )
        if not full:
            label = f"trained GRU-{system.state_dim} near-continuum (issue 23)"
        else:
            extras.add(label)
        paper = 0.5e-8 * system.state_dim
        jobs.append((label, system, starts, [("default", 1e-20, 1e-12), ("paper", paper, paper)]))

    tables: dict[str, list[dict[str, Any]]] = {}
    for threads in args.threads:
        rows: list[dict[str, Any]] = []
        lin: list[dict[str, Any]] = []
        whole: list[dict[str, Any]] = []
        for label, system, starts, tols in jobs:
            uniques: dict[str, np.ndarray] = {}
            rows += benchmark_system(
                label,
                system,
                starts,
                tols,
                threads=threads,
                fpf=fpf,
                fpf_iter=args.fpf_iter,
                adam_iter=args.adam_iter,
                uniques=uniques,
                from_module=from_module,
            )
            if fpf is not None and isinstance(system, GRUSystem) and label in extras:
                sets = [(f"the same {starts.shape[0]} states", starts, starts)]
                theirs = uniques.get("FixedPointFinder")
                if theirs is not None and theirs.shape[0] and uniques["dynalyze"].shape[0]:
                    sets.append(
                        (
                            "each tool's unique fixed points (tol 1e-12 / 1e-20)",
                            uniques["FixedPointFinder"],
                            uniques["dynalyze"],
                        )
                    )
                lin += linearization_rows(label, system, sets, threads=threads, fpf=fpf)
            if fpf is not None and isinstance(system, GRUSystem) and system.reset_after:
                if label in extras or (args.quick and not whole):
                    whole += end_to_end_rows(
                        label,
                        system,
                        starts,
                        tols,
                        threads=threads,
                        fpf=fpf,
                        fpf_iter=args.fpf_iter,
                    )
        tables[f"Fixed points, {threads} thread(s)"] = rows
        if lin:
            tables[f"Jacobians + eigendecomposition, {threads} thread(s)"] = lin
        if whole:
            tables[f"The whole job, end to end, {threads} thread(s)"] = whole
    notes.append(
        f"{args.starts} starts per system; FixedPointFinder max_iters {args.fpf_iter} "
        f"(float32, as shipped); our Adam {args.adam_iter} iterations; wall time of the "
        "whole find call (optimisation, status, deduplication), for every tool the best "
        f"of up to {SHORT_REPEAT} calls where a call takes under {SHORT_CALL_S:g} s."
    )
    emit(tables, args, notes=notes, script="fixed_points")


if __name__ == "__main__":
    main()
