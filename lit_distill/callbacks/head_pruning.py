"""Attention-head pruning as a Lightning callback (Michel et al. 2019; SigOpt's pruning seed).

Heads are chosen by importance (``|∂loss/∂gate|`` accumulated over training batches,
per example and token as Michel et al.'s code does or per batch as Hugging Face's
``run_bertology.py`` does, normalised per layer;
:mod:`lit_distill.compression.head_importance`) or
by a seeded random choice (:mod:`lit_distill.compression.head_selection`), and
removed physically with :func:`lit_distill.models.surgery.prune_heads`, so the
parameter count and the compute really shrink.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor
from typing_extensions import override

from lit_distill.callbacks.pruning_trainer import (
    batches_on,
    ensure_model,
    rebuild_optimizers,
    span_loss_fn,
    train_batches,
)
from lit_distill.checks import one_of, positive_int
from lit_distill.compression.head_importance import (
    ESTIMATORS,
    Estimator,
    compute_head_importance,
)
from lit_distill.compression.head_selection import (
    select_heads_by_importance,
    select_heads_randomly,
    validate_head_map,
)
from lit_distill.user_errors import UserInputError

__all__ = ["HeadPruning", "parse_when"]

_STRATEGIES = ("importance", "random")


def parse_when(when: str) -> int | None:
    """``"fit_start"`` -> None; ``"after_epoch:N"`` -> N (an int >= 0).

    Raises:
        UserInputError: naming ``when`` and the allowed forms.
    """
    if when == "fit_start":
        return None
    prefix = "after_epoch:"
    if when.startswith(prefix):
        tail = when[len(prefix) :]
        if tail.isdigit():
            return int(tail)
    raise UserInputError(
        f"HeadPruning: when must be 'fit_start' or 'after_epoch:N' with N >= 0, got {when!r}"
    )


class HeadPruning(Callback):
    """Remove attention heads, by importance or at random, before or during training.

    The pruning is physical: the query/key/value rows and output-projection
    columns of the removed heads are deleted, so the model is smaller and faster.
    Per-layer head counts may differ afterwards. The new shape is part of the
    model's config, which the QA modules store in every checkpoint and rebuild on
    load (Lightning restores a resumed run's model before it builds the optimiser);
    this callback also records the head map in its own checkpoint state. Resuming
    a pruned run (``--ckpt_path``) therefore continues with the checkpoint's shape
    (the choice made again at ``setup`` is replaced by it).

    When:
        * ``"fit_start"`` (default): in ``setup``, before DDP wraps the model and
          before the optimiser exists. Works with every strategy; all processes
          apply rank 0's head map.
        * ``"after_epoch:N"``: at the end of training epoch N (0-based); the
          optimiser and learning-rate schedule are rebuilt (the schedule is
          fast-forwarded to the current step; optimiser moments start afresh).
          Single-process strategies only.

    How many heads:
        exactly one of ``heads_per_layer`` (an int for every layer, or one int
        per layer) and ``amount`` (a float in (0, 1): fraction of all heads; an
        int >= 1: number of heads, chosen over the whole model). Every layer keeps
        at least one head; asking for more is an error naming the layer.

    Logged: the parameter count before and after (``prune/num_parameters_before``,
    ``prune/num_parameters_after``, ``prune/heads_pruned``) and the head map (info log).

    Args:
        strategy: ``"importance"`` or ``"random"``.
        heads_per_layer: heads to prune in each layer.
        amount: fraction or number of heads to prune over the whole model.
        seed: the pruning seed for ``strategy="random"``.
        when: ``"fit_start"`` or ``"after_epoch:N"``.
        importance_batches: training batches used to accumulate importance (None: the
            whole training set, as Michel et al.). Default 32: on a real SQuAD model the
            per_token ranking hardly moved after a few batches (docs/compression.md).
        importance_estimator: ``"per_token"`` (Michel et al.'s code: |gradient| per
            example and token, then summed; default) or ``"batch_mean"`` (Hugging Face's
            ``run_bertology.py``: |gradient of the batch-mean loss| per batch).

    Example::

        trainer:
          callbacks:
            - class_path: lit_distill.callbacks.head_pruning.HeadPruning
              init_args: {strategy: importance, amount: 0.33, importance_batches: 16}
    """

    def __init__(
        self,
        strategy: Literal["importance", "random"] = "importance",
        heads_per_layer: int | list[int] | None = None,
        amount: float | int | None = None,
        seed: int = 0,
        when: str = "fit_start",
        importance_batches: int | None = 32,
        importance_estimator: Estimator = "per_token",
    ) -> None:
        one_of("HeadPruning: strategy", strategy, _STRATEGIES)
        if (amount is None) == (heads_per_layer is None):
            raise UserInputError(
                "HeadPruning: give exactly one of amount= (fraction or number of heads over the model) "
                f"and heads_per_layer= (heads to prune per layer); got amount={amount!r}, "
                f"heads_per_layer={heads_per_layer!r}"
            )
        positive_int("HeadPruning: importance_batches", importance_batches, optional=True)
        one_of("HeadPruning: importance_estimator", importance_estimator, ESTIMATORS)
        self.strategy = strategy
        self.heads_per_layer = heads_per_layer
        self.amount = amount
        self.seed = seed
        self.when = when
        self.epoch = parse_when(when)
        self.importance_batches = importance_batches
        self.importance_estimator = importance_estimator
        self.head_map: dict[int, list[int]] | None = None
        self.importance: list[Tensor] | None = None
        self.num_parameters: dict[str, int] = {}
        self._expected_heads: list[int] | None = None
        self._restored = False

    # ------------------------------------------------------------------ hooks
    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if self.epoch is not None and trainer.world_size > 1:
            raise UserInputError(
                f"HeadPruning(when={self.when!r}) rebuilds the optimiser mid-training, which is supported "
                f"on one process only (world size here: {trainer.world_size}); use when='fit_start' with DDP"
            )
        if self.epoch is None:
            ensure_model(pl_module)
            self.prune(trainer, pl_module)
            self._expected_heads = _layer_heads(pl_module)

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # A resumed run (--ckpt_path) restores the checkpoint's shape after ``setup``;
        # a checkpoint saved before pruning would silently undo it.
        restored_pruned = self._restored
        if (
            not restored_pruned
            and self._expected_heads is not None
            and _layer_heads(pl_module) != self._expected_heads
        ):
            rank_zero_warn(
                f"HeadPruning: the checkpoint being resumed has heads per layer {_layer_heads(pl_module)}, "
                f"not the pruned {self._expected_heads}; its shape wins. To prune a trained model, start a "
                "new fit from its weights instead of resuming its run."
            )

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.epoch is None or self.head_map is not None or trainer.current_epoch != self.epoch:
            return
        self.prune(trainer, pl_module)
        rebuild_optimizers(trainer)

    @override
    def state_dict(self) -> dict[str, Any]:
        if self.head_map is None:
            return {}
        return {
            "head_map": {str(k): v for k, v in self.head_map.items()},
            "num_parameters": self.num_parameters,
        }

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "head_map" in state_dict:
            self.head_map = {int(k): list(v) for k, v in state_dict["head_map"].items()}
            self.num_parameters = dict(state_dict.get("num_parameters", {}))
            self._restored = True

    # -------------------------------------------------------------- pruning
    def choose_heads(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[int, list[int]]:
        """The head map this callback's settings select for the module's current model."""
        heads = _layer_heads(pl_module)
        if self.strategy == "random":
            return select_heads_randomly(
                heads, self.seed, amount=self.amount, heads_per_layer=self.heads_per_layer
            )
        self.importance = self._importance(trainer, pl_module, heads)
        return select_heads_by_importance(
            self.importance, amount=self.amount, heads_per_layer=self.heads_per_layer
        )

    def prune(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[int, list[int]]:
        """Choose heads (rank 0's choice is broadcast to every process) and remove them."""
        head_map = self.choose_heads(trainer, pl_module)
        if trainer.world_size > 1:
            head_map = trainer.strategy.broadcast(head_map, src=0)
        return self._apply(trainer, pl_module, head_map)

    def _apply(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, head_map: dict[int, list[int]]
    ) -> dict[int, list[int]]:
        from lit_distill.models.surgery import count_parameters, prune_heads

        model: Any = pl_module.model
        head_map = validate_head_map(head_map, _layer_heads(pl_module))
        before = count_parameters(model)
        prune_heads(model, head_map)
        after = count_parameters(model)
        self.head_map = head_map
        self.num_parameters = {"before": int(before), "after": int(after)}
        n_pruned = sum(len(v) for v in head_map.values())
        rank_zero_info(
            f"HeadPruning ({self.strategy}) pruned {n_pruned} heads; parameters {before:,} -> {after:,}; "
            f"heads per layer now {_layer_heads(pl_module)}; head map {head_map}"
        )
        for logger in trainer.loggers:
            logger.log_metrics(
                {
                    "prune/num_parameters_before": float(before),
                    "prune/num_parameters_after": float(after),
                    "prune/heads_pruned": float(n_pruned),
                },
                step=trainer.global_step,
            )
        return head_map

    def _importance(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, heads: list[int]
    ) -> list[Tensor]:
        device = trainer.strategy.root_device
        pl_module.to(device)
        loss_fn = span_loss_fn(pl_module)
        was_training = pl_module.training
        pl_module.eval()  # no dropout while measuring (as Michel et al.)
        try:
            model: Any = pl_module.model
            importance, used = compute_head_importance(
                loss_fn,
                batches_on(train_batches(trainer), device),
                heads,
                self.importance_batches,
                device,
                estimator=self.importance_estimator,
                projections=[layer.attn_out for layer in model.encoder.layers],
                progress=trainer.is_global_zero and trainer.progress_bar_callback is not None,
            )
        finally:
            pl_module.train(was_training)
        if self.importance_batches is not None and used < self.importance_batches:
            warnings.warn(
                f"HeadPruning: importance_batches={self.importance_batches} but the training data has only "
                f"{used} batches; importance uses those {used}",
                stacklevel=2,
            )
        return importance


def _layer_heads(pl_module: pl.LightningModule) -> list[int]:
    model: Any = pl_module.model
    return list(model.config.layer_heads)
