"""netCDF4 persistence: atomic :func:`save` and exact :func:`load`.

Complex variables (eigenvalues, eigenvectors) are stored portably as two float64
variables ``<name>__real`` and ``<name>__imag`` carrying the original
attributes plus ``dynalyze_complex_part``; any netCDF reader can open the file
and :func:`load` reassembles the complex variable exactly.

Files are written to a temporary file in the target folder and renamed into
place, so an interrupted write never leaves a partial file at the target path
and never damages an older file there.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dynalyze._atomic import atomic_path
from dynalyze.errors import (
    ConfigurationError,
    CorruptResultError,
    NotADynalyzeResultError,
    OutputError,
    OutputExistsError,
    ResultFileError,
    SchemaError,
)
from dynalyze.results.validate import validate

__all__ = ["load", "save"]

logger = logging.getLogger(__name__)

#: Global attribute marking a file written by :func:`save` (removed by :func:`load`).
FILE_MARKER = "dynalyze_file_format"
FILE_FORMAT_VERSION = "1"
_PART_ATTR = "dynalyze_complex_part"
_PARTS = {"real": "__real", "imag": "__imag"}


def _encode_complex(ds: xr.Dataset) -> xr.Dataset:
    out = ds.copy()
    for name in list(ds.variables):
        var = ds.variables[name]
        if not np.iscomplexobj(var.values):
            continue
        if name in ds.dims:
            raise ConfigurationError(
                f"Cannot save complex dimension coordinate {name!r}; use real-valued "
                "index coordinates."
            )
        is_coord = name in ds.coords
        out = out.drop_vars([name])
        for part, suffix in _PARTS.items():
            new = f"{name}{suffix}"
            if new in ds.variables:
                raise ConfigurationError(
                    f"Cannot split complex variable {name!r}: {new!r} already exists."
                )
            values = getattr(var, part).values.astype(np.float64)
            attrs = {**var.attrs, _PART_ATTR: part}
            split = xr.Variable(var.dims, values, attrs=attrs)
            out = out.assign_coords({new: split}) if is_coord else out.assign({new: split})
    return out


def _decode_complex(ds: xr.Dataset) -> xr.Dataset:
    parts: dict[str, dict[str, xr.Variable]] = {}
    for name in ds.variables:
        part = ds.variables[name].attrs.get(_PART_ATTR)
        if part in _PARTS and str(name).endswith(_PARTS[part]):
            base = str(name)[: -len(_PARTS[part])]
            parts.setdefault(base, {})[part] = ds.variables[name]
    out = ds
    for base, pair in parts.items():
        if set(pair) != {"real", "imag"}:
            raise CorruptResultError(
                f"Complex variable {base!r} is missing its "
                f"{'imaginary' if 'real' in pair else 'real'} part in the file."
            )
        real, imag = pair["real"], pair["imag"]
        attrs = {k: v for k, v in real.attrs.items() if k != _PART_ATTR}
        var = xr.Variable(real.dims, real.values + 1j * imag.values, attrs=attrs)
        is_coord = f"{base}__real" in ds.coords
        out = out.drop_vars([f"{base}__real", f"{base}__imag"])
        out = out.assign_coords({base: var}) if is_coord else out.assign({base: var})
    return out


def _restore_strings(ds: xr.Dataset) -> xr.Dataset:
    """netCDF returns variable-length strings as object arrays; give back ``str`` arrays."""
    updates_data: dict[str, Any] = {}
    updates_coords: dict[str, Any] = {}
    for name, var in ds.variables.items():
        if var.dtype == object and all(isinstance(v, str) for v in var.values.ravel()):
            new = var.copy(data=var.values.astype(str))
            (updates_coords if name in ds.coords else updates_data)[str(name)] = new
    if updates_coords:
        ds = ds.assign_coords(updates_coords)
    if updates_data:
        ds = ds.assign(updates_data)
    return ds


def _check_attrs(ds: xr.Dataset) -> None:
    allowed = (str, int, float, np.integer, np.floating, np.ndarray, list, tuple)
    places: list[tuple[str, dict[Any, Any]]] = [("the dataset", ds.attrs)]
    places += [(f"variable {name!r}", var.attrs) for name, var in ds.variables.items()]
    for where, attrs in places:
        for key, value in attrs.items():
            if isinstance(value, bool) or not isinstance(value, allowed):
                raise ConfigurationError(
                    f"Attribute {key!r} of {where} is a {type(value).__name__}; netCDF "
                    "attributes must be strings, numbers or arrays of numbers. Store "
                    "mappings as JSON strings (dynalyze.results.build.to_json)."
                )


def save(ds: xr.Dataset, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Write a results dataset to netCDF4, atomically.

    The data go to a temporary file beside ``path`` that is renamed into place
    once complete: an interrupted write leaves no partial file at ``path`` and
    leaves any older file there untouched.

    Parameters
    ----------
    ds : xarray.Dataset
        The results (any dataset; complex variables are supported).
    path : path-like
        Target file, conventionally ``*.nc``. Its folder must exist.
    overwrite : bool
        Replace an existing file (default). With ``False`` an existing file
        raises :class:`dynalyze.errors.OutputExistsError`.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import xarray as xr, dynalyze, tempfile, os
    >>> ds = xr.Dataset({"a": ("x", [1.0 + 2.0j])})
    >>> path = os.path.join(tempfile.mkdtemp(), "a.nc")
    >>> _ = dynalyze.save(ds, path)
    >>> dynalyze.load(path).identical(ds)
    True
    """
    if not isinstance(ds, xr.Dataset):
        raise ConfigurationError(
            f"dynalyze.save expects an xarray.Dataset; got {type(ds).__name__}. "
            "Convert a DataArray with .to_dataset(name=...)."
        )
    target = Path(path)
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target} exists; pass overwrite=True to replace it.")
    if target.is_dir():
        raise OutputError(
            f"{target} is a folder; give a file path such as {target / 'results.nc'}."
        )
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"Folder {folder} does not exist; create it before saving to {target}.")
    _check_attrs(ds)
    encoded = _encode_complex(ds)
    encoded.attrs = {**ds.attrs, FILE_MARKER: FILE_FORMAT_VERSION}
    try:
        with atomic_path(target) as tmp:
            encoded.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
    except PermissionError as exc:
        raise OutputError(f"Cannot write to folder {folder}: {exc.strerror or exc}.") from None
    except OSError as exc:
        raise OutputError(f"Could not write {target}: {exc}") from exc
    logger.info("Saved %s", target)
    return target


