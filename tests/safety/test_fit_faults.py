"""SIGTERM, SIGKILL, a full disk and a second run, each in the middle of a real ``fit`` (issue 32).

The runs are made once by the ``scenarios`` fixture (conftest.py); each test asserts what
its run left behind: the checkpoint's bytes and step, the files next to it, the one line
printed, the exit code.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import torch
import yaml

from lit_distill.checkpoint_files import check_checkpoint_file, load_checkpoint
from tests.safety.conftest import EPOCHS, STEPS_PER_EPOCH, Scenarios

CHECKPOINTS = Path("run/checkpoints")


def error_lines(log: str) -> list[str]:
    """The lines ``python -m lit_distill`` printed about how the command ended."""
    return [line for line in log.splitlines() if line.startswith("python -m lit_distill ")]


def step_of(path: Path) -> int:
    check_checkpoint_file(path, "checkpoint")  # complete and CRC-intact
    return int(load_checkpoint(path, "checkpoint")["global_step"])


def temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


def test_sigterm_mid_epoch_saves_the_step_reached_and_its_resume_is_bit_identical(
    scenarios: Scenarios,
) -> None:
    assert scenarios.results["sigterm"].get("exit") == 143, scenarios.log("sigterm")[-3000:]
    log = scenarios.log("sigterm")
    assert "Traceback" not in log
    [line] = error_lines(log)
    reached = STEPS_PER_EPOCH + 2  # the signal came as step index STEPS_PER_EPOCH + 1 started; that step ends
    assert f"stopped by SIGTERM after step {reached} (epoch 1)" in line
    assert "resume with: python -m lit_distill fit --config=" in line and "--ckpt_path " in line
    saved = scenarios.dir("sigterm-saved") / "last.ckpt"  # the checkpoint as the stopped run left it
    assert step_of(saved) == reached
    assert temporaries(saved.parent) == []

    # the printed command, run as printed, continues to the end: equal bit for bit to a run never stopped
    assert scenarios.results["resume"].get("exit") == 0, scenarios.log("resume")[-3000:]
    full = load_checkpoint(scenarios.dir("full") / CHECKPOINTS / "last.ckpt", "full")
    resumed = load_checkpoint(scenarios.dir("sigterm") / CHECKPOINTS / "last.ckpt", "resumed")
    assert full["global_step"] == resumed["global_step"] == EPOCHS * STEPS_PER_EPOCH
    assert full["state_dict"].keys() == resumed["state_dict"].keys()
    for name, tensor in full["state_dict"].items():
        assert torch.equal(tensor, resumed["state_dict"][name]), name
    _assert_equal(full["optimizer_states"], resumed["optimizer_states"])


def _assert_equal(a: Any, b: Any, where: str = "optimizer_states") -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_equal(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_sigkill_while_a_checkpoint_is_written_leaves_the_previous_one_and_resume_cleans_up(
    scenarios: Scenarios,
) -> None:
    """TMPDIR on another file system (/dev/shm): Lightning's own save would copy across file systems."""
    assert scenarios.results["sigkill"].get("signal") == 9, scenarios.log("sigkill")[-3000:]
    left = scenarios.dir("sigkill-left")  # the checkpoint folder as the kill left it
    assert step_of(left / "last.ckpt") == 2  # the third save (step 3) was killed halfway
    [partial] = temporaries(left)
    assert partial.name.startswith(".last.ckpt.tmp-")
    assert 0 < partial.stat().st_size < (left / "last.ckpt").stat().st_size
    if scenarios.tmpdir is not None:  # nothing of the checkpoint went through $TMPDIR
        assert not [p for p in scenarios.tmpdir.rglob("*") if p.is_file() and p.stat().st_size > 100_000]

    assert scenarios.results["sigkill-resume"].get("exit") == 0, scenarios.log("sigkill-resume")[-3000:]
    folder = scenarios.dir("sigkill") / CHECKPOINTS
    assert [p.name for p in folder.iterdir()] == ["last.ckpt"]  # the killed run's temporary is gone
    assert step_of(folder / "last.ckpt") == EPOCHS * STEPS_PER_EPOCH
    killed = scenarios.results["sigkill"]["pid"]
    assert f"was locked by PID {killed} on host" in scenarios.log(
        "sigkill-resume"
    )  # its stale lock taken over


