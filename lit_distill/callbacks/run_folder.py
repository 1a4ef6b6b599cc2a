"""Hold a ``fit``'s run-folder locks (:mod:`lit_distill.run_lock`) until the run ends."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from typing_extensions import override

from lit_distill.run_lock import FolderLock

__all__ = ["RunFolderLock"]


class RunFolderLock(Callback):
    """Lock the folders of one run for its whole duration; a second run into them fails at once.

    ``python -m lit_distill fit`` builds it with :func:`lit_distill.preflight.run_folders` and
    calls :meth:`acquire` on global rank 0 right after the classes are built: before
    Lightning's loggers open their files (a ``CSVLogger`` removes an existing
    ``metrics.csv`` when it starts) and before ``config.yaml`` is written. The locks are
    released when ``fit`` ends, also by an exception; a killed run's locks are released by
    the operating system.

    Args:
        folders: The run folders to lock.
    """

    def __init__(self, folders: Sequence[str | Path]) -> None:
        self.locks = [FolderLock(folder) for folder in folders]

    def acquire(self) -> None:
        """Take every lock, or none.

        Raises:
            lit_distill.user_errors.UserInputError: a folder is in use by another live run (named).
        """
        try:
            for lock in self.locks:
                lock.acquire()
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Release the locks held."""
        for lock in self.locks:
            lock.release()

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.release()

    @override
    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self.release()
