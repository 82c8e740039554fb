"""The one exception hierarchy of dynalyze.

Every error that dynalyze raises on purpose derives from :class:`DynalyzeError`,
so a caller can catch everything dynalyze has to say with one ``except`` clause.
Each concrete class also derives from the closest built-in exception
(``ValueError``, ``TypeError``, ``OSError``), so code that already catches those
keeps working.

Messages follow one rule: say what was expected, what was given, and how to fix
it.

Examples
--------
>>> import dynalyze
>>> try:
...     dynalyze.load("not-a-file.nc")
... except dynalyze.errors.DynalyzeError as err:
...     print(type(err).__name__)
ResultFileError
"""

from __future__ import annotations

__all__ = [
    "AmbiguousModelError",
    "ConfigurationError",
    "CorruptResultError",
    "DataError",
    "DynalyzeError",
    "DynalyzePluginWarning",
    "IllConditionedWarning",
    "InputShapeError",
    "ModelLoadError",
    "NonFiniteError",
    "NotADynalyzeResultError",
    "OutputExistsError",
    "OutputError",
    "ResultFileError",
    "SchemaError",
    "UnsupportedModelError",
    "VocabularyMismatchError",
]


class DynalyzeError(Exception):
    """Base class of every error raised by dynalyze on purpose."""


class ConfigurationError(DynalyzeError, ValueError):
    """An option or configuration value is invalid (e.g. a non-positive tolerance)."""


class InputShapeError(DynalyzeError, ValueError):
    """An array handed to dynalyze has the wrong shape, rank or dtype."""


class NonFiniteError(DynalyzeError, ValueError):
    """An array (states, inputs or model weights) contains NaN or infinity."""


class UnsupportedModelError(DynalyzeError, TypeError):
    """The object given cannot be analysed as a recurrent system."""


class AmbiguousModelError(UnsupportedModelError):
    """A model holds several recurrent layers and none was named."""


class ModelLoadError(DynalyzeError, OSError):
    """A model file could not be loaded (missing, corrupt, or needs unsafe loading)."""


class VocabularyMismatchError(DynalyzeError, ValueError):
    """A vocabulary does not fit the model's embedding."""


class DataError(DynalyzeError, ValueError):
    """A dataset is missing, malformed, empty or not binary."""


class OutputError(DynalyzeError, OSError):
    """An output location cannot be written."""


class OutputExistsError(OutputError, FileExistsError):
    """The output location already holds results and overwriting was not asked for."""


class ResultFileError(DynalyzeError, OSError):
    """A results file cannot be read as a dynalyze result."""


class NotADynalyzeResultError(ResultFileError):
    """The file is readable netCDF but was not written by :func:`dynalyze.save`."""


class CorruptResultError(ResultFileError):
    """The file is truncated or otherwise not readable netCDF."""


class SchemaError(DynalyzeError, ValueError):
    """A dataset does not match the results schema (:func:`dynalyze.validate`).

    The message names the variable and what is wrong with it, or the schema
    version the data was written with and how to re-create it.
    """


class DynalyzePluginWarning(UserWarning):
    """A plugin system could not be loaded, or clashes with another system's name.

    Issued (never raised) while dynalyze discovers the recurrent systems
    registered under the entry-point group ``dynalyze.systems``; dynalyze keeps
    working without the plugin. Turn it into an error in a test suite with
    ``warnings.simplefilter("error", DynalyzePluginWarning)``.
    """


class IllConditionedWarning(UserWarning):
    """An eigendecomposition is (nearly) defective: its eigenvectors are unreliable.

    Issued by :class:`dynalyze.linearization.Linearization` when a leading
    mode's eigenvalue condition number ``||l|| ||r||`` is huge (e.g. a Jordan
    block); the results are still returned, with ``condition_number`` stored.
    """
