"""Build schema-conforming :class:`xarray.Dataset` objects.

Analyses never attach attributes by hand: they hand arrays to
:func:`make_dataset`, which looks every name up in
:data:`dynalyze.results.schema.VARIABLES`, checks dimensions and shapes, and
attaches ``long_name``, ``units`` and flag attributes plus the global
provenance attributes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from dynalyze._version import __version__
from dynalyze.errors import SchemaError
from dynalyze.results.fragments import fragment_version
from dynalyze.results.schema import KINDS, SCHEMA_VERSION, VARIABLES, VariableSpec

__all__ = [
    "decode_flags",
    "make_dataset",
    "make_variable",
    "state_coords",
    "to_json",
]


def to_json(value: Any) -> str:
    """Serialise a configuration (attrs instance, mapping, ...) to stable JSON.

    Examples
    --------
    >>> import numpy as np
    >>> to_json({"b": np.float64(0.5), "a": (1, 2)})
    '{"a": [1, 2], "b": 0.5}'
    """
    return json.dumps(_jsonable(value), sort_keys=True)


def _jsonable(value: Any) -> Any:
    if attrs.has(type(value)):
        out = {f.name: _jsonable(getattr(value, f.name)) for f in attrs.fields(type(value))}
        out["__class__"] = type(value).__name__
        return out
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def make_variable(name: str, data: ArrayLike) -> xr.Variable:
    """Make one schema-conforming :class:`xarray.Variable`.

    Parameters
    ----------
    name : str
        A key of :data:`dynalyze.results.schema.VARIABLES`.
    data : array_like
        Values; converted to the declared dtype.

    Returns
    -------
    xarray.Variable

    Examples
    --------
    >>> v = make_variable("speed", [1e-12, 3e-4])
    >>> v.dims, v.attrs["units"]
    (('fixed_point',), '1')
    """
    try:
        spec = VARIABLES[name]
    except KeyError:
        raise KeyError(
            f"{name!r} is not declared in dynalyze.results.schema.VARIABLES; declare it "
            "there (dims, long_name, units) before writing it."
        ) from None
    array = _as_dtype(np.asarray(data), spec)
    if array.ndim != len(spec.dims):
        raise ValueError(
            f"Variable {name!r} needs {len(spec.dims)} dimension(s) {spec.dims}; "
            f"got an array of shape {array.shape}."
        )
    return xr.Variable(spec.dims, array, attrs=_attrs(spec))


def _as_dtype(array: np.ndarray, spec: VariableSpec) -> np.ndarray:
    if spec.dtype == "str":
        return array.astype(str)
    return array.astype(spec.dtype, copy=False)


def _attrs(spec: VariableSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"long_name": spec.long_name, "units": spec.units}
    if spec.flags is not None:
        out["flag_values"] = np.array(list(spec.flags), dtype=spec.dtype)
        out["flag_meanings"] = " ".join(spec.flags.values())
    if spec.description:
        out["description"] = spec.description
    return out


def state_coords(component_labels: ArrayLike, unit_indices: ArrayLike) -> dict[str, xr.Variable]:
    """Coordinates labelling the flat ``state`` dimension with its layout.

    Examples
    --------
    >>> coords = state_coords(["h", "h", "c"], [0, 1, 0])
    >>> coords["state_component"].values.tolist(), coords["state_unit"].dims
    (['h', 'h', 'c'], ('state',))
    """
    return {
        "state_component": make_variable("state_component", component_labels),
        "state_unit": make_variable("state_unit", unit_indices),
    }


def make_dataset(
    kind: str,
    variables: Mapping[str, ArrayLike | xr.Variable],
    coords: Mapping[str, ArrayLike | xr.Variable] | None = None,
    *,
    config: Any = None,
    provenance: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> xr.Dataset:
    """Assemble a dataset of a declared kind.

    Index coordinates (integer positions) are created for every dimension that
    has no coordinate given. Global attributes record the kind, the dynalyze
    version, the schema version, the configuration (JSON) and provenance (JSON).

    Parameters
    ----------
    kind : str
        A key of :data:`dynalyze.results.schema.KINDS`; its required variables
        must all be present.
    variables : mapping
        Data variables by schema name.
    coords : mapping, optional
        Extra coordinates by schema name (e.g. ``state_component``, ``token``).
    config : attrs instance or mapping, optional
        Configuration that produced the data.
    provenance : mapping, optional
        Where the data came from (system, model file, dataset...).
    title : str, optional
        Global ``title`` attribute.

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> import numpy as np
    >>> ds = make_dataset("fixed_points", {
    ...     "fixed_point_state": np.zeros((2, 3)), "fixed_point_input": np.zeros((2, 1)),
    ...     "initial_state": np.zeros((2, 3)), "speed": [0.0, 0.0],
    ...     "initial_speed": [0.0, 0.0], "iterations": [0, 0], "status": [0, 0],
    ...     "is_duplicate": [0, 1], "duplicate_of": [0, 0], "is_outlier": [0, 0]})
    >>> dict(ds.sizes)
    {'fixed_point': 2, 'state': 3, 'input': 1}
    """
    if kind not in KINDS:
        raise SchemaError(
            f"Unknown dataset kind {kind!r}; known kinds: {sorted(KINDS)}. A plug-in analysis "
            "declares its kinds in a SchemaFragment (dynalyze.analyses.register_fragment)."
        )
    data_vars = {
        name: value if isinstance(value, xr.Variable) else make_variable(name, value)
        for name, value in variables.items()
    }
    missing = [name for name in KINDS[kind] if name not in variables]
    if missing:
        raise ValueError(f"A {kind!r} dataset needs variables {missing}.")
    coord_vars = {
        name: value if isinstance(value, xr.Variable) else make_variable(name, value)
        for name, value in (coords or {}).items()
    }
    ds = xr.Dataset(data_vars, coords=coord_vars)
    for dim, size in ds.sizes.items():
        if dim not in ds.coords and dim in VARIABLES:
            ds = ds.assign_coords({dim: make_variable(str(dim), np.arange(size))})
    ds.attrs = {
        "title": title or f"dynalyze {kind.replace('_', ' ')}",
        "dynalyze_kind": kind,
        "dynalyze_version": __version__,
        "dynalyze_schema_version": SCHEMA_VERSION,
        "dynalyze_config": to_json(config if config is not None else {}),
        "dynalyze_provenance": to_json(provenance if provenance is not None else {}),
    }
    version = fragment_version(kind)
    if version is not None:
        ds.attrs["dynalyze_fragment_version"] = version
    return ds


def decode_flags(variable: xr.DataArray) -> xr.DataArray:
    """Map a flag variable's integer codes to their meanings (string array).

    Examples
    --------
    >>> v = xr.DataArray(make_variable("status", [0, 2]))
    >>> decode_flags(v).values.tolist()
    ['converged', 'failed']
    """
    values = np.asarray(variable.attrs["flag_values"])
    meanings = str(variable.attrs["flag_meanings"]).split()
    lookup = dict(zip(values.tolist(), meanings, strict=True))
    labels = np.vectorize(lambda code: lookup.get(int(code), "unknown"), otypes=[object])(
        variable.values
    ).astype(str)
    return variable.copy(data=labels)
