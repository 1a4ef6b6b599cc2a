"""In-place distillation loss of LengthDrop: KL(full ‖ sub-network) on span logits.

LAT trains each sub-network to match the full model's start/end distributions.
Its reference code calls ``KLDivLoss(log_softmax(full), softmax(sub))``, which is
KL(sub ‖ full) with the gradient flowing through the *target*. The direction that
distillation means, and the one implemented here, is

    KL(p_full ‖ p_sub) = Σ_i p_full[i] · (log p_full[i] − log p_sub[i])

with ``p_full`` detached (the full model is the teacher for this term), averaged
over the batch ("batchmean") and over the start and end distributions, as LAT does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["kl_full_to_sub", "span_kl_full_to_sub"]


def kl_full_to_sub(full_logits: Tensor, sub_logits: Tensor) -> Tensor:
    """KL(softmax(full) ‖ softmax(sub)) over the last dimension, mean over the batch.

    Args:
        full_logits: the full model's logits, (B, L); detached here.
        sub_logits: the sub-network's logits, (B, L); gradients flow into these.

    Returns:
        A scalar tensor. Positions the full model gives probability 0 (e.g. logits
        of ``-inf`` at padding) contribute 0, not NaN.
    """
    if full_logits.shape != sub_logits.shape:
        raise ValueError(
            f"full and sub-network logits must have the same shape, got {tuple(full_logits.shape)} "
            f"and {tuple(sub_logits.shape)}"
        )
    log_p = F.log_softmax(full_logits.detach().float(), dim=-1)  # (B, L)
    log_q = F.log_softmax(sub_logits.float(), dim=-1)  # (B, L)
    p = log_p.exp()
    terms = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p))  # (B, L)
    return terms.sum(dim=-1).mean()


def span_kl_full_to_sub(full_start: Tensor, full_end: Tensor, sub_start: Tensor, sub_end: Tensor) -> Tensor:
    """The LengthDrop loss of one sub-network: mean of the start and end KL terms.

    Args:
        full_start: full model start logits (B, L), detached here.
        full_end: full model end logits (B, L), detached here.
        sub_start: sub-network start logits (B, L).
        sub_end: sub-network end logits (B, L).

    Returns:
        ``(KL(full_start ‖ sub_start) + KL(full_end ‖ sub_end)) / 2``, a scalar.
    """
    return 0.5 * (kl_full_to_sub(full_start, sub_start) + kl_full_to_sub(full_end, sub_end))
