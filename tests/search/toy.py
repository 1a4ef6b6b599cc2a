"""A tiny LightningModule/DataModule for the search tests (no model, no data download).

Its validation metrics are a known function of its arguments, so a test can check
that a trial's overrides reached the module and its metrics came back.
``fail`` makes it die the ways real trials die; ``sleep`` (seconds, in the training step)
makes it slow enough to be timed out or killed.
"""

from __future__ import annotations

import time
from typing import Literal

import torch
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from torch.utils.data import DataLoader, TensorDataset


class ToyData(LightningDataModule):
    """Eight random vectors, for one training step and one validation batch."""

    def __init__(self, size: int = 8) -> None:
        super().__init__()
        self.size = size

    def _loader(self) -> DataLoader:
        g = torch.Generator().manual_seed(0)
        return DataLoader(
            TensorDataset(torch.randint(0, 10, (self.size, 4), generator=g)), batch_size=self.size
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()


class ToyQA(LightningModule):
    """Logs ``val/exact`` etc. as a known function of ``knob``, ``hidden`` and ``length_config``.

    exact = 90 − 100·|knob − 0.3|, f1 = exact + 5, HasAns_f1 = f1 + 1, NoAns_f1 = f1 − 1,
    plus ``val/length_sum`` = sum(length_config) (0 without one).
    """

    def __init__(
        self,
        knob: float = 0.5,
        hidden: int = 4,
        other: float = 0.0,
        length_config: list[int] | None = None,
        fail: Literal["none", "cuda_oom", "host_oom", "crash"] = "none",
        tag: str | None = None,
        sleep: float = 0.0,
    ) -> None:
        super().__init__()
        self.knob = knob
        self.sleep = sleep
        self.length_config = length_config
        self.fail = fail
        self.other = other
        self.model = torch.nn.Sequential(torch.nn.Embedding(10, hidden), torch.nn.Linear(hidden, 1))

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        time.sleep(self.sleep)
        if self.fail == "cuda_oom":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (toy)")
        if self.fail == "host_oom":
            raise MemoryError("toy host out of memory")
        if self.fail == "crash":
            raise ValueError("toy crash for the test")
        return self.model(batch[0]).mean()

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        exact = 90.0 - 100.0 * abs(self.knob - 0.3)
        self.log("val/exact", exact)
        self.log("val/f1", exact + 5.0)
        self.log("val/HasAns_f1", exact + 6.0)
        self.log("val/NoAns_f1", exact + 4.0)
        self.log("val/length_sum", float(sum(self.length_config or [])))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def quiet_trainer(root: str, callbacks: list[Callback], sanity_steps: int = 0) -> Trainer:
    """A one-step, one-validation-batch CPU trainer without logger, checkpoints or progress bar."""
    return Trainer(
        default_root_dir=root,
        accelerator="cpu",
        max_steps=1,
        limit_val_batches=1,
        num_sanity_val_steps=sanity_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
