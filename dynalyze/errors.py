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
    """Base class of every error raised by dynalyze on purpose.

    Examples
    --------
    >>> import dynalyze
    >>> all(issubclass(getattr(dynalyze.errors, name), DynalyzeError)
    ...     for name in dynalyze.errors.__all__ if name.endswith("Error"))
    True
    >>> issubclass(IllConditionedWarning, DynalyzeError)  # warnings are not errors
    False
    """


class ConfigurationError(DynalyzeError, ValueError):
    """An option or configuration value is invalid (e.g. a non-positive tolerance).

    Examples
    --------
    >>> import dynalyze
    >>> dynalyze.LevenbergMarquardtFinder(max_iter=0)
    Traceback (most recent call last):
    ...
    dynalyze.errors.ConfigurationError: max_iter must be an integer >= 1; got 0.
    """


class InputShapeError(DynalyzeError, ValueError):
    """An array handed to dynalyze has the wrong shape, rank or dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.zeros((1, 2)), 0.5 * np.eye(2), np.zeros(2))
    >>> system.step(np.zeros((1, 3)), np.zeros((1, 1)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.InputShapeError: states must have shape (n, 2); got shape (1, 3). ...
    """


class NonFiniteError(DynalyzeError, ValueError):
    """An array (states, inputs or model weights) contains NaN or infinity.

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> weights = np.full((2, 2), np.nan)
    >>> SimpleRNNSystem(np.zeros((1, 2)), weights, np.zeros(2))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.NonFiniteError: weight recurrent_kernel contains 4 NaN or infinite value(s); ...
    """


class UnsupportedModelError(DynalyzeError, TypeError):
    """The object given cannot be analysed as a recurrent system.

    Examples
    --------
    >>> import dynalyze
    >>> dynalyze.wrap("my_model.keras")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.UnsupportedModelError: Expected a Keras recurrent layer ...
    >>> issubclass(UnsupportedModelError, TypeError)
    True
    """


class AmbiguousModelError(UnsupportedModelError):
    """A model holds several recurrent layers and none was named.

    Raised by :func:`dynalyze.wrap` (pass ``layer=`` to choose one); it is an
    :class:`UnsupportedModelError`, so code catching that one catches it too.

    Examples
    --------
    >>> issubclass(AmbiguousModelError, UnsupportedModelError)
    True
    >>> issubclass(AmbiguousModelError, (DynalyzeError, TypeError))
    True
    """


class ModelLoadError(DynalyzeError, OSError):
    """A model file could not be loaded (missing, corrupt, or needs unsafe loading).

    Raised by :func:`dynalyze.keras.load_model` and
    :meth:`dynalyze.RecurrentClassifier.load`; as an ``OSError`` it is caught by
    code that already handles unreadable files.

    Examples
    --------
    >>> issubclass(ModelLoadError, (DynalyzeError, OSError))
    True
    >>> issubclass(ModelLoadError, ResultFileError)  # model files are not result files
    False
    """


class VocabularyMismatchError(DynalyzeError, ValueError):
    """A vocabulary does not fit the model's embedding.

    Examples
    --------
    >>> import numpy as np, dynalyze
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> from dynalyze.vocabulary import Vocabulary
    >>> dynalyze.RecurrentClassifier(
    ...     system=SimpleRNNSystem(np.zeros((1, 2)), np.eye(2), np.zeros(2)),
    ...     embedding=np.zeros((3, 1)), readout_weight=np.zeros(2), readout_bias=0.0,
    ...     vocabulary=Vocabulary(["", "[UNK]"]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.VocabularyMismatchError: The vocabulary has 2 tokens but the model's ...
    """


class DataError(DynalyzeError, ValueError):
    """A dataset is missing, malformed, empty or not binary.

    Examples
    --------
    >>> from dynalyze.sentiment.datasets import load_dataset
    >>> load_dataset("csv:missing.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.DataError: CSV file 'missing.csv' does not exist; ...
    >>> issubclass(DataError, (DynalyzeError, ValueError))
    True
    """


