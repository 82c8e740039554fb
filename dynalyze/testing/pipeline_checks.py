"""Conformance of what the analyses make of a system: valid result datasets.

:func:`check_analysis_pipeline` runs fixed points, linearization and
save/load on a system; :func:`check_result_dataset` validates one dataset
against the results schema.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from dynalyze.fixedpoints import find_fixed_points
from dynalyze.linearization import linearize
from dynalyze.results.io import load, save
from dynalyze.results.schema import KINDS, VARIABLES
from dynalyze.systems.base import RecurrentSystem
from dynalyze.testing._scaffold import _compare, _finish, _points
from dynalyze.testing.report import CheckResult, ConformanceError

__all__ = ["check_analysis_pipeline", "check_result_dataset"]


def check_result_dataset(ds: xr.Dataset, kind: str) -> None:
    """Raise :class:`ConformanceError` unless ``ds`` is a valid dynalyze result of ``kind``.

    Valid means: the ``dynalyze_kind`` attribute is ``kind``; every variable that
    kind requires is present; every variable and coordinate declared in the
    schema has its dimensions, ``long_name`` and ``units``; flag variables hold
    only their declared ``flag_values``; the configuration and provenance
    attributes are JSON.

    Parameters
    ----------
    ds : xarray.Dataset
        A dataset returned by a dynalyze analysis.
    kind : str
        A key of :data:`dynalyze.results.KINDS` (``"fixed_points"``,
        ``"linearization"``...).

    Examples
    --------
    >>> import numpy as np, dynalyze
    >>> from dynalyze.systems import UGRNNSystem
    >>> system = UGRNNSystem(np.zeros((1, 4)), np.zeros((2, 4)))
    >>> check_result_dataset(dynalyze.linearize(system, np.zeros((1, 2))), "linearization")
    """
    problems: list[str] = []
    if ds.attrs.get("dynalyze_kind") != kind:
        got_kind = ds.attrs.get("dynalyze_kind")
        problems.append(f"attrs['dynalyze_kind'] is {got_kind!r}, not {kind!r}.")
    missing = [name for name in KINDS.get(kind, ()) if name not in ds]
    if kind not in KINDS:
        problems.append(f"unknown kind {kind!r}; known kinds: {sorted(KINDS)}.")
    if missing:
        problems.append(f"required variables {missing} are missing.")
    for attr in ("dynalyze_config", "dynalyze_provenance"):
        try:
            json.loads(ds.attrs[attr])
        except (KeyError, TypeError, ValueError):
            problems.append(f"attrs[{attr!r}] is missing or not JSON.")
    for name, variable in ds.variables.items():
        spec = VARIABLES.get(str(name))
        if spec is None:
            problems.append(f"variable {name!r} is not declared in the results schema.")
            continue
        if tuple(variable.dims) != spec.dims:
            problems.append(f"variable {name!r} has dims {variable.dims}; expected {spec.dims}.")
        for attr in ("long_name", "units"):
            if not variable.attrs.get(attr):
                problems.append(f"variable {name!r} has no {attr!r} attribute.")
        if spec.flags is not None:
            values = np.unique(np.asarray(variable.values))
            unknown = sorted(set(values.tolist()) - set(spec.flags))
            if unknown:
                problems.append(
                    f"flag variable {name!r} holds {unknown}, outside its flag_values "
                    f"{sorted(spec.flags)}."
                )
    if problems:
        result = CheckResult(check="result_dataset", passed=False, detail=" ".join(problems))
        raise ConformanceError(f"Invalid {kind!r} dataset: {' '.join(problems)}", [result])


def check_analysis_pipeline(
    system: RecurrentSystem,
    *,
    states: ArrayLike | None = None,
    n_points: int = 8,
    seed: int = 0,
    directory: str | Path | None = None,
    rtol: float = 1e-6,
) -> CheckResult:
    """Fixed points, linearization and save/load work and give valid results.

    Runs :func:`dynalyze.find_fixed_points` (zero input, from ``states``) and
    :func:`dynalyze.linearize` at the candidates; checks both datasets against
    the results schema (:func:`check_result_dataset`), that they describe the
    system (sizes, state layout, provenance), that the reported speeds and
    Jacobians are the system's own, and that :func:`dynalyze.save` then
    :func:`dynalyze.load` gives identical datasets
    (``xarray.testing.assert_identical``). Converging is not required: a
    random system may have no fixed point near the initial states.

    Parameters
    ----------
    system : RecurrentSystem
        The system under test.
    states : array_like, optional
        Initial states of the fixed-point search; random by default.
    n_points, seed : int
        Number and seed of the random initial states.
    directory : path, optional
        Where to write the netCDF files (a temporary folder by default).
    rtol : float
        Tolerance of the recomputed speeds and Jacobians.

    Returns
    -------
    CheckResult
        ``detail`` says how many candidates converged.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import UGRNNSystem
    >>> rng = np.random.default_rng(0)
    >>> system = UGRNNSystem(0.3 * rng.normal(size=(2, 6)), 0.3 * rng.normal(size=(3, 6)))
    >>> check_analysis_pipeline(system, n_points=3).detail
    '3 of 3 candidates converged; fixed points, linearization and save/load are valid.'
    """
    check = "analysis_pipeline"
    h0, _ = _points(system, states, None, n_points, seed)
    fps = find_fixed_points(system, h0)
    lin = linearize(system, fps)
    problems: list[str] = []
    for ds, kind in ((fps, "fixed_points"), (lin, "linearization")):
        try:
            check_result_dataset(ds, kind)
        except ConformanceError as exc:
            problems.append(str(exc))
        sizes = {"fixed_point": h0.shape[0], "state": system.state_dim, "input": system.input_dim}
        got = {dim: int(ds.sizes.get(dim, -1)) for dim in sizes}
        if got != sizes:
            problems.append(f"the {kind} dataset has sizes {got}; expected {sizes}.")
        elif "state_component" in ds.coords:
            labels = ds["state_component"].values.astype(str).tolist()
            if labels != system.layout.component_labels().tolist():
                problems.append(f"the {kind} dataset's state_component does not match the layout.")
        provenance = json.loads(ds.attrs.get("dynalyze_provenance", "{}"))
        if provenance.get("state_dim") != system.state_dim:
            problems.append(f"the {kind} dataset's provenance does not describe the system.")
    if not problems:
        points = fps["fixed_point_state"].values
        finite = np.all(np.isfinite(points), axis=1)
        residual = system.step(points[finite]) - points[finite]
        speed = 0.5 * np.sum(residual**2, axis=1)
        _, message = _compare(
            fps["speed"].values[finite][:, None],
            speed[:, None],
            what="the reported speed",
            against="1/2 ||F(h*) - h*||^2 recomputed with step",
            rtol=max(rtol, 1e-6),
        )
        if message and np.max(np.abs(fps["speed"].values[finite] - speed)) > 1e-14:
            problems.append(message)
        _, message = _compare(
            lin["jacobian_state"].values[finite],
            system.jacobian_state(points[finite]),
            what="the linearization's jacobian_state",
            against="system.jacobian_state at the fixed points",
            rtol=rtol,
        )
        if message:
            problems.append(message)
    if not problems:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(directory) if directory is not None else Path(scratch)
            for ds, kind in ((fps, "fixed_points"), (lin, "linearization")):
                path = save(ds, folder / f"conformance_{kind}.nc")
                loaded = load(path)
                try:
                    xr.testing.assert_identical(loaded, ds)
                except AssertionError as exc:
                    problems.append(
                        f"the {kind} dataset does not round-trip through dynalyze.save and "
                        f"dynalyze.load: {str(exc).splitlines()[0]}"
                    )
    converged = int(np.sum(fps["status"].values == 0))
    return _finish(
        check,
        system,
        problems,
        [],
        math.nan,
        f"{converged} of {h0.shape[0]} candidates converged; fixed points, linearization "
        "and save/load are valid.",
    )