def load(path: str | os.PathLike[str]) -> xr.Dataset:
    """Read a file written by :func:`save`, exactly as it was saved.

    The data are read into memory and the file is closed.

    Parameters
    ----------
    path : path-like
        A netCDF file written by :func:`dynalyze.save`.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    dynalyze.errors.ResultFileError
        The file does not exist.
    dynalyze.errors.CorruptResultError
        The file is truncated or not netCDF.
    dynalyze.errors.NotADynalyzeResultError
        The file is netCDF but was not written by :func:`dynalyze.save`.
    dynalyze.errors.SchemaError
        A dynalyze results file (it names its kind) written with another schema
        version, or whose variables do not match the schema (see
        :func:`dynalyze.validate`).

    Examples
    --------
    >>> import dynalyze
    >>> dynalyze.load("missing.nc")
    Traceback (most recent call last):
    ...
    dynalyze.errors.ResultFileError: No results file at missing.nc; ...
    """
    source = Path(path)
    if not source.is_file():
        raise ResultFileError(
            f"No results file at {source}; check the path (results are written by "
            "dynalyze.save or `dynalyze run`)."
        )
    try:
        with xr.open_dataset(source, engine="netcdf4", decode_timedelta=False) as raw:
            ds = raw.load()
    except (OSError, ValueError, RuntimeError, KeyError, IndexError) as exc:
        raise CorruptResultError(
            f"{source} is not a readable netCDF file (truncated or corrupt?): {exc}. "
            "Re-create it with dynalyze.save or `dynalyze run`."
        ) from None
    if ds.attrs.get(FILE_MARKER) is None:
        raise NotADynalyzeResultError(
            f"{source} is a netCDF file but was not written by dynalyze.save (no "
            f"{FILE_MARKER!r} attribute). Open it with xarray.open_dataset instead."
        )
    ds.attrs = {k: v for k, v in ds.attrs.items() if k != FILE_MARKER}
    ds = _decode_complex(ds)
    ds = _restore_strings(ds)
    for var in ds.variables.values():
        var.encoding = {}
    if "dynalyze_kind" in ds.attrs or "dynalyze_schema_version" in ds.attrs:
        try:
            validate(ds)
        except SchemaError as exc:
            raise SchemaError(f"{source}: {exc}") from None
    return ds
