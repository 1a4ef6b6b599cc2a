"""The command line: help, dispatch, errors, and every shipped YAML config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lit_distill.__main__ import LIGHTNING_COMMANDS, PROJECT_COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]
FIT_CONFIGS = sorted(
    p for p in (ROOT / "configs").rglob("*.yaml") if "search" not in p.relative_to(ROOT / "configs").parts
)


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lit_distill", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in [*LIGHTNING_COMMANDS, *PROJECT_COMMANDS]:
        assert f"  {name} " in out


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fitt"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'fitt'" in err and "fit" in err


def test_fit_help_runs() -> None:
    res = run_cli("fit", "--help")
    assert res.returncode == 0, res.stderr
    assert "--trainer.max_epochs" in res.stdout and "--model" in res.stdout


def test_misspelled_option_exits_2_without_traceback() -> None:
    res = run_cli("fit", "--trainer.max_epochz", "3")
    assert res.returncode == 2
    assert "max_epochz" in res.stderr
    assert "Traceback" not in res.stderr


def test_wrong_type_exits_2_without_traceback() -> None:
    res = run_cli("fit", "--trainer.max_epochs", "three")
    assert res.returncode == 2
    assert "max_epochs" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("config", FIT_CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_every_config_prints_a_full_config(config: Path) -> None:
    res = run_cli("fit", "--config", str(config), "--print_config")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "model:" in res.stdout and "class_path" in res.stdout
    assert "trainer:" in res.stdout


@pytest.mark.parametrize("command", sorted(PROJECT_COMMANDS))
def test_every_project_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"python -m lit_distill {command}" in capsys.readouterr().out