def test_a_full_disk_while_a_checkpoint_is_written_is_one_line_and_the_previous_checkpoint_stays(
    scenarios: Scenarios,
) -> None:
    assert scenarios.results["disk-first"].get("exit") == 0
    assert scenarios.results["disk-full"].get("exit") == 2, scenarios.log("disk-full")[-3000:]
    log = scenarios.log("disk-full")
    assert "Traceback" not in log
    [line] = error_lines(log)
    folder = scenarios.dir("disk") / CHECKPOINTS
    assert f"error: cannot write '{folder / 'last.ckpt'}' (it needs " in line and "file-size limit" in line
    before = scenarios.root / "disk-before.ckpt"
    assert (folder / "last.ckpt").read_bytes() == before.read_bytes()
    assert step_of(folder / "last.ckpt") == STEPS_PER_EPOCH
    assert [p.name for p in folder.iterdir()] == ["last.ckpt"]
    assert not list(scenarios.dir("disk").glob(".*lit_distill.lock"))  # the run folder was unlocked


def test_a_full_disk_while_fit_exports_is_one_line_and_leaves_no_model_folder(scenarios: Scenarios) -> None:
    assert scenarios.results["export-dir-full"].get("exit") == 2, scenarios.log("export-dir-full")[-3000:]
    log = scenarios.log("export-dir-full")
    assert "Traceback" not in log
    [line] = error_lines(log)
    assert "error: cannot write 'run/model' (it needs " in line
    run = scenarios.dir("exportdir") / "run"
    assert not (run / "model").exists()
    assert temporaries(run) == []


def test_a_second_fit_into_a_folder_in_use_exits_2_naming_the_first_which_finishes_alone(
    scenarios: Scenarios,
) -> None:
    first, second = scenarios.results["first"], scenarios.results["second"]
    assert second.get("exit") == 2, scenarios.log("second")[-3000:]
    assert first.get("exit") == 0, scenarios.log("first")[-3000:]
    log = scenarios.log("second")
    assert "Traceback" not in log
    [line] = error_lines(log)
    run = scenarios.dir("concurrent") / "run"
    assert f"run folder '{run}' is in use by another run: PID {first['pid']} on host " in line
    # what is in the folder is the first run's alone
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["trainer"]["max_epochs"] == EPOCHS  # the second asked for 3
    with (run / "metrics.csv").open() as f:
        steps = [int(row["step"]) for row in csv.DictReader(f) if row.get("train/loss")]
    assert steps == list(range(EPOCHS * STEPS_PER_EPOCH))
    assert step_of(run / "checkpoints" / "last.ckpt") == EPOCHS * STEPS_PER_EPOCH
    assert not list(run.parent.glob(".*lit_distill.lock"))  # released when the first ended


def test_export_over_a_full_disk_keeps_the_earlier_export_whole(scenarios: Scenarios) -> None:
    assert scenarios.results["export"].get("exit") == 0, scenarios.log("export")[-3000:]
    assert scenarios.results["export-full"].get("exit") == 2, scenarios.log("export-full")[-3000:]
    log = scenarios.log("export-full")
    assert "Traceback" not in log
    [line] = error_lines(log)
    deploy = scenarios.dir("full") / "deploy"
    assert f"error: cannot write '{deploy / 'model'}' (it needs " in line
    before = scenarios.root / "export-before"
    names = sorted(p.name for p in before.iterdir())
    assert "model.safetensors" in names and sorted(p.name for p in (deploy / "model").iterdir()) == names
    for name in names:
        assert (deploy / "model" / name).read_bytes() == (before / name).read_bytes(), name
    assert temporaries(deploy) == []


def test_an_export_is_readable_by_others_as_a_plain_open_would_make_it(scenarios: Scenarios) -> None:
    """Issue 29 item 6: not mkstemp's private 0700 / 0600."""
    umask = os.umask(0)
    os.umask(umask)
    model = scenarios.dir("full") / "deploy" / "model"
    assert model.stat().st_mode & 0o777 == 0o777 & ~umask
    for file in model.iterdir():
        assert file.stat().st_mode & 0o777 == 0o666 & ~umask, file.name
