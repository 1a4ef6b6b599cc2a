"""A resumable ``last.ckpt`` at the end of every training epoch, and optionally every N steps or minutes."""

from __future__ import annotations

from datetime import timedelta

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from typing_extensions import override

from lit_distill.checks import finite_number, positive_int
from lit_distill.user_errors import UserInputError

__all__ = ["LastCheckpoint"]


class LastCheckpoint(ModelCheckpoint):
    """Keep one resumable ``<dirpath>/last.ckpt``, overwritten as training goes.

    Written at the end of every training epoch, and in addition every
    ``every_n_train_steps`` optimiser steps or every ``every_n_minutes`` of
    training (for long epochs). ``fit --ckpt_path last`` resumes from it, also
    mid-epoch. Lightning's ``ModelCheckpoint(save_last=True, save_top_k=0)`` writes
    ``last.ckpt`` only when training ends (a saved top-k checkpoint is what
    triggers the "last" copy), which leaves nothing to resume from after a crash.

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
            raise UserInputError("LastCheckpoint: give every_n_train_steps or every_n_minutes, not both")
        super().__init__(
            dirpath=dirpath,
            filename=self.CHECKPOINT_NAME_LAST,  # the one kept checkpoint is last.ckpt
            monitor=None,
            save_top_k=1,
            save_last=False,
            every_n_train_steps=every_n_train_steps,
            train_time_interval=None if every_n_minutes is None else timedelta(minutes=every_n_minutes),
            save_on_train_epoch_end=True,
            enable_version_counter=False,
        )

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # ModelCheckpoint skips epoch ends when a step or time interval is set: always save here
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))
