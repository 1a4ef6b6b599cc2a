"""A resumable ``last.ckpt`` at the end of every training epoch, and optionally every N steps or minutes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from weakref import proxy

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from typing_extensions import override

from lit_distill.checks import finite_number, positive_int

__all__ = ["LastCheckpoint"]


class LastCheckpoint(ModelCheckpoint):
    """Keep one resumable ``<dirpath>/last.ckpt``, overwritten as training goes.

    Written at the end of every training epoch, and in addition every
    ``every_n_train_steps`` optimiser steps or every ``every_n_minutes`` of
    training (for long epochs). ``fit --ckpt_path last`` resumes from it, also
    mid-epoch. Lightning's ``ModelCheckpoint(save_last=True, save_top_k=0)`` writes
    ``last.ckpt`` only when training ends (a saved top-k checkpoint is what
    triggers the "last" copy), which leaves nothing to resume from after a crash.

    The saving is this class's own, through Lightning's public
    :meth:`~lightning.pytorch.Trainer.save_checkpoint`; the ``ModelCheckpoint`` base
    (which saves nothing here: ``save_top_k=0``) resolves ``dirpath`` and lets
    ``ckpt_path="last"`` find the file. ``python -m lit_distill`` replaces the file
    atomically (:class:`~lit_distill.checkpoint_io.AtomicCheckpointIO`).

    Args:
        dirpath: directory of ``last.ckpt``; default ``<default_root_dir>/checkpoints``
            (or the logger's directory, as for ``ModelCheckpoint``).
        every_n_train_steps: also save every this many optimiser steps (``None``: only at epoch ends).
        every_n_minutes: also save after this many minutes of training since the last save
            (``None``: only at epoch ends). Give at most one of the two.

    Example::

        trainer:
          callbacks:
            - class_path: lit_distill.callbacks.LastCheckpoint
              init_args:
                dirpath: runs/teacher/checkpoints
                every_n_minutes: 30
    """

    def __init__(
        self,
        dirpath: str | None = None,
        every_n_train_steps: int | None = None,
        every_n_minutes: float | None = None,
    ) -> None:
        positive_int("LastCheckpoint: every_n_train_steps", every_n_train_steps, optional=True)
        finite_number("LastCheckpoint: every_n_minutes", every_n_minutes, low=0, low_open=True, optional=True)
        if every_n_train_steps is not None and every_n_minutes is not None:
            raise ValueError("LastCheckpoint: give every_n_train_steps or every_n_minutes, not both")
        super().__init__(
            dirpath=dirpath,
            filename=self.CHECKPOINT_NAME_LAST,
            monitor=None,
            save_top_k=0,  # the base class saves nothing; this class saves last.ckpt itself
            save_last=False,
            save_on_train_epoch_end=True,
            enable_version_counter=False,
        )
        self.save_every_n_steps = every_n_train_steps
        self.save_every_s = None if every_n_minutes is None else 60.0 * every_n_minutes
        self.saved_step: int | None = None  # global step of the last save by this callback
        self._last_save_time = time.monotonic()

    @property
    def last_path(self) -> Path | None:
        """``<dirpath>/last.ckpt`` (None before ``dirpath`` is resolved at setup)."""
        if self.dirpath is None:
            return None
        return Path(self.dirpath) / f"{self.CHECKPOINT_NAME_LAST}{self.FILE_EXTENSION}"

    def save(self, trainer: pl.Trainer) -> Path | None:
        """Write ``last.ckpt`` now (on every rank under DDP); None when there is nothing new to save.

        Nothing is saved outside ``fit``, during the sanity check, under ``fast_dev_run``,
        or twice at one global step.
        """
        path = self.last_path
        if (
            path is None
            or getattr(trainer, "fast_dev_run", False)  # set by the Trainer, not declared
            or trainer.sanity_checking
            or trainer.state.fn != TrainerFn.FITTING
            or self.saved_step == trainer.global_step
        ):
            return None
        trainer.save_checkpoint(path, weights_only=False)
        self.saved_step = trainer.global_step
        # the one kept checkpoint, as ModelCheckpoint(save_top_k=1, monitor=None) records it
        self.last_model_path = self.best_model_path = str(path)
        self._last_save_time = time.monotonic()
        for logger in trainer.loggers:  # as ModelCheckpoint does (e.g. W&B uploads it)
            logger.after_save_checkpoint(proxy(self))
        return path

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last_save_time = time.monotonic()

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.save_every_n_steps is not None:
            if trainer.global_step % self.save_every_n_steps == 0:
                self.save(trainer)
        elif self.save_every_s is not None:
            due = time.monotonic() - self._last_save_time >= self.save_every_s
            if trainer.strategy.broadcast(due):  # rank 0's clock decides for every rank
                self.save(trainer)

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.save(trainer)
