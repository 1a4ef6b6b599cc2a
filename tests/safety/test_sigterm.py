"""What a SIGTERM saves, where, and the line it prints (lit_distill.callbacks.preemption) on their own."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lit_distill.callbacks.last_checkpoint import LastCheckpoint
from lit_distill.callbacks.preemption import Preempted, resume_command, save_last_checkpoint, sigterm_message


class FakeTrainer(SimpleNamespace):
    def __init__(self, root: Path, callbacks: list[Any]) -> None:
        super().__init__(
            default_root_dir=str(root),
            checkpoint_callbacks=callbacks,
            global_step=7,
            fast_dev_run=False,
            sanity_checking=False,
            state=SimpleNamespace(fn=TrainerFn.FITTING),
            loggers=[],
            saved=[],
        )

    def save_checkpoint(self, path: Path, weights_only: bool = False) -> None:
        self.saved.append(Path(path))


@pytest.mark.parametrize("where", ["LastCheckpoint", "ModelCheckpoint", "neither"])
def test_the_checkpoint_goes_where_resume_looks_for_it(tmp_path: Path, where: str) -> None:
    callbacks: list[Any] = {
        "LastCheckpoint": [
            ModelCheckpoint(dirpath=str(tmp_path / "best")),
            LastCheckpoint(str(tmp_path / "last")),
        ],
        "ModelCheckpoint": [ModelCheckpoint(dirpath=str(tmp_path / "best"))],
        "neither": [],
    }[where]
    trainer = FakeTrainer(tmp_path, callbacks)
    expected = {
        "LastCheckpoint": tmp_path / "last" / "last.ckpt",
        "ModelCheckpoint": tmp_path / "best" / "last.ckpt",
        "neither": tmp_path / "checkpoints" / "last.ckpt",
    }[where]
    assert save_last_checkpoint(trainer) == expected  # type: ignore[arg-type]
    assert trainer.saved == [expected]


def test_the_sigterm_line_gives_the_command_that_resumes(tmp_path: Path) -> None:
    args = ["--config", "c.yaml", "--ckpt_path", "old.ckpt", "--trainer.max_epochs=3", "--ckpt_path=x"]
    ckpt = tmp_path / "my runs" / "last.ckpt"
    assert resume_command("fit", args, ckpt) == (
        f"python -m lit_distill fit --config c.yaml --trainer.max_epochs=3 --ckpt_path '{ckpt}'"
    )
    line = sigterm_message(Preempted(ckpt, 7, 1), "fit", args)
    assert line.startswith("python -m lit_distill fit: stopped by SIGTERM after step 7 (epoch 1); saved")
    assert "\n" not in line and line.endswith(resume_command("fit", args, ckpt))


def test_a_sigterm_outside_a_training_step_points_to_the_last_checkpoint() -> None:
    """Lightning's own SIGTERMException (raised mid-validation) carries no checkpoint."""
    assert sigterm_message(SIGTERMException(), "fit", []) == (
        "python -m lit_distill fit: stopped by SIGTERM outside a training step; "
        "resume from the last checkpoint saved (--ckpt_path last)"
    )
    assert sigterm_message(SIGTERMException(), "validate", []).endswith(
        "stopped by SIGTERM; nothing was saved"
    )
