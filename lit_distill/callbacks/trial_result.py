"""``TrialResult``: rank 0 writes the run's metrics as JSON for the search (docs/architecture.md)."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from typing_extensions import override

from lit_distill.timing import synchronize
from lit_distill.trial_protocol import METRICS_PATH_ENV


def count_parameters(module: torch.nn.Module, include_embeddings: bool = True) -> int:
    """Number of parameters of ``module``, optionally without those of its ``nn.Embedding`` layers.

    Shared parameters (tied weights) are counted once.
    """
    seen: set[int] = set()
    total = 0
    for p in module.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    if include_embeddings:
        return total
    for sub in module.modules():
        if isinstance(sub, torch.nn.Embedding) and id(sub.weight) in seen:
            seen.discard(id(sub.weight))
            total -= sub.weight.numel()
    return total


def model_to_count(pl_module: LightningModule, attribute: str | None) -> torch.nn.Module:
    """The network whose size the trial reports: ``attribute``, else ``student``/``model``.

    Without either attribute, the whole LightningModule minus any ``teacher`` submodule is counted
    (a frozen teacher is not part of the model a user would ship).

    Raises:
        AttributeError: If ``attribute`` is given and the module has no such ``nn.Module``.
    """
    if attribute is not None:
        found = getattr(pl_module, attribute, None)
        if not isinstance(found, torch.nn.Module):
            raise AttributeError(
                f"TrialResult(model_attribute={attribute!r}): {type(pl_module).__name__} has no "
                f"nn.Module attribute {attribute!r}"
            )
        return found
    for name in ("student", "model"):
        found = getattr(pl_module, name, None)
        if isinstance(found, torch.nn.Module):
            return found
    teacher = getattr(pl_module, "teacher", None)
    if isinstance(teacher, torch.nn.Module):
        return torch.nn.ModuleList([m for n, m in pl_module.named_children() if m is not teacher])
    return pl_module


class TrialResult(Callback):
    """Write ``metrics.json`` for the search after every validation (rank 0 only).

    The file holds every ``val/…`` metric without its prefix (``exact``, ``f1``,
    ``HasAns_f1``, …), plus ``num_parameters``, ``num_parameters_no_embeddings``,
    ``eval_time_s`` (wall time of the last validation loop, synchronised on CUDA)
    and ``run_time_s`` (from setup to the write), plus what any callback with a
    ``trial_metrics(trainer, pl_module) -> dict`` method returns (e.g.
    :class:`~lit_distill.export.deployed_latency.DeployedLatency`). It is rewritten atomically
    after each validation, so the last complete validation wins and a killed run
    never leaves half a file.

    Args:
        path: Where to write. Default: ``$LIT_DISTILL_TRIAL_METRICS`` (set by the search),
            else ``<trainer.default_root_dir>/metrics.json``.
        prefix: Prefix of the logged metrics to export.
        model_attribute: Attribute of the LightningModule holding the network to count;
            default ``student``, then ``model``.

    Example::

        trainer:
          callbacks:
            - class_path: lit_distill.callbacks.trial_result.TrialResult
    """

    def __init__(
        self, path: str | None = None, prefix: str = "val/", model_attribute: str | None = None
    ) -> None:
        super().__init__()
        self.path = path
        self.prefix = prefix
        self.model_attribute = model_attribute
        self._setup_time: float | None = None
        self._eval_start: float | None = None
        self._eval_time = 0.0

    def output_path(self, trainer: Trainer) -> Path:
        """The file this callback writes."""
        chosen = self.path or os.environ.get(METRICS_PATH_ENV)
        return Path(chosen) if chosen else Path(trainer.default_root_dir) / "metrics.json"

    @override
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._setup_time = time.perf_counter()

    @override
    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        synchronize(pl_module.device)
        self._eval_start = time.perf_counter()

    @override
    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        synchronize(pl_module.device)
        if self._eval_start is not None:
            self._eval_time = time.perf_counter() - self._eval_start

    @override
    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        self.write(trainer, pl_module)

    def collect(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        """The metrics dictionary written to ``metrics.json``."""
        metrics: dict[str, float] = {}
        for key, value in trainer.callback_metrics.items():
            if key.startswith(self.prefix):
                number = float(value.item() if isinstance(value, torch.Tensor) else value)
                metrics[key[len(self.prefix) :]] = number if math.isfinite(number) else float("nan")
        model = model_to_count(pl_module, self.model_attribute)
        metrics["num_parameters"] = float(count_parameters(model, include_embeddings=True))
        metrics["num_parameters_no_embeddings"] = float(count_parameters(model, include_embeddings=False))
        metrics["eval_time_s"] = self._eval_time
        # callbacks that contribute (e.g. DeployedLatency) measure now, after the validation loop
        for callback in getattr(trainer, "callbacks", []):
            contribute = getattr(callback, "trial_metrics", None)
            if callback is not self and callable(contribute):
                metrics.update(contribute(trainer, pl_module))
        if self._setup_time is not None:
            metrics["run_time_s"] = time.perf_counter() - self._setup_time
        return metrics

    def write(self, trainer: Trainer, pl_module: LightningModule) -> Path:
        """Write the metrics atomically; returns the path."""
        path = self.output_path(trainer)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        payload: dict[str, Any] = self.collect(trainer, pl_module)
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
        os.replace(tmp, path)
        return path
