"""The ``.dynalyze`` accessor on :class:`xarray.Dataset`: a thin façade.

Importing :mod:`dynalyze` registers it.

Examples
--------
>>> import numpy as np, dynalyze
>>> from dynalyze.systems import SimpleRNNSystem
>>> system = SimpleRNNSystem(np.zeros((1, 1)), np.array([[0.5]]), np.zeros(1),
...                          activation="linear")
>>> fps = dynalyze.find_fixed_points(system, np.ones((2, 1)))
>>> fps.dynalyze.kind
'fixed_points'
>>> fps.dynalyze.labels("status").values.tolist()
['converged', 'converged']
>>> int(fps.dynalyze.unique().sizes["fixed_point"])
1
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import xarray as xr

from dynalyze.results.build import decode_flags
from dynalyze.results.io import save

__all__ = ["DynalyzeAccessor"]


# xarray's decorator is untyped; it returns the class unchanged.
@xr.register_dataset_accessor("dynalyze")  # type: ignore[no-untyped-call]
class DynalyzeAccessor:
    """Convenience methods on dynalyze results (``ds.dynalyze.<method>``).

    Examples
    --------
    >>> import numpy as np, dynalyze
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), 0.5 * np.eye(2))
    >>> fps = dynalyze.find_fixed_points(system, np.ones((4, 2)))
    >>> fps.dynalyze.kind, fps.dynalyze.unique().sizes["fixed_point"]
    ('fixed_points', 1)
    """

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    @property
    def kind(self) -> str | None:
        """The dataset kind (``"fixed_points"``, ``"linearization"``...) or None."""
        value = self._ds.attrs.get("dynalyze_kind")
        return None if value is None else str(value)

    @property
    def config(self) -> dict[str, Any]:
        """The configuration that produced the dataset, parsed from JSON."""
        return dict(json.loads(self._ds.attrs.get("dynalyze_config", "{}")))

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the data came from, parsed from JSON."""
        return dict(json.loads(self._ds.attrs.get("dynalyze_provenance", "{}")))

    def labels(self, name: str) -> xr.DataArray:
        """A flag variable's codes replaced by their meanings."""
        return decode_flags(self._ds[name])

    def unique(self, *, include_slow: bool = False) -> xr.Dataset:
        """Unique converged fixed points (see :func:`dynalyze.unique_fixed_points`)."""
        from dynalyze.fixedpoints.selection import unique_fixed_points

        return unique_fixed_points(self._ds, include_slow=include_slow)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Write the dataset atomically (see :func:`dynalyze.save`)."""
        return save(self._ds, path, overwrite=overwrite)
