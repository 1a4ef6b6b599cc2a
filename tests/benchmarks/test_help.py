"""Every benchmark runs as ``python -m benchmarks.NAME``: its ``--help`` works (imports resolve, options parse)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# a benchmark is a module of benchmarks/ with a command line; harness.py and tensor_memory.py are their helpers
BENCHMARKS = sorted(
    p.stem for p in (ROOT / "benchmarks").glob("*.py") if 'if __name__ == "__main__":' in p.read_text()
)


def test_every_benchmark_module_but_the_shared_helpers_has_a_command_line() -> None:
    helpers = {p.stem for p in (ROOT / "benchmarks").glob("*.py")} - set(BENCHMARKS)
    assert helpers == {"__init__", "harness", "tensor_memory"}
    assert len(BENCHMARKS) >= 17


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_help_runs(name: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python -m benchmarks.{name} "), done.stdout
    assert "--help" in done.stdout and "Traceback" not in done.stderr
