"""What an analysis is: a plug-in that owns its configuration, results, summary and report.

``dynalyze run`` trains a classifier and then runs, in order, every registered
:class:`Analysis` whose :meth:`Analysis.applies_to` accepts it (the generic loop
in :mod:`dynalyze.sentiment.pipeline`). An analysis

- computes from a :class:`~dynalyze.analyses.RunContext` (the classifier, the
  data split, shared evidence such as the bag-of-words baseline, and the outputs
  of the analyses it ``requires``) in its one verb, :meth:`Analysis.fit`;
- returns an :class:`AnalysisOutput`: the labelled datasets it writes under
  ``results/`` (each of a kind declared by its :class:`~dynalyze.results.SchemaFragment`)
  and a typed :class:`Summary`;
- draws its figures (:meth:`Analysis.figures`) and renders its report
  section (:meth:`Analysis.report`, a :class:`ReportSection`).

Third-party analyses register a subclass under the entry-point group
``dynalyze.analyses`` (see :mod:`dynalyze.analyses.registry` and
``tutorials/add_your_own_analysis.py``); :func:`dynalyze.testing.check_analysis`
checks one.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs
import numpy as np
import xarray as xr

from dynalyze.errors import SchemaError

if TYPE_CHECKING:
    from dynalyze.analyses.context import RunContext
    from dynalyze.results.fragments import SchemaFragment

__all__ = ["Analysis", "AnalysisOutput", "ReportSection", "Summary", "summary_of"]

S = TypeVar("S", bound="type[Summary]")


@attrs.frozen(kw_only=True)
class Summary:
    """Base class of an analysis's typed headline numbers (an attrs class).

    Subclasses declare their fields with types; a field read from a results
    variable of the same name is checked against the schema when the class is
    defined (:func:`summary_of`), so renaming a variable breaks the summary at
    import time instead of silently filling ``None``.

    Examples
    --------
    >>> import attrs
    >>> @attrs.frozen(kw_only=True)
    ... class Speed(Summary):
    ...     n_candidates: int | None = None
    >>> Speed(n_candidates=3).to_dict()
    {'n_candidates': 3}
    """

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready values (``run.json``'s ``summary``)."""
        return {key: _plain(value) for key, value in attrs.asdict(self, recurse=False).items()}

    @classmethod
    def metrics(cls) -> dict[str, str]:
        """Numeric fields with a description: the sweep's metrics (name -> long name)."""
        out: dict[str, str] = {}
        for field in attrs.fields(cls):
            described = field.metadata.get("long_name")
            if described:
                out[field.name] = str(described)
        return out

    @classmethod
    def texts(cls) -> dict[str, str]:
        """Text fields with a description (the sweep's text variables)."""
        return {
            field.name: str(field.metadata["text"])
            for field in attrs.fields(cls)
            if field.metadata.get("text")
        }


def summary_of(
    *variable_fields: str,
    renamed: Mapping[str, str] | None = None,
    fragment: SchemaFragment | None = None,
) -> Any:
    """Class decorator: the named fields are results variables; check that they exist.

    Parameters
    ----------
    *variable_fields : str
        Fields of the summary read from a results variable of the same name.
    renamed : mapping of str to str, optional
        Fields read from a variable of another name (field -> variable).
    fragment : SchemaFragment, optional
        Where the variables are declared (default: the whole registered schema).

    Raises
    ------
    dynalyze.errors.SchemaError
        A field is not an attribute of the class, or no registered schema
        declares a variable of its name (raised when the module defining the
        summary is imported).

    Examples
    --------
    >>> import attrs
    >>> @summary_of("slow_fraction")
    ... @attrs.frozen(kw_only=True)
    ... class Slow(Summary):
    ...     slow_fraction: float | None = None
    >>> @summary_of("slow_fractoin")  # doctest: +ELLIPSIS
    ... @attrs.frozen(kw_only=True)
    ... class Typo(Summary):
    ...     slow_fractoin: float | None = None
    Traceback (most recent call last):
    ...
    dynalyze.errors.SchemaError: Typo reads ['slow_fractoin'], which no registered schema ...
    """
    from dynalyze.results.schema import VARIABLES

    def decorate(cls: S) -> S:
        names = {field.name for field in attrs.fields(cls)}
        read = {**{name: name for name in variable_fields}, **(renamed or {})}
        not_fields = [name for name in read if name not in names]
        missing = [
            variable
            for variable in read.values()
            if not (fragment.declares(variable) if fragment is not None else variable in VARIABLES)
        ]
        if not_fields:
            raise SchemaError(f"{cls.__name__} has no field(s) {not_fields}.")
        if missing:
            raise SchemaError(
                f"{cls.__name__} reads {missing}, which no registered schema declares; "
                "declare the variable in the analysis's SchemaFragment or rename the field."
            )
        cls.__variable_fields__ = read  # type: ignore[attr-defined]
        return cls

    return decorate


