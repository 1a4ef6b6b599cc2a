"""Gates on feed-forward neurons, for their importance in the same pass as the heads'.

A neuron's gate ``ξ = 1`` multiplies its activation (the input of the layer's second
feed-forward linear layer, ``ffn_out``); its importance is ``E_x |∂L(x)/∂ξ|``: Michel et
al.'s (2019) gate-gradient estimator for heads, applied here to neurons. This is the
project's own choice, not what the structured-pruning references compute: CoFi learns
L0-regularised masks and nn_pruning learns movement-pruning scores during training, where
this estimator is measured once on a trained model. As for heads, each layer's scores are
normalised by their L2 norm before the global ranking (:func:`~lit_distill.compression.head_importance.normalize_per_layer`),
which keeps an already narrow layer from losing its few remaining neurons only because its
raw scores are on a smaller scale. The two estimators of
:mod:`lit_distill.compression.head_importance` apply unchanged:

* ``"per_token"``: a gate per example, token and neuron, (B, n, I); so
  ``∂L/∂ξ[b, t, j] = a[b, t, j] · ∂L/∂a[b, t, j]`` and its absolute value is summed over
  examples and tokens.
* ``"batch_mean"``: one gate per neuron, (I,); ``|Σ_{b,t} a · ∂L/∂a|`` once per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

import torch
from torch import Tensor, nn

from lit_distill.compression.input_gates import gated_inputs

__all__ = ["ffn_neuron_gates"]


def ffn_neuron_gates(
    projections: Sequence[nn.Module], per_token: bool
) -> AbstractContextManager[list[Tensor | None]]:
    """Gate every feed-forward neuron while the context is active.

    The input (B, n, I) of each layer's ``ffn_out`` is multiplied by ones that require
    grad: (B, n, I) per token, or (I,) per neuron (:func:`gated_inputs`).

    Args:
        projections: each layer's second feed-forward linear layer (input (B, n, I)).
        per_token: a gate per example and token (``"per_token"``) or per neuron only.
    """

    def gate_input(_: int, hidden: Tensor) -> tuple[Tensor, Tensor]:
        shape = hidden.shape if per_token else hidden.shape[-1:]  # (B, n, I) or (I,)
        gate = torch.ones(shape, device=hidden.device, dtype=hidden.dtype, requires_grad=True)
        return hidden * gate, gate

    return gated_inputs(projections, gate_input)
