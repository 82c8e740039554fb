"""Schema fragments: the part of the results schema that one analysis owns.

The built-in table (:mod:`dynalyze.results.schema`) declares the variables that
dynalyze's own analyses write. A plug-in analysis declares its own kinds of
dataset, variables and dimensions in a :class:`SchemaFragment` and registers it
(:func:`register_fragment`, done for it when the analysis is loaded through the
``dynalyze.analyses`` entry point). Registration is validated: a fragment may
reuse a variable or dimension only with the identical declaration, a kind is
declared once, and every required variable must be declared. Datasets of a
fragment's kind record its version (``dynalyze_fragment_version``) and
:func:`dynalyze.results.validate` checks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from dynalyze.errors import SchemaError
from dynalyze.results import schema
from dynalyze.results.schema import VariableSpec

__all__ = ["SchemaFragment", "fragment_version", "load_plugin_fragments", "register_fragment"]

#: Entry-point group of analysis plug-ins (see dynalyze.analyses.registry).
ANALYSIS_GROUP = "dynalyze.analyses"

_VERSIONS: dict[str, str] = {}
_FRAGMENTS: dict[str, SchemaFragment] = {}


def _frozen_mapping(value: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class SchemaFragment:
    """The kinds, variables and dimensions an analysis writes.

    Parameters
    ----------
    name : str
        The owner (usually the analysis's name).
    version : str
        Bumped whenever a change would change files on disk.
    kinds : mapping of str to tuple of str
        Dataset kind -> the variables every dataset of that kind must hold.
    variables : mapping of str to VariableSpec
        Variables this fragment declares (built-in ones may be named in
        ``kinds`` without redeclaring them).
    dimensions : mapping of str to str
        New dimension names and what they index.

    Examples
    --------
    >>> from dynalyze.results import VariableSpec
    >>> fragment = SchemaFragment(
    ...     name="relaxation", version="1",
    ...     kinds={"relaxation_doc": ("relaxation_rate",)},
    ...     variables={"relaxation_rate": VariableSpec(("fixed_point",), "rate", "1")})
    >>> register_fragment(fragment)
    >>> from dynalyze.results import make_dataset
    >>> ds = make_dataset("relaxation_doc", {"relaxation_rate": [0.5, 0.25]})
    >>> ds.attrs["dynalyze_fragment_version"]
    '1'
    """

    name: str
    version: str
    kinds: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_frozen_mapping)
    variables: Mapping[str, VariableSpec] = attrs.field(
        factory=dict, converter=_frozen_mapping
    )
    dimensions: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)

    def declares(self, variable: str) -> bool:
        """Whether ``variable`` is declared here or in the registered schema."""
        return variable in self.variables or variable in schema.VARIABLES


def register_fragment(fragment: SchemaFragment) -> None:
    """Add a fragment's kinds, variables and dimensions to the schema (idempotent).

    Raises
    ------
    dynalyze.errors.SchemaError
        A clash with a different declaration, an undeclared dimension, or a
        required variable that nothing declares; the schema is left unchanged.

    Examples
    --------
    >>> from dynalyze.results import VariableSpec
    >>> bad = SchemaFragment(name="bad", version="1", kinds={"bad": ("no_such_variable",)})
    >>> register_fragment(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.SchemaError: Schema fragment 'bad': kind 'bad' requires undeclared ...
    """
    if _FRAGMENTS.get(fragment.name) == fragment:
        return
    _check(fragment)
    new_kinds = [kind for kind in fragment.kinds if kind not in schema.KINDS]
    schema._DIMENSIONS.update(fragment.dimensions)
    schema._VARIABLES.update(fragment.variables)
    schema._KINDS.update(fragment.kinds)
    for kind in new_kinds:  # built-in kinds keep the schema's own version
        _VERSIONS[kind] = fragment.version
    _FRAGMENTS[fragment.name] = fragment


def load_plugin_fragments() -> None:
    """Register the fragments of every installed analysis plug-in (for reading its files).

    A plug-in that fails to load is skipped here; :func:`dynalyze.analyses.list_analyses`
    reports it.

    Examples
    --------
    >>> load_plugin_fragments()  # with no plug-in installed: nothing to do
    """
    import importlib.metadata

    for entry in importlib.metadata.entry_points(group=ANALYSIS_GROUP):
        try:
            fragment = getattr(entry.load(), "fragment", None)
            if isinstance(fragment, SchemaFragment):
                register_fragment(fragment)
        except Exception:
            continue


def fragment_version(kind: str) -> str | None:
    """The version of the fragment that declared ``kind`` (None for built-in kinds).

    Examples
    --------
    >>> fragment_version("fixed_points") is None
    True
    """
    return _VERSIONS.get(kind)


def _check(fragment: SchemaFragment) -> None:
    owner = f"Schema fragment {fragment.name!r}"
    for dim, meaning in fragment.dimensions.items():
        if schema.DIMENSIONS.get(dim, meaning) != meaning:
            raise SchemaError(f"{owner} redeclares dimension {dim!r} differently.")
    dims = {**schema.DIMENSIONS, **fragment.dimensions}
    for name, spec in fragment.variables.items():
        if not isinstance(spec, VariableSpec):
            raise SchemaError(f"{owner}: variable {name!r} must be a VariableSpec.")
        if name in schema.VARIABLES and schema.VARIABLES[name] != spec:
            raise SchemaError(
                f"{owner} redeclares variable {name!r} differently from the schema; "
                "give it another name."
            )
        unknown = [d for d in spec.dims if d not in dims]
        if unknown:
            raise SchemaError(f"{owner}: variable {name!r} uses undeclared dimensions {unknown}.")
    for kind, required in fragment.kinds.items():
        existing = schema.KINDS.get(kind)
        if existing is not None and tuple(existing) != tuple(required):
            raise SchemaError(
                f"{owner} declares kind {kind!r}, which is already declared with other "
                "required variables; give the kind another name."
            )
        missing = [name for name in required if not fragment.declares(name)]
        if missing:
            raise SchemaError(f"{owner}: kind {kind!r} requires undeclared variables {missing}.")
