"""The CI definitions: every one runs ``.ci/run``, and ``.ci/run`` installs and tests as the README says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _readme_test_command() -> list[str]:
    """The README's "install and run the tests" line, split at ``&&``."""
    line = next(
        line.strip()
        for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
        if "pip install" in line and "pytest" in line
    )
    return [part.strip() for part in line.split("&&")]


def _ci_commands() -> list[list[str]]:
    """The commands of ``.ci/run``, comments dropped, ``--quiet`` ignored."""
    commands = []
    for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            commands.append([w for w in shlex.split(line) if w != "--quiet"])
    return commands


def test_every_workflow_runs_the_one_ci_script_and_nothing_else() -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    assert workflows
    for path in workflows:
        for job in yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"].values():
            runs = [step["run"].strip() for step in job["steps"] if "run" in step]
            assert runs == ["bash .ci/run"], (path.name, runs)


def test_ci_installs_and_tests_exactly_as_the_readme_says() -> None:
    ci = _ci_commands()
    for command in _readme_test_command():
        words = shlex.split(command)
        if words[0] == "pip":
            words = ["python", "-m", *words]
        assert words in ci, f"README's `{command}` is not a step of .ci/run"
    installs = [c for c in ci if c[:4] == ["python", "-m", "pip", "install"] and "--upgrade" not in c]
    readme_installs = [c for c in _readme_test_command() if c.startswith("pip install")]
    assert len(installs) == len(readme_installs), "an install step of .ci/run is not in the README"
    assert any(re.fullmatch(r"ruff|mypy", c[0]) for c in ci)  # lint and types run in CI too
