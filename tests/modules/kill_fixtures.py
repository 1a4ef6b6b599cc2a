"""Helpers of the SIGKILL-and-resume test: a callback that kills its process, and a driver that forks fits."""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback

import lightning.pytorch as pl


class SigkillAfterFirstEpoch(pl.Callback):
    """Kill the process with SIGKILL (no clean-up, as a dying machine) when the second epoch starts."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch >= 1:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)


class TeacherMustNotRun(pl.Callback):
    """Make every call of the student's teacher fail (the module's ``on_fit_start`` runs after this)."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("the teacher ran although no loss term uses it")

        pl_module.teacher.forward = refuse  # type: ignore[attr-defined,method-assign]


def main() -> None:
    """``python kill_fixtures.py JOBS_JSON``: run each ``{"cwd", "args"}`` fit in a forked child.

    Torch and Lightning are imported once, before forking. Prints a JSON list with, per
    job, the signal that ended the child (9 for SIGKILL) or minus its exit code.
    """
    from lit_distill.cli import LitDistillCLI

    jobs = json.loads(sys.argv[1])
    sys.argv = sys.argv[:1]
    ended = []
    for job in jobs:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.chdir(job["cwd"])
                LitDistillCLI(args=job["args"])
            except BaseException:
                traceback.print_exc()
                code = 3
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        ended.append(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status))
    print("ENDED " + json.dumps(ended), flush=True)


if __name__ == "__main__":
    main()
