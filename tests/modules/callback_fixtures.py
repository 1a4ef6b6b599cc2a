"""A user-style callback for the YAML ``trainer.callbacks`` test (imported by class path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch


class RecordingPenalty(pl.Callback):
    """Adds ``weight * mean(start_logits^2)`` to the loss and records every call in ``record_file``."""

    def __init__(self, weight: float = 0.01, record_file: str = "penalty.json") -> None:
        self.weight = weight
        self.record_file = record_file
        self.calls = 0

    def extra_loss(
        self, trainer: pl.Trainer, pl_module: Any, batch: dict[str, torch.Tensor], outputs: Any
    ) -> torch.Tensor:
        self.calls += 1
        return self.weight * outputs.start_logits.float().pow(2).mean()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        Path(self.record_file).write_text(json.dumps({"calls": self.calls, "steps": trainer.global_step}))
