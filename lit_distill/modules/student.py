"""``StudentModule``: what every distillation student shares.

The teacher is loaded from a checkpoint, frozen and kept in eval mode. It is
deliberately *not* a submodule: it is not in the student's checkpoint, it is
not touched by ``model.train()``, and DDP never wraps it (each process loads
its own copy). Its span logits can be cached once per training set
(:mod:`lit_distill.modules.teacher_cache`): before the first step when the run trains on the
whole training set, or row by row as training meets the features when ``limit_train_batches``
or ``max_steps`` cut it short.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only
from torch import Tensor
from typing_extensions import override

from lit_distill.cache_dir import default_cache_dir
from lit_distill.checks import finite_number, positive_int
from lit_distill.layer_maps import every_other_layer
from lit_distill.models.qa_model import QAModel
from lit_distill.models.surgery import check_dropout_rate, select_layers, set_dropout
from lit_distill.modules.cache_progress import cache_progress
from lit_distill.modules.qa_module import QAModule
from lit_distill.modules.sources import LoadedModel, check_source_exists, load_qa_model
from lit_distill.modules.teacher_cache import (
    TeacherLogits,
    cache_path,
    compute_teacher_logits,
    empty_table,
    load_cache,
    model_fingerprint,
    run_covers_training_set,
)
from lit_distill.modules.tokenizer_info import check_same_tokenizer
from lit_distill.user_errors import UserInputError

__all__ = ["StudentModule", "check_weights"]


def check_weights(weights: dict[str, float]) -> None:
    """Loss weights must be finite, >= 0, and not all 0.

    Raises:
        UserInputError: naming the bad weight.
    """
    for name, value in weights.items():
        finite_number(name, value, low=0)
    if sum(weights.values()) <= 0:
        names = ", ".join(f"{k}={v}" for k, v in weights.items())
        raise UserInputError(
            f"the loss weights sum to 0 ({names}): nothing would be trained; make at least one > 0"
        )


class StudentModule(QAModule):
    """A QA module trained from a frozen teacher.

    Args:
        teacher: the teacher: a ``.ckpt`` of this project, a model directory or a hub id.
        student: start the student from this checkpoint (same kinds as ``teacher``)
            instead of from teacher layers.
        student_layers: teacher layers copied into the student (when ``student`` is
            not given). Default: every other layer, ``[0, 2, 4, ...]``.
        use_cache: reuse the teacher's span logits from a cache built once per
            training set (only where the loss needs nothing but the logits). A run shorter
            than one epoch (``limit_train_batches``, ``max_steps``) computes only the rows
            of the batches it trains on; ``False`` runs the teacher at every step.
        logit_cache_dir: where cache files live (default ``$LIT_DISTILL_CACHE/teacher_logits``
            or ``~/.cache/lit_distill/teacher_logits``).
        cache_batch_size: batch size of the pass that fills the cache.
        dropout: the student's hidden dropout rate (after embeddings, attention output and
            feed-forward); default: the rate of the model it starts from.
        attention_dropout: the student's dropout on attention probabilities; default: the
            rate of the model it starts from.
        **kwargs: the optimiser and evaluation arguments of :class:`QAModule`.
    """

    def __init__(
        self,
        teacher: str,
        student: str | None = None,
        student_layers: list[int] | None = None,
        use_cache: bool = True,
        logit_cache_dir: str | None = None,
        cache_batch_size: int = 64,
        dropout: float | None = None,
        attention_dropout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_source_exists(teacher, "teacher")
        if student is not None:
            check_source_exists(student, "student")
            if student_layers is not None:
                raise UserInputError(
                    f"give student (a checkpoint) or student_layers (teacher layers to copy), not both; "
                    f"got student={student!r}, student_layers={student_layers!r}"
                )
        positive_int("cache_batch_size", cache_batch_size)
        check_dropout_rate("dropout", dropout)
        check_dropout_rate("attention_dropout", attention_dropout)
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.teacher_source = teacher
        self.student_source = student
        self.student_layers = None if student_layers is None else list(student_layers)
        self.use_cache = use_cache
        self.logit_cache_dir = logit_cache_dir
        self.cache_batch_size = cache_batch_size
        self._frozen: dict[str, Any] = {}  # teacher and logit cache: plain dict, never submodules

    # ------------------------------------------------------------ teacher
    @property
    def teacher(self) -> QAModel:
        """The frozen teacher (loaded on first use)."""
        if "teacher" not in self._frozen:
            loaded = load_qa_model(self.teacher_source, "teacher")
            loaded.model.eval()
            loaded.model.requires_grad_(False)
            self._frozen["teacher"] = loaded.model
            self._frozen["teacher_info"] = loaded
        return self._frozen["teacher"]

    @property
    def teacher_logits(self) -> TeacherLogits | None:
        """The teacher-logit cache, once built in ``on_fit_start``."""
        return self._frozen.get("logits")

    def teacher_forward(self, batch: dict[str, Tensor], **kwargs: Any) -> Any:
        """The teacher on the batch, without gradients, in eval mode, on the student's device."""
        teacher = self.teacher
        if teacher.training:
            teacher.eval()
        first = next(teacher.parameters())
        if first.device != self.device:
            teacher.to(self.device)
        with torch.no_grad():
            return teacher(
                batch["input_ids"],
                batch["attention_mask"],
                token_type_ids=batch.get("token_type_ids"),
                **kwargs,
            )

    def teacher_span_logits(
        self, batch: dict[str, Tensor], **kwargs: Any
    ) -> tuple[Tensor, Tensor, Any | None]:
        """The teacher's start and end logits for ``batch``, (B, L) each, cached or live.

        From the teacher-logit cache when this run uses one (:meth:`wants_logit_cache`),
        else from a teacher pass with ``kwargs`` (e.g. ``output_hidden_states=True``), whose
        whole output is returned third (None for cached logits).
        """
        cache = self.teacher_logits if self.wants_logit_cache() else None
        if cache is not None:
            start, end = self.cached_teacher_logits(batch, batch["input_ids"].size(1))
            return start, end, None
        out = self.teacher_forward(batch, **kwargs)
        return out.start_logits, out.end_logits, out

    def wants_logit_cache(self) -> bool:
        """Whether this run's loss needs only the teacher's span logits (subclasses refine)."""
        return self.use_cache

    def needs_teacher_outputs(self) -> bool:
        """Whether the loss uses the teacher's outputs at all (False: no cache, no teacher pass)."""
        return True

    # -------------------------------------------------------------- build
    def build_model(self, stage: str) -> None:
        """Student from ``student`` or from teacher layers; checks teacher/student/data agree."""
        teacher_info: LoadedModel
        self.teacher  # noqa: B018 (loads it)
        teacher_info = self._frozen["teacher_info"]
        if self.student_source is not None:
            loaded = load_qa_model(self.student_source, "student")
            self.on_student_loaded(loaded)
            check_same_tokenizer(teacher_info.tokenizer, loaded.tokenizer, "teacher", "student")
            check_same_tokenizer(loaded.tokenizer, self.tokenizer, "student", "data module")
            self.model = loaded.model
        else:
            n = teacher_info.model.config.num_hidden_layers
            layers = self.student_layers if self.student_layers is not None else every_other_layer(n)
            # copies (the teacher is untouched); checks the map
            self.model = select_layers(teacher_info.model, layers, parameter="student_layers")
            self.model.requires_grad_(True)
            self.model.train()
        set_dropout(self.model, hidden=self.dropout, attention=self.attention_dropout)
        check_same_tokenizer(teacher_info.tokenizer, self.tokenizer, "teacher", "data module")
        t_vocab, s_vocab = teacher_info.model.config.vocab_size, self.model.config.vocab_size
        if t_vocab != s_vocab:
            raise UserInputError(
                f"the teacher's vocabulary has {t_vocab} tokens but the student's has {s_vocab}: teacher "
                f"{self.teacher_source!r} and student {self.student_source!r} must share one tokenizer"
            )
        self.check_teacher_student()

    def on_student_loaded(self, loaded: LoadedModel) -> None:
        """Hook: inspect a loaded student checkpoint before it is used (e.g. TinyBERT's PD stage)."""

    def check_teacher_student(self) -> None:
        """Hook: subclass checks that need both models (raise ``UserInputError``)."""

    @override
    def setup(self, stage: str) -> None:
        if stage == "fit":
            self.teacher  # noqa: B018 (loaded before the student, so that what it logs is not held back)
        super().setup(stage)
        if stage == "fit":
            # the teacher must read the data too (on a resumed run the student was not rebuilt)
            self.teacher  # noqa: B018
            check_same_tokenizer(
                self._frozen["teacher_info"].tokenizer, self.tokenizer, "teacher", "data module"
            )

    # -------------------------------------------------------------- cache
    @override
    def on_fit_start(self) -> None:
        super().on_fit_start()
        if not self.needs_teacher_outputs():  # a zero-weight teacher term costs nothing
            rank_zero_info("teacher outputs unused by the loss: no teacher-logit cache, no teacher pass")
            return
        self.teacher.to(self.device)
        if self.wants_logit_cache() and self.teacher_logits is None:
            self._frozen["logits"] = self._load_or_build_cache()

    def _load_or_build_cache(self) -> TeacherLogits:
        datamodule = self.trainer.datamodule  # type: ignore[attr-defined]
        fingerprint_fn = getattr(datamodule, "train_dataset_fingerprint", None)
        if fingerprint_fn is None:
            raise UserInputError(
                "use_cache needs a data module with train_dataset_fingerprint() (e.g. SquadDataModule); "
                "set use_cache false to run the teacher at every step"
            )
        loader = datamodule.train_dataloader()
        dataset = loader.dataset
        if isinstance(dataset, torch.utils.data.IterableDataset):
            raise UserInputError(
                "the teacher-logit cache needs a map-style training dataset; set use_cache false"
            )
        trainer = self.trainer
        strategy = trainer.strategy
        path = cache_path(
            Path(self.logit_cache_dir) if self.logit_cache_dir else default_cache_dir("teacher_logits"),
            model_fingerprint(self.teacher),
            str(fingerprint_fn()),
        )
        self._frozen["cache_path"] = path
        cached = None
        if strategy.reduce_boolean_decision(path.is_file(), all=True):
            cached = load_cache(path)  # None (warned) when the file is corrupt: computed again below
            if not strategy.reduce_boolean_decision(cached is not None, all=True):
                cached = None
        if cached is not None and cached.complete:
            rank_zero_info(f"teacher logits: reusing {path}")
            return cached
        if cached is not None and cached.filled.numel() != len(dataset):
            cached = None  # (cannot happen for one key; never trust a table of another size)
        full = run_covers_training_set(
            trainer.estimated_stepping_batches,
            trainer.accumulate_grad_batches,
            trainer.world_size,
            len(loader),
        )
        if not full:  # a short run: rows are computed as training meets them (cached_teacher_logits)
            have = 0 if cached is None else int(cached.filled.sum())
            rank_zero_info(
                f"teacher logits: this run trains on less than one epoch (limit_train_batches / max_steps); "
                f"computing the rows of the batches it meets ({have} of {len(dataset)} cached) -> {path}"
            )
            self._frozen["new_rows"] = 0
            return cached if cached is not None else empty_table(len(dataset))
        todo = list(range(len(dataset))) if cached is None else cached.missing()
        rank_zero_info(
            f"teacher logits: computing {len(todo)} of {len(dataset)} training features -> {path} "
            "(once per teacher and training set; use_cache false runs the teacher at every step instead)"
        )
        show_bar = trainer.progress_bar_callback is not None and _is_terminal()
        with cache_progress(
            -(-len(todo) // trainer.world_size), bar=show_bar, enabled=trainer.is_global_zero
        ) as advance:
            index, start, end = compute_teacher_logits(
                self.teacher,
                dataset,
                loader.collate_fn,
                batch_size=self.cache_batch_size,
                device=self.device,
                rank=trainer.global_rank,
                world_size=trainer.world_size,
                indices=todo,
                progress=advance,
            )
        if trainer.world_size > 1:
            index, start, end = _gather_shares(strategy, index, start, end, self.device)
        table = cached if cached is not None else empty_table(len(dataset))
        keep = index >= 0  # (gathered shares are padded with -1)
        table.fill(index[keep], start[keep], end[keep])
        if strategy.is_global_zero:
            table.save(path, {"teacher": self.teacher_source})
        strategy.barrier("teacher_logit_cache")
        return table

    def cached_teacher_logits(self, batch: dict[str, Tensor], length: int) -> tuple[Tensor, Tensor]:
        """The teacher's ``(start, end)`` logits, each ``(B, length)``, from the cache.

        Rows the cache lacks (a run shorter than one epoch fills it as it goes) are computed
        by the teacher on this batch and kept.
        """
        table = self.teacher_logits
        if table is None:
            raise ValueError("cached_teacher_logits needs the cache, built in on_fit_start")
        index = batch["feature_index"].detach().cpu().long()
        in_range = bool(((index >= 0) & (index < table.filled.numel())).all())
        if in_range and "new_rows" in self._frozen and not bool(table.filled[index].all()):
            out = self.teacher_forward(batch)
            table.fill(index, out.start_logits, out.end_logits)  # (B, L) each
            self._frozen["new_rows"] += int(index.numel())
        return table.lookup(batch["feature_index"], length, self.device)

    @override
    def on_fit_end(self) -> None:
        super().on_fit_end()
        if self._frozen.get("new_rows"):
            self._save_partial_cache()

    @rank_zero_only
    def _save_partial_cache(self) -> None:
        """Keep the rows a short run computed (the file says which rows are filled)."""
        table, path = self.teacher_logits, self._frozen.get("cache_path")
        if table is not None and path is not None:
            table.save(path, {"teacher": self.teacher_source})
            rank_zero_info(
                f"teacher logits: saved {int(table.filled.sum())} of {table.filled.numel()} rows -> {path}"
            )


def _is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty is not None and isatty())


def _gather_shares(
    strategy: Any, index: Tensor, start: Tensor, end: Tensor, device: torch.device
) -> tuple[Tensor, ...]:
    """All-gather every rank's ``(index, start, end)`` rows (padded to a common shape)."""
    from lit_distill.modules.teacher_cache import PAD_LOGIT

    sizes = strategy.all_gather(torch.tensor([index.numel(), start.size(1)], device=device))  # (world, 2)
    rows, width = (int(v) for v in sizes.max(dim=0).values)
    pad_rows = rows - index.numel()
    index = torch.nn.functional.pad(index, (0, pad_rows), value=-1)
    start = torch.nn.functional.pad(start, (0, width - start.size(1), 0, pad_rows), value=PAD_LOGIT)
    end = torch.nn.functional.pad(end, (0, width - end.size(1), 0, pad_rows), value=PAD_LOGIT)
    gathered = [strategy.all_gather(t.to(device)).cpu() for t in (index, start, end)]
    return gathered[0].reshape(-1), gathered[1].reshape(-1, width), gathered[2].reshape(-1, width)