class OutputError(DynalyzeError, OSError):
    """An output location cannot be written.

    Examples
    --------
    >>> import xarray as xr, dynalyze
    >>> dynalyze.save(xr.Dataset(), "no/such/folder/results.nc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.OutputError: Folder no/such/folder does not exist; create it before saving ...
    """


class OutputExistsError(OutputError, FileExistsError):
    """The output location already holds results and overwriting was not asked for.

    Examples
    --------
    >>> import os, tempfile, xarray as xr, dynalyze
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = dynalyze.save(xr.Dataset(), os.path.join(folder, "a.nc"))
    ...     dynalyze.save(xr.Dataset(), path, overwrite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.OutputExistsError: ...a.nc exists; pass overwrite=True to replace it.
    >>> issubclass(OutputExistsError, (OutputError, FileExistsError))
    True
    """


class ResultFileError(DynalyzeError, OSError):
    """A results file cannot be read as a dynalyze result.

    The base of :class:`NotADynalyzeResultError` and :class:`CorruptResultError`;
    raised itself when the file does not exist.

    Examples
    --------
    >>> import dynalyze
    >>> dynalyze.load("missing.nc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.ResultFileError: No results file at missing.nc; ...
    >>> issubclass(CorruptResultError, ResultFileError), issubclass(ResultFileError, OSError)
    (True, True)
    """


class NotADynalyzeResultError(ResultFileError):
    """The file is readable netCDF but was not written by :func:`dynalyze.save`.

    Examples
    --------
    >>> import os, tempfile, xarray as xr, dynalyze
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "plain.nc")
    ...     xr.Dataset({"a": ("x", [1.0])}).to_netcdf(path)
    ...     dynalyze.load(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.NotADynalyzeResultError: ...plain.nc is a netCDF file but was not written ...
    """


class CorruptResultError(ResultFileError):
    """The file is truncated or otherwise not readable netCDF.

    Examples
    --------
    >>> import os, tempfile, dynalyze
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "broken.nc")
    ...     _ = open(path, "wb").write(b"not netCDF")
    ...     dynalyze.load(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.CorruptResultError: ...broken.nc is not a readable netCDF file ...
    """


class SchemaError(DynalyzeError, ValueError):
    """A dataset does not match the results schema (:func:`dynalyze.validate`).

    The message names the variable and what is wrong with it, or the schema
    version the data was written with and how to re-create it.

    Examples
    --------
    >>> import xarray as xr, dynalyze
    >>> dynalyze.validate(xr.Dataset())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynalyze.errors.SchemaError: The dataset has no 'dynalyze_kind' attribute; pass kind= ...
    """


class DynalyzePluginWarning(UserWarning):
    """A plugin system could not be loaded, or clashes with another system's name.

    Issued (never raised) while dynalyze discovers the recurrent systems
    registered under the entry-point group ``dynalyze.systems``; dynalyze keeps
    working without the plugin. Turn it into an error in a test suite with
    ``warnings.simplefilter("error", DynalyzePluginWarning)``.

    Examples
    --------
    >>> issubclass(DynalyzePluginWarning, UserWarning)
    True
    >>> issubclass(DynalyzePluginWarning, DynalyzeError)  # issued, never raised
    False
    """


class IllConditionedWarning(UserWarning):
    """An eigendecomposition is (nearly) defective: its eigenvectors are unreliable.

    Issued by :class:`dynalyze.linearization.Linearization` when a leading
    mode's eigenvalue condition number ``||l|| ||r||`` is huge (e.g. a Jordan
    block); the results are still returned, with ``condition_number`` stored.

    Examples
    --------
    >>> import warnings, numpy as np, dynalyze
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> jordan = SimpleRNNSystem(np.zeros((1, 2)), [[1.0, 1.0], [0.0, 1.0]], np.zeros(2),
    ...                          activation="linear")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     lin = dynalyze.linearize(jordan, np.zeros((1, 2)))
    >>> [w.category.__name__ for w in caught], bool(lin["condition_number"].max() > 1e8)
    (['IllConditionedWarning'], True)
    """
