"""LastCheckpoint decides when to write last.ckpt through Lightning's public API (issue 33 item 4)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from lightning.pytorch.trainer.states import TrainerFn

from lit_distill.callbacks import last_checkpoint
from lit_distill.callbacks.last_checkpoint import LastCheckpoint


class FakeTrainer(SimpleNamespace):
    """The trainer attributes LastCheckpoint reads; ``save_checkpoint`` records the steps saved."""

    def __init__(self, **kwargs: Any) -> None:
        defaults: dict[str, Any] = {
            "global_step": 0,
            "fast_dev_run": False,
            "sanity_checking": False,
            "state": SimpleNamespace(fn=TrainerFn.FITTING),
            "strategy": SimpleNamespace(broadcast=lambda value: value),
            "loggers": [],
            "saved": [],
        }
        super().__init__(**{**defaults, **kwargs})

    def save_checkpoint(self, path: Path, weights_only: bool = False) -> None:
        self.saved.append((self.global_step, Path(path).name))


def run_steps(callback: LastCheckpoint, trainer: FakeTrainer, steps: range) -> None:
    for step in steps:
        trainer.global_step = step
        callback.on_train_batch_end(trainer, None, None, None, step)  # type: ignore[arg-type]


def test_every_n_steps_and_every_epoch_end_once_per_step(tmp_path: Path) -> None:
    callback = LastCheckpoint(dirpath=str(tmp_path), every_n_train_steps=2)
    trainer = FakeTrainer()
    run_steps(callback, trainer, range(1, 5))
    callback.on_train_epoch_end(trainer, None)  # type: ignore[arg-type]  # step 4: saved already
    trainer.global_step = 5
    callback.on_train_epoch_end(trainer, None)  # type: ignore[arg-type]
    assert trainer.saved == [(2, "last.ckpt"), (4, "last.ckpt"), (5, "last.ckpt")]
    assert callback.last_model_path == callback.best_model_path == str(tmp_path / "last.ckpt")


def test_every_n_minutes_of_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(last_checkpoint.time, "monotonic", lambda: clock[0])
    callback = LastCheckpoint(dirpath=str(tmp_path), every_n_minutes=1.0)
    trainer = FakeTrainer()
    callback.on_train_start(trainer, None)  # type: ignore[arg-type]
    for step, seconds in [(1, 30.0), (2, 61.0), (3, 90.0), (4, 125.0)]:
        clock[0] = seconds
        run_steps(callback, trainer, range(step, step + 1))
    assert [step for step, _ in trainer.saved] == [2, 4]


def test_nothing_is_saved_outside_fit_or_while_checking(tmp_path: Path) -> None:
    callback = LastCheckpoint(dirpath=str(tmp_path))
    trainer = FakeTrainer(global_step=3)
    trainer.sanity_checking = True
    callback.on_train_epoch_end(trainer, None)  # type: ignore[arg-type]
    trainer.sanity_checking, trainer.state.fn = False, TrainerFn.VALIDATING
    callback.on_train_epoch_end(trainer, None)  # type: ignore[arg-type]
    assert trainer.saved == []
