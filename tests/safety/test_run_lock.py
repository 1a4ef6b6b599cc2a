"""The run-folder lock (lit_distill.run_lock) on its own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

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
