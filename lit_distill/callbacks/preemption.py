"""SIGTERM during ``fit``: a resumable checkpoint of the step reached, one line, exit code 143.

A scheduler (SLURM, Kubernetes, ``timeout``) stops a job with SIGTERM and, after a grace
period, SIGKILL. Lightning's own handler only records the signal
(:attr:`~lightning.pytorch.Trainer.received_sigterm`) and ends ``fit`` with a
:class:`~lightning.pytorch.utilities.exceptions.SIGTERMException`, a ``SystemExit`` whose
exit code is 0, so a preempted job looked finished and nothing said what was saved.
:class:`SigtermCheckpoint` saves ``last.ckpt`` at the end of the training step during which
the signal came (the point at which :class:`~lit_distill.callbacks.LastCheckpoint` saves
every N steps, from which ``fit`` resumes bit-identically) and stops with
:class:`Preempted`; ``python -m lit_distill`` prints :func:`sigterm_message` and exits
with :data:`EXIT_SIGTERM` (128 + 15, as a shell reports a process ended by SIGTERM).
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException
from typing_extensions import override

from lit_distill.callbacks.last_checkpoint import LastCheckpoint

__all__ = ["EXIT_SIGTERM", "Preempted", "SigtermCheckpoint", "resume_command", "sigterm_message"]

EXIT_SIGTERM = 128 + int(signal.SIGTERM)


class Preempted(SIGTERMException):
    """``fit`` stopped on SIGTERM after saving a resumable checkpoint.

    Attributes:
        checkpoint: The checkpoint written.
        step: The global step it holds.
        epoch: The epoch it was written in.
    """

    def __init__(self, checkpoint: Path, step: int, epoch: int) -> None:
        super().__init__(EXIT_SIGTERM)
        self.checkpoint = checkpoint
        self.step = step
        self.epoch = epoch


class SigtermCheckpoint(Checkpoint):
    """On SIGTERM, save ``last.ckpt`` at the end of the current training step and stop.

    The checkpoint goes where :class:`~lit_distill.callbacks.LastCheckpoint` keeps it,
    else beside the first ``ModelCheckpoint``'s files, else to
    ``<default_root_dir>/checkpoints/last.ckpt``. Under DDP the ranks agree on the
    signal first, so all of them save and stop at the same step. A ``Checkpoint``
    subclass, so that Lightning runs it after the other callbacks' hooks of the step,
    as it does ``ModelCheckpoint``. ``python -m lit_distill fit`` adds it.
    """

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        stop = trainer.received_sigterm
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if not stop:
            return
        path = save_last_checkpoint(trainer)
        raise Preempted(path, trainer.global_step, trainer.current_epoch)


def save_last_checkpoint(trainer: pl.Trainer) -> Path:
    """Save a resumable checkpoint of the current step as ``last.ckpt``; returns its path."""
    callbacks = trainer.checkpoint_callbacks
    for callback in callbacks:
        if isinstance(callback, LastCheckpoint) and callback.last_path is not None:
            callback.save(trainer)  # nothing when it saved this step already
            return callback.last_path
    path = Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"
    for callback in callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath:
            path = Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
            break
    trainer.save_checkpoint(path)
    return path


def resume_command(command: str, args: Sequence[str], checkpoint: Path) -> str:
    """``python -m lit_distill COMMAND ARGS --ckpt_path CHECKPOINT``, any earlier ``--ckpt_path`` dropped."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--ckpt_path":
            skip = True
        elif not arg.startswith("--ckpt_path="):
            kept.append(arg)
    return shlex.join(["python", "-m", "lit_distill", command, *kept, "--ckpt_path", str(checkpoint)])


def sigterm_message(exc: SIGTERMException, command: str, args: Sequence[str]) -> str:
    """The one line ``python -m lit_distill`` prints when a run stopped on SIGTERM."""
    prefix = f"python -m lit_distill {command}: stopped by SIGTERM"
    if isinstance(exc, Preempted):
        return (
            f"{prefix} after step {exc.step} (epoch {exc.epoch}); saved a resumable checkpoint of that step "
            f"to {str(exc.checkpoint)!r}; resume with: {resume_command(command, args, exc.checkpoint)}"
        )
    if command == "fit":
        return f"{prefix} outside a training step; resume from the last checkpoint saved (--ckpt_path last)"
    return f"{prefix}; nothing was saved"
