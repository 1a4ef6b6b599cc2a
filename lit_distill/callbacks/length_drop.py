"""LengthDrop: train every sub-network of a length-adaptive model (Kim & Cho 2021, LAT).

On each training step the module computes its own loss on the full model. This
callback then runs ``num_sandwich + 1`` sub-networks on the same batch (the
smallest first, then random ones; see
:mod:`lit_distill.compression.length_sampling`), each with Drop-and-Restore
token dropping and optionally LayerDrop, and trains them by in-place
distillation from the full model's detached logits (see
:mod:`lit_distill.compression.inplace_kd`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor
from typing_extensions import override

from lit_distill.checks import finite_number, fraction, non_negative_int, one_of, positive_int
from lit_distill.compression.inplace_kd import span_kl_full_to_sub
from lit_distill.compression.length_sampling import SubNetwork, sample_layer_skips, sample_sandwich
from lit_distill.user_errors import UserInputError

__all__ = ["LengthDrop"]

_BACKWARDS = ("per_subnetwork", "joint")
_UNITS = ("tokens", "ratio")
_SCALES = ("lat", "sum")


class LengthDrop(Callback):
    r"""Sandwich training with in-place distillation for Drop-and-Restore inference.

    For every training batch, besides the module's own loss on the full model,
    ``num_sandwich + 1`` sub-networks are run: the smallest (each layer keeps
    ``ceil((1 - length_drop_ratio_bound) · previous)`` tokens) and ``num_sandwich``
    random ones (each layer keeps ``randint(ceil((1 - bound) · previous), previous)``).
    Each sub-network's loss is

    .. math:: \tfrac12\,[\mathrm{KL}(p^{full}_{start} \,\|\, p^{sub}_{start}) + \mathrm{KL}(p^{full}_{end} \,\|\, p^{sub}_{end})]

    with the full model's logits detached. LAT's reference code computes
    ``KLDivLoss(log_softmax(full), softmax(sub))``, i.e. KL(sub ‖ full) with the
    gradient flowing through the target distribution; this callback implements
    the distillation direction KL(full ‖ sub) instead.

    Loss weights follow LAT by default: the full model's task loss and every sub-network's KL
    term have equal weight (``subnetwork_weight=1``, LAT's only behaviour: its reference has
    no such weight), and with ``loss_scale="lat"`` (default) the gradient of
    their sum is divided by ``num_sandwich + 2`` as LAT divides the summed loss, so
    LAT's learning rates and ``max_grad_norm`` (``gradient_clip_val``) carry over. The
    division is applied to the accumulated gradients just before the optimiser step
    (before Lightning clips them), so it covers the module's own loss and every loss
    contribution of that step, under gradient accumulation, AMP and DDP alike; the
    logged ``train/loss`` stays the unscaled sum. ``loss_scale="sum"`` leaves the
    gradient of the plain sum (the behaviour before; with it, a LAT clipping threshold
    must be *multiplied* by ``num_sandwich + 2``). The sum of the KL terms is added to
    the training loss through the module's loss-contribution protocol and logged as
    ``train/extra_LengthDrop``; ``train/lengthdrop_kl_smallest`` and
    ``train/lengthdrop_kl_random`` (mean over the random sub-networks) are logged too.

    ``subnetwork_weight`` multiplies every sub-network's KL term (the logged KL values stay
    unweighted; ``train/extra_LengthDrop`` is the weighted sum that enters the loss). It is not
    LAT's: it is there to measure what the sandwich costs the full model (each step follows
    the full model's loss plus ``num_sandwich + 1`` equally weighted pulls toward the
    sub-networks; a weight below 1 tilts the balance to the full model). The ``loss_scale``
    division stays ``num_sandwich + 2`` whatever the weight, so the learning rate and clipping
    threshold mean the same in every run of an ablation. With weight 0 no sub-network runs
    (their gradient would be zero); LayerDrop of the full pass and the division still apply,
    so a run without the callback is the control without LengthDrop.

    LayerDrop (``layer_dropout_prob``) applies to the sub-networks; with
    ``full_layer_dropout=True`` it also drops layers of the full model's pass, as LAT
    does whenever ``layer_dropout_prob`` is set (Dynamic-TinyBERT trains with 0.2).
    By default the full pass runs every layer, so DDP needs no
    ``find_unused_parameters``; with ``full_layer_dropout=True`` a layer can be unused
    in a step's backward, so use ``strategy: ddp_find_unused_parameters_true``.

    Memory: with ``backward="per_subnetwork"`` (default) each sub-network's graph is
    back-propagated and freed before the next one is built, so a step holds the
    full model's graph plus one sub-network's, whatever ``num_sandwich`` is. The
    sub-network gradients are kept in a buffer and added to the parameters'
    gradients just before Lightning's backward of the main loss, so they are
    averaged across DDP processes with it and respect gradient accumulation and
    AMP loss scaling. ``backward="joint"`` instead adds the KL terms to the loss and
    back-propagates everything once (memory grows with ``num_sandwich``); use it
    with strategies that shard parameters (FSDP, DeepSpeed).

    Args:
        num_sandwich: random sub-networks per step besides the smallest (LAT default 2).
        length_drop_ratio_bound: the largest fraction of tokens one layer may drop (0.2).
        layer_dropout_prob: probability that LayerDrop skips each layer of a
            sub-network (0.2), or None for the ``layer_dropout_bound`` rule.
        layer_dropout_bound: with ``layer_dropout_prob=None``: the smallest sub-network
            drops this many trailing layers, random ones up to this many (0 = no LayerDrop).
        min_length: no layer keeps fewer tokens (LAT: 2; [CLS] is always kept by the encoder).
        length_unit: ``"tokens"`` samples absolute per-layer token counts from the
            batch's padded length (LAT); ``"ratio"`` passes the same lengths as
            fractions of the padded length, which the encoder applies to each
            example's real length (more dropping on dynamically padded batches).
        backward: ``"per_subnetwork"`` (bounded memory) or ``"joint"`` (one backward).
        loss_scale: ``"lat"`` (divide the step's gradient by ``num_sandwich + 2``, as LAT)
            or ``"sum"`` (the plain sum of the full and sub-network losses).
        full_layer_dropout: also apply LayerDrop (``layer_dropout_prob``) to the full
            model's pass, as LAT does.
        subnetwork_weight: weight of each sub-network's in-place distillation term (1: LAT,
            the default; a finite number >= 0).
        seed: seed of the sampler; None takes ``torch.initial_seed()`` at setup (set by
            ``seed_everything``). All DDP processes draw the same sub-networks.

    Example::

        trainer:
          callbacks:
            - class_path: lit_distill.callbacks.length_drop.LengthDrop
              init_args: {num_sandwich: 2, length_drop_ratio_bound: 0.2, layer_dropout_prob: 0.2}
    """

    def __init__(
        self,
        num_sandwich: int = 2,
        length_drop_ratio_bound: float = 0.2,
        layer_dropout_prob: float | None = 0.2,
        layer_dropout_bound: int = 0,
        min_length: int = 2,
        length_unit: Literal["tokens", "ratio"] = "tokens",
        backward: Literal["per_subnetwork", "joint"] = "per_subnetwork",
        seed: int | None = None,
        loss_scale: Literal["lat", "sum"] = "lat",
        full_layer_dropout: bool = False,
        subnetwork_weight: float = 1.0,
    ) -> None:
        non_negative_int("LengthDrop: num_sandwich", num_sandwich)
        fraction("LengthDrop: length_drop_ratio_bound", length_drop_ratio_bound, high_open=True)
        fraction("LengthDrop: layer_dropout_prob", layer_dropout_prob, high_open=True, optional=True)
        non_negative_int("LengthDrop: layer_dropout_bound", layer_dropout_bound)
        positive_int("LengthDrop: min_length", min_length)
        one_of("LengthDrop: length_unit", length_unit, _UNITS)
        one_of("LengthDrop: backward", backward, _BACKWARDS)
        one_of("LengthDrop: loss_scale", loss_scale, _SCALES)
        finite_number("LengthDrop: subnetwork_weight", subnetwork_weight, low=0)
        if not isinstance(full_layer_dropout, bool):
            raise UserInputError(
                f"LengthDrop: full_layer_dropout must be true or false, got {full_layer_dropout!r}"
            )
        if full_layer_dropout and layer_dropout_prob is None:
            raise UserInputError(
                "LengthDrop: full_layer_dropout=true needs layer_dropout_prob (LAT drops each layer of the "
                "full model with that probability); got layer_dropout_prob=null"
            )
        self.num_sandwich = num_sandwich
        self.length_drop_ratio_bound = length_drop_ratio_bound
        self.layer_dropout_prob = layer_dropout_prob
        self.layer_dropout_bound = layer_dropout_bound
        self.min_length = min_length
        self.length_unit = length_unit
        self.backward = backward
        self.seed = seed
        self.loss_scale = loss_scale
        self.full_layer_dropout = full_layer_dropout
        self.subnetwork_weight = float(subnetwork_weight)
        self._full_skips: list[int] | None = None
        self._hook: Any = None
        self._rng = random.Random(seed)
        self._seeded = seed is not None
        self._grad_buffer: dict[torch.nn.Parameter, Tensor] | None = None
        self.last_subnetworks: list[SubNetwork] = []
        self.last_full_skips: tuple[int, ...] = ()

    # ------------------------------------------------------------------ hooks
    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if not hasattr(pl_module, "forward_model"):
            raise TypeError(
                f"LengthDrop needs a module with forward_model(batch, **model_kwargs) "
                f"(a lit_distill QAModule); got {type(pl_module).__name__}"
            )
        if not self._seeded:
            self._rng.seed(torch.initial_seed())
            self._seeded = True
        if self.backward == "per_subnetwork":
            name = type(trainer.strategy).__name__
            if any(word in name for word in ("FSDP", "DeepSpeed", "ModelParallel")):
                raise UserInputError(
                    f"LengthDrop(backward='per_subnetwork') keeps its own gradient buffer, which does not "
                    f"work with {name} (sharded parameters); use backward='joint'"
                )

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.full_layer_dropout and self._hook is None:
            model = getattr(pl_module, "model", None)
            if not isinstance(model, torch.nn.Module):
                raise TypeError(
                    f"LengthDrop(full_layer_dropout=True) needs pl_module.model; {type(pl_module).__name__} has none"
                )
            self._hook = model.register_forward_pre_hook(self._skip_in_full_pass, with_kwargs=True)

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._grad_buffer = None  # drop leftovers of a step whose backward was skipped
        self._full_skips = None
        if self.full_layer_dropout:
            # LAT: each layer of the full model skipped with layer_dropout_prob (no trailing-layer rule)
            skips = sample_layer_skips(_num_layers(pl_module), self._rng, self.layer_dropout_prob, 0)
            self._full_skips = list(skips)
            self.last_full_skips = tuple(skips)

    def _skip_in_full_pass(
        self, module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        """Forward pre-hook: the step's first training forward without skip_layers is the full pass."""
        if self._full_skips is None or not module.training or kwargs.get("skip_layers") is not None:
            return None
        skips, self._full_skips = self._full_skips, None
        return args, {**kwargs, "skip_layers": skips or None}

    @override
    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        # LAT divides the summed loss by num_sandwich + 2; on the accumulated gradient, before clipping
        if self.loss_scale != "lat":
            return
        with torch.no_grad():
            for param in pl_module.parameters():
                if param.grad is not None:
                    param.grad.div_(self.num_sandwich + 2)

    def extra_loss(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: dict[str, Tensor], outputs: Any
    ) -> Tensor | None:
        """Run the sandwich of sub-networks; return the sum of their KL terms.

        With ``backward="per_subnetwork"`` the returned tensor is detached (for the
        logged loss value); the gradients have been computed already.
        """
        if not pl_module.training:
            return None
        self._full_skips = None  # the full pass is over
        if self.subnetwork_weight == 0.0:
            return None  # nothing to learn from the sub-networks
        full_start = outputs.start_logits.detach()  # (B, L)
        full_end = outputs.end_logits.detach()  # (B, L)
        seq_length = int(batch["input_ids"].shape[1])
        subnets = sample_sandwich(
            seq_length,
            _num_layers(pl_module),
            self._rng,
            num_sandwich=self.num_sandwich,
            length_drop_ratio_bound=self.length_drop_ratio_bound,
            layer_dropout_prob=self.layer_dropout_prob,
            layer_dropout_bound=self.layer_dropout_bound,
            min_length=self.min_length,
        )
        self.last_subnetworks = subnets
        per_subnetwork = self.backward == "per_subnetwork"
        params = [p for p in pl_module.parameters() if p.requires_grad] if per_subnetwork else []
        grad_scale = self._grad_scale(trainer) if per_subnetwork else 1.0
        values: list[Tensor] = []
        joint: Tensor | None = None
        forward_model: Callable[..., Any] = pl_module.forward_model  # type: ignore[assignment]
        for subnet in subnets:
            out = forward_model(batch, **self._model_kwargs(subnet, seq_length))
            kl = span_kl_full_to_sub(full_start, full_end, out.start_logits, out.end_logits)
            del out
            values.append(kl.detach())
            loss = kl * self.subnetwork_weight
            if per_subnetwork:
                grads = torch.autograd.grad(loss * grad_scale, params, allow_unused=True)
                self._add_to_buffer(params, grads)
            else:
                joint = loss if joint is None else joint + loss
        batch_size = int(batch["input_ids"].shape[0])
        pl_module.log("train/lengthdrop_kl_smallest", values[0], batch_size=batch_size)
        if len(values) > 1:
            pl_module.log("train/lengthdrop_kl_random", torch.stack(values[1:]).mean(), batch_size=batch_size)
        if per_subnetwork:
            return torch.stack(values).sum() * self.subnetwork_weight
        return joint

    @override
    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: Tensor) -> None:
        # Lightning zeroes gradients between training_step and backward; the sub-network
        # gradients go in now so that the main backward adds to them and DDP averages the sum.
        if self._grad_buffer is None:
            return
        with torch.no_grad():
            for param, grad in self._grad_buffer.items():
                if param.grad is None:
                    param.grad = grad.to(param.dtype)
                else:
                    param.grad.add_(grad.to(param.grad.dtype))
        self._grad_buffer = None

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"rng_state": self._rng.getstate(), "seeded": self._seeded}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "rng_state" in state_dict:
            state = state_dict["rng_state"]
            # checkpoints may turn the inner tuple into a list
            self._rng.setstate((state[0], tuple(state[1]), state[2]))
            self._seeded = bool(state_dict.get("seeded", True))

    # ---------------------------------------------------------------- helpers
    def _model_kwargs(self, subnet: SubNetwork, seq_length: int) -> dict[str, Any]:
        lengths: list[int] | list[float] = list(subnet.length_config)
        if self.length_unit == "ratio":
            lengths = [n / seq_length for n in subnet.length_config]
        return {"length_config": lengths, "skip_layers": list(subnet.skip_layers) or None}

    @staticmethod
    def _grad_scale(trainer: pl.Trainer) -> float:
        """The factor Lightning applies to the main loss before its backward."""
        scale = 1.0 / max(1, int(trainer.accumulate_grad_batches))
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        if scaler is not None and scaler.is_enabled():
            scale *= float(scaler.get_scale())
        return scale

    def _add_to_buffer(self, params: list[torch.nn.Parameter], grads: tuple[Tensor | None, ...]) -> None:
        if self._grad_buffer is None:
            self._grad_buffer = {}
        for param, grad in zip(params, grads, strict=True):
            if grad is None:
                continue
            if param in self._grad_buffer:
                self._grad_buffer[param].add_(grad)
            else:
                self._grad_buffer[param] = grad


def _num_layers(pl_module: pl.LightningModule) -> int:
    model = getattr(pl_module, "model", None)
    config = getattr(model, "config", None)
    layers = getattr(config, "num_hidden_layers", None)
    if not isinstance(layers, int):
        raise TypeError(
            f"LengthDrop needs pl_module.model.config.num_hidden_layers (a lit_distill QAModel); "
            f"{type(pl_module).__name__} has none"
        )
    return layers
