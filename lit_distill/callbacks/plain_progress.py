"""Plain progress lines for logs (``nohup``, cluster jobs, CI): no terminal, no progress bar needed."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping
from typing import Any, Literal, TextIO

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_only
from typing_extensions import override

from lit_distill.checks import one_of, positive_int

__all__ = ["PlainProgress", "format_duration", "progress_line", "validation_line"]


def format_duration(seconds: float) -> str:
    """``3725`` -> ``"1:02:05"``; ``nan``/``inf`` -> ``"?"``."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def progress_line(
    step: int, total: int | None, epoch: int, loss: float | None, samples_per_s: float, eta_s: float
) -> str:
    """One training progress line, e.g. ``epoch 0 step 50/400 loss 2.3141 31.2 samples/s ETA 0:03:12``."""
    of = f"/{total}" if total else ""
    loss_s = f"loss {loss:.4f}" if loss is not None else "loss ?"
    return (
        f"epoch {epoch} step {step}{of} {loss_s} {samples_per_s:.1f} samples/s ETA {format_duration(eta_s)}"
    )


def validation_line(epoch: int, step: int, metrics: Mapping[str, float], prefix: str = "val/") -> str:
    """The validation metrics logged under ``prefix``, e.g. ``validation epoch 0 step 400: val/exact 61.20 ...``."""
    items = [f"{k} {v:.2f}" for k, v in sorted(metrics.items()) if k.startswith(prefix)]
    return f"validation epoch {epoch} step {step}: " + (" ".join(items) if items else "(no metrics)")


class PlainProgress(Callback):
    """Print a plain line every ``every_n_steps`` training steps and after each validation.

    A line gives the epoch, the optimiser step (of the total), the training loss,
    the throughput in samples per second since the previous line, and the
    estimated time left; after each validation, the logged ``val/`` metrics.
    Lines go to standard output on global rank 0, flushed, so they show in a
    file at once. ``python -m lit_distill`` adds this callback to every run
    (options under ``progress.*``, e.g. ``--progress.every_n_steps 200``).

    Args:
        every_n_steps: print every this many optimiser steps.
        when: ``"auto"`` prints when standard output is not a terminal or when the
            trainer has no progress bar; ``"always"``; ``"never"``.
    """

    def __init__(self, every_n_steps: int = 50, when: Literal["auto", "always", "never"] = "auto") -> None:
        positive_int("PlainProgress: every_n_steps", every_n_steps)
        one_of("PlainProgress: when", when, ("auto", "always", "never"))
        self.every_n_steps = every_n_steps
        self.when = when
        self.stream: TextIO = sys.stdout
        self._active = False
        self._t0 = 0.0
        self._step0 = 0
        self._last_t = 0.0
        self._samples = 0
        self._printed_step = -1

    def _enabled(self, trainer: pl.Trainer) -> bool:
        if self.when == "never":
            return False
        if self.when == "always":
            return True
        isatty = getattr(self.stream, "isatty", None)
        return not (isatty is not None and isatty()) or trainer.progress_bar_callback is None

    @rank_zero_only
    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._active = self._enabled(trainer)
        self._t0 = self._last_t = time.perf_counter()
        self._step0 = trainer.global_step  # a resumed run starts later
        self._samples = 0

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self._active:
            return
        self._samples += _batch_size(batch)
        step = trainer.global_step
        if step in (self._step0, self._printed_step) or step % self.every_n_steps:
            return  # (with gradient accumulation several batches end on one step)
        self._printed_step = step
        now = time.perf_counter()
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        total = trainer.estimated_stepping_batches
        total_i = int(total) if math.isfinite(total) else None
        per_step = (now - self._t0) / max(step - self._step0, 1)
        eta = per_step * (total_i - step) if total_i is not None else float("nan")
        rate = self._samples / max(now - self._last_t, 1e-9)
        self._print(
            progress_line(
                step, total_i, trainer.current_epoch, None if loss is None else float(loss), rate, eta
            )
        )
        self._last_t, self._samples = now, 0

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not self._enabled(trainer):
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        self._print(validation_line(trainer.current_epoch, trainer.global_step, metrics))


def _batch_size(batch: Any) -> int:
    if isinstance(batch, Mapping):
        for value in batch.values():
            shape = getattr(value, "shape", None)
            if shape:
                return int(shape[0])
    return 0
