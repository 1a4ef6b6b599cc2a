"""Pure distillation losses with fixed signatures.

Every function here takes tensors (and plain numbers) and returns a scalar
tensor; none of them knows about Lightning, models or data. The modules in
:mod:`lit_distill.modules` wire them.

Span logits are ``(B, L)`` tensors (one score per token for the answer start or
end). A ``mask`` of shape ``(B, L)`` marks the positions that count (1) and the
ones that do not (0, padding); masked positions take no probability mass in
either distribution and contribute nothing to any loss.

Faithfulness notes (see docs/training.md):

* :func:`distillation_kl` and :func:`distilbert_span_loss` follow DistilBERT's
  SQuAD distillation (Sanh et al. 2019; Hugging Face's ``run_squad_w_distillation.py``):
  ``alpha_ce * T^2 * KL(teacher_T || student_T)`` averaged over start and end,
  plus ``alpha_squad * CE`` averaged over start and end. KL is averaged over the
  batch ("batchmean"). The reference does not mask padding; we do (padding
  logits carry no answer and only add noise; for unmasked inputs the numbers
  are identical).
* :func:`attention_mse` and :func:`hidden_state_mse` follow TinyBERT's
  intermediate-layer distillation (Jiao et al. 2020, ``task_distill.py``):
  element-wise MSE averaged over every element (padding included, as in the
  reference), summed over the mapped layers. The reference zeroes attention
  scores ``<= -100`` (its scores include the additive mask); our encoder returns
  scores without the mask, so we zero the padded key positions explicitly in
  both tensors, which is the same set of positions.
* :func:`soft_cross_entropy` is TinyBERT's prediction-layer loss. TinyBERT's
  ``task_distill.py`` (GLUE) takes ``mean()`` over every element, i.e. divides by
  the number of positions ``L``, has no ``T^2`` and masks nothing (on padded span
  logits, padded positions take part in both softmaxes). By default we sum over
  positions, average over the batch and multiply by ``T^2`` (Hinton et al.), so
  the loss does not shrink with the padded sequence length and its gradient does
  not shrink with the temperature; at ``T = 1`` this is the reduction of
  Dynamic-TinyBERT's SQuAD script (``sum(-1).mean()``, no temperature), which
  does not mask padding either. We mask padding. ``reference=True`` gives the
  TinyBERT reference's numbers exactly, padded positions included.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from lit_distill.checks import finite_number
from lit_distill.user_errors import UserInputError

__all__ = [
    "attention_mse",
    "check_temperature",
    "cosine_hidden_loss",
    "distilbert_span_loss",
    "distillation_kl",
    "hidden_state_mse",
    "soft_cross_entropy",
    "span_cross_entropy",
    "tinybert_layer_map",
]


def check_temperature(temperature: float) -> None:
    """Raise unless ``temperature`` is a finite number > 0 (the one check of every loss and module).

    Raises:
        UserInputError: naming the bad value.
    """
    finite_number("temperature", temperature, low=0, low_open=True)


def _masked_log_softmax(logits: Tensor, mask: Tensor | None) -> Tensor:
    """Log-softmax over the last dimension; masked positions get ``-inf``."""
    if mask is not None:
        logits = logits.masked_fill(~mask.bool(), float("-inf"))
    return F.log_softmax(logits.float(), dim=-1)


def distillation_kl(
    student_logits: Tensor,
    teacher_logits: Tensor,
    temperature: float,
    mask: Tensor | None = None,
) -> Tensor:
    """``T^2 * KL(softmax(teacher / T) || softmax(student / T))``, averaged over the batch.

    With ``T = 1`` this is also LengthDrop's in-place distillation term
    ``KL(full || sub)`` (the full model as teacher, detached; see
    :mod:`lit_distill.compression.inplace_kd`). Positions the teacher gives
    probability 0 (masked, or logits of ``-inf``) contribute 0, not NaN.

    Args:
        student_logits: ``(B, L)`` student scores; the gradient flows through them.
        teacher_logits: ``(B, L)`` teacher scores (treated as a constant target).
        temperature: softening temperature ``T > 0``.
        mask: optional ``(B, L)``; positions with 0 are left out of both distributions.

    Returns:
        A scalar: the KL divergence summed over positions, averaged over the
        batch, multiplied by ``T^2``.

    Raises:
        UserInputError: for a temperature that is not > 0.
        ValueError: for logits of different shapes (a caller's bug).
    """
    check_temperature(temperature)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student and teacher logits must have the same shape, got {tuple(student_logits.shape)} "
            f"and {tuple(teacher_logits.shape)}"
        )
    teacher_logits = teacher_logits.detach()
    log_p_s = _masked_log_softmax(student_logits / temperature, mask)  # (B, L)
    log_p_t = _masked_log_softmax(teacher_logits / temperature, mask)  # (B, L)
    p_t = log_p_t.exp()
    # masked positions: p_t = 0 and log terms -inf; define their contribution as 0
    terms = torch.where(p_t > 0, p_t * (log_p_t - log_p_s), torch.zeros_like(p_t))  # (B, L)
    return terms.sum(dim=-1).mean() * temperature**2


def span_cross_entropy(
    start_logits: Tensor, end_logits: Tensor, start_positions: Tensor, end_positions: Tensor
) -> Tensor:
    """The usual extractive-QA loss: ``(CE(start) + CE(end)) / 2``.

    Gold positions outside ``[0, L)`` are ignored, as in Hugging Face's QA heads
    (they are clamped to ``L`` and ``L`` is the ignore index). Padded positions are
    not masked, as in BERT's and transformers' QA heads: they take part in the softmax,
    so the loss depends on the padding width (``pad_to_max_length`` in the data module).

    Args:
        start_logits: ``(B, L)``.
        end_logits: ``(B, L)``.
        start_positions: ``(B,)`` gold start token indices.
        end_positions: ``(B,)`` gold end token indices.

    Returns:
        A scalar tensor.
    """
    length = start_logits.size(1)
    start = start_positions.clamp(0, length)
    end = end_positions.clamp(0, length)
    loss_start = F.cross_entropy(start_logits.float(), start, ignore_index=length)
    loss_end = F.cross_entropy(end_logits.float(), end, ignore_index=length)
    return (loss_start + loss_end) / 2


def cosine_hidden_loss(student_hidden: Tensor, teacher_hidden: Tensor, mask: Tensor | None = None) -> Tensor:
    """DistilBERT's cosine embedding loss: mean over real tokens of ``1 - cos(h_s, h_t)``.

    Args:
        student_hidden: ``(B, L, H)`` student hidden states.
        teacher_hidden: ``(B, L, H)`` teacher hidden states (same width; constant target).
        mask: optional ``(B, L)``; only positions with 1 are averaged.

    Returns:
        A scalar tensor in ``[0, 2]``.
    """
    if student_hidden.shape != teacher_hidden.shape:
        raise ValueError(
            "cosine loss needs student and teacher hidden states of the same shape, got "
            f"{tuple(student_hidden.shape)} and {tuple(teacher_hidden.shape)}"
        )
    cos = F.cosine_similarity(student_hidden.float(), teacher_hidden.detach().float(), dim=-1)  # (B, L)
    loss = 1.0 - cos
    if mask is None:
        return loss.mean()
    weights = mask.to(loss.dtype)
    return (loss * weights).sum() / weights.sum().clamp_min(1.0)


def distilbert_span_loss(
    student_start: Tensor,
    student_end: Tensor,
    teacher_start: Tensor,
    teacher_end: Tensor,
    start_positions: Tensor | None,
    end_positions: Tensor | None,
    *,
    temperature: float = 2.0,
    alpha_ce: float = 0.5,
    alpha_squad: float = 0.5,
    mask: Tensor | None = None,
) -> dict[str, Tensor]:
    """DistilBERT-style SQuAD distillation loss, split into its terms.

    ``loss = alpha_ce * (KL_T(start) + KL_T(end)) / 2 + alpha_squad * CE`` with
    ``KL_T`` from :func:`distillation_kl` (which includes ``T^2``) and ``CE`` from
    :func:`span_cross_entropy`. ``alpha_cos`` (the cosine term) needs hidden
    states and is added by the caller with :func:`cosine_hidden_loss`.

    Args:
        student_start: ``(B, L)`` student start logits.
        student_end: ``(B, L)`` student end logits.
        teacher_start: ``(B, L)`` teacher start logits.
        teacher_end: ``(B, L)`` teacher end logits.
        start_positions: ``(B,)`` gold starts, or ``None`` when ``alpha_squad == 0``.
        end_positions: ``(B,)`` gold ends, or ``None`` when ``alpha_squad == 0``.
        temperature: ``T > 0``.
        alpha_ce: weight of the KL term.
        alpha_squad: weight of the hard-label span cross-entropy.
        mask: optional ``(B, L)`` mask of real tokens for the KL term.

    Returns:
        ``{"loss": total, "loss_kd": KL average, "loss_squad": CE}`` (the last
        only when ``alpha_squad > 0``); unweighted terms, weighted total.
    """
    kd = (
        distillation_kl(student_start, teacher_start, temperature, mask)
        + distillation_kl(student_end, teacher_end, temperature, mask)
    ) / 2
    out = {"loss_kd": kd, "loss": alpha_ce * kd}
    if alpha_squad > 0:
        if start_positions is None or end_positions is None:
            raise UserInputError("alpha_squad > 0 needs start_positions and end_positions in the batch")
        ce = span_cross_entropy(student_start, student_end, start_positions, end_positions)
        out["loss_squad"] = ce
        out["loss"] = out["loss"] + alpha_squad * ce
    return out


def soft_cross_entropy(
    student_logits: Tensor,
    teacher_logits: Tensor,
    temperature: float = 1.0,
    mask: Tensor | None = None,
    *,
    reference: bool = False,
) -> Tensor:
    """TinyBERT's prediction-layer loss: cross-entropy against the teacher's soft targets.

    ``-sum_j softmax(t / T)_j * log_softmax(s / T)_j``.

    Args:
        student_logits: ``(B, L)``.
        teacher_logits: ``(B, L)`` (constant target).
        temperature: ``T > 0``.
        mask: optional ``(B, L)``; masked positions take no probability mass
            (ignored with ``reference=True``).
        reference: ``False`` (default): masked, sum over positions, mean over the
            batch, times ``T^2``. ``True``: TinyBERT's ``task_distill.py``: no mask
            (padded positions in both softmaxes), ``mean()`` over all ``B * L``
            elements, no ``T^2`` (see the module docstring).

    Returns:
        A scalar tensor.
    """
    check_temperature(temperature)
    if reference:  # TinyBERT: softmax over every position, padding included; mean over B * L
        log_p_s = F.log_softmax(student_logits.float() / temperature, dim=-1)  # (B, L)
        p_t = F.softmax(teacher_logits.detach().float() / temperature, dim=-1)  # (B, L)
        return (-p_t * log_p_s).mean()
    log_p_s = _masked_log_softmax(student_logits / temperature, mask)  # (B, L)
    p_t = _masked_log_softmax(teacher_logits.detach() / temperature, mask).exp()  # (B, L)
    terms = torch.where(p_t > 0, -p_t * log_p_s, torch.zeros_like(p_t))  # (B, L)
    return terms.sum(dim=-1).mean() * temperature**2


def tinybert_layer_map(student_layers: int, teacher_layers: int) -> tuple[list[int], list[int]]:
    """TinyBERT's uniform layer map.

    With ``k = teacher_layers / student_layers``: hidden state ``i`` of the
    student (0 = embeddings, ``i`` = output of student layer ``i``) is matched to
    teacher hidden state ``i * k``; the attention scores of student layer ``i``
    (0-based) to those of teacher layer ``i * k + k - 1``.

    Args:
        student_layers: number of student transformer layers ``S > 0``.
        teacher_layers: number of teacher transformer layers ``T``, a multiple of ``S``.

    Returns:
        ``(hidden_map, attention_map)``: ``S + 1`` teacher hidden-state indices and
        ``S`` teacher attention-layer indices.

    Raises:
        UserInputError: if ``S`` does not divide ``T``.
    """
    if student_layers <= 0 or teacher_layers <= 0:
        raise UserInputError(
            f"layer counts must be positive, got student {student_layers}, teacher {teacher_layers}"
        )
    if teacher_layers % student_layers:
        raise UserInputError(
            f"TinyBERT's layer map needs the teacher's layer count ({teacher_layers}) to be a multiple "
            f"of the student's ({student_layers}); allowed student layer counts: "
            f"{[d for d in range(1, teacher_layers + 1) if teacher_layers % d == 0]}"
        )
    k = teacher_layers // student_layers
    hidden_map = [i * k for i in range(student_layers + 1)]
    attention_map = [i * k + k - 1 for i in range(student_layers)]
    return hidden_map, attention_map


def hidden_state_mse(student_hidden: Sequence[Tensor], teacher_hidden: Sequence[Tensor]) -> Tensor:
    """Sum over matched layers of the element-wise MSE (mean over every element).

    The student's states must already be projected to the teacher's width (TinyBERT
    passes every student state, embeddings included, through one learned linear map).

    Args:
        student_hidden: matched student states, each ``(B, L, H_t)``.
        teacher_hidden: teacher states in the same order, each ``(B, L, H_t)``.

    Returns:
        A scalar tensor.
    """
    _check_pairs(student_hidden, teacher_hidden, "hidden states")
    return torch.stack(
        [
            F.mse_loss(s.float(), t.detach().float())
            for s, t in zip(student_hidden, teacher_hidden, strict=True)
        ]
    ).sum()


def attention_mse(
    student_scores: Sequence[Tensor], teacher_scores: Sequence[Tensor], mask: Tensor | None = None
) -> Tensor:
    """Sum over matched layers of the MSE between pre-softmax attention scores.

    Scores towards padded key positions are set to 0 in both tensors before the
    MSE, as TinyBERT does; the mean runs over every element ``B * heads * L * L``.

    Args:
        student_scores: matched student layers, each ``(B, heads, L, L)``.
        teacher_scores: teacher layers in the same order, each ``(B, heads, L, L)``.
        mask: optional ``(B, L)`` attention mask, 1 for real tokens.

    Returns:
        A scalar tensor.
    """
    _check_pairs(student_scores, teacher_scores, "attention scores")
    keep = None if mask is None else mask.bool()[:, None, None, :]  # (B, 1, 1, L)
    losses = []
    for s, t in zip(student_scores, teacher_scores, strict=True):
        s, t = s.float(), t.detach().float()
        if keep is not None:
            s = s.masked_fill(~keep, 0.0)
            t = t.masked_fill(~keep, 0.0)
        losses.append(F.mse_loss(s, t))
    return torch.stack(losses).sum()


def _check_pairs(student: Sequence[Tensor], teacher: Sequence[Tensor], what: str) -> None:
    if len(student) != len(teacher) or not student:
        raise ValueError(
            f"need as many student as teacher {what} (> 0), got {len(student)} and {len(teacher)}"
        )
    for i, (s, t) in enumerate(zip(student, teacher, strict=True)):
        if s.shape != t.shape:
            raise ValueError(
                f"student and teacher {what} differ in shape at matched pair {i}: "
                f"{tuple(s.shape)} vs {tuple(t.shape)}"
            )
