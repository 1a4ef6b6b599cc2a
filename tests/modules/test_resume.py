"""A run killed mid-epoch and resumed with ``ckpt_path="last"`` ends like an uninterrupted one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lit_distill.modules import Teacher
from tests.modules.conftest import SEQ, trainer

# dropout on: the resumed run must also draw the same random numbers
CONFIG = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=SEQ,
)


class Crash(pl.Callback):
    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.at_step:
            raise RuntimeError("killed")  # the process dies mid-epoch


def _run(tmp_path: Path, dm: Any, callbacks: list[pl.Callback], ckpt_path: str | None = None) -> pl.Trainer:
    pl.seed_everything(7)
    module = Teacher(model_config=CONFIG, learning_rate=1e-3)
    t = trainer(
        tmp_path,
        max_epochs=2,
        limit_train_batches=4,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        enable_checkpointing=True,
        callbacks=callbacks,
    )
    t.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    return t


def test_killed_mid_epoch_and_resumed_matches_uninterrupted(
    tmp_path: Path, datamodule: Callable[..., Any]
) -> None:
    full = _run(tmp_path / "a", datamodule(), [])
    steps_per_epoch = full.num_training_batches
    assert steps_per_epoch == 4
    crash_at = steps_per_epoch + steps_per_epoch // 2  # in the middle of the second epoch
    ckpt_dir = tmp_path / "b" / "ckpt"
    saver = ModelCheckpoint(dirpath=ckpt_dir, save_last=True, every_n_train_steps=1, save_top_k=0)
    with pytest.raises(RuntimeError, match="killed"):
        _run(tmp_path / "b", datamodule(), [Crash(crash_at), saver])
    assert torch.load(ckpt_dir / "last.ckpt", weights_only=False)["global_step"] == crash_at
    resumed = _run(
        tmp_path / "b", datamodule(), [ModelCheckpoint(dirpath=ckpt_dir, save_last=True)], ckpt_path="last"
    )
    assert resumed.global_step == full.global_step
    for key in ("val/exact", "val/f1", "val/NoAns_f1"):
        assert float(resumed.callback_metrics[key]) == pytest.approx(
            float(full.callback_metrics[key]), abs=1e-6
        )
    a, b = full.lightning_module.state_dict(), resumed.lightning_module.state_dict()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6), name


def test_resumable_train_loader_is_the_data_module_s_alone() -> None:
    """The model's old alias is gone (nothing was released with it); the seeding is step_seeded_random."""
    with pytest.raises(TypeError, match="resumable_train_loader"):
        Teacher(model_config=CONFIG, resumable_train_loader=False)  # type: ignore[call-arg]
    module = Teacher(model_config=CONFIG, step_seeded_random=False)
    assert module.step_seeded_random is False and Teacher(model_config=CONFIG).step_seeded_random is True
    # Lightning refuses to log two hyper-parameters of one name with different values
    assert "resumable_train_loader" not in module.hparams


def test_the_data_module_s_training_loader_is_stateful(datamodule: Callable[..., Any]) -> None:
    loader = datamodule().train_dataloader()
    assert hasattr(loader, "state_dict") and hasattr(loader, "load_state_dict")
    assert not hasattr(datamodule(resumable_train_loader=False).train_dataloader(), "state_dict")
