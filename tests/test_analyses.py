"""Analyses as plug-ins: the registry, schema fragments, the run loop and the contracts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest
from _plugins import fake_entry_points

from dynalyze import LineAttractor
from dynalyze.analyses import (
    Analysis,
    AnalysisOutput,
    ReportSection,
    SchemaFragment,
    Summary,
    analyses_for,
    list_analyses,
    register_fragment,
    registry,
    summary_of,
)
from dynalyze.analyses.line_attractor import LineAttractorAnalysis
from dynalyze.analyses.line_attractor.summary import SCALARS, LineAttractorSummary
from dynalyze.analyses.run import run_analyses
from dynalyze.errors import ConfigurationError, DynalyzePluginWarning, SchemaError
from dynalyze.results import VariableSpec, make_dataset
from dynalyze.results.io import load, save
from dynalyze.testing import ConformanceError, check_analysis, toys

# ------------------------------------------------------------------ a small analysis
SPEED = SchemaFragment(
    name="test_speed",
    version="2",
    dimensions={"probe": "a probe state of the speed test"},
    variables={"probe_speed": VariableSpec(("probe",), "speed at a probe state", "1")},
    kinds={"test_speed": ("probe_speed",)},
)


@summary_of("probe_speed", fragment=SPEED)
@attrs.frozen(kw_only=True)
class SpeedSummary(Summary):
    probe_speed: float | None = attrs.field(default=None, metadata={"long_name": "probe speed"})


@attrs.frozen(kw_only=True)
class Speed(Analysis):
    """Speed ||F(h, 0) - h|| at the origin: 0 for the exact integrator."""

    name: ClassVar[str] = "test_speed"
    title: ClassVar[str] = "speed"
    fragment: ClassVar[SchemaFragment | None] = SPEED
    summary_type: ClassVar[type[Summary] | None] = SpeedSummary

    def applies_to(self, classifier: Any) -> bool:
        return True

    def fit(self, context: Any) -> AnalysisOutput:
        system = context.classifier.system
        h = np.zeros((1, system.state_dim))
        speed = np.linalg.norm(system.step(h, np.zeros((1, system.input_dim))) - h, axis=1)
        ds = make_dataset("test_speed", {"probe_speed": speed})
        return AnalysisOutput(datasets={"test_speed": ds}, summary=SpeedSummary(probe_speed=0.0))

    def report(self, output: AnalysisOutput, context: Any) -> ReportSection:
        return ReportSection(lines=["## Speed", "", "Zero.", ""])


# ------------------------------------------------------------------ the registry
def test_built_in_analyses_are_registered_in_run_order() -> None:
    assert list(list_analyses())[:3] == ["line_attractor", "modifier_words", "simplex_attractor"]
    clf, _ = toys.exact_integrator()
    assert [a.name for a in analyses_for(clf)][:2] == ["line_attractor", "modifier_words"]
    with pytest.raises(ConfigurationError, match="do not apply to this classifier"):
        analyses_for(clf, names=["simplex_attractor"])
    with pytest.raises(ConfigurationError, match="Unknown analysis"):
        analyses_for(clf, names=["no_such_analysis"])
    with pytest.raises(ConfigurationError, match="requires"):
        analyses_for(clf, names=["modifier_words"])


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, specs: list[tuple[str, str]]) -> None:
    """Make importlib.metadata report these (name, "module:attr") plug-ins; forget found ones."""
    fake_entry_points(monkeypatch, registry.ENTRY_POINT_GROUP, specs)
    registry._reset_plugins()


@pytest.fixture
def fresh_registry() -> Any:
    registry._reset_plugins()
    yield
    registry._reset_plugins()


class NotAnAnalysis:
    name = "not_one"


class Clash(Speed):
    name: ClassVar[str] = "line_attractor"


def test_plug_ins_are_found_and_bad_ones_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: Any
) -> None:
    _fake_entry_points(
        monkeypatch,
        [
            ("speed", f"{__name__}:Speed"),
            ("broken", "no_such_module_anywhere:Thing"),
            ("not_one", f"{__name__}:NotAnAnalysis"),
            ("clash", f"{__name__}:Clash"),
        ],
    )
    with pytest.warns(DynalyzePluginWarning) as caught:
        found = list_analyses()
    assert found["test_speed"] is Speed
    assert found["line_attractor"] is LineAttractorAnalysis  # the built-in keeps its name
    messages = " ".join(str(w.message) for w in caught)
    assert "importing it failed" in messages and "expected a subclass" in messages
    assert "must be a unique" in messages


# ------------------------------------------------------------------ schema fragments
def test_a_fragment_adds_its_kind_and_files_record_its_version(tmp_path: Path) -> None:
    register_fragment(SPEED)
    register_fragment(SPEED)  # idempotent
    ds = make_dataset("test_speed", {"probe_speed": [0.5]})
    assert ds.attrs["dynalyze_fragment_version"] == "2"
    path = save(ds, tmp_path / "speed.nc")
    assert float(load(path)["probe_speed"][0]) == 0.5
    import xarray as xr

    with xr.open_dataset(path) as raw:
        old = raw.load()
    old.attrs["dynalyze_fragment_version"] = "1"
    old.to_netcdf(tmp_path / "old.nc")
    with pytest.raises(SchemaError, match="version 1 of its analysis's schema fragment"):
        load(tmp_path / "old.nc")


def test_fragment_clashes_are_refused_and_leave_the_schema_unchanged() -> None:
    from dynalyze.results.schema import KINDS, VARIABLES

    before = (dict(VARIABLES), dict(KINDS))
    clash = SchemaFragment(
        name="clash",
        version="1",
        variables={"speed": VariableSpec(("probe",), "not the schema's speed", "1")},
        kinds={"clash": ("speed",)},
        dimensions={"probe": "a probe state of the speed test"},
    )
    with pytest.raises(SchemaError, match="redeclares variable 'speed'"):
        register_fragment(clash)
    undeclared = SchemaFragment(name="u", version="1", kinds={"u": ("nothing_declares_me",)})
    with pytest.raises(SchemaError, match="undeclared variables"):
        register_fragment(undeclared)
    builtin = SchemaFragment(name="b", version="1", kinds={"fixed_points": ("speed",)})
    with pytest.raises(SchemaError, match="already declared"):
        register_fragment(builtin)
    assert (dict(VARIABLES), dict(KINDS)) == before


def test_renaming_a_variable_breaks_its_readers_at_import() -> None:
    """The contract: the line attractor's summary names schema variables, checked at import."""
    assert "slow_fraction" in SCALARS
    assert LineAttractorSummary.__variable_fields__["slow_fraction_at_zero"] == "slow_fraction"
    # ``import dynalyze`` already imported the summary module, so the fresh import of the
    # module after the rename is a reload: the same code a new process would run.
    code = (
        "import importlib\n"
        "import dynalyze.results.schema as schema\n"
        "import dynalyze.analyses.line_attractor.summary as summary\n"
        "schema._VARIABLES['slow_share'] = schema._VARIABLES.pop('slow_fraction')\n"
        "importlib.reload(summary)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "SchemaError" in done.stderr and "slow_fraction" in done.stderr
    control = code.replace("schema._VARIABLES['slow_share'] = ", "_ = ").replace(".pop(", ".get(")
    assert subprocess.run([sys.executable, "-c", control], capture_output=True).returncode == 0


def test_a_summary_field_that_is_not_a_variable_is_refused() -> None:
    with pytest.raises(SchemaError, match="which no registered schema declares"):

        @summary_of("slow_fractoin")
        @attrs.frozen(kw_only=True)
        class Typo(Summary):
            slow_fractoin: float | None = None


# ------------------------------------------------------------------ the run loop
def test_the_loop_runs_saves_reports_and_refuses_a_second_writer(tmp_path: Path) -> None:
    context = toys.integrator_context()
    line = LineAttractorAnalysis(config=LineAttractor(n_initial=40))
    run = run_analyses([line, Speed()], context, tmp_path)
    assert run.summary["mechanism"] == "line_attractor" and run.summary["probe_speed"] == 0.0
    assert (tmp_path / "results" / "test_speed.nc").is_file()
    assert [s.lines[0] for s in run.sections][1] == "## Speed"
    assert run.record()["test_speed"]["files"] == ["results/test_speed.nc"]

    @attrs.frozen
    class Twice(Speed):
        name: ClassVar[str] = "twice"

    with pytest.raises(ConfigurationError, match="already wrote"):
        run_analyses([Speed(), Twice()], toys.integrator_context(), tmp_path / "again")


def test_check_analysis_passes_the_built_in_and_catches_a_wrong_summary() -> None:
    assert check_analysis(LineAttractorAnalysis(config=LineAttractor(n_initial=40))).passed

    @attrs.frozen
    class Wrong(Speed):
        name: ClassVar[str] = "wrong"

        def fit(self, context: Any) -> AnalysisOutput:
            out = super().fit(context)
            return attrs.evolve(out, summary=Summary())

    with pytest.raises(ConformanceError, match="not its summary_type"):
        check_analysis(Wrong())


def test_a_sweep_collects_an_n_class_jobs_simplex_metrics(tmp_path: Path) -> None:
    """The sweep reads each analysis's typed summary: an N-class job has real metrics."""
    import json

    from dynalyze.sweep.collect import collect
    from dynalyze.sweep.engine import JobOutcome
    from dynalyze.sweep.grid import SweepGrid

    grid = SweepGrid(architectures=["gru"], datasets=["bbc_news"], seeds=[0])
    (job,) = grid.jobs()
    job.folder(tmp_path).mkdir(parents=True)
    summary = {
        "test_accuracy": 0.9,
        "late_state_dim_95": 4,
        "median_n_slow_modes": 3.5,
        "mechanism": "simplex_attractor",
    }
    (job.folder(tmp_path) / "run.json").write_text(json.dumps({"summary": summary}))
    ds = collect(grid, tmp_path, [JobOutcome(key=job.key, status="done", seconds=1.0)])
    assert float(ds["late_state_dim_95"].squeeze()) == 4
    assert float(ds["median_n_slow_modes"].squeeze()) == 3.5
    assert str(ds["mechanism"].squeeze().values) == "simplex_attractor"
    assert np.isnan(float(ds["slow_fraction"].squeeze()))  # a line-attractor metric: not run
