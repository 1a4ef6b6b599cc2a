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

The ``batch_mean`` gates are the ``head_gates`` argument of
:class:`lit_distill.models.qa_model.QAModel` (one ``(heads_l,)`` tensor per layer; per-layer
head counts may differ once a model has been pruned). The ``per_token`` gates are put
on the input of each layer's attention output projection by :func:`token_head_gates`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

__all__ = [
    "ESTIMATORS",
    "Estimator",
    "accumulate_head_importance",
    "compute_head_importance",
    "make_head_gates",
    "normalize_per_layer",
    "token_head_gates",
]

Estimator = Literal["per_token", "batch_mean"]
ESTIMATORS: tuple[str, ...] = ("per_token", "batch_mean")


def make_head_gates(num_heads_per_layer: Sequence[int], device: torch.device | str = "cpu") -> list[Tensor]:
    """One gate tensor of ones per layer, (heads_l,), each requiring grad."""
    return [torch.ones(n, device=device, requires_grad=True) for n in num_heads_per_layer]


@contextmanager
def token_head_gates(
    projections: Sequence[nn.Module], num_heads_per_layer: Sequence[int]
) -> Iterator[list[Tensor | None]]:
    """Gate every head's context vector per example and token while the context is active.

    A forward pre-hook on each layer's attention output projection multiplies its input,
    viewed as (B, n, h, dh), by a (B, n, h, 1) tensor of ones that requires grad. The
    yielded list holds each layer's (B, n, h) gate of the latest forward pass (None for
    a layer that did not run), so ``∂L/∂gate[b, t, h] = ⟨∂L/∂ctx, ctx⟩`` of head h at
    token t of example b.

    Args:
        projections: each layer's attention output projection (input (B, n, h·dh)).
        num_heads_per_layer: heads in each layer.
    """
    if len(projections) != len(num_heads_per_layer):
        raise ValueError(
            f"{len(projections)} projections but {len(num_heads_per_layer)} layers of head counts"
        )
    gates: list[Tensor | None] = [None] * len(projections)

    def hook_for(layer: int) -> Callable[[nn.Module, tuple[Tensor, ...]], tuple[Tensor, ...]]:
        heads = num_heads_per_layer[layer]

        def hook(_: nn.Module, args: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            context = args[0]  # (B, n, h*dh)
            batch, n, width = context.shape
            gate = torch.ones(batch, n, heads, 1, device=context.device, dtype=context.dtype)
            gate.requires_grad_(True)
            gates[layer] = gate
            gated = (context.view(batch, n, heads, width // heads) * gate).view(batch, n, width)
            return (gated, *args[1:])

        return hook

    handles = [p.register_forward_pre_hook(hook_for(i)) for i, p in enumerate(projections)]
    try:
        yield gates
    finally:
        for handle in handles:
            handle.remove()


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
        raise ValueError(f"exponent must be > 0, got {exponent}")
    out = []
    for scores in importance:
        norm = scores.float().abs().pow(exponent).sum().pow(1.0 / exponent)
        out.append(scores.float() / (norm + eps))
    return out


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
        ValueError: if ``max_batches < 1``, ``batches`` yields nothing, the estimator is
            unknown, or ``"per_token"`` has no projections.
    """
    if max_batches is not None and max_batches < 1:
        raise ValueError(f"importance_batches must be >= 1 or None (all), got {max_batches}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"importance estimator must be one of {list(ESTIMATORS)}, got {estimator!r}")
    if estimator == "per_token" and projections is None:
        raise ValueError("the per_token importance estimator needs the attention output projections")
    total: list[Tensor] | None = None
    used = 0
    bar = tqdm(total=max_batches, desc="head importance", unit="batch", disable=not progress, leave=False)
    try:
        for batch in batches:
            if max_batches is not None and used >= max_batches:
                break
            if estimator == "batch_mean":
                gates: list[Tensor | None] = list(make_head_gates(num_heads_per_layer, device))
                loss = loss_fn(batch, [g for g in gates if g is not None])
            else:
                with token_head_gates(projections or [], num_heads_per_layer) as gates:
                    loss = loss_fn(batch, None)
            reached = [g for g in gates if g is not None]
            grads = iter(torch.autograd.grad(loss, reached, allow_unused=True))
            layer_grads = [next(grads) if g is not None else None for g in gates]
            if total is None and any(g is None for g in layer_grads):
                layer_grads = [
                    torch.zeros(n, device=device) if g is None else g
                    for g, n in zip(layer_grads, num_heads_per_layer, strict=True)
                ]
            total = accumulate_head_importance(total, layer_grads)
            used += 1
            bar.update(1)
    finally:
        bar.close()
    if total is None:
        raise ValueError("head importance needs at least one batch, but the dataloader yielded none")
    total = [t.cpu() for t in total]
    return (normalize_per_layer(total) if normalize else total), used
