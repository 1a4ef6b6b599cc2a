"""Attention-head importance after Michel et al. 2019 ("Are Sixteen Heads Really Better than One?").

Each head's output is multiplied by a gate ``ξ = 1``; a head's importance is the
expected magnitude of the loss gradient with respect to its gate,
``I_h = E_x |∂L(x)/∂ξ_h|``. Two estimators, by name:

* ``"per_token"`` (default; the paper's code): one gate per example, token and head,
  so ``|∂L/∂ξ|`` is taken per example and token (``|⟨∂L/∂ctx_h, ctx_h⟩|`` of the head's
  context vector) and then summed. Contributions of opposite sign do not cancel.
* ``"batch_mean"`` (Hugging Face's ``run_bertology.py``, which the SigOpt example's
  pruning followed): one gate per head, ``|∂ mean_batch L / ∂ξ_h|`` once per batch.
  Gradients of different examples and tokens are summed *before* the absolute value.
  (``run_bertology.py`` also never zeroes the gate's gradient between batches, so it
  sums the running total; here each batch contributes its own gradient.)

Scores are then normalised per layer by their L2 norm so that heads of different
layers compare fairly (both references do).

Feed-forward neurons can be scored in the same pass (:func:`compute_importance` with
``ffn_projections``; the gates are in :mod:`lit_distill.compression.ffn_importance`):
the same estimator, accumulation and normalisation apply to them, and the head
scores stay exactly what they are without them.

The ``batch_mean`` gates are the ``head_gates`` argument of
:class:`lit_distill.models.qa_model.QAModel` (one ``(heads_l,)`` tensor per layer; per-layer
head counts may differ once a model has been pruned). The ``per_token`` gates are put
on the input of each layer's attention output projection by :func:`token_head_gates`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from lit_distill.compression.ffn_importance import ffn_neuron_gates
from lit_distill.compression.input_gates import gated_inputs
from lit_distill.user_errors import UserInputError

__all__ = [
    "ESTIMATORS",
    "Estimator",
    "StructuredImportance",
    "accumulate_head_importance",
    "compute_head_importance",
    "compute_importance",
    "make_head_gates",
    "normalize_per_layer",
    "token_head_gates",
]

Estimator = Literal["per_token", "batch_mean"]
ESTIMATORS: tuple[str, ...] = ("per_token", "batch_mean")


def make_head_gates(num_heads_per_layer: Sequence[int], device: torch.device | str = "cpu") -> list[Tensor]:
    """One gate tensor of ones per layer, (heads_l,), each requiring grad."""
    return [torch.ones(n, device=device, requires_grad=True) for n in num_heads_per_layer]


def token_head_gates(
    projections: Sequence[nn.Module], num_heads_per_layer: Sequence[int]
) -> AbstractContextManager[list[Tensor | None]]:
    """Gate every head's context vector per example and token while the context is active.

    Each layer's attention output projection sees its input, viewed as (B, n, h, dh),
    multiplied by a (B, n, h, 1) tensor of ones that requires grad (:func:`gated_inputs`).
    The yielded list holds each layer's gate of the latest forward pass (None for a
    layer that did not run), so ``∂L/∂gate[b, t, h] = ⟨∂L/∂ctx, ctx⟩`` of head h at
    token t of example b.

    Args:
        projections: each layer's attention output projection (input (B, n, h·dh)).
        num_heads_per_layer: heads in each layer.
    """
    if len(projections) != len(num_heads_per_layer):
        raise ValueError(
            f"{len(projections)} projections but {len(num_heads_per_layer)} layers of head counts"
        )

    def gate_input(layer: int, context: Tensor) -> tuple[Tensor, Tensor]:
        batch, n, width = context.shape  # (B, n, h*dh)
        heads = num_heads_per_layer[layer]
        gate = torch.ones(batch, n, heads, 1, device=context.device, dtype=context.dtype)
        gate.requires_grad_(True)
        gated = (context.view(batch, n, heads, width // heads) * gate).view(batch, n, width)
        return gated, gate

    return gated_inputs(projections, gate_input)


def accumulate_head_importance(
    total: Sequence[Tensor] | None, gate_grads: Sequence[Tensor | None]
) -> list[Tensor]:
    """Add ``|grad|`` of each layer's gates to the running importance.

    Args:
        total: importance so far (one (heads_l,) tensor per layer), or None to start.
        gate_grads: the gates' gradients from one batch, (heads_l,) or per token
            (B, n, heads_l, 1); None for a layer the loss did not reach (counts as zero).

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
        step = grad.detach().abs().float()  # (heads_l,), or (B, n, heads_l, 1) per token
        if step.dim() > 1:
            step = step.sum(dim=(0, 1)).flatten()  # Σ over examples and tokens of |grad|
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
        raise UserInputError(f"exponent must be > 0, got {exponent}")
    out = []
    for scores in importance:
        norm = scores.float().abs().pow(exponent).sum().pow(1.0 / exponent)
        out.append(scores.float() / (norm + eps))
    return out


@dataclass
class StructuredImportance:
    """What :func:`compute_importance` returns."""

    heads: list[Tensor]  # one (heads_l,) CPU tensor per layer
    neurons: list[Tensor] | None  # one (I_l,) CPU tensor per layer, None when not asked for
    batches: int  # batches used


