"""The grid of a sweep: architectures x datasets x seeds x hyperparameters, as jobs.

Every job is one whole ``dynalyze run`` (train and analyse) with a stable key,
so the same grid always names the same folders and a second invocation can
tell which jobs are finished.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from dynalyze.errors import ConfigurationError

__all__ = ["HYPERPARAMETERS", "Job", "SweepGrid", "parse_list"]

#: Hyperparameters a sweep may vary, with their types (``RunConfig`` fields).
HYPERPARAMETERS: Mapping[str, type] = {
    "units": int,
    "embedding_dim": int,
    "epochs": int,
    "max_len": int,
    "max_train": int,
    "batch_size": int,
    "n_initial": int,
    "n_analysis": int,
    "learning_rate": float,
    "window": int,
}

#: Hyperparameters whose 0 means something (``window=0``: whole documents).
_ZERO_ALLOWED = frozenset({"window"})

_ARCHITECTURES = ("gru", "lstm", "simple", "ugrnn")


def parse_list(value: str, kind: type = str) -> tuple[Any, ...]:
    """Parse a comma list (``"gru,lstm"``, ``"0,1,2"``) into a tuple of ``kind``.

    Examples
    --------
    >>> parse_list("gru, lstm"), parse_list("0,1", int)
    (('gru', 'lstm'), (0, 1))
    """
    items = [item.strip() for item in str(value).split(",")]
    if not items or any(not item for item in items):
        raise ConfigurationError(
            f"Expected a comma-separated list without empty items, e.g. 'gru,lstm'; got {value!r}."
        )
    try:
        out = tuple(kind(item) for item in items)
    except ValueError:
        raise ConfigurationError(
            f"Expected a comma-separated list of {kind.__name__} values; got {value!r}."
        ) from None
    if len(set(out)) != len(out):
        raise ConfigurationError(f"The list {value!r} repeats a value; give each value once.")
    return out


def _tuple_of(kind: type) -> Any:
    def convert(values: Any) -> tuple[Any, ...]:
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            values = (values,)
        return tuple(kind(v) for v in values)

    return convert


def _str_tuple(values: Any) -> tuple[str, ...]:
    return tuple(_tuple_of(str)(values))


def _int_tuple(values: Any) -> tuple[int, ...]:
    return tuple(_tuple_of(int)(values))


def _non_empty(_instance: Any, attribute: Any, value: tuple[Any, ...]) -> None:
    if not value:
        raise ConfigurationError(f"The sweep needs at least one {attribute.name[:-1]}.")
    if len(set(value)) != len(value):
        raise ConfigurationError(f"{attribute.name} repeats a value: {value}.")


def _architectures(_instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    _non_empty(_instance, attribute, value)
    from dynalyze.keras.architectures import ARCHITECTURES

    unknown = [arch for arch in value if arch not in ARCHITECTURES]
    if unknown:
        raise ConfigurationError(
            f"Unknown architecture(s) {unknown}; expected a comma list of "
            f"{sorted(ARCHITECTURES)}, e.g. --arch gru,lstm."
        )


def _datasets(_instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    _non_empty(_instance, attribute, value)
    from dynalyze.sentiment.datasets import DATASET_NAMES

    known = {name for name in DATASET_NAMES if ":" not in name}
    unknown = [name for name in value if name not in known and not name.startswith("csv:")]
    if unknown:
        raise ConfigurationError(
            f"Unknown dataset(s) {unknown}; expected a comma list of {sorted(known)} or "
            "csv:PATH, e.g. --dataset rotten_tomatoes,synthetic."
        )


def _absolute_csv(values: Any) -> tuple[str, ...]:
    """Datasets, with ``csv:PATH`` made absolute (workers may run in another folder)."""
    out = []
    for name in _str_tuple(values):
        if name.startswith("csv:") and name[4:].strip():
            name = "csv:" + str(Path(name[4:]).expanduser().resolve())
        out.append(name)
    return tuple(out)


def _hyper(value: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    for name, values in dict(value).items():
        if name not in HYPERPARAMETERS:
            raise ConfigurationError(
                f"Unknown hyperparameter {name!r}; a sweep can vary {sorted(HYPERPARAMETERS)}."
            )
        items = _tuple_of(HYPERPARAMETERS[name])(values)
        if not items or len(set(items)) != len(items):
            raise ConfigurationError(f"{name} needs distinct values; got {items}.")
        if any(v < 0 for v in items) or (name not in _ZERO_ALLOWED and 0 in items):
            kind = "at least 0" if name in _ZERO_ALLOWED else "positive"
            raise ConfigurationError(f"{name} values must be {kind}; got {items}.")
        out[name] = items
    return out


@attrs.frozen(kw_only=True)
class Job:
    """One ``dynalyze run`` of a sweep.

    Parameters
    ----------
    architecture, dataset : str
        What to train on what.
    seed : int
        Seed of the split, the initialisation and the analysis.
    settings : dict
        Hyperparameters set for this job (``RunConfig`` fields).

    Examples
    --------
    >>> job = Job(architecture="gru", dataset="synthetic", seed=1, settings={"units": 8})
    >>> job.key  # doctest: +ELLIPSIS
    'gru-synthetic-seed1-units8-...'
    """

    architecture: str
    dataset: str
    seed: int
    settings: dict[str, Any] = attrs.field(factory=dict)

    @property
    def key(self) -> str:
        """Stable name: readable part plus a hash of everything that affects the results."""
        readable = [self.architecture, self.dataset.replace(":", "_").replace("/", "_")]
        readable.append(f"seed{self.seed}")
        readable += [f"{k.replace('_', '')}{v}" for k, v in sorted(self.settings.items())]
        spec = json.dumps(
            {
                "arch": self.architecture,
                "dataset": self.dataset,
                "seed": self.seed,
                **self.settings,
            },
            sort_keys=True,
        )
        digest = hashlib.sha1(spec.encode()).hexdigest()[:8]
        return "-".join([*readable, digest])

    def folder(self, out: str | Path) -> Path:
        """The job's run folder under the sweep's output folder."""
        return Path(out) / "jobs" / self.key


@attrs.frozen(kw_only=True)
class SweepGrid:
    """Architectures x datasets x seeds, optionally x hyperparameter values.

    A hyperparameter with one value is a fixed setting of every job; one with
    several values becomes a dimension of ``sweep.nc``.

    Parameters
    ----------
    architectures : sequence of str
        ``gru``, ``lstm``, ``simple``, ``ugrnn`` (or a registered architecture).
    datasets : sequence of str
        ``imdb``, ``rotten_tomatoes``, ``synthetic`` or ``csv:PATH``.
    seeds : sequence of int
        Seeds (each a whole independent run).
    hyperparameters : mapping of str to sequence
        Values of :data:`HYPERPARAMETERS` to set or vary.

    Examples
    --------
    >>> grid = SweepGrid(architectures=["gru", "lstm"], datasets=["synthetic"], seeds=[0, 1],
    ...                  hyperparameters={"units": [8, 16], "epochs": 1})
    >>> len(grid.jobs()), grid.dimensions
    (8, ('architecture', 'dataset', 'seed', 'units'))
    """

    architectures: tuple[str, ...] = attrs.field(converter=_str_tuple, validator=_architectures)
    datasets: tuple[str, ...] = attrs.field(converter=_absolute_csv, validator=_datasets)
    seeds: tuple[int, ...] = attrs.field(converter=_int_tuple, validator=_non_empty)
    hyperparameters: dict[str, tuple[Any, ...]] = attrs.field(factory=dict, converter=_hyper)

    @property
    def varied(self) -> tuple[str, ...]:
        """Hyperparameters with more than one value (extra dimensions)."""
        return tuple(k for k, v in self.hyperparameters.items() if len(v) > 1)

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Dimensions of ``sweep.nc``."""
        return ("architecture", "dataset", "seed", *self.varied)

    def coords(self) -> dict[str, tuple[Any, ...]]:
        """Values along each dimension."""
        return {
            "architecture": self.architectures,
            "dataset": self.datasets,
            "seed": self.seeds,
            **{k: self.hyperparameters[k] for k in self.varied},
        }

    def jobs(self) -> list[Job]:
        """Every job of the grid, in a fixed order."""
        names = list(self.hyperparameters)
        out = []
        for arch, dataset, seed in itertools.product(self.architectures, self.datasets, self.seeds):
            for values in itertools.product(*(self.hyperparameters[k] for k in names)):
                out.append(
                    Job(
                        architecture=arch,
                        dataset=dataset,
                        seed=seed,
                        settings=dict(zip(names, values, strict=True)),
                    )
                )
        return out
