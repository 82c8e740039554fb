"""Tutorial: add your own analysis to dynalyze, and see it in every run's report.

An analysis is a small class (:class:`dynalyze.analyses.Analysis`) that owns
everything about itself:

- ``name``, ``title`` and ``requires`` (analyses whose outputs it reads, e.g.
  the built-in ``"line_attractor"``);
- a :class:`~dynalyze.analyses.SchemaFragment`: the kinds of dataset and the
  variables it writes (validated and versioned like dynalyze's own);
- a typed :class:`~dynalyze.analyses.Summary` (an attrs class): the numbers
  that go to ``run.json``; fields with a ``long_name`` become a sweep's metrics;
- ``applies_to(classifier)``, ``fit(context)`` (its one verb, returning
  labelled datasets and the summary), ``figures`` and ``report`` (a
  :class:`~dynalyze.analyses.ReportSection` generated from the numbers).

The example here asks where one word drives the network if it reads that word
forever. Its complete code is the package ``tutorials/analysis_example``
(``src/dynalyze_driven/analysis.py``); this script

1. checks it with :func:`dynalyze.testing.check_analysis` (the
   ``check_estimator`` of analyses) on a constructed line attractor whose
   answer is known;
2. runs ``dynalyze run``'s pipeline on the synthetic sentiment task with the
   analysis passed in, and prints its section of the report;
3. shows the one ``pyproject.toml`` entry that makes every ``dynalyze run``
   and ``dynalyze analyze`` include it once the package is installed.

Run it with ``python tutorials/add_your_own_analysis.py [output folder]``.
dynalyze's test suite runs it (``tests/test_tutorials.py``); it takes about a
minute on a laptop CPU (most of it training the tiny network).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from dynalyze.sentiment.pipeline import RunConfig, run_pipeline
from dynalyze.testing import check_analysis

HERE = Path(__file__).resolve().parent
try:  # installed (pip install ./tutorials/analysis_example) or straight from its source
    from dynalyze_driven import DrivenPoints
except ImportError:
    sys.path.insert(0, str(HERE / "analysis_example" / "src"))
    from dynalyze_driven import DrivenPoints


def check() -> None:
    """1. The conformance checks, on the constructed integrator (known answer)."""
    report = check_analysis(DrivenPoints(n_steps=50))
    print(report)


def run(out: Path) -> None:
    """2. A whole run with the analysis added: its section lands in report.md."""
    config = RunConfig.build(
        dataset="synthetic",
        max_train=600,
        epochs=3,
        n_analysis=100,
        n_initial=100,
        analyses=("line_attractor", DrivenPoints()),
        out=str(out),
        overwrite=True,
        progress=False,
    )
    result = run_pipeline(config)
    report = (result.out / "report.md").read_text(encoding="utf-8")
    start = report.index("## Reading one word forever")
    section = report[start : report.index("\n## ", start + 1)]
    print(section.strip())
    print(f"Summary: driven_positive_logit = {result.summary['driven_positive_logit']:+.2f}")
    print("Files:", sorted(p.name for p in (result.out / "results").iterdir()))


PYPROJECT = """\
[project.entry-points."dynalyze.analyses"]
driven_points = "dynalyze_driven:DrivenPoints"
"""


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    print("# 1. check_analysis")
    check()
    print("\n# 2. a run with the analysis")
    run(out / "run")
    print("\n# 3. ship it: one entry in your package's pyproject.toml")
    print(PYPROJECT)
    print(
        "Installed, the analysis is found by dynalyze.analyses.list_analyses() and runs in "
        "every `dynalyze run` / `dynalyze analyze` whose classifier it applies_to; "
        "tutorials/analysis_example is the complete, tested package."
    )


if __name__ == "__main__":
    main()
