"""``QAModule``: the QA logic shared by the teacher and every student.

Subclasses build ``self.model`` (a :class:`~lit_distill.models.qa_model.QAModel`) in
:meth:`QAModule.build_model` and compute their loss in :meth:`QAModule.compute_loss`;
everything else lives here: the optimiser and schedule, the loss-contribution
protocol and checkpoints that remember the model's shape. SQuAD scoring and
official-format predictions come from its base,
:class:`~lit_distill.modules.squad_scoring.SquadScoringModule`.
"""

from __future__ import annotations

import logging
import math
import os
import random
from typing import Any

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from typing_extensions import override

from lit_distill.callbacks.base import loss_contributors
from lit_distill.checks import finite_number, fraction, non_negative_int, one_of, positive_int
from lit_distill.models import qa_model
from lit_distill.models.config import EncoderConfig
from lit_distill.models.length import TokenSelection, check_length_config, check_token_selection, fit_to_width
from lit_distill.models.qa_model import QAModel
from lit_distill.modules.load_messages import held_log_records, release
from lit_distill.modules.optim import LrSchedule, build_optimizer, clip_each_tensor
from lit_distill.modules.run_end import is_last_training_batch
from lit_distill.modules.sources import CHECKPOINT_KEY
from lit_distill.modules.squad_scoring import TUNED_THRESHOLD_KEY, SquadScoringModule
from lit_distill.modules.tokenizer_info import TokenizerInfo, tokenizer_info
from lit_distill.user_errors import UserInputError

__all__ = ["CHECKPOINT_KEY", "RUN_TIME_ARGS", "QAModule"]


RUN_TIME_ARGS: tuple[str, ...] = (
    "length_config",
    "token_selection",
    "predictions_dir",
    "export_dir",
    "n_best_size",
    "max_answer_length",
    "null_score_diff_threshold",
)
"""Arguments that say how a run evaluates and where it writes, not what the model is.

They stay out of a checkpoint's hyper-parameters: LightningCLI replaces the model arguments
of ``validate/test/predict --ckpt_path FILE`` by the checkpoint's hyper-parameters, which
would silently drop e.g. ``--model.init_args.length_config`` given for that evaluation."""


