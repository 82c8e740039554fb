"""README.md's two commands stay true: one runs the main job, one passes the tests, CI runs it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN_JOB = "python -m pip install . && dynalyze run"
TESTS = "python -m pip install tox && tox"


def _commands(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_the_readme_opens_with_the_two_commands() -> None:
    commands = _commands((ROOT / "README.md").read_text())
    assert commands[:2] == [MAIN_JOB, TESTS]


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    lines = [line.strip() for line in script.splitlines() if not line.startswith("#")]
    assert TESTS in lines
    assert "tox -e slow" in lines
    assert "set -euo pipefail" in lines  # a failing test fails CI


def test_tox_runs_the_suite_the_extensions_lint_and_types() -> None:
    tox = (ROOT / "tox.ini").read_text()
    env_list = re.search(r"env_list = (.*)", tox).group(1)
    envs = [e.strip() for e in env_list.split(",")]
    assert envs == ["test", "extension", "torch", "lint", "type"]
    assert "analysis_example" in tox and "extension_example" in tox
