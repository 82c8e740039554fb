"""Results: schema conformance, exact save/load round trips, atomic writes, bad files."""

from __future__ import annotations

import os

import numpy as np
import pytest
import xarray as xr

import dynalyze
from dynalyze.errors import (
    ConfigurationError,
    CorruptResultError,
    NotADynalyzeResultError,
    OutputError,
    OutputExistsError,
    ResultFileError,
    SchemaError,
)
from dynalyze.results import VARIABLES, make_dataset
from dynalyze.systems import SimpleRNNSystem


@pytest.fixture(scope="module")
def datasets() -> dict[str, xr.Dataset]:
    rng = np.random.default_rng(0)
    n = 6
    system = SimpleRNNSystem(
        rng.normal(size=(2, n)), rng.normal(scale=0.6, size=(n, n)), rng.normal(scale=0.1, size=n)
    )
    fps = dynalyze.find_fixed_points(system, rng.normal(size=(12, n)))
    lin = dynalyze.linearize(system, fps.dynalyze.unique())
    assert np.iscomplexobj(lin["eigenvalue"].values)
    return {"fixed_points": fps, "linearization": lin}


@pytest.mark.parametrize("kind", ["fixed_points", "linearization"])
def test_round_trip_is_identical(tmp_path, datasets, kind):
    ds = datasets[kind]
    path = dynalyze.save(ds, tmp_path / f"{kind}.nc")
    loaded = dynalyze.load(path)
    xr.testing.assert_identical(loaded, ds)
    for name in ds.variables:
        assert loaded[name].dtype.kind == ds[name].dtype.kind, name
    # A plain xarray reader opens the file too (complex values split in two).
    with xr.open_dataset(path) as plain:
        if kind == "linearization":
            assert "eigenvalue__real" in plain and "eigenvalue__imag" in plain
            np.testing.assert_array_equal(
                plain["eigenvalue__imag"].values, ds["eigenvalue"].values.imag
            )
        assert plain.attrs["dynalyze_kind"] == kind


def test_no_cf_conventions_claim_and_dimensionless_units(datasets):
    """The files do not claim CF conformance (complex values are split, flags are ours);
    every declared unit is "1", with steps or tokens said in long_name."""
    for ds in datasets.values():
        assert "Conventions" not in ds.attrs
    assert {spec.units for spec in VARIABLES.values()} == {"1"}
    assert "in steps" in VARIABLES["time_constant"].long_name


def _write_raw(ds: xr.Dataset, path) -> None:
    """A file as dynalyze.save would write it, after the dataset was tampered with."""
    dynalyze.save(ds, path)


def test_load_checks_the_schema_version_and_says_what_wrote_it(tmp_path, datasets):
    old = datasets["fixed_points"].copy()
    old.attrs = {**old.attrs, "dynalyze_schema_version": "1", "dynalyze_version": "0.0.9"}
    path = tmp_path / "old.nc"
    _write_raw(old, path)
    with pytest.raises(SchemaError, match=r"dynalyze 0\.0\.9 with schema version 1") as info:
        dynalyze.load(path)
    message = str(info.value)
    assert str(path) in message
    assert "dynalyze analyze" in message and "xarray.open_dataset" in message
    # The file is left as it was: plain xarray still reads it.
    with xr.open_dataset(path) as plain:
        assert plain.attrs["dynalyze_schema_version"] == "1"


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda ds: ds.drop_vars("speed"), r"no variable 'speed'"),
        (lambda ds: ds.assign(status=ds["status"] + 9), r"'status' holds value\(s\) \[9"),
        (
            lambda ds: ds.assign(speed=(("state",), np.zeros(ds.sizes["state"]))),
            r"'speed' has dimensions \('state',\)",
        ),
        (lambda ds: ds.assign(iterations=ds["iterations"].astype(float)), r"'iterations'.*int64"),
    ],
)
def test_load_names_the_variable_that_breaks_the_schema(tmp_path, datasets, change, pattern):
    path = tmp_path / "bad.nc"
    _write_raw(change(datasets["fixed_points"]), path)
    with pytest.raises(SchemaError, match=pattern):
        dynalyze.load(path)


def test_validate_is_public_and_leaves_user_additions_alone(datasets):
    ds = datasets["linearization"]
    assert dynalyze.validate(ds) is ds
    assert dynalyze.validate(
        ds.assign(my_label=("fixed_point", np.arange(ds.sizes["fixed_point"])))
    )
    with pytest.raises(SchemaError, match="kind="):
        dynalyze.validate(xr.Dataset({"a": ("x", [1.0])}))
    with pytest.raises(SchemaError, match="Unknown dataset kind"):
        dynalyze.validate(ds, kind="banana")


