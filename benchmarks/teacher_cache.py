"""Benchmark: DistilBERT-style student epochs with cached teacher logits vs the teacher at every step.

BERT-base-shaped teacher (12 layers, hidden 768, 12 heads), 6-layer student copied
from it (every other layer), random weights and random tokens, CPU. Prints the
time of the one-off cache build, the steady-state epoch time of both runs and
their ratio, and the ratio over ``--epochs`` epochs with the cache build included.

    python -m benchmarks.teacher_cache --features 96 --seq-length 128 --batch-size 16 --epochs 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl
import torch

from benchmarks.harness import RandomQADataModule, parse_bench_args
from lit_distill.models.config import EncoderConfig
from lit_distill.models.qa_model import QAModel
from lit_distill.modules import DistilBertStudent


class EpochTimer(pl.Callback):
    """Wall time of every training epoch and of ``on_fit_start`` (where the cache is built)."""

    def __init__(self) -> None:
        self.epochs: list[float] = []
        self.fit_start = 0.0
        self.setup_done = 0.0

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.setup_done = time.perf_counter()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.fit_start = time.perf_counter() - self.setup_done  # on_fit_start (cache) + strategy setup

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epochs.append(time.perf_counter() - self._t0)


def timed_fit(module: pl.LightningModule, data: pl.LightningDataModule, epochs: int) -> EpochTimer:
    """``fit`` on the CPU for ``epochs`` epochs with nothing but training (no validation, logging,
    checkpoints or progress bar); the epoch times."""
    timer = EpochTimer()
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(module, datamodule=data)
    return timer


def run(teacher_dir: Path, logit_cache_dir: Path, use_cache: bool, args: argparse.Namespace) -> EpochTimer:
    torch.manual_seed(0)
    data = RandomQADataModule(args.features, args.seq_length, 30522, args.batch_size)
    module = DistilBertStudent(
        teacher=str(teacher_dir), use_cache=use_cache, logit_cache_dir=str(logit_cache_dir), warmup_ratio=0.0
    )
    return timed_fit(module, data, args.epochs)


def main() -> None:
    args = parse_bench_args(__doc__, f"python -m {__spec__.name}")
    with tempfile.TemporaryDirectory() as tmp:
        teacher_dir = Path(tmp) / "teacher"
        torch.manual_seed(0)
        QAModel(EncoderConfig()).save(teacher_dir)  # BERT-base shape, random weights
        cached = run(teacher_dir, Path(tmp) / "cache", True, args)
        live = run(teacher_dir, Path(tmp) / "cache", False, args)
    steady_cached = min(cached.epochs)
    steady_live = min(live.epochs)
    total_cached = cached.fit_start + sum(cached.epochs)
    total_live = live.fit_start + sum(live.epochs)
    print(
        f"features={args.features} seq_length={args.seq_length} batch_size={args.batch_size} "
        f"epochs={args.epochs} threads={torch.get_num_threads()}"
    )
    print(f"cache build (once per teacher and training set): {cached.fit_start:.1f} s")
    print(
        f"epoch with cached teacher logits: {steady_cached:.1f} s  (epochs: {[round(e, 1) for e in cached.epochs]})"
    )
    print(
        f"epoch with the teacher every step: {steady_live:.1f} s  (epochs: {[round(e, 1) for e in live.epochs]})"
    )
    print(f"speed-up per epoch (cache reused): {steady_live / steady_cached:.2f}x")
    print(f"speed-up over {args.epochs} epochs, cache build included: {total_live / total_cached:.2f}x")


if __name__ == "__main__":
    main()
