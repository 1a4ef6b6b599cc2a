"""What a pruning callback needs from the trainer and the module, shared by HeadPruning and StructuredPruning.

The module's model built before the first step (:func:`ensure_model`), the training
batches from the start of the epoch (:func:`train_batches`, :func:`batches_on`), the
gold-span loss under head gates that importance differentiates (:func:`span_loss_fn`),
and fresh optimisers over the pruned parameters (:func:`rebuild_optimizers`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor

from lit_distill.losses import span_cross_entropy
from lit_distill.user_errors import UserInputError

__all__ = ["batches_on", "ensure_model", "rebuild_optimizers", "span_loss_fn", "train_batches"]


def ensure_model(pl_module: pl.LightningModule, who: str = "HeadPruning") -> None:
    """Run the module's own ``setup`` now if that is where it builds its model.

    Lightning calls callbacks' ``setup`` before the module's; the QA modules build
    their model in ``setup`` (with the data module's tokenizer) and skip building
    when a model exists, so calling it early is safe and Lightning's later call
    only re-checks.
    """
    has_model = getattr(pl_module, "has_model", None)
    if callable(has_model) and not has_model():
        pl_module.setup("fit")
    if not hasattr(getattr(pl_module, "model", None), "config"):
        raise UserInputError(
            f"{who} needs pl_module.model to be a lit_distill QAModel; {type(pl_module).__name__} has none"
        )


def span_loss_fn(
    pl_module: pl.LightningModule,
) -> Callable[[dict[str, Tensor], list[Tensor] | None], Tensor]:
    """The gold-span loss of the module's model under the given head gates (what importance differentiates)."""
    forward_model: Callable[..., Any] = pl_module.forward_model  # type: ignore[assignment]

    def loss_fn(batch: dict[str, Tensor], gates: list[Tensor] | None) -> Tensor:
        out = forward_model(batch, head_gates=gates)
        return span_cross_entropy(
            out.start_logits, out.end_logits, batch["start_positions"], batch["end_positions"]
        )

    return loss_fn


def train_batches(trainer: pl.Trainer, who: str = "HeadPruning") -> Iterator[Any]:
    """The training batches, from the first batch of the epoch.

    The data module's resumable loader skips the batches of the current epoch already
    trained on (at an epoch's end: all of them); importance reads it from the start.
    """
    datamodule = getattr(trainer, "datamodule", None)
    if datamodule is not None:
        loader = datamodule.train_dataloader()
        from_start = getattr(loader, "from_start", None)  # data.resumable.ResumableLoader
        return from_start() if callable(from_start) else iter(loader)
    source = getattr(trainer.fit_loop, "_data_source", None)
    if source is not None and source.is_defined():
        return iter(source.dataloader())
    raise UserInputError(
        f"{who}(strategy='importance') needs training data: pass a datamodule or train_dataloaders"
    )


def batches_on(batches: Iterator[Any], device: torch.device) -> Iterator[dict[str, Tensor]]:
    """Each batch with its tensors moved to ``device``."""
    for batch in batches:
        yield {k: v.to(device) if isinstance(v, Tensor) else v for k, v in batch.items()}


def rebuild_optimizers(trainer: pl.Trainer) -> None:
    """New optimiser(s) over the pruned parameters; step schedules fast-forwarded to the current step."""
    trainer.strategy.setup_optimizers(trainer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "lr_scheduler.step() before optimizer.step()"
        for config in trainer.lr_scheduler_configs:
            # Called from on_train_epoch_end: Lightning has stepped a step-interval schedule once per
            # `frequency` optimiser steps, and an epoch-interval one once per `frequency` finished
            # epochs before this one; it steps the latter again for this epoch after this hook.
            done = trainer.global_step if config.interval == "step" else trainer.current_epoch
            steps = done // max(1, int(config.frequency))
            scheduler: Any = config.scheduler
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                continue  # driven by a monitored metric, not by the step count
            for _ in range(steps):
                scheduler.step()