def test_every_variable_has_cf_attributes(datasets):
    for ds in datasets.values():
        for name, var in ds.variables.items():
            assert var.attrs.get("long_name"), name
            assert var.attrs.get("units"), name
            spec = VARIABLES[str(name)]
            if spec.flags is not None:
                assert list(var.attrs["flag_values"]) == list(spec.flags)
        assert ds.attrs["dynalyze_version"] == dynalyze.__version__
        assert "jacobian_method" in ds.dynalyze.provenance


def test_accessor_save(tmp_path, datasets):
    ds = datasets["fixed_points"]
    path = ds.dynalyze.save(tmp_path / "fp.nc")
    xr.testing.assert_identical(dynalyze.load(path), ds)
    with pytest.raises(OutputExistsError):
        ds.dynalyze.save(path, overwrite=False)


def test_interrupted_write_leaves_old_file_untouched(tmp_path, datasets, monkeypatch):
    ds = datasets["fixed_points"]
    target = tmp_path / "results.nc"
    dynalyze.save(ds, target)
    before = target.read_bytes()

    real_to_netcdf = xr.Dataset.to_netcdf

    def broken(self, path, *args, **kwargs):
        real_to_netcdf(self, path, *args, **kwargs)
        with open(path, "r+b") as handle:  # simulate a crash midway: half-written file
            handle.truncate(os.path.getsize(path) // 2)
        raise KeyboardInterrupt("simulated crash during write")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(KeyboardInterrupt):
        dynalyze.save(ds.isel(fixed_point=[0]), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.nc"]

    fresh = tmp_path / "fresh.nc"
    with pytest.raises(KeyboardInterrupt):
        dynalyze.save(ds, fresh)
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.nc"]


def test_load_rejects_foreign_and_truncated_files(tmp_path, datasets):
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(foreign)
    with pytest.raises(NotADynalyzeResultError, match="not written by dynalyze"):
        dynalyze.load(foreign)

    good = dynalyze.save(datasets["linearization"], tmp_path / "good.nc")
    truncated = tmp_path / "truncated.nc"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptResultError, match="truncated"):
        dynalyze.load(truncated)

    text = tmp_path / "notes.nc"
    text.write_text("hello")
    with pytest.raises(CorruptResultError):
        dynalyze.load(text)
    with pytest.raises(ResultFileError, match="No results file"):
        dynalyze.load(tmp_path / "missing.nc")


def test_save_errors(tmp_path, datasets):
    with pytest.raises(ConfigurationError, match=r"xarray\.Dataset"):
        dynalyze.save(datasets["fixed_points"]["speed"], tmp_path / "x.nc")  # type: ignore[arg-type]
    with pytest.raises(OutputError, match="does not exist"):
        dynalyze.save(datasets["fixed_points"], tmp_path / "nowhere" / "x.nc")
    bad = datasets["fixed_points"].copy()
    bad.attrs["flag"] = True
    with pytest.raises(ConfigurationError, match="flag"):
        dynalyze.save(bad, tmp_path / "x.nc")
    assert not (tmp_path / "x.nc").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder(tmp_path, datasets):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="Cannot write"):
            dynalyze.save(datasets["fixed_points"], folder / "x.nc")
    finally:
        folder.chmod(0o700)


def test_make_dataset_refuses_undeclared_and_misshapen_variables():
    with pytest.raises(KeyError, match="not declared"):
        make_dataset("fixed_points", {"mystery": [1.0]})
    with pytest.raises(ValueError, match="needs variables"):
        make_dataset("fixed_points", {"speed": [1.0]})


def test_every_written_file_gets_the_usual_permissions(tmp_path):
    import os

    from dynalyze._atomic import atomic_path
    from dynalyze.vocabulary import Vocabulary

    umask = os.umask(0)
    os.umask(umask)
    expected = 0o666 & ~umask
    vocab = Vocabulary(["", "[UNK]", "good"]).save(tmp_path / "vocabulary.txt")
    assert vocab.stat().st_mode & 0o777 == expected
    nc = dynalyze.save(xr.Dataset({"x": ("state", np.zeros(2))}), tmp_path / "r.nc")
    assert nc.stat().st_mode & 0o777 == expected
    # A failure leaves the old file and no temporary file behind.
    with pytest.raises(RuntimeError), atomic_path(vocab) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert vocab.read_text().splitlines() == ["", "[UNK]", "good"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc", "vocabulary.txt"]


def test_the_validator_knows_every_declared_dtype():
    import importlib

    validate_module = importlib.import_module("dynalyze.results.validate")

    assert {spec.dtype for spec in VARIABLES.values()} <= set(validate_module._KINDS_OF_DTYPE)
