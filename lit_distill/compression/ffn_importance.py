"""Gates on feed-forward neurons, for their importance in the same pass as the heads'.

A neuron's gate ``ξ = 1`` multiplies its activation (the input of the layer's second
feed-forward linear layer, ``ffn_out``); its importance is ``E_x |∂L(x)/∂ξ|``, the
quantity Michel et al. (2019) use for heads, carried over to neurons as
structured-pruning work on BERT's feed-forward blocks does (e.g. CoFi's and
nn_pruning's neuron masks). The two estimators of
:mod:`lit_distill.compression.head_importance` apply unchanged:

* ``"per_token"``: a gate per example, token and neuron, (B, n, I); so
  ``∂L/∂ξ[b, t, j] = a[b, t, j] · ∂L/∂a[b, t, j]`` and its absolute value is summed over
  examples and tokens.
* ``"batch_mean"``: one gate per neuron, (I,); ``|Σ_{b,t} a · ∂L/∂a|`` once per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

__all__ = ["ffn_neuron_gates"]


@contextmanager
def ffn_neuron_gates(projections: Sequence[nn.Module], per_token: bool) -> Iterator[list[Tensor | None]]:
    """Gate every feed-forward neuron while the context is active.

    A forward pre-hook on each layer's ``ffn_out`` multiplies its input (B, n, I) by a
    tensor of ones that requires grad: (B, n, I) per token, or (I,) per neuron. The
    yielded list holds each layer's gate of the latest forward pass (None for a layer
    that did not run). Multiplying by ones changes no value, so the forward pass and
    every other gradient stay exactly as they are.

    Args:
        projections: each layer's second feed-forward linear layer (input (B, n, I)).
        per_token: a gate per example and token (``"per_token"``) or per neuron only.
    """
    gates: list[Tensor | None] = [None] * len(projections)

    def hook_for(layer: int) -> Callable[[nn.Module, tuple[Tensor, ...]], tuple[Tensor, ...]]:
        def hook(_: nn.Module, args: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            hidden = args[0]  # (B, n, I)
            shape = hidden.shape if per_token else hidden.shape[-1:]
            gate = torch.ones(shape, device=hidden.device, dtype=hidden.dtype, requires_grad=True)
            gates[layer] = gate
            return (hidden * gate, *args[1:])

        return hook

    handles = [p.register_forward_pre_hook(hook_for(i)) for i, p in enumerate(projections)]
    try:
        yield gates
    finally:
        for handle in handles:
            handle.remove()
