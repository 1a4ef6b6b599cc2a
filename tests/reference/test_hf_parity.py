"""tests/reference/hf_parity.py: with every difference aligned, ours and transformers' training steps agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reference.hf_parity import main

# their padding and clipping set as ours (the warm-up is aligned by one of two options)
PAD_AND_CLIP_AS_OURS = ("--hf-pad-to-longest", "--hf-max-grad-norm", "0")


def _run(tiny_encoder: Path, tiny_squad: Path, tmp_path: Path, *options: str) -> dict:
    out = tmp_path / "parity.json"
    args = ["--train", str(tiny_squad), "--encoder", str(tiny_encoder), "--steps", "4", "--batch-size", "4"]
    args += ["--max-seq-length", "96", "--doc-stride", "32", "--schedule-steps", "10", "--lr", "1e-3"]
    assert main([*args, *options, "--threads", "1", "--output", str(out)]) == 0
    return json.loads(out.read_text())


def test_aligned_training_steps_agree_and_each_difference_shows(
    tiny_encoder: Path, tiny_squad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aligned = _run(tiny_encoder, tiny_squad, tmp_path, *PAD_AND_CLIP_AS_OURS, "--hf-schedule", "ours")
    assert aligned["windows_same"] == aligned["windows"] > 0
    assert aligned["max_abs_loss_diff"] < 1e-5
    assert "windows identical" in capsys.readouterr().out
    # padded to 96 tokens instead of each batch's longest window: more padded positions in the
    # span softmax, so a different loss from the first step
    padded = _run(tiny_encoder, tiny_squad, tmp_path, "--hf-max-grad-norm", "0", "--hf-schedule", "ours")
    assert abs(padded["steps"][0]["loss_ours"] - padded["steps"][0]["loss_theirs"]) > 1e-4
    # transformers' warm-up starts at lr 0 (ours at lr / (warm-up + 1)): the same first loss, then not
    schedule = _run(tiny_encoder, tiny_squad, tmp_path, *PAD_AND_CLIP_AS_OURS)
    assert schedule["warmup_steps_ours"] == schedule["warmup_steps_theirs"] == 1
    first = schedule["steps"][0]
    assert first["lr_theirs"] == 0.0 < first["lr_ours"]
    assert first["loss_ours"] == pytest.approx(first["loss_theirs"], abs=1e-6)
    assert schedule["max_abs_loss_diff"] > 1e-4
    # ... and with `warmup_from_zero` ours is transformers' schedule
    reference = _run(tiny_encoder, tiny_squad, tmp_path, *PAD_AND_CLIP_AS_OURS, "--ours-warmup-from-zero")
    assert reference["steps"][0]["lr_ours"] == 0.0 and reference["max_abs_loss_diff"] < 1e-5


def test_bad_input_is_one_line_and_exit_2(
    tiny_encoder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.json"
    assert main(["--train", str(missing), "--encoder", str(tiny_encoder)]) == 2
    assert "--train" in capsys.readouterr().err
