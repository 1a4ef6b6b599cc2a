"""Warnings about how a model was loaded, held until it is known that its weights are used.

``validate``/``test``/``predict --ckpt_path FILE`` and ``fit --ckpt_path`` build the module's
model from its source in ``setup``, because Lightning tells a module about the checkpoint only
after ``setup``; the checkpoint's weights then replace every loaded one. A warning such as
"no weights for qa_outputs ...; they were initialised randomly" is wrong for such a run.
:func:`held_log_records` keeps the loader's records back; the module releases them with
:func:`release` when the run starts from the loaded weights, and drops them when a checkpoint
replaced those weights.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

__all__ = ["held_log_records", "release"]


class _Hold(logging.Filter):
    """Keeps every record of the logger it filters and lets none through."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False


@contextmanager
def held_log_records(logger: logging.Logger) -> Iterator[list[logging.LogRecord]]:
    """Hold back what ``logger`` logs inside the block; yields the list the records are added to.

    Example::

        with held_log_records(qa_model.log) as held:
            model = QAModel.from_pretrained("bert-base-uncased")  # "... initialised randomly" held
        release(held)  # only when these weights are the ones used
    """
    hold = _Hold()
    logger.addFilter(hold)
    try:
        yield hold.records
    finally:
        logger.removeFilter(hold)


def release(records: Sequence[logging.LogRecord]) -> None:
    """Log held records now, each through the logger it was made by."""
    for record in records:
        logging.getLogger(record.name).handle(record)
