"""In-place distillation loss of LengthDrop: KL(full ‖ sub-network) on span logits.

LAT trains each sub-network to match the full model's start/end distributions.
Its reference code calls ``KLDivLoss(log_softmax(full), softmax(sub))``, which is
KL(sub ‖ full) with the gradient flowing through the *target*. The direction that
distillation means, and the one implemented here, is

    KL(p_full ‖ p_sub) = Σ_i p_full[i] · (log p_full[i] − log p_sub[i])

with ``p_full`` detached (the full model is the teacher for this term), averaged
over the batch ("batchmean") and over the start and end distributions, as LAT does.
The KL itself is :func:`lit_distill.losses.distillation_kl` at temperature 1 with
the full model as the teacher.
"""

from __future__ import annotations

from torch import Tensor

from lit_distill.losses import distillation_kl

__all__ = ["span_kl_full_to_sub"]


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
    kl_start = distillation_kl(sub_start, full_start, temperature=1.0)
    kl_end = distillation_kl(sub_end, full_end, temperature=1.0)
    return 0.5 * (kl_start + kl_end)
