"""The run-folder lock (lit_distill.run_lock) and the SIGTERM line, on their own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from lit_distill.callbacks.preemption import Preempted, resume_command, sigterm_message
from lit_distill.preflight import run_folders
from lit_distill.run_lock import FolderLock, lock_file, read_holder
from lit_distill.user_errors import UserInputError


def test_a_held_folder_is_refused_naming_the_holder_and_released_for_the_next(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "teacher"
    first = FolderLock(run)
    first.acquire()
    path = lock_file(run)
    assert (
        path == tmp_path / "runs" / ".teacher.lit_distill.lock"
    )  # beside the folder: its content is the run's
    holder = read_holder(path)
    assert holder is not None and (holder.pid, holder.host) == (os.getpid(), socket.gethostname())
    with pytest.raises(
        UserInputError, match=rf"run folder '{run}' is in use by another run: PID {os.getpid()} on host"
    ):
        FolderLock(run).acquire()
    first.release()
    assert not path.exists()
    second = FolderLock(run)
    second.acquire()  # no warning: the first released it
    second.release()


def test_the_lock_of_a_killed_run_is_taken_over_with_a_warning_naming_it(tmp_path: Path) -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = int(ended.stdout)
    run = tmp_path / "run"
    lock_file(run).write_text(json.dumps({"pid": dead, "host": socket.gethostname(), "started": "earlier"}))
    lock = FolderLock(run)
    with pytest.warns(UserWarning, match=rf"was locked by PID {dead} on host .*ended without releasing it"):
        lock.acquire()
    assert read_holder(lock_file(run)).pid == os.getpid()  # type: ignore[union-attr]
    lock.release()


def test_the_run_folders_are_the_outermost_folders_a_fit_writes() -> None:
    checkpoints = SimpleNamespace(dirpath="runs/t/checkpoints")
    trainer = SimpleNamespace(log_dir="runs/t", checkpoint_callbacks=[checkpoints])
    assert run_folders(trainer, SimpleNamespace(export_dir="runs/t/model")) == [Path.cwd() / "runs/t"]
    assert set(run_folders(trainer, SimpleNamespace(export_dir="deploy/model"))) == {
        Path.cwd() / "runs/t",
        Path.cwd() / "deploy",
    }


def test_the_sigterm_line_gives_the_command_that_resumes(tmp_path: Path) -> None:
    args = ["--config", "c.yaml", "--ckpt_path", "old.ckpt", "--trainer.max_epochs=3", "--ckpt_path=x"]
    ckpt = tmp_path / "my runs" / "last.ckpt"
    assert resume_command("fit", args, ckpt) == (
        f"python -m lit_distill fit --config c.yaml --trainer.max_epochs=3 --ckpt_path '{ckpt}'"
    )
    line = sigterm_message(Preempted(ckpt, 7, 1), "fit", args)
    assert line.startswith("python -m lit_distill fit: stopped by SIGTERM after step 7 (epoch 1); saved")
    assert "\n" not in line and line.endswith(resume_command("fit", args, ckpt))


def test_a_sigterm_outside_a_training_step_points_to_the_last_checkpoint() -> None:
    """Lightning's own SIGTERMException (raised mid-validation) carries no checkpoint."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    assert sigterm_message(SIGTERMException(), "fit", []) == (
        "python -m lit_distill fit: stopped by SIGTERM outside a training step; "
        "resume from the last checkpoint saved (--ckpt_path last)"
    )
    assert sigterm_message(SIGTERMException(), "validate", []).endswith(
        "stopped by SIGTERM; nothing was saved"
    )
