"""Attention-head importance after Michel et al. 2019 ("Are Sixteen Heads Really Better than One?").

Each head's output is multiplied by a gate ``ξ = 1``. The importance of a head is
the magnitude of the loss gradient with respect to its gate, accumulated over
training batches: ``I_h = Σ_batches |∂L/∂ξ_h|``. Scores are then normalised per
layer by their L2 norm so that heads of different layers compare fairly.

The gates are the ``head_gates`` argument of :class:`lit_distill.models.qa.QAModel`:
a list with one ``(heads_l,)`` tensor per layer (per-layer head counts may differ
once a model has been pruned).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "accumulate_head_importance",
    "compute_head_importance",
    "make_head_gates",
    "normalize_per_layer",
    "span_cross_entropy",
]


def make_head_gates(num_heads_per_layer: Sequence[int], device: torch.device | str = "cpu") -> list[Tensor]:
    """One gate tensor of ones per layer, (heads_l,), each requiring grad."""
    return [torch.ones(n, device=device, requires_grad=True) for n in num_heads_per_layer]


def accumulate_head_importance(
    total: Sequence[Tensor] | None, gate_grads: Sequence[Tensor | None]
) -> list[Tensor]:
    """Add ``|grad|`` of each layer's gates to the running importance.

    Args:
        total: importance so far (one (heads_l,) tensor per layer), or None to start.
        gate_grads: the gates' gradients from one batch; None for a layer the
            loss did not reach (counts as zero).

    Returns:
        New per-layer tensors (the inputs are not modified).
    """
    if total is not None and len(total) != len(gate_grads):
        raise ValueError(
            f"importance has {len(total)} layers but {len(gate_grads)} gate gradients were given"
        )
    out: list[Tensor] = []
    for layer, grad in enumerate(gate_grads):
        if grad is None:
            if total is None:
                raise ValueError(
                    f"layer {layer}: no gradient and no running importance to take the size from"
                )
            out.append(total[layer].clone())
            continue
        step = grad.detach().abs().float()  # (heads_l,)
        if total is not None:
            if total[layer].shape != step.shape:
                raise ValueError(
                    f"layer {layer}: importance has shape {tuple(total[layer].shape)} but its gate "
                    f"gradient has shape {tuple(step.shape)}"
                )
            step = total[layer].to(step.device) + step
        out.append(step)
    return out


def normalize_per_layer(
    importance: Sequence[Tensor], exponent: float = 2.0, eps: float = 1e-20
) -> list[Tensor]:
    """Divide each layer's scores by their L``exponent`` norm (Michel et al. use 2).

    A layer whose scores are all zero stays all zero.
    """
    if exponent <= 0:
        raise ValueError(f"exponent must be > 0, got {exponent}")
    out = []
    for scores in importance:
        norm = scores.float().abs().pow(exponent).sum().pow(1.0 / exponent)
        out.append(scores.float() / (norm + eps))
    return out


def span_cross_entropy(start_logits: Tensor, end_logits: Tensor, start: Tensor, end: Tensor) -> Tensor:
    """Mean of the start and end cross-entropies (the extractive QA task loss).

    Gold positions outside the sequence are clamped to ``L`` and ignored.

    Args:
        start_logits: (B, L). end_logits: (B, L). start, end: (B,) gold token positions.
    """
    seq_len = start_logits.shape[-1]
    start = start.clamp(0, seq_len)
    end = end.clamp(0, seq_len)
    loss_start = F.cross_entropy(start_logits.float(), start, ignore_index=seq_len)
    loss_end = F.cross_entropy(end_logits.float(), end, ignore_index=seq_len)
    return 0.5 * (loss_start + loss_end)


def compute_head_importance(
    loss_fn: Callable[[Any, list[Tensor]], Tensor],
    batches: Iterable[Any],
    num_heads_per_layer: Sequence[int],
    max_batches: int,
    device: torch.device | str = "cpu",
    normalize: bool = True,
) -> tuple[list[Tensor], int]:
    """Accumulate ``|∂loss/∂gate|`` over up to ``max_batches`` batches.

    Args:
        loss_fn: ``loss_fn(batch, head_gates) -> scalar loss`` running the model
            with the given gates.
        batches: an iterable of batches (e.g. a training dataloader).
        num_heads_per_layer: heads in each layer of the model.
        max_batches: how many batches to use at most (>= 1).
        device: where the gates live (the model's device).
        normalize: normalise each layer's scores by their L2 norm.

    Returns:
        ``(importance, batches_used)``: one (heads_l,) CPU tensor per layer.

    Raises:
        ValueError: if ``max_batches < 1`` or ``batches`` yields nothing.
    """
    if max_batches < 1:
        raise ValueError(f"importance_batches must be >= 1, got {max_batches}")
    total: list[Tensor] | None = None
    used = 0
    for batch in batches:
        if used >= max_batches:
            break
        gates = make_head_gates(num_heads_per_layer, device)
        loss = loss_fn(batch, gates)
        grads = torch.autograd.grad(loss, gates, allow_unused=True)
        total = accumulate_head_importance(total, list(grads))
        used += 1
    if total is None:
        raise ValueError("head importance needs at least one batch, but the dataloader yielded none")
    total = [t.cpu() for t in total]
    return (normalize_per_layer(total) if normalize else total), used
