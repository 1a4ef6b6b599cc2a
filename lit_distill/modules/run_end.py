"""The last training batch of a run, which is always validated and logged.

Lightning validates at the end of an epoch and logs every ``log_every_n_steps`` steps, so a
run that ``max_steps`` ends in the middle of an epoch, or that is shorter than the logging
interval, ends without a validation and without a line in ``metrics.csv``. On the run's last
batch :class:`~lit_distill.modules.qa_module.QAModule` sets ``trainer.should_stop``, Lightning's
own way of ending a run early: the loop then validates (in an epoch that validates at all,
``check_val_every_n_epoch``) and logs that step's training metrics.
"""

from __future__ import annotations

__all__ = ["is_last_training_batch"]


def is_last_training_batch(
    *,
    global_step: int,
    max_steps: int | None,
    current_epoch: int,
    max_epochs: int | None,
    last_batch_of_epoch: bool,
) -> bool:
    """Whether the batch that just ended is the run's last.

    Args:
        global_step: optimiser steps done, this batch's included.
        max_steps: the trainer's ``max_steps`` (``-1`` or ``None``: no limit).
        current_epoch: the epoch of the batch (0-based).
        max_epochs: the trainer's resolved ``max_epochs`` (``-1`` or ``None``: no limit).
        last_batch_of_epoch: the batch ends its epoch (``limit_train_batches`` included).

    Example::

        >>> is_last_training_batch(global_step=30, max_steps=30, current_epoch=0, max_epochs=3,
        ...                        last_batch_of_epoch=False)
        True
    """
    if max_steps is not None and max_steps > 0 and global_step >= max_steps:
        return True
    return (
        last_batch_of_epoch and max_epochs is not None and max_epochs > 0 and current_epoch + 1 >= max_epochs
    )
