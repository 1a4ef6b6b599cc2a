"""``DistilBertStudent``: DistilBERT-style task distillation for SQuAD (Sanh et al. 2019)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from lit_distill.losses import check_temperature, cosine_hidden_loss, distilbert_span_loss, span_cross_entropy
from lit_distill.modules.qa_module import NOT_HYPERPARAMETERS
from lit_distill.modules.student import StudentModule, check_weights

__all__ = ["DistilBertStudent"]


class DistilBertStudent(StudentModule):
    """Student trained on the teacher's softened span distributions plus the gold spans.

    ``loss = alpha_ce * T^2 * KL(teacher_T || student_T)`` (averaged over start and
    end) ``+ alpha_squad * CE(gold spans)`` ``+ alpha_cos * (1 - cos)`` between the last
    hidden states (DistilBERT's cosine loss; needs equal widths). With ``alpha_cos = 0``
    and ``use_cache`` the teacher runs once per training set (its logits are cached);
    otherwise it runs at every step.

    The student starts from ``student`` (e.g. ``distilbert-base-uncased``) or, by default,
    from teacher layers ``student_layers`` (DistilBERT took ``[0, 2, 4, 7, 9, 11]`` of 12;
    the default here is every other layer).

    Args:
        temperature: softening temperature ``T > 0``.
        alpha_ce: weight of the distillation (KL) term.
        alpha_squad: weight of the gold-span cross-entropy.
        alpha_cos: weight of the cosine loss on the last hidden states.
        **kwargs: the teacher, the student's start and the logit cache (``teacher``,
            ``student``, ``student_layers``, ``use_cache``, ``logit_cache_dir``, ... of
            :class:`StudentModule`) and the optimiser and evaluation arguments of :class:`QAModule`.
    """

    def __init__(
        self,
        temperature: float = 2.0,
        alpha_ce: float = 0.5,
        alpha_squad: float = 0.5,
        alpha_cos: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_temperature(temperature)
        check_weights({"alpha_ce": alpha_ce, "alpha_squad": alpha_squad, "alpha_cos": alpha_cos})
        self.temperature = float(temperature)
        self.alpha_ce = float(alpha_ce)
        self.alpha_squad = float(alpha_squad)
        self.alpha_cos = float(alpha_cos)
        self.save_hyperparameters(ignore=list(NOT_HYPERPARAMETERS))

    def wants_logit_cache(self) -> bool:
        """The cache serves only when no hidden states are needed."""
        return self.use_cache and self.alpha_cos == 0

    def needs_teacher_outputs(self) -> bool:
        """With ``alpha_ce 0`` and ``alpha_cos 0`` the loss is the gold-span CE alone."""
        return self.alpha_ce > 0 or self.alpha_cos > 0

    def check_teacher_student(self) -> None:
        """The cosine loss compares hidden states, so the widths must match."""
        t_width, s_width = self.teacher.config.hidden_size, self.model.config.hidden_size
        if self.alpha_cos > 0 and t_width != s_width:
            raise ValueError(
                f"alpha_cos={self.alpha_cos} compares hidden states, but the teacher is {t_width} wide and "
                f"the student {s_width}; set alpha_cos 0 or use a student of width {t_width}"
            )

    def compute_loss(self, batch: dict[str, Tensor]) -> tuple[Any, dict[str, Tensor]]:
        """KL to the (cached or live) teacher logits + gold-span CE (+ cosine)."""
        need_hidden = self.alpha_cos > 0
        out = self.forward_model(batch, output_hidden_states=need_hidden)
        if not self.needs_teacher_outputs():  # no teacher term: no teacher pass, no cache
            ce = span_cross_entropy(
                out.start_logits, out.end_logits, batch["start_positions"], batch["end_positions"]
            )
            return out, {"loss": self.alpha_squad * ce, "loss_squad": ce}
        length = batch["input_ids"].size(1)
        cache = self.teacher_logits if self.wants_logit_cache() else None
        if cache is not None:
            t_start, t_end = self.cached_teacher_logits(batch, length)  # (B, L) each
            t_out = None
        else:
            t_out = self.teacher_forward(batch, output_hidden_states=need_hidden)
            t_start, t_end = t_out.start_logits, t_out.end_logits
        mask = batch["attention_mask"]
        terms = distilbert_span_loss(
            out.start_logits,
            out.end_logits,
            t_start,
            t_end,
            batch.get("start_positions"),
            batch.get("end_positions"),
            temperature=self.temperature,
            alpha_ce=self.alpha_ce,
            alpha_squad=self.alpha_squad,
            mask=mask,
        )
        if need_hidden and t_out is not None:
            cos = cosine_hidden_loss(out.hidden_states[-1], t_out.hidden_states[-1], mask)
            terms["loss_cos"] = cos
            terms["loss"] = terms["loss"] + self.alpha_cos * cos
        return out, terms