def read_variables(ds: xr.Dataset, names: Sequence[str]) -> dict[str, Any]:
    """The scalars ``names`` of ``ds`` as Python numbers (NaN and absent -> None).

    Examples
    --------
    >>> ds = xr.Dataset({"a": 1.5, "b": float("nan")})
    >>> read_variables(ds, ["a", "b", "c"])
    {'a': 1.5, 'b': None, 'c': None}
    """
    out: dict[str, Any] = {}
    for name in names:
        if name not in ds:
            out[name] = None
            continue
        item = ds[name].values.item()
        out[name] = None if isinstance(item, float) and math.isnan(item) else item
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@attrs.frozen(kw_only=True)
class ReportSection:
    """An analysis's part of ``report.md``.

    Parameters
    ----------
    lines : sequence of str
        Markdown of the section (headings included).
    headline : str, optional
        A verdict for the top of the report (the first analysis's is used).
    lead : str, optional
        One sentence under the headline (counts, accuracy).
    accuracy_rows : sequence of (str, str, str)
        Extra rows of the accuracy table: model, ours, paper.
    captions : mapping of str to str
        Caption of each of the analysis's figures, by figure name.
    glossary : sequence of str
        Bullets for "How to read this report".
    files : sequence of str
        Bullets for "Files" (what the analysis wrote).

    Examples
    --------
    >>> section = ReportSection(lines=["## Speed", "", "Fast.", ""], headline="**Fast.**")
    >>> section.lines[0], section.captions
    ('## Speed', {})
    """

    lines: Sequence[str] = ()
    headline: str | None = None
    lead: str | None = None
    accuracy_rows: Sequence[tuple[str, str, str]] = ()
    captions: Mapping[str, str] = attrs.field(factory=dict)
    glossary: Sequence[str] = ()
    files: Sequence[str] = ()


@attrs.frozen(kw_only=True)
class AnalysisOutput:
    """What :meth:`Analysis.fit` returns.

    Parameters
    ----------
    datasets : mapping of str to xarray.Dataset
        Labelled results by file stem (written to ``results/<stem>.nc``).
    summary : Summary
        The typed headline numbers.
    timings : mapping of str to float
        Seconds per stage of the analysis.
    state : mapping
        In-memory objects for the figures and the analyses that require this one
        (not saved).
    config : mapping
        The configuration that ran (``run.json``'s ``analyses``).

    Examples
    --------
    >>> import xarray as xr
    >>> output = AnalysisOutput(datasets={"speed": xr.Dataset()}, summary=Summary())
    >>> list(output.datasets), output.summary.to_dict()
    (['speed'], {})
    """

    datasets: Mapping[str, xr.Dataset]
    summary: Summary
    timings: Mapping[str, float] = attrs.field(factory=dict)
    state: Mapping[str, Any] = attrs.field(factory=dict)
    config: Mapping[str, Any] = attrs.field(factory=dict)


class Analysis(abc.ABC):
    """An analysis of a trained recurrent classifier, run by ``dynalyze run``.

    Subclasses set :attr:`name` (the entry-point name), :attr:`title`, the
    :attr:`fragment` of the results schema they write, optionally
    :attr:`requires` (names of analyses whose outputs they read from
    ``context.outputs``), and implement :meth:`applies_to`, :meth:`fit` and
    :meth:`report`; :meth:`figures` is optional.

    Examples
    --------
    See ``tutorials/add_your_own_analysis.py``; the built-in analyses are
    :class:`dynalyze.analyses.line_attractor.LineAttractorAnalysis`,
    :class:`dynalyze.analyses.simplex.SimplexAnalysis` and
    :class:`dynalyze.analyses.modifiers.ModifierWordsAnalysis`:

    >>> from dynalyze.analyses import list_analyses
    >>> list(list_analyses())[:3]
    ['line_attractor', 'modifier_words', 'simplex_attractor']
    """

    #: Entry-point name; also the key of this analysis's output in ``context.outputs``.
    name: ClassVar[str]
    #: Human-readable title (a stage name in the timings).
    title: ClassVar[str]
    #: Analyses that must run first (their outputs are in ``context.outputs``).
    requires: ClassVar[tuple[str, ...]] = ()
    #: The schema fragment declaring every kind of dataset this analysis writes.
    fragment: ClassVar[SchemaFragment | None] = None
    #: The typed summary class (its metrics become the sweep's variables).
    summary_type: ClassVar[type[Summary] | None] = None

    @abc.abstractmethod
    def applies_to(self, classifier: Any) -> bool:
        """Whether this analysis runs on ``classifier`` (e.g. binary vs N-class)."""

    @abc.abstractmethod
    def fit(self, context: RunContext) -> AnalysisOutput | None:
        """Run the analysis; ``None`` when the data give it nothing to do (logged)."""

    @abc.abstractmethod
    def report(self, output: AnalysisOutput, context: RunContext) -> ReportSection:
        """The analysis's report section, every sentence generated from ``output``."""

    def figures(self, output: AnalysisOutput, folder: Path) -> dict[str, Path]:
        """Save the analysis's figures under ``folder``; name -> path (default: none)."""
        return {}

