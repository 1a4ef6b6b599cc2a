"""``TinyBertStudent``: TinyBERT-style two-stage task distillation (Jiao et al. 2020)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor, nn

from lit_distill.checks import one_of
from lit_distill.losses import (
    attention_mse,
    check_temperature,
    hidden_state_mse,
    soft_cross_entropy,
    span_cross_entropy,
    tinybert_layer_map,
)
from lit_distill.models.convert import fit_dense_from_hf
from lit_distill.models.loading import HF_CONFIG, OWN_CONFIG, read_state_dict, resolve_directory
from lit_distill.modules.qa_module import NOT_HYPERPARAMETERS
from lit_distill.modules.sources import LoadedModel
from lit_distill.modules.student import StudentModule, check_weights

__all__ = ["TinyBertStudent"]

Stage = Literal["intermediate", "prediction"]
STAGES: tuple[str, ...] = ("intermediate", "prediction")


class TinyBertStudent(StudentModule):
    """Intermediate-layer (ID) or prediction-layer (PD) distillation.

    * ``stage: intermediate``: MSE between the embeddings and hidden states (student
      states through ONE learned linear projection to the teacher's width; started from
      a general TinyBERT checkpoint's ``fit_dense`` when ``student`` has one whose
      widths match, as TinyBERT's task distillation does, else random) plus MSE
      between pre-softmax attention scores (padded keys set to 0 in both), with
      TinyBERT's layer map ``k = T / S``: student hidden state ``i`` ↔ teacher hidden
      state ``i k``; student attention ``i`` ↔ teacher attention ``i k + k - 1``. The
      teacher runs at every step (its hidden states are too large to cache). The QA
      head is frozen in this stage (no loss reaches it, and DDP needs every trainable
      parameter to get a gradient).
    * ``stage: prediction``: ``alpha_soft * soft CE(student_T, teacher_T)`` averaged over
      start and end (+ ``alpha_hard *`` gold-span CE). Starts from an ID run's checkpoint
      (``student``). The teacher's logits are cached.

    Soft CE deviation (documented in docs/training.md): by default it is summed over
    positions, averaged over the batch and multiplied by ``T^2``; ``reference_soft_ce: true``
    gives TinyBERT's exact reduction (mean over all positions, no ``T^2``).

    Args:
        stage: ``"intermediate"`` or ``"prediction"``.
        student: checkpoint to start from: for ID optionally a general TinyBERT
            (e.g. ``huawei-noah/TinyBERT_General_6L_768D``); for PD the ID run's ``.ckpt``.
        require_intermediate: PD insists that ``student`` is a ``.ckpt`` written by an ID run;
            set false to run PD from any checkpoint.
        temperature: PD temperature ``T > 0`` (TinyBERT used 1).
        alpha_soft: PD weight of the soft cross-entropy.
        alpha_hard: PD weight of the gold-span cross-entropy.
        reference_soft_ce: use TinyBERT's exact soft-CE reduction.
        **kwargs: the teacher, the student's layers for ID without ``student`` and the logit
            cache, which serves PD only (``teacher``, ``student_layers``, ``use_cache``,
            ``logit_cache_dir``, ... of :class:`StudentModule`) and the optimiser and evaluation
            arguments of :class:`QAModule`.
    """

    def __init__(
        self,
        stage: Stage = "intermediate",
        student: str | None = None,
        require_intermediate: bool = True,
        temperature: float = 1.0,
        alpha_soft: float = 1.0,
        alpha_hard: float = 0.0,
        reference_soft_ce: bool = False,
        **kwargs: Any,
    ) -> None:
        one_of("stage", stage, STAGES)
        if stage == "prediction" and student is None:
            raise ValueError(
                "stage 'prediction' starts from the intermediate-distillation (ID) run's checkpoint: set "
                "student to its .ckpt (e.g. --model.student runs/tinybert_id/checkpoints/last.ckpt)"
            )
        super().__init__(student=student, **kwargs)
        check_temperature(temperature)
        check_weights({"alpha_soft": alpha_soft, "alpha_hard": alpha_hard})
        self.stage = stage
        self.require_intermediate = require_intermediate
        self.temperature = float(temperature)
        self.alpha_soft = float(alpha_soft)
        self.alpha_hard = float(alpha_hard)
        self.reference_soft_ce = reference_soft_ce
        self.projection: nn.Linear | None = None
        self._fit_dense: dict[str, Tensor] | None = None
        self.save_hyperparameters(ignore=list(NOT_HYPERPARAMETERS))

    # -------------------------------------------------------------- build
    def wants_logit_cache(self) -> bool:
        """Only PD reads the teacher's logits alone."""
        return self.use_cache and self.stage == "prediction"

    def on_student_loaded(self, loaded: LoadedModel) -> None:
        """ID keeps a Hugging Face student's ``fit_dense``; PD must start from an ID checkpoint."""
        if self.stage == "intermediate":
            self._fit_dense = _read_fit_dense(loaded.source)
        if self.stage != "prediction" or not self.require_intermediate:
            return
        if loaded.extra.get("stage") != "intermediate":
            found = (
                f"a .ckpt of stage {loaded.extra.get('stage')!r}"
                if loaded.extra
                else "not a lit_distill .ckpt"
            )
            raise ValueError(
                f"stage 'prediction' needs student to be the checkpoint of an intermediate-distillation run, "
                f"but student={loaded.source!r} is {found}; run stage 'intermediate' first, or set "
                "require_intermediate false to skip it"
            )

    def check_teacher_student(self) -> None:
        """ID needs a layer count dividing the teacher's and matching head counts per mapped layer."""
        if self.stage != "intermediate":
            return
        t_cfg, s_cfg = self.teacher.config, self.model.config
        _, attention_map = tinybert_layer_map(s_cfg.num_hidden_layers, t_cfg.num_hidden_layers)
        for i, j in enumerate(attention_map):
            if s_cfg.layer_heads[i] != t_cfg.layer_heads[j]:
                raise ValueError(
                    f"attention distillation matches student layer {i} ({s_cfg.layer_heads[i]} heads) with "
                    f"teacher layer {j} ({t_cfg.layer_heads[j]} heads); head counts must be equal"
                )
        self._make_projection(s_cfg.hidden_size, t_cfg.hidden_size)
        if self._fit_dense is not None:
            weight, bias = self._fit_dense["weight"], self._fit_dense["bias"]
            wanted = (t_cfg.hidden_size, s_cfg.hidden_size)
            if tuple(weight.shape) == wanted:
                assert self.projection is not None  # just made
                with torch.no_grad():
                    self.projection.weight.copy_(weight)
                    self.projection.bias.copy_(bias)
                rank_zero_info(
                    f"TinyBertStudent: the ID projection starts from {self.student_source}'s fit_dense"
                )
            else:
                rank_zero_warn(
                    f"TinyBertStudent: {self.student_source}'s fit_dense maps {weight.shape[1]} -> "
                    f"{weight.shape[0]} dimensions but student -> teacher is {wanted[1]} -> {wanted[0]}; "
                    "the ID projection starts random"
                )
            self._fit_dense = None
        self.model.qa_outputs.requires_grad_(False)

    def _make_projection(self, student_width: int, teacher_width: int) -> None:
        projection = nn.Linear(student_width, teacher_width)
        nn.init.normal_(projection.weight, std=0.02)
        nn.init.zeros_(projection.bias)
        self.projection = projection

    def extra_checkpoint_state(self) -> dict[str, Any]:
        """Stage and projection shape, so the ID module can be rebuilt before its state dict loads."""
        shape = (
            None if self.projection is None else [self.projection.in_features, self.projection.out_features]
        )
        return {"stage": self.stage, "projection": shape}

    def restore_extra_state(self, state: dict[str, Any]) -> None:
        """Recreate the projection of an ID checkpoint."""
        shape = state.get("projection")
        if shape is not None and self.stage == "intermediate":
            if (
                self.projection is None
                or [self.projection.in_features, self.projection.out_features] != shape
            ):
                self._make_projection(*shape)
            self.model.qa_outputs.requires_grad_(False)

    # --------------------------------------------------------------- loss
    def compute_loss(self, batch: dict[str, Tensor]) -> tuple[Any, dict[str, Tensor]]:
        """ID: embedding + hidden + attention MSE; PD: soft CE (+ hard CE)."""
        if self.stage == "intermediate":
            return self._intermediate_loss(batch)
        return self._prediction_loss(batch)

    def _intermediate_loss(self, batch: dict[str, Tensor]) -> tuple[Any, dict[str, Tensor]]:
        assert self.projection is not None  # built in setup (internal invariant)
        out = self.forward_model(batch, output_hidden_states=True, output_attention_scores=True)
        t_out = self.teacher_forward(batch, output_hidden_states=True, output_attention_scores=True)
        hidden_map, attention_map = tinybert_layer_map(self.model.num_layers, self.teacher.num_layers)
        student_states = [self.projection(h) for h in out.hidden_states]  # S + 1 of (B, L, H_t)
        teacher_states = [t_out.hidden_states[j] for j in hidden_map]
        mask = batch["attention_mask"]
        loss_embedding = hidden_state_mse(student_states[:1], teacher_states[:1])
        loss_hidden = hidden_state_mse(student_states[1:], teacher_states[1:])
        loss_attention = attention_mse(
            out.attention_scores, [t_out.attention_scores[j] for j in attention_map], mask
        )
        loss = loss_embedding + loss_hidden + loss_attention
        return out, {
            "loss": loss,
            "loss_embedding": loss_embedding,
            "loss_hidden": loss_hidden,
            "loss_attention": loss_attention,
        }

    def _prediction_loss(self, batch: dict[str, Tensor]) -> tuple[Any, dict[str, Tensor]]:
        out = self.forward_model(batch)
        cache = self.teacher_logits if self.wants_logit_cache() else None
        if cache is not None:
            t_start, t_end = self.cached_teacher_logits(batch, batch["input_ids"].size(1))
        else:
            t_out = self.teacher_forward(batch)
            t_start, t_end = t_out.start_logits, t_out.end_logits
        mask = batch["attention_mask"]
        soft = (
            soft_cross_entropy(
                out.start_logits, t_start, self.temperature, mask, reference=self.reference_soft_ce
            )
            + soft_cross_entropy(
                out.end_logits, t_end, self.temperature, mask, reference=self.reference_soft_ce
            )
        ) / 2
        terms = {"loss_soft": soft, "loss": self.alpha_soft * soft}
        if self.alpha_hard > 0:
            hard = span_cross_entropy(
                out.start_logits, out.end_logits, batch["start_positions"], batch["end_positions"]
            )
            terms["loss_hard"] = hard
            terms["loss"] = terms["loss"] + self.alpha_hard * hard
        return out, terms


def _read_fit_dense(source: str) -> dict[str, Tensor] | None:
    """The ``fit_dense`` of a Hugging Face (general TinyBERT) checkpoint; None for anything else."""
    if Path(source).expanduser().is_file():
        return None  # a lit_distill .ckpt: its own projection, if any, is in its state
    directory = resolve_directory(source)
    if (directory / OWN_CONFIG).is_file() or not (directory / HF_CONFIG).is_file():
        return None
    return fit_dense_from_hf(read_state_dict(directory))
