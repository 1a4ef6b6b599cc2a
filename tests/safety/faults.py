"""Faults injected into real ``python -m lit_distill`` runs: callbacks named on the command line, and a driver.

The driver (``python -m tests.safety.faults JOBS_JSON``) imports torch, Lightning and the
package once, then runs each job in a forked child, as ``python -m lit_distill`` would run
it (:func:`lit_distill.__main__.main`), with the job's working directory, environment,
file-size limit (a full disk, without root) and kill-while-writing fault; its output goes
to the job's ``log``. It prints one ``RESULT {...}`` JSON line per job: the child's PID and
how it ended (``exit`` code or ``signal``). Keys of a job: ``name``, ``cwd``, ``log``,
``args`` (or ``args_from`` a previous log), ``env``, ``fsize`` / ``fsize_from``,
``kill_while_writing``, ``background``, ``wait_for``, ``touch_after``, ``copy_after``.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl


class SigtermAtStep(pl.Callback):
    """Send this process SIGTERM when training step ``step`` starts (as a scheduler would, mid-epoch)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


class HoldTraining(pl.Callback):
    """When training starts, create ``started`` and wait (up to a minute) until ``release`` exists."""

    def __init__(self, started: str, release: str) -> None:
        self.started = Path(started)
        self.release = Path(release)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started.touch()
        deadline = time.monotonic() + 60
        while not self.release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def kill_while_writing(directory: str, save: int) -> None:
    """SIGKILL this process halfway through the ``save``-th file written into ``directory`` (by ``os.write``)."""
    real_write = os.write
    seen: list[str] = []
    target = os.path.realpath(directory)

    def write(fd: int, data: Any) -> int:
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return real_write(fd, data)
        if os.path.dirname(path) != target:
            return real_write(fd, data)
        if path not in seen:
            seen.append(path)
        if len(seen) == save:
            real_write(fd, bytes(memoryview(data)[: len(data) // 2]))
            os.kill(os.getpid(), signal.SIGKILL)
        return real_write(fd, data)

    os.write = write  # type: ignore[assignment]


def _args(job: dict[str, Any]) -> list[str]:
    """The job's arguments, or those of the command a previous job's log printed after ``after``."""
    source = job.get("args_from")
    if source is None:
        return list(job["args"])
    for line in Path(source["log"]).read_text().splitlines():
        if source["after"] in line:
            words = shlex.split(line.split(source["after"], 1)[1])
            return words[3:] if words[:3] == ["python", "-m", "lit_distill"] else words
    raise SystemExit(f"no line with {source['after']!r} in {source['log']}")


def _file_size_limit(job: dict[str, Any]) -> int | None:
    """``fsize`` bytes, or ``fsize_from``: a fraction of a file's size (a disk that fills up while writing it)."""
    if job.get("fsize_from"):
        return int(os.path.getsize(job["fsize_from"]["path"]) * job["fsize_from"]["fraction"])
    return job.get("fsize")


def _child(job: dict[str, Any]) -> int:
    from lit_distill.__main__ import main

    args = _args(job)
    limit = _file_size_limit(job)
    os.chdir(job["cwd"])
    os.environ.update(job.get("env", {}))
    tempfile.tempdir = None  # $TMPDIR is read again
    if limit is not None:  # a full disk, without root: write(2) fails with EFBIG past the limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    if job.get("kill_while_writing"):
        kill_while_writing(**job["kill_while_writing"])
    return main(args)


def _start(job: dict[str, Any]) -> int:
    out = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        os.close(out)
        return pid
    os.dup2(out, 1)
    os.dup2(out, 2)
    code = 70
    try:
        code = _child(job)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 71
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _ended(name: str, status: int, pid: int) -> dict[str, Any]:
    if os.WIFSIGNALED(status):
        return {"name": name, "pid": pid, "signal": os.WTERMSIG(status)}
    return {"name": name, "pid": pid, "exit": os.WEXITSTATUS(status)}


def _wait_for(path: str | None, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while path and not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def main() -> None:
    """Run the jobs in order; a job with ``"background": true`` runs while the next ones do.

    A job may wait for a file before it starts (``wait_for``) and create one when it has
    ended (``touch_after``), so that two runs overlap at a known point.
    """
    import lit_distill.cli  # noqa: F401  (imported once, before forking)

    jobs = json.loads(Path(sys.argv[1]).read_text())
    background: dict[int, str] = {}
    for job in jobs:
        _wait_for(job.get("wait_for"))
        pid = _start(job)
        if job.get("background"):
            background[pid] = job["name"]
            continue
        _, status = os.waitpid(pid, 0)
        print("RESULT " + json.dumps(_ended(job["name"], status, pid)), flush=True)
        if job.get("touch_after"):
            Path(job["touch_after"]).touch()
        if job.get("copy_after"):
            source, copy = job["copy_after"]
            shutil.copytree(source, copy) if Path(source).is_dir() else shutil.copy2(source, copy)
    for pid, name in background.items():
        _, status = os.waitpid(pid, 0)
        print("RESULT " + json.dumps(_ended(name, status, pid)), flush=True)


if __name__ == "__main__":
    main()
