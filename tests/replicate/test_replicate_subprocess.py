"""The replicate tool's subprocess path: a stage whose directory does not exist yet gets one for its log."""

from __future__ import annotations

from pathlib import Path

from tools._replicate_commands import lit_distill


def test_a_subprocess_stage_creates_its_log_directory(tmp_path: Path) -> None:
    log = tmp_path / "speed" / "log.txt"  # the speed stage writes no config before its first bench
    lit_distill(["squad-eval", "--help"], "speed", log, False)
    text = log.read_text(encoding="utf-8")
    assert "$ python -m lit_distill squad-eval --help" in text
    assert "usage" in text.lower()
