"""``python -m lit_distill replicate`` as a user runs it, and its stages' subprocess path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lit_distill.replicate.stage_runs import lit_distill

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "lit_distill", "replicate", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_prints_its_help(tmp_path: Path) -> None:
    done = _run("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m lit_distill replicate")
    for option in ("--encoder", "--chain", "--split-from", "--head-seeds"):
        assert option in done.stdout


def test_a_missing_encoder_is_one_line_and_exit_2_before_anything_is_written(tmp_path: Path) -> None:
    squad = tmp_path / "squad.json"
    squad.write_text('{"version": "1.1", "data": []}', encoding="utf-8")
    done = _run(
        *("--encoder", str(tmp_path / "no-encoder"), "--output", str(tmp_path / "run")),
        *("--train", str(squad), "--eval", str(squad)),
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"error: --encoder {tmp_path / 'no-encoder'}: no such directory"
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_a_subprocess_stage_creates_its_log_directory(tmp_path: Path) -> None:
    log = tmp_path / "speed" / "log.txt"  # the speed stage writes no config before its first bench
    lit_distill(["squad-eval", "--help"], "speed", log, None)
    text = log.read_text(encoding="utf-8")
    assert "$ python -m lit_distill squad-eval --help" in text
    assert "usage" in text.lower()
