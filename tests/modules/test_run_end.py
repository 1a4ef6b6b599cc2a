"""A run's last training batch is validated and logged, also when max_steps ends an epoch early (#29 item 5)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lightning.pytorch.loggers import CSVLogger

from lit_distill.modules import Teacher
from lit_distill.modules.run_end import is_last_training_batch
from tests.modules.conftest import trainer

SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


@pytest.mark.parametrize(
    ("step", "max_steps", "epoch", "max_epochs", "last_of_epoch", "last"),
    [
        (30, 30, 0, 3, False, True),  # max_steps in the middle of an epoch
        (29, 30, 0, 3, False, False),
        (10, -1, 2, 3, True, True),  # the last epoch's last batch
        (10, -1, 1, 3, True, False),
        (10, -1, 2, 3, False, False),
        (10, None, 5, None, True, False),  # no limit
        (10, -1, 5, -1, True, False),
    ],
)
def test_is_last_training_batch(
    step: int, max_steps: int | None, epoch: int, max_epochs: int | None, last_of_epoch: bool, last: bool
) -> None:
    assert (
        is_last_training_batch(
            global_step=step,
            max_steps=max_steps,
            current_epoch=epoch,
            max_epochs=max_epochs,
            last_batch_of_epoch=last_of_epoch,
        )
        is last
    )


def read_rows(root: Path) -> list[dict[str, str]]:
    (path,) = root.rglob("metrics.csv")
    return list(csv.DictReader(path.open()))


def test_max_steps_mid_epoch_validates_and_logs_the_last_step(
    tmp_path: Path, datamodule: Callable[..., Any]
) -> None:
    """``--trainer.max_steps 3`` of a 42-batch epoch, logging every 50 steps: metrics.csv has the
    validation scores and the last step's training loss (before: no validation, no metrics.csv)."""
    module = Teacher(model_config=SMALL, learning_rate=1e-3)
    t = trainer(
        tmp_path,
        max_steps=3,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        log_every_n_steps=50,
        logger=CSVLogger(str(tmp_path), name="logs"),
    )
    t.fit(module, datamodule=datamodule())
    assert t.global_step == 3 and t.num_training_batches > 3
    rows = read_rows(tmp_path)
    val = [r for r in rows if r.get("val/f1")]
    train = [r for r in rows if r.get("train/loss")]
    assert len(val) == 1 and val[0]["step"] == "2"  # validated once, after the last step (0-based)
    assert len(train) == 1 and train[0]["step"] == "2"


def test_a_run_shorter_than_the_logging_interval_logs_its_last_step(
    tmp_path: Path, datamodule: Callable[..., Any]
) -> None:
    module = Teacher(model_config=SMALL, learning_rate=1e-3)
    t = trainer(
        tmp_path,
        max_epochs=2,
        limit_train_batches=2,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        log_every_n_steps=50,
        logger=CSVLogger(str(tmp_path), name="logs"),
    )
    t.fit(module, datamodule=datamodule())
    rows = read_rows(tmp_path)
    assert [r["step"] for r in rows if r.get("train/loss")] == ["3"]  # the run's last step, 4 of 4
    assert len([r for r in rows if r.get("val/f1")]) == 2  # after each epoch, as before
    assert t.current_epoch == 2  # both epochs ran
