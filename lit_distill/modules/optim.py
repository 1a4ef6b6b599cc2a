"""AdamW with linear warm-up and decay (or a constant rate), no weight decay on biases and LayerNorm."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from lit_distill.user_errors import UserInputError

__all__ = [
    "LrSchedule",
    "build_optimizer",
    "clip_each_tensor",
    "linear_warmup_decay",
    "parameter_groups",
    "resolve_warmup_steps",
]

LrSchedule = Literal["linear", "constant"]
"""``linear``: warm-up then linear decay to 0 (BERT, transformers); ``constant``: the peak rate
at every step, no warm-up (TinyBERT's intermediate-layer stage, ``--schedule none`` in BertAdam)."""


def parameter_groups(
    modules: Iterable[nn.Module], weight_decay: float
) -> list[dict[str, list[nn.Parameter] | float]]:
    """Split trainable parameters into a decayed and a non-decayed group.

    Biases and the weights of normalisation layers (``LayerNorm``, any module whose
    class name contains "Norm") get no weight decay, as in BERT's original
    optimiser; frozen parameters are left out.

    Args:
        modules: the modules whose parameters are trained.
        weight_decay: decay for the decayed group.

    Returns:
        Two parameter groups for :class:`torch.optim.AdamW` (empty groups dropped).
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in modules:
        for sub in module.modules():
            is_norm = isinstance(sub, nn.LayerNorm) or "Norm" in type(sub).__name__
            for name, param in sub.named_parameters(recurse=False):
                if not param.requires_grad or id(param) in seen:
                    continue
                seen.add(id(param))
                (no_decay if is_norm or name == "bias" or param.ndim < 2 else decay).append(param)
    groups: list[dict[str, list[nn.Parameter] | float]] = []
    if decay:
        groups.append({"params": decay, "weight_decay": weight_decay})
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def resolve_warmup_steps(
    warmup_steps: int, warmup_ratio: float, total_steps: int, round_up: bool = False
) -> int:
    """Warm-up length in optimiser steps: ``warmup_steps`` if > 0, else ``warmup_ratio * total_steps``.

    The ratio's share is rounded to the nearest step by default, and up with ``round_up``, as
    transformers' ``Trainer`` does (``math.ceil``); the two differ by at most one step.
    """
    if warmup_steps > 0:
        return min(warmup_steps, total_steps)
    share = warmup_ratio * total_steps
    return math.ceil(share) if round_up else round(share)


def linear_warmup_decay(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, from_zero: bool = False
) -> LambdaLR:
    """Learning rate rising linearly over ``warmup_steps`` to its peak, then falling linearly to 0 at ``total_steps``.

    Step ``s`` of the warm-up runs at ``(s + 1) / (warmup_steps + 1)`` of the peak, so no step is
    taken at rate 0; with ``from_zero`` at ``s / warmup_steps``, the first step at rate 0, as
    transformers' ``get_linear_schedule_with_warmup`` and BERT's and TinyBERT's optimisers. Both
    reach the peak at step ``warmup_steps`` and decay alike.
    """
    total = max(1, total_steps)
    warm = max(0, min(warmup_steps, total))

    def factor(step: int) -> float:
        if step < warm:
            return step / warm if from_zero else (step + 1) / (warm + 1)
        return max(0.0, (total - step) / max(1, total - warm))

    return LambdaLR(optimizer, factor)


def build_optimizer(
    modules: Iterable[nn.Module],
    *,
    learning_rate: float,
    weight_decay: float,
    adam_epsilon: float,
    warmup_steps: int,
    warmup_ratio: float,
    total_steps: int,
    warmup_from_zero: bool = False,
    schedule: LrSchedule = "linear",
) -> tuple[torch.optim.AdamW, LambdaLR]:
    """AdamW over :func:`parameter_groups` and its per-step schedule.

    ``schedule="linear"`` is :func:`linear_warmup_decay`; ``warmup_from_zero`` selects the reference
    schedule whole: the warm-up starts at rate 0 and a ``warmup_ratio`` is rounded up to whole
    steps, both as transformers' ``Trainer`` does. ``schedule="constant"`` keeps the peak rate at
    every step and ignores the warm-up settings.
    """
    groups = parameter_groups(modules, weight_decay)
    if not groups:
        raise UserInputError("nothing to train: every parameter of the module is frozen")
    # foreach: one call per step for all tensors instead of ~12 per tensor; the same arithmetic,
    # bitwise-identical parameters (on CPU torch defaults to the per-tensor loop)
    optimizer = torch.optim.AdamW(groups, lr=learning_rate, eps=adam_epsilon, foreach=True)  # type: ignore[arg-type]
    if schedule == "constant":
        return optimizer, LambdaLR(optimizer, lambda step: 1.0)
    warm = resolve_warmup_steps(warmup_steps, warmup_ratio, total_steps, round_up=warmup_from_zero)
    return optimizer, linear_warmup_decay(optimizer, warm, total_steps, from_zero=warmup_from_zero)


def clip_each_tensor(parameters: Iterable[nn.Parameter], max_norm: float) -> None:
    """Scale each parameter's gradient down to L2 norm ``max_norm`` on its own, as TinyBERT's
    ``BertAdam`` does (``max_grad_norm`` per tensor), instead of one global norm over all of them."""
    for param in parameters:
        if param.grad is not None:
            torch.nn.utils.clip_grad_norm_([param], max_norm)
