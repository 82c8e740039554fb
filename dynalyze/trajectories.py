"""Streams of hidden-state trajectories, so analyses never need every state at once.

An analysis of a whole test split would hold ``documents x tokens x units``
states (hundreds of MB to GB) if it kept them all. A :class:`TrajectorySource`
instead hands out batches, as many times as an analysis needs to pass over the
data: :class:`dynalyze.classifier.ModelTrajectories` recomputes each batch with
the network's own vectorized forward pass, :class:`DatasetTrajectories` slices an in-memory
``trajectories`` dataset. Memory is then bounded by one batch plus what the
results themselves need.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np
import xarray as xr
from numpy.typing import NDArray

from dynalyze._validation import positive_int
from dynalyze.errors import DataError

__all__ = [
    "DatasetTrajectories",
    "TrajectoryBatch",
    "TrajectorySource",
    "as_source",
]


@attrs.frozen
class TrajectoryBatch:
    """Hidden states of a batch of documents.

    Parameters
    ----------
    index : ndarray of int64, shape (b,)
        Positions of the documents in the source (0 .. n_examples - 1).
    states : ndarray of float32, shape (b, T_b, state_dim)
        State after each token; undefined where ``valid`` is false.
    valid : ndarray of bool, shape (b, T_b)
        True at real tokens.
    token_id : ndarray of int32, shape (b, T_b)
        Token ids (0 at padding).

    Examples
    --------
    >>> from dynalyze.testing.toys import exact_integrator
    >>> _, traj = exact_integrator()
    >>> batch = next(as_source(traj).batches())
    >>> isinstance(batch, TrajectoryBatch), batch.states.shape[2], batch.valid.dtype.name
    (True, 2, 'bool')
    """

    index: NDArray[np.int64]
    states: NDArray[np.float32]
    valid: NDArray[np.bool_]
    token_id: NDArray[np.int32]


class TrajectorySource(abc.ABC):
    """Re-iterable batches of hidden-state trajectories of ``n_examples`` documents.

    Attributes
    ----------
    token_ids : ndarray of int32, shape (n_examples, max_time)
        Token ids padded with 0 (small: kept in memory).
    labels : ndarray or None
        True labels, if known.
    example_index : ndarray of int64
        Coordinate values of the documents (e.g. positions in their split).
    state_dim : int
        Length of the flat state.
    provenance : dict
        Where the documents and states came from.

    Examples
    --------
    >>> from dynalyze.testing.toys import exact_integrator
    >>> _, traj = exact_integrator(n_documents=10)
    >>> source = as_source(traj)
    >>> isinstance(source, TrajectorySource), source.n_examples, source.state_dim
    (True, 10, 2)
    """

    token_ids: NDArray[np.int32]
    labels: NDArray[Any] | None
    example_index: NDArray[np.int64]
    state_dim: int
    provenance: dict[str, Any]

    @property
    def n_examples(self) -> int:
        """Number of documents."""
        return int(self.token_ids.shape[0])

    @property
    def max_time(self) -> int:
        """Number of token positions (columns of ``token_ids``)."""
        return int(self.token_ids.shape[1])

    @abc.abstractmethod
    def batches(self) -> Iterator[TrajectoryBatch]:
        """Iterate over the documents in batches (each call starts a new pass)."""


class DatasetTrajectories(TrajectorySource):
    """Batches sliced from an in-memory ``trajectories`` dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        From :meth:`dynalyze.classifier.RecurrentClassifier.trajectories`.
    batch_size : int
        Documents per batch.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({
    ...     "hidden_state": (("example", "time", "state"), np.zeros((3, 2, 4), np.float32)),
    ...     "valid": (("example", "time"), np.ones((3, 2), np.int8)),
    ...     "token_id": (("example", "time"), np.full((3, 2), 2, np.int32))})
    >>> [b.index.tolist() for b in DatasetTrajectories(ds, batch_size=2).batches()]
    [[0, 1], [2]]
    """

    def __init__(self, ds: xr.Dataset, *, batch_size: int = 256) -> None:
        missing = [v for v in ("hidden_state", "valid", "token_id") if v not in ds]
        if missing:
            raise DataError(
                f"A trajectories dataset needs {missing}; build it with "
                "RecurrentClassifier.trajectories(ids, labels=...)."
            )
        positive_int("batch_size", batch_size)
        self._ds = ds
        self._batch_size = batch_size
        self.token_ids = np.asarray(ds["token_id"].values, dtype=np.int32)
        self.labels = ds["label"].values if "label" in ds else None
        self.example_index = (
            np.asarray(ds["example"].values, dtype=np.int64)
            if "example" in ds.coords
            else np.arange(ds.sizes["example"], dtype=np.int64)
        )
        self.state_dim = int(ds.sizes["state"])
        self.provenance = dict(ds.dynalyze.provenance) if "dynalyze_provenance" in ds.attrs else {}

    def batches(self) -> Iterator[TrajectoryBatch]:
        hidden = self._ds["hidden_state"].values
        valid = self._ds["valid"].values.astype(bool)
        for start in range(0, self.n_examples, self._batch_size):
            part = slice(start, start + self._batch_size)
            yield TrajectoryBatch(
                np.arange(start, min(start + self._batch_size, self.n_examples)),
                np.asarray(hidden[part], dtype=np.float32),
                valid[part],
                self.token_ids[part],
            )


def as_source(obj: xr.Dataset | TrajectorySource) -> TrajectorySource:
    """A :class:`TrajectorySource` for a trajectories dataset or an existing source.

    Examples
    --------
    >>> from dynalyze.testing.toys import exact_integrator
    >>> _, traj = exact_integrator(n_documents=10)
    >>> source = as_source(traj)
    >>> type(source).__name__, as_source(source) is source
    ('DatasetTrajectories', True)
    """
    if isinstance(obj, TrajectorySource):
        return obj
    if isinstance(obj, xr.Dataset):
        return DatasetTrajectories(obj)
    raise DataError(
        f"Expected a trajectories dataset or a TrajectorySource; got {type(obj).__name__}. "
        "Use RecurrentClassifier.trajectories(ids) or RecurrentClassifier.stream(ids)."
    )
