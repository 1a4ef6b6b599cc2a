"""Structured pruning of attention heads and feed-forward neurons as a Lightning callback.

Heads and FFN neurons are scored in one pass (``|∂loss/∂gate|``, Michel et al. 2019
for heads, the same gates on neurons; :func:`lit_distill.compression.head_importance.compute_importance`)
or drawn at random with a seed, and removed physically
(:func:`lit_distill.models.surgery.prune_heads`, :func:`lit_distill.models.surgery.prune_ffn`).
The budget arithmetic and the gradual schedule are in
:mod:`lit_distill.compression.structured_budget`. :class:`~lit_distill.callbacks.head_pruning.HeadPruning`
stays as it is for head-only pruning.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor, nn
from typing_extensions import override

from lit_distill.callbacks.pruning_trainer import (
    batches_on,
    ensure_model,
    rebuild_optimizers,
    span_loss_fn,
    train_batches,
)
from lit_distill.checks import is_int, is_number, one_of
from lit_distill.compression.head_importance import ESTIMATORS, Estimator, compute_importance
from lit_distill.compression.structured_budget import (
    Budget,
    Metric,
    Parts,
    Scope,
    budget_for_fractions,
    budget_for_target,
    encoder_cost,
    scaled,
    schedule_share,
)
from lit_distill.compression.structured_selection import select_by_importance, select_randomly
from lit_distill.models.loading import is_exported
from lit_distill.user_errors import UserInputError

__all__ = ["StructuredPruning"]


def _shape(config: Any) -> tuple[list[int], list[int]]:
    return list(config.layer_heads), list(config.layer_intermediate_sizes)


def _warn_short_schedule(epochs: int, max_epochs: int | None) -> None:
    """Warn when ``trainer.max_epochs`` leaves no epoch after the last pruning step."""
    if max_epochs is None or max_epochs < 0 or max_epochs > epochs:
        return
    if max_epochs < epochs:
        what = (
            f"only {max_epochs} of its {epochs} pruning steps can run "
            f"({schedule_share(max_epochs, epochs) if max_epochs else 0.0:.1%} of the budget)"
        )
    else:
        what = "its last pruning step comes after the last epoch's training and validation"
    rank_zero_warn(
        f"StructuredPruning(epochs={epochs}) with trainer.max_epochs={max_epochs}: {what}; give "
        f"trainer.max_epochs >= {epochs + 1} so that the model trains at its final shape"
    )


class StructuredPruning(Callback):
    """Remove attention heads and feed-forward neurons, one-shot or gradually during distillation.

    Budget, exactly one of:
        * ``head_fraction`` and/or ``ffn_fraction``: fractions in (0, 1] of the heads and of
          the FFN neurons to remove;
        * ``target``: a fraction in (0, 1] of the encoder's FLOPs (``target_metric="flops"``,
          per sequence of ``seq_length`` tokens) or parameters (``"parameters"``) to remove,
          taken from ``target_parts``: ``"heads"``, ``"ffn"`` or ``"both"`` (the same
          fraction of heads and of neurons).

        ``scope="global"`` counts over the whole model (the least important units go,
        wherever they are); ``scope="per_layer"`` applies the budget to every layer.
        Every layer keeps at least one head and one neuron; a budget that needs more is
        an error naming the layer, raised in ``setup`` before any training.

    Schedule:
        * ``epochs=0`` (default): one-shot, in ``setup``, before DDP wraps the model
          (every strategy; all processes apply rank 0's choice). A resumed run
          (``--ckpt_path``) keeps the checkpoint's shape: one this callback did not prune
          stays as it is, with a warning (its importance pass in ``setup`` is wasted).
        * ``epochs=N``: gradually, at the end of training epochs 0..N-1, with the training
          (distillation) loss on in between: after epoch k the share
          ``1 - (1 - (k+1)/N)^3`` of the budget is gone (the cubic schedule of Zhu & Gupta
          2017 that nn_pruning uses). Importance is measured again before every step; the
          optimiser is rebuilt after it (moments start afresh, the learning-rate schedule
          is fast-forwarded). One process only. Give ``trainer.max_epochs >= N + 1`` so that
          the model trains (and is validated) at its final shape; fewer warn.

    The budget is a fraction of the model as this callback first found it (its
    ``reference`` shape, kept in checkpoints with the steps done). The pruned shape is
    part of the model config the QA modules store in every checkpoint, so saving,
    loading and resuming (``--ckpt_path``) keep it. Pruning a model loaded from a
    directory written by ``lit_distill export`` is refused: prune the checkpoint or
    model directory it was exported from.

    Logged: ``prune/num_parameters``, ``prune/encoder_flops_ratio``, ``prune/heads``,
    ``prune/ffn_neurons`` after every step, and the maps (info log).

    Args:
        strategy: ``"importance"`` or ``"random"`` (seeded).
        head_fraction: fraction of the heads to remove.
        ffn_fraction: fraction of the feed-forward neurons to remove.
        target: fraction of the encoder's FLOPs or parameters to remove.
        target_metric: ``"flops"`` or ``"parameters"``.
        target_parts: ``"heads"``, ``"ffn"`` or ``"both"``.
        scope: ``"global"`` or ``"per_layer"``.
        seq_length: tokens per sequence for FLOPs (the attention term grows with it); default
            384, or the model's ``max_position_embeddings`` if smaller; a larger value is
            capped at it with a warning.
        epochs: 0 for one-shot at fit start, N >= 1 for gradual over the first N epochs.
        seed: the pruning seed (random strategy; step k uses ``seed + k``).
        importance_batches: training batches per importance pass (None: all).
        importance_estimator: ``"per_token"`` (default) or ``"batch_mean"``.
        normalize: normalise importance per layer (L2), as Michel et al.

    Example::

        trainer:
          callbacks:
            - class_path: lit_distill.callbacks.structured_pruning.StructuredPruning
              init_args: {target: 0.5, target_parts: both, epochs: 2}
    """

    def __init__(
        self,
        strategy: Literal["importance", "random"] = "importance",
        head_fraction: float | None = None,
        ffn_fraction: float | None = None,
        target: float | None = None,
        target_metric: Metric = "flops",
        target_parts: Parts = "both",
        scope: Scope = "global",
        seq_length: int | None = None,
        epochs: int = 0,
        seed: int = 0,
        importance_batches: int | None = 32,
        importance_estimator: Estimator = "per_token",
        normalize: bool = True,
    ) -> None:
        one_of("StructuredPruning: strategy", strategy, ("importance", "random"))
        one_of("StructuredPruning: target_metric", target_metric, ("flops", "parameters"))
        one_of("StructuredPruning: target_parts", target_parts, ("heads", "ffn", "both"))
        one_of("StructuredPruning: scope", scope, ("global", "per_layer"))
        one_of("StructuredPruning: importance_estimator", importance_estimator, ESTIMATORS)
        fractions = head_fraction is not None or ffn_fraction is not None
        if fractions == (target is not None):
            raise UserInputError(
                "StructuredPruning: give either head_fraction / ffn_fraction or target (a fraction of the encoder's "
                f"FLOPs or parameters); got head_fraction={head_fraction!r}, ffn_fraction={ffn_fraction!r}, "
                f"target={target!r}"
            )
        for name, value in (
            ("head_fraction", head_fraction),
            ("ffn_fraction", ffn_fraction),
            ("target", target),
        ):
            if value is not None and (not is_number(value) or not 0 < value <= 1):
                raise UserInputError(f"StructuredPruning: {name}={value!r}; allowed: a number in (0, 1]")
        for name, value, least, or_null in (
            ("seq_length", seq_length, 1, " or null (384, at most the model's positions)"),
            ("epochs", epochs, 0, ""),
            ("importance_batches", importance_batches, 1, " or null (all)"),
        ):
            if not (or_null and value is None) and (not is_int(value) or value < least):
                raise UserInputError(
                    f"StructuredPruning: {name}={value!r}; allowed: an integer >= {least}{or_null}"
                )
        self.strategy, self.scope, self.seed, self.epochs = strategy, scope, seed, epochs
        self.head_fraction, self.ffn_fraction, self.target = head_fraction, ffn_fraction, target
        self.target_metric, self.target_parts, self.seq_length = target_metric, target_parts, seq_length
        self.importance_batches, self.importance_estimator, self.normalize = (
            importance_batches,
            importance_estimator,
            normalize,
        )
        self.reference: dict[str, Any] | None = None  # the model's config when this callback first saw it
        self.steps_done: list[int] = []
        self.maps: list[dict[str, dict[int, list[int]]]] = []
        self.budget: Budget | None = None
        self._expected: tuple[list[int], list[int]] | None = None  # shape after the one-shot prune
        self._restored = False  # load_state_dict found this callback's state in a checkpoint

    # ------------------------------------------------------------------ hooks
    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if self.epochs > 0 and trainer.world_size > 1:
            raise UserInputError(
                f"StructuredPruning(epochs={self.epochs}) prunes between epochs and rebuilds the optimiser, which "
                f"is supported on one process only (world size here: {trainer.world_size}); use epochs=0 "
                "(one-shot at fit start) with DDP"
            )
        ensure_model(pl_module, "StructuredPruning")
        model: Any = pl_module.model
        _check_prunable(model)
        limit = model.config.max_position_embeddings
        if self.seq_length is not None and self.seq_length > limit:
            rank_zero_warn(
                f"StructuredPruning: seq_length={self.seq_length} exceeds the model's max_position_embeddings "
                f"({limit}); FLOPs are counted at {limit} tokens"
            )
        self.reference = model.config.to_dict()
        self.budget = self._budget()  # a budget that cannot be met fails here, before training
        if self.epochs > 0:
            _warn_short_schedule(self.epochs, trainer.max_epochs)
        else:
            self.prune(trainer, pl_module, 1)
            self._expected = _shape(model.config)

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # A resumed run (--ckpt_path) restores the checkpoint's shape after ``setup``; one
        # that this callback did not prune silently undoes the one-shot pruning.
        config: Any = pl_module.model.config  # type: ignore[union-attr]
        if self._expected is not None and not self._restored and _shape(config) != self._expected:
            self.steps_done, self.maps = [], []
            rank_zero_warn(
                "StructuredPruning: the checkpoint being resumed was not pruned by this callback (heads per "
                f"layer {config.layer_heads}, FFN widths {config.layer_intermediate_sizes}); its shape wins and "
                "nothing is pruned. To prune a trained model, start a new fit from its weights instead of "
                "resuming its run."
            )

    @override
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.epochs > 0 and len(self.steps_done) < self.epochs:
            done = max(self.steps_done, default=0)
            rank_zero_warn(
                f"StructuredPruning(epochs={self.epochs}): training ended after {len(self.steps_done)} of its "
                f"{self.epochs} pruning steps; {schedule_share(done, self.epochs) if done else 0.0:.1%} of the "
                "budget was removed"
            )

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        if self.epochs == 0 or epoch >= self.epochs or epoch + 1 in self.steps_done:
            return
        self.prune(trainer, pl_module, epoch + 1)
        rebuild_optimizers(trainer)

    @override
    def state_dict(self) -> dict[str, Any]:
        if self.reference is None or not self.steps_done:
            return {}
        maps = [{part: {str(k): v for k, v in m.items()} for part, m in step.items()} for step in self.maps]
        return {"reference": self.reference, "steps_done": list(self.steps_done), "maps": maps}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "reference" in state_dict:
            self._restored = True
            self.reference = dict(state_dict["reference"])
            self.steps_done = [int(s) for s in state_dict["steps_done"]]
            self.maps = [
                {part: {int(k): list(v) for k, v in m.items()} for part, m in step.items()}
                for step in state_dict.get("maps", [])
            ]
            self.budget = self._budget()

    # -------------------------------------------------------------- pruning
    def _reference_config(self) -> Any:
        from lit_distill.models.config import EncoderConfig

        if self.reference is None:
            raise RuntimeError("StructuredPruning: no reference shape yet (setup has not run)")
        return EncoderConfig.from_dict(self.reference)

    def _tokens(self, config: Any) -> int:
        """Tokens per sequence for FLOPs: ``seq_length`` (default 384), at most the model's positions."""
        return min(384 if self.seq_length is None else self.seq_length, config.max_position_embeddings)

    def _budget(self) -> Budget:
        """The final budget for the reference shape (UserInputError when it cannot be met)."""
        config = self._reference_config()
        try:
            if self.target is None:
                return budget_for_fractions(
                    config.layer_heads,
                    config.layer_intermediate_sizes,
                    self.head_fraction,
                    self.ffn_fraction,
                    self.scope,
                )
            return budget_for_target(
                config, self.target, self.target_metric, self.target_parts, self.scope, self._tokens(config)
            )
        except ValueError as err:
            raise UserInputError(f"StructuredPruning: {err}") from err

    def counts_now(self, current: Any, step: int) -> tuple[list[int] | int, list[int] | int]:
        """(heads, neurons) to remove at ``step`` (1-based) from a model of config ``current``."""
        assert self.budget is not None
        share = 1.0 if self.epochs == 0 else schedule_share(step, self.epochs)
        reference = self._reference_config()
        out: list[list[int] | int] = []
        for goal, ref, cur in (
            (self.budget.heads, reference.layer_heads, current.layer_heads),
            (self.budget.neurons, reference.layer_intermediate_sizes, current.layer_intermediate_sizes),
        ):
            want = scaled(goal, share)
            if isinstance(want, int):
                out.append(max(0, want - (sum(ref) - sum(cur))))
            else:
                out.append([max(0, w - (r - c)) for w, r, c in zip(want, ref, cur, strict=True)])
        return out[0], out[1]

    def choose(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, step: int
    ) -> dict[str, dict[int, list[int]]]:
        """The heads and neurons to remove at ``step``: ``{"heads": map, "neurons": map}``."""
        model: Any = pl_module.model
        config = model.config
        heads, neurons = self.counts_now(config, step)
        sizes = {"heads": config.layer_heads, "neurons": config.layer_intermediate_sizes}
        wanted = {"heads": heads, "neurons": neurons}
        if all((w if isinstance(w, int) else sum(w)) == 0 for w in wanted.values()):
            return {"heads": {}, "neurons": {}}
        scores = None if self.strategy == "random" else self._importance(trainer, pl_module)
        maps: dict[str, dict[int, list[int]]] = {}
        for part, unit in (("heads", "head"), ("neurons", "neuron")):
            count = wanted[part]
            kw: dict[str, Any] = {"total": count} if isinstance(count, int) else {"counts": count}
            if scores is None:
                maps[part] = select_randomly(sizes[part], self.seed + step - 1, unit=unit, **kw)
            else:
                maps[part] = select_by_importance(scores[part], unit=unit, **kw)
        return maps

    def prune(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, step: int
    ) -> dict[str, dict[int, list[int]]]:
        """Choose (rank 0's choice is broadcast to every process) and remove; returns the maps."""
        from lit_distill.models.flops import forward_flops
        from lit_distill.models.surgery import count_parameters, prune_ffn, prune_heads

        maps = self.choose(trainer, pl_module, step)
        if trainer.world_size > 1:
            maps = trainer.strategy.broadcast(maps, src=0)
        model: Any = pl_module.model
        prune_heads(model, maps["heads"])
        prune_ffn(model, maps["neurons"])
        self.steps_done.append(step)
        self.maps.append(maps)
        config, reference = model.config, self._reference_config()
        seq = self._tokens(reference)
        ratio = forward_flops(config, seq) / forward_flops(reference, seq)
        cost = encoder_cost(config, "flops", seq) / encoder_cost(reference, "flops", seq)
        params = count_parameters(model)
        rank_zero_info(
            f"StructuredPruning ({self.strategy}) step {step}: removed {sum(map(len, maps['heads'].values()))} heads "
            f"and {sum(map(len, maps['neurons'].values()))} FFN neurons; encoder FLOPs now {cost:.3f} of the "
            f"reference; heads per layer {config.layer_heads}; FFN widths {config.layer_intermediate_sizes}; "
            f"{params:,} parameters"
        )
        metrics = {
            "prune/num_parameters": float(params),
            "prune/encoder_flops_ratio": float(cost),
            "prune/flops_ratio": float(ratio),
            "prune/heads": float(sum(config.layer_heads)),
            "prune/ffn_neurons": float(sum(config.layer_intermediate_sizes)),
        }
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        return maps

    def _importance(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, list[Tensor]]:
        device = trainer.strategy.root_device
        pl_module.to(device)
        loss_fn = span_loss_fn(pl_module)
        model: Any = pl_module.model
        layers: list[Any] = list(model.encoder.layers)
        was_training = pl_module.training
        pl_module.eval()  # no dropout while measuring (as Michel et al.)
        try:
            result = compute_importance(
                loss_fn,
                batches_on(train_batches(trainer, "StructuredPruning"), device),
                model.config.layer_heads,
                self.importance_batches,
                device,
                normalize=self.normalize,
                estimator=self.importance_estimator,
                projections=[layer.attn_out for layer in layers],
                progress=trainer.is_global_zero and trainer.progress_bar_callback is not None,
                ffn_projections=[layer.ffn_out for layer in layers],
            )
        finally:
            pl_module.train(was_training)
        if self.importance_batches is not None and result.batches < self.importance_batches:
            warnings.warn(
                f"StructuredPruning: importance_batches={self.importance_batches} but the training data has only "
                f"{result.batches} batches; importance uses those",
                stacklevel=2,
            )
        assert result.neurons is not None
        return {"heads": result.heads, "neurons": result.neurons}


def _check_prunable(model: Any) -> None:
    """Refuse a model loaded from an exported artifact, or one whose layers are not plain linear layers."""
    source = getattr(model.config, "source", None)
    if source and is_exported(str(source)):
        raise UserInputError(
            f"StructuredPruning: the model was loaded from {source}, a directory written by `lit_distill export`; "
            "pruning an exported artifact is not supported. Prune the checkpoint or model directory it was "
            "exported from, then export again"
        )
    for i, layer in enumerate(model.encoder.layers):
        for name in ("qkv", "attn_out", "ffn_in", "ffn_out"):
            if type(getattr(layer, name)) is not nn.Linear:
                raise UserInputError(
                    f"StructuredPruning: layer {i}'s {name} is a {type(getattr(layer, name)).__name__}, not a plain "
                    "torch.nn.Linear (a quantised or exported model?); prune the floating-point model instead"
                )
