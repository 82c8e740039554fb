"""Labelled results: the schema, dataset builders, netCDF persistence and the accessor."""

from dynalyze.results.build import decode_flags, make_dataset, make_variable, state_coords, to_json
from dynalyze.results.io import load, save
from dynalyze.results.schema import DIMENSIONS, KINDS, VARIABLES, VariableSpec
from dynalyze.results.validate import validate

__all__ = [
    "DIMENSIONS",
    "KINDS",
    "VARIABLES",
    "VariableSpec",
    "decode_flags",
    "load",
    "make_dataset",
    "make_variable",
    "save",
    "state_coords",
    "to_json",
    "validate",
]