class QAModule(SquadScoringModule):
    """Shared training, evaluation and prediction for extractive QA.

    Args:
        learning_rate: peak AdamW learning rate.
        weight_decay: AdamW weight decay (never applied to biases and LayerNorm weights).
        adam_epsilon: AdamW epsilon.
        warmup_steps: linear warm-up length in optimiser steps; 0 to use ``warmup_ratio``.
        warmup_ratio: warm-up as a fraction of all optimiser steps (used when ``warmup_steps`` is 0).
        warmup_from_zero: start the warm-up at learning rate 0, as transformers'
            ``get_linear_schedule_with_warmup`` and BERT's, TinyBERT's and LAT's code do;
            default ``False``: step ``s`` of ``w`` warm-up steps runs at ``(s + 1) / (w + 1)`` of
            the peak (see docs/training.md, "Learning-rate schedule").
        lr_schedule: ``"linear"`` (default: warm-up, then linear decay to 0) or ``"constant"``
            (the peak rate at every step, no warm-up: TinyBERT's intermediate-layer stage).
        clip_grad_per_tensor: if set, each parameter tensor's gradient is clipped to this L2 norm
            on its own before every optimiser step (TinyBERT's ``BertAdam``: 1.0); independent of
            ``trainer.gradient_clip_val``, which clips the global norm (Dynamic-TinyBERT, transformers).
        length_config: Drop-and-Restore length configuration used at evaluation time
            (validation, test, predict): one length per layer, ints (tokens) or floats
            (ratios of the real length). ``None`` evaluates the full model.
        token_selection: which tokens a layer keeps under ``length_config``: ``"real_queries"``
            (default: attention received from the real tokens, [CLS] always kept) or LAT's
            rule ``"lat"`` (from every position, padding included, [CLS] may be dropped; pad
            the data to ``max_seq_length`` to match LAT) or ``"lat_keep_cls"``; see
            :mod:`lit_distill.models.length` and docs/compression.md.
        predictions_dir: where ``predictions.json`` and ``null_odds.json`` are written
            (test and predict). Default: the logger's directory, else the trainer's root dir.
        export_dir: if set, the trained model (and the data's tokenizer) is saved there with
            ``QAModel.save`` at the end of ``fit``, ready for ``QAModel.from_pretrained``.
        n_best_size: candidate starts/ends considered per feature when decoding answers.
        max_answer_length: longest answer span in tokens.
        null_score_diff_threshold: SQuAD 2.0: answer ``""`` when the [CLS] score exceeds the best
            span's score by more than this (logit-difference units, transformers' name; the
            official ``best_f1_thresh`` is a probability ``p``, which is ``log(p / (1 - p))`` here).
            Each validation records the split's F1-best value, which checkpoints keep and
            ``export`` puts into the artifact (docs/serve.md).
        step_seeded_random: reseed the random generators (dropout, any sampling in callbacks)
            at every training step from ``(seed, global_step, rank)``, so that a run resumed
            mid-epoch with ``fit --ckpt_path last`` draws the same numbers as an uninterrupted
            run (the data order is the data module's part: ``SquadDataModule(resumable_train_loader)``).
    """

    model: QAModel

    def __init__(
        self,
        learning_rate: float = 3e-5,
        weight_decay: float = 0.01,
        adam_epsilon: float = 1e-8,
        warmup_steps: int = 0,
        warmup_ratio: float = 0.1,
        warmup_from_zero: bool = False,
        lr_schedule: LrSchedule = "linear",
        clip_grad_per_tensor: float | None = None,
        length_config: list[int] | list[float] | None = None,
        token_selection: TokenSelection = "real_queries",
        predictions_dir: str | None = None,
        export_dir: str | None = None,
        n_best_size: int = 20,
        max_answer_length: int = 30,
        null_score_diff_threshold: float = 0.0,
        step_seeded_random: bool = True,
    ) -> None:
        super().__init__()
        finite_number("learning_rate", learning_rate, low=0.0, low_open=True)
        finite_number("weight_decay", weight_decay, low=0.0)
        finite_number("adam_epsilon", adam_epsilon, low=0.0, low_open=True)
        fraction("warmup_ratio", warmup_ratio, high_open=True)
        non_negative_int("warmup_steps", warmup_steps)
        positive_int("n_best_size", n_best_size)
        positive_int("max_answer_length", max_answer_length)
        finite_number("null_score_diff_threshold", null_score_diff_threshold)
        one_of("lr_schedule", lr_schedule, ("linear", "constant"))
        if clip_grad_per_tensor is not None:
            finite_number("clip_grad_per_tensor", clip_grad_per_tensor, low=0.0, low_open=True)
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.adam_epsilon = adam_epsilon
        self.warmup_steps = warmup_steps
        self.warmup_ratio = warmup_ratio
        self.warmup_from_zero = warmup_from_zero
        self.lr_schedule: LrSchedule = lr_schedule
        self.clip_grad_per_tensor = clip_grad_per_tensor
        self.length_config = (
            None if length_config is None else check_length_config(length_config, name="length_config")
        )
        self.token_selection = check_token_selection(token_selection)
        self.predictions_dir = predictions_dir
        self.export_dir = export_dir
        self.n_best_size = n_best_size
        self.max_answer_length = max_answer_length
        self.null_score_diff_threshold = float(null_score_diff_threshold)
        self.step_seeded_random = step_seeded_random
        self.tokenizer: TokenizerInfo | None = None
        # what loading the model logged, held until a run uses those weights (load_messages.py)
        self._load_messages: list[logging.LogRecord] = []

    # ------------------------------------------------------------------ model
    def build_model(self, stage: str) -> None:
        """Create ``self.model`` (and any other trainable part) for a fresh run; subclasses override."""
        raise NotImplementedError

    def compute_loss(self, batch: dict[str, Tensor]) -> tuple[Any, dict[str, Tensor]]:
        """Forward the batch and return ``(QAOutput, terms)``; ``terms["loss"]`` is optimised.

        Every other entry of ``terms`` is logged as ``train/<name>``.
        """
        raise NotImplementedError

    def forward_model(self, batch: dict[str, Tensor], **model_kwargs: Any) -> Any:
        """The module's own ``QAModel`` (a student, or a teacher being fine-tuned) on the batch's inputs.

        Absolute lengths of a ``length_config`` are clamped to the batch's padded width
        (batches are padded to their longest feature, often shorter than ``max_seq_length``),
        and the module's ``token_selection`` applies unless one is given.
        """
        if model_kwargs.get("length_config") is not None:
            model_kwargs["length_config"] = fit_to_width(
                model_kwargs["length_config"], int(batch["input_ids"].shape[1])
            )
            model_kwargs.setdefault("token_selection", self.token_selection)
        return self.model(
            batch["input_ids"],
            batch["attention_mask"],
            token_type_ids=batch.get("token_type_ids"),
            **model_kwargs,
        )

    def forward(self, batch: dict[str, Tensor], **model_kwargs: Any) -> Any:
        return self.forward_model(batch, **model_kwargs)

    def has_model(self) -> bool:
        """Whether ``self.model`` exists yet (it is built in ``setup`` or restored from a checkpoint)."""
        return isinstance(getattr(self, "model", None), QAModel)

    @override
    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        data_tokenizer = getattr(datamodule, "tokenizer", None)
        if data_tokenizer is not None:
            self.tokenizer = tokenizer_info(data_tokenizer)
        # a checkpoint given to validate/test/predict (or a resumed fit) rebuilds the
        # model in on_load_checkpoint; only a fresh run builds it here
        restoring = self._trainer is not None and self.trainer.ckpt_path is not None and stage != "fit"
        if not self.has_model() and not restoring:
            # Lightning names a --ckpt_path to the module only after setup: hold the loader's
            # warnings ("QA head initialised randomly") until it is known whether the checkpoint
            # replaces these weights (on_load_checkpoint) or the run uses them (_release_load_messages)
            with held_log_records(qa_model.log) as held:
                self.build_model(stage)
            self._load_messages = held
        if self.has_model():
            self.check_model_against_data()
        self._check_length_config_against_data(datamodule)

    def _check_length_config_against_data(self, datamodule: Any) -> None:
        """The model's layer count, and an absolute length above the data's ``max_seq_length``
        (a mistake, not a clamp): the one check against what ``setup`` knows."""
        if self.length_config is None:
            return
        max_len = getattr(getattr(datamodule, "settings", None), "max_seq_length", None)
        check_length_config(
            self.length_config,
            self.model.config.num_hidden_layers if self.has_model() else None,
            max_len if isinstance(max_len, int) else None,
            name="model.init_args.length_config",
            limit_name="the data's max_seq_length",
        )

    def check_model_against_data(self) -> None:
        """Errors before training when the model cannot read the data's token ids."""
        if self.tokenizer is None:
            return
        vocab = self.model.config.vocab_size
        if self.tokenizer.vocab_size > vocab:
            raise UserInputError(
                f"the data's tokenizer has {self.tokenizer.vocab_size} tokens but the model's embedding "
                f"table has {vocab} rows: the model and the data use different vocabularies "
                f"(tokenizer: {self.tokenizer.describe()})"
            )

    def _release_load_messages(self) -> None:
        """Log what loading the model said, now that the run uses the loaded weights (once)."""
        held, self._load_messages = self._load_messages, []
        release(held)

    @override
    def on_fit_start(self) -> None:
        self._release_load_messages()

    @override
    def on_validation_start(self) -> None:
        self._release_load_messages()

    @override
    def on_test_start(self) -> None:
        self._release_load_messages()

    @override
    def on_predict_start(self) -> None:
        self._release_load_messages()

    # ----------------------------------------------------------- optimiser
    @override
    def configure_optimizers(self) -> Any:
        estimated = self.trainer.estimated_stepping_batches
        if estimated == math.inf:
            raise UserInputError(
                "cannot schedule the learning rate over an unbounded run: set trainer.max_steps or trainer.max_epochs"
            )
        total = max(1, int(estimated))
        optimizer, scheduler = build_optimizer(
            [self],
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            adam_epsilon=self.adam_epsilon,
            warmup_steps=self.warmup_steps,
            warmup_ratio=self.warmup_ratio,
            total_steps=total,
            warmup_from_zero=self.warmup_from_zero,
            schedule=self.lr_schedule,
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    @override
    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # after Lightning's unscaling of mixed-precision gradients, before its global-norm clipping
        if self.clip_grad_per_tensor is not None:
            clip_each_tensor(self.parameters(), self.clip_grad_per_tensor)

    # --------------------------------------------------------------- train
    @override
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self.step_seeded_random:
            # random numbers of a step depend only on (seed, step, rank), not on what ran before
            seed = int(os.environ.get("PL_GLOBAL_SEED", "0"))
            step_seed = (seed * 1_000_003 + self.trainer.global_step * 97 + self.global_rank) % (2**32)
            torch.manual_seed(step_seed)
            random.seed(step_seed)
            np.random.seed(step_seed)

    @override
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        trainer = self.trainer
        if not trainer.should_stop and is_last_training_batch(
            global_step=trainer.global_step,
            max_steps=trainer.max_steps,
            current_epoch=trainer.current_epoch,
            max_epochs=trainer.fit_loop.max_epochs,
            last_batch_of_epoch=trainer.fit_loop.epoch_loop.batch_progress.is_last_batch,
        ):
            # the run's last batch: Lightning validates and logs a step that ends the run early,
            # so a run that max_steps ends mid-epoch (or shorter than log_every_n_steps) has metrics
            trainer.should_stop = True

    @override
    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        outputs, terms = self.compute_loss(batch)
        loss = terms["loss"]
        batch_size = batch["input_ids"].size(0)
        for callback in loss_contributors(self.trainer):
            extra = callback.extra_loss(self.trainer, self, batch, outputs)
            if extra is None:
                continue
            loss = loss + extra
            self.log(f"train/extra_{type(callback).__name__}", extra.detach(), batch_size=batch_size)
        for name, value in terms.items():
            if name != "loss":
                self.log(f"train/{name}", value.detach(), batch_size=batch_size)
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=batch_size)
        return loss

    # ---------------------------------------------------------------- eval
    @override
    def _eval_logits(self, batch: dict[str, Tensor]) -> Any:
        return self.forward_model(batch, length_config=self.length_config)

    # ---------------------------------------------------------- end of fit
    @override
    def on_fit_end(self) -> None:
        if self.export_dir:
            self._export(self.export_dir)

    @rank_zero_only
    def _export(self, directory: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        self.model.save(directory, tokenizer=getattr(datamodule, "tokenizer", None))

    # --------------------------------------------------------- checkpoints
    def extra_checkpoint_state(self) -> dict[str, Any]:
        """Anything else a subclass needs to rebuild its trainable parts before the state dict loads."""
        return {}

    def restore_extra_state(self, state: dict[str, Any]) -> None:
        """Rebuild the parts recorded by :meth:`extra_checkpoint_state`."""

    @override
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = {
            "model_config": self.model.config.to_dict(),
            "tokenizer": None if self.tokenizer is None else self.tokenizer.to_dict(),
            **self.extra_checkpoint_state(),
        }
        if self.tuned_threshold is not None:
            checkpoint[CHECKPOINT_KEY][TUNED_THRESHOLD_KEY] = dict(self.tuned_threshold)

    @override
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get(CHECKPOINT_KEY)
        if state is None:
            raise UserInputError(
                "this checkpoint was not written by a lit_distill module (no 'lit_distill' entry); "
                "load Hugging Face models with QAModel.from_pretrained instead"
            )
        self._load_messages = []  # the checkpoint's weights replace the loaded ones: their warnings are void
        config = EncoderConfig.from_dict(state["model_config"])
        if not self.has_model() or self.model.config != config:
            self.model = QAModel(config)  # the checkpoint's shape (pruned heads, fewer layers) wins
        if state.get("tokenizer") is not None:
            self.tokenizer = TokenizerInfo.from_dict(state["tokenizer"])
        if isinstance(state.get(TUNED_THRESHOLD_KEY), dict):
            self.tuned_threshold = dict(state[TUNED_THRESHOLD_KEY])
        self.restore_extra_state(state)