def compute_head_importance(
    loss_fn: Callable[[Any, list[Tensor] | None], Tensor],
    batches: Iterable[Any],
    num_heads_per_layer: Sequence[int],
    max_batches: int | None,
    device: torch.device | str = "cpu",
    normalize: bool = True,
    estimator: Estimator = "per_token",
    projections: Sequence[nn.Module] | None = None,
    progress: bool = False,
) -> tuple[list[Tensor], int]:
    """Accumulate head importance over up to ``max_batches`` batches.

    Args:
        loss_fn: ``loss_fn(batch, head_gates) -> scalar loss`` running the model with
            the given (heads_l,) gates (None for ``"per_token"``: its gates are hooks).
        batches: an iterable of batches (e.g. a training dataloader).
        num_heads_per_layer: heads in each layer of the model.
        max_batches: how many batches to use at most (>= 1), None for all.
        device: where the gates live (the model's device).
        normalize: normalise each layer's scores by their L2 norm.
        estimator: ``"per_token"`` or ``"batch_mean"`` (see the module docstring).
        projections: each layer's attention output projection (needed by ``"per_token"``).
        progress: show a progress bar.

    Returns:
        ``(importance, batches_used)``: one (heads_l,) CPU tensor per layer.

    Raises:
        UserInputError: if ``max_batches < 1``, ``batches`` yields nothing or the estimator is
            unknown.
        ValueError: if ``"per_token"`` has no projections (a caller's bug).
    """
    result = compute_importance(
        loss_fn,
        batches,
        num_heads_per_layer,
        max_batches,
        device,
        normalize,
        estimator,
        projections,
        progress,
    )
    return result.heads, result.batches


def compute_importance(
    loss_fn: Callable[[Any, list[Tensor] | None], Tensor],
    batches: Iterable[Any],
    num_heads_per_layer: Sequence[int],
    max_batches: int | None,
    device: torch.device | str = "cpu",
    normalize: bool = True,
    estimator: Estimator = "per_token",
    projections: Sequence[nn.Module] | None = None,
    progress: bool = False,
    ffn_projections: Sequence[nn.Module] | None = None,
) -> StructuredImportance:
    """Head importance and, with ``ffn_projections``, feed-forward neuron importance, in one pass.

    The arguments are :func:`compute_head_importance`'s, plus ``ffn_projections``: each
    layer's second feed-forward linear layer (``layer.ffn_out``), whose input is gated
    (:func:`lit_distill.compression.ffn_importance.ffn_neuron_gates`). Neuron scores are
    accumulated and normalised exactly as head scores are, with the same estimator.
    """
    if max_batches is not None and max_batches < 1:
        raise UserInputError(f"importance_batches must be >= 1 or None (all), got {max_batches}")
    if estimator not in ESTIMATORS:
        raise UserInputError(f"importance estimator must be one of {list(ESTIMATORS)}, got {estimator!r}")
    if estimator == "per_token" and projections is None:
        raise ValueError("the per_token importance estimator needs the attention output projections")
    total: list[Tensor] | None = None
    ffn_total: list[Tensor] | None = None
    used = 0
    bar = tqdm(total=max_batches, desc="head importance", unit="batch", disable=not progress, leave=False)
    try:
        for batch in batches:
            if max_batches is not None and used >= max_batches:
                break
            with ffn_neuron_gates(ffn_projections or [], per_token=estimator == "per_token") as ffn_gates:
                if estimator == "batch_mean":
                    gates: list[Tensor | None] = list(make_head_gates(num_heads_per_layer, device))
                    loss = loss_fn(batch, [g for g in gates if g is not None])
                else:
                    with token_head_gates(projections or [], num_heads_per_layer) as gates:
                        loss = loss_fn(batch, None)
            reached = [g for g in gates if g is not None]
            ffn_reached = [g for g in ffn_gates if g is not None]
            grads = iter(torch.autograd.grad(loss, reached + ffn_reached, allow_unused=True))
            layer_grads = [next(grads) if g is not None else None for g in gates]
            ffn_grads = [next(grads) if g is not None else None for g in ffn_gates]
            if total is None and any(g is None for g in layer_grads):
                layer_grads = [
                    torch.zeros(n, device=device) if g is None else g
                    for g, n in zip(layer_grads, num_heads_per_layer, strict=True)
                ]
            total = accumulate_head_importance(total, layer_grads)
            if ffn_projections is not None:
                if ffn_total is None and any(g is None for g in ffn_grads):
                    ffn_grads = [
                        torch.zeros(cast(nn.Linear, p).in_features, device=device) if g is None else g
                        for g, p in zip(ffn_grads, ffn_projections, strict=True)
                    ]
                ffn_total = accumulate_head_importance(ffn_total, ffn_grads)
            used += 1
            bar.update(1)
    finally:
        bar.close()
    if total is None:
        raise UserInputError("head importance needs at least one batch, but the dataloader yielded none")
    heads = [t.cpu() for t in total]
    neurons = None if ffn_total is None else [t.cpu() for t in ffn_total]
    if normalize:
        heads = normalize_per_layer(heads)
        neurons = None if neurons is None else normalize_per_layer(neurons)
    return StructuredImportance(heads, neurons, used)
