"""Check a dataset against the results schema (:mod:`dynalyze.results.schema`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from dynalyze.errors import SchemaError
from dynalyze.results.fragments import fragment_version, load_plugin_fragments
from dynalyze.results.schema import KINDS, SCHEMA_VERSION, VARIABLES, VariableSpec

__all__ = ["validate"]

#: NumPy dtype kinds accepted for each declared storage dtype.
_KINDS_OF_DTYPE = {
    "float32": "f",
    "float64": "f",
    "complex128": "c",
    "int8": "iu",
    "int32": "iu",
    "int64": "iu",
    "str": "UOS",
}


def validate(ds: xr.Dataset, kind: str | None = None) -> xr.Dataset:
    """Check that ``ds`` is a valid dynalyze results dataset; return it unchanged.

    Checks, in order: the schema version the data was written with (global
    attribute ``dynalyze_schema_version``), the kind (``kind``, or the dataset's
    ``dynalyze_kind`` attribute), that every variable the kind requires is
    present, and for every variable and coordinate the schema declares: its
    dimensions, its dtype and, for categorical variables, that every value is
    a declared flag. Variables the schema does not declare (a user's own
    additions) are allowed and not checked.

    :func:`dynalyze.load` calls it on every file that carries a kind.

    Parameters
    ----------
    ds : xarray.Dataset
        A dataset made by dynalyze (``find_fixed_points``, ``Linearization``,
        ``LineAttractor``...) or read back with :func:`dynalyze.load`.
    kind : str, optional
        A key of :data:`dynalyze.results.schema.KINDS` (``"fixed_points"``,
        ``"linearization"``, ``"trajectories"``, ``"line_attractor"``). Default:
        the dataset's ``dynalyze_kind`` attribute.

    Returns
    -------
    xarray.Dataset
        ``ds`` itself.

    Raises
    ------
    dynalyze.errors.SchemaError
        Naming the variable and what is wrong (missing, wrong dimensions, wrong
        dtype, an undeclared flag value), or the schema version and which
        dynalyze version wrote the data.

    Examples
    --------
    >>> import numpy as np, dynalyze
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), 0.5 * np.eye(2), activation="linear")
    >>> ds = dynalyze.find_fixed_points(system, np.ones((3, 2)))
    >>> dynalyze.validate(ds) is ds
    True
    >>> dynalyze.validate(ds.drop_vars("speed"))
    Traceback (most recent call last):
    ...
    dynalyze.errors.SchemaError: This 'fixed_points' dataset has no variable 'speed' ...
    >>> dynalyze.validate(ds.assign(status=ds["status"] + 7))
    Traceback (most recent call last):
    ...
    dynalyze.errors.SchemaError: Variable 'status' holds value(s) [7] ...
    """
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(
            f"validate expects an xarray.Dataset; got {type(ds).__name__}. Convert a "
            "DataArray with .to_dataset(name=...)."
        )
    _check_version(ds)
    kind = _resolve_kind(ds, kind)
    for name in KINDS[kind]:
        if name not in ds.variables:
            raise SchemaError(
                f"This {kind!r} dataset has no variable {name!r}, which every {kind} "
                f"dataset has ({VARIABLES[name].long_name}). It was dropped or renamed after "
                "dynalyze made it; re-create it, or validate with the kind it now is."
            )
    for key, variable in ds.variables.items():
        spec = VARIABLES.get(str(key))
        if spec is not None:
            _check_variable(str(key), variable, spec)
    return ds


def _check_version(ds: xr.Dataset) -> None:
    version = ds.attrs.get("dynalyze_schema_version")
    if version is None or str(version) == SCHEMA_VERSION:
        return
    writer = ds.attrs.get("dynalyze_version", "an unknown version")
    raise SchemaError(
        f"These results were written by dynalyze {writer} with schema version {version}; "
        f"this dynalyze reads schema version {SCHEMA_VERSION}. Re-create them with this "
        "version (`dynalyze analyze MODEL_FOLDER` for a run's results, or re-run the "
        f"analysis), read them with dynalyze {writer}, or open the file as plain netCDF "
        "with xarray.open_dataset."
    )


def _resolve_kind(ds: xr.Dataset, kind: str | None) -> str:
    resolved = kind if kind is not None else ds.attrs.get("dynalyze_kind")
    if resolved is None:
        raise SchemaError(
            "The dataset has no 'dynalyze_kind' attribute; pass kind= (one of "
            f"{', '.join(sorted(KINDS))})."
        )
    if resolved not in KINDS:
        load_plugin_fragments()  # a plug-in analysis's kind, before its plug-in was used
    if resolved not in KINDS:
        raise SchemaError(
            f"Unknown dataset kind {resolved!r}; expected one of {sorted(KINDS)} (or the kind "
            "of an installed analysis plug-in)."
        )
    _check_fragment_version(ds, str(resolved))
    return str(resolved)


def _check_fragment_version(ds: xr.Dataset, kind: str) -> None:
    expected = fragment_version(kind)
    written = ds.attrs.get("dynalyze_fragment_version")
    if expected is None or written is None or str(written) == expected:
        return
    raise SchemaError(
        f"This {kind!r} dataset was written with version {written} of its analysis's schema "
        f"fragment; the installed analysis reads version {expected}. Re-run the analysis, or "
        "open the file as plain netCDF with xarray.open_dataset."
    )


def _check_variable(name: str, variable: xr.Variable, spec: VariableSpec) -> None:
    if tuple(variable.dims) != spec.dims:
        raise SchemaError(
            f"Variable {name!r} has dimensions {tuple(variable.dims)}; the schema declares "
            f"{spec.dims} ({spec.long_name})."
        )
    accepted = _KINDS_OF_DTYPE[spec.dtype]
    if variable.dtype.kind not in accepted:
        raise SchemaError(
            f"Variable {name!r} has dtype {variable.dtype}; the schema stores it as {spec.dtype}."
        )
    if spec.flags is not None and variable.size:
        values: Any = np.unique(np.asarray(variable.values))
        bad = sorted(set(values.tolist()) - set(spec.flags))
        if bad:
            meanings = ", ".join(f"{k} = {v}" for k, v in spec.flags.items())
            raise SchemaError(
                f"Variable {name!r} holds value(s) {bad[:5]} that are not among its declared "
                f"flags ({meanings})."
            )
