"""``SquadScoringModule``: validation, test and predict of a QA module, scored as the official SQuAD script does.

The base of :class:`~lit_distill.modules.qa_module.QAModule`. Each evaluation epoch binds a
:class:`~lit_distill.metrics.squad_metric.SquadMetric` to the data module's ``eval_set(split)``
and feeds it the span logits of ``_eval_logits(batch)`` (the subclass's model); validation
and test log the scores under ``val/…`` and ``test/…``, test and predict write the
official-format ``predictions.json`` and ``null_odds.json``.

SQuAD 2.0: answers are ``""`` where ``null - best`` exceeds ``null_score_diff_threshold``
(logit-difference units). Each validation (not the sanity check) records the F1-best
threshold of the split in those units (:attr:`SquadScoringModule.tuned_threshold`), which
checkpoints keep and ``export`` writes into the artifact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from typing_extensions import override

from lit_distill.user_errors import UserInputError

__all__ = ["TUNED_THRESHOLD_KEY", "SquadScoringModule"]

TUNED_THRESHOLD_KEY = "tuned_null_score_diff_threshold"
"""Where a checkpoint's ``lit_distill`` entry keeps :attr:`SquadScoringModule.tuned_threshold`."""


class SquadScoringModule(pl.LightningModule):
    """Evaluation hooks shared by every QA module (subclass it; see :class:`QAModule`).

    A subclass sets ``n_best_size`` and ``max_answer_length`` (answer decoding),
    ``null_score_diff_threshold`` (SQuAD 2.0 no-answer threshold, logit-difference units),
    ``predictions_dir`` (None: the logger's directory, else the trainer's root dir) and
    implements ``_eval_logits``.

    Attributes:
        tuned_threshold: After a validation of SQuAD 2.0 data: ``{"null_score_diff_threshold":
            the split's F1-best threshold, "in_use": the threshold the answers used,
            "split": "validation", "questions": how many were scored, "global_step": when}``;
            None before.
    """

    n_best_size: int
    max_answer_length: int
    null_score_diff_threshold: float = 0.0
    predictions_dir: str | None

    def __init__(self) -> None:
        super().__init__()
        self._metrics: dict[str, Any] = {}  # a plain dict: the metric is no submodule (not in state_dict)
        self.tuned_threshold: dict[str, Any] | None = None

    def _eval_logits(self, batch: dict[str, Tensor]) -> Any:
        """The model's output (``start_logits``, ``end_logits``: (B, L)) on an evaluation batch."""
        raise NotImplementedError

    def _bind_metric(self, split: str) -> None:
        from lit_distill.metrics.squad_metric import SquadMetric

        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is None or not hasattr(datamodule, "eval_set"):
            raise UserInputError(
                "the QA modules score answers with the data module's eval_set(); use a data module "
                "with eval_set(split), e.g. lit_distill.data.SquadDataModule"
            )
        metric = SquadMetric(
            n_best=self.n_best_size,
            max_answer_length=self.max_answer_length,
            null_score_diff_threshold=self.null_score_diff_threshold,
        )
        metric.bind(datamodule.eval_set(split))
        self._metrics["current"] = metric.to(self.device)

    def _update_metric(self, batch: dict[str, Tensor]) -> None:
        out = self._eval_logits(batch)
        self._metrics["current"].update(out.start_logits, out.end_logits, batch["feature_index"])

    @override
    def on_validation_epoch_start(self) -> None:
        self._bind_metric("validation")

    @override
    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._update_metric(batch)

    @override
    def on_validation_epoch_end(self) -> None:
        self._log_scores("val")
        self._metrics["current"].reset()

    @override
    def on_test_epoch_start(self) -> None:
        self._bind_metric("test")

    @override
    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._update_metric(batch)

    @override
    def on_test_epoch_end(self) -> None:
        self._log_scores("test")
        self._write_predictions()  # the answers of the compute() above

    @override
    def on_predict_epoch_start(self) -> None:
        self._bind_metric("predict")

    @override
    def predict_step(self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._update_metric(batch)

    @override
    def on_predict_epoch_end(self) -> None:
        self._write_predictions()

    def _log_scores(self, prefix: str) -> None:
        scores = self._metrics["current"].compute()
        for key, value in scores.items():
            self.log(f"{prefix}/{key}", float(value), prog_bar=key in ("exact", "f1"), sync_dist=False)
        if (
            prefix == "val"
            and "best_null_score_diff_threshold" in scores
            and not self.trainer.sanity_checking
        ):
            self.tuned_threshold = {
                "null_score_diff_threshold": float(scores["best_null_score_diff_threshold"]),
                "in_use": float(self.null_score_diff_threshold),
                "split": "validation",
                "questions": int(scores["total"]),
                "global_step": int(self.trainer.global_step),
            }

    def _write_predictions(self) -> None:
        answers, null_odds = self._metrics["current"].predictions()
        self._metrics["current"].reset()
        self._save_json(answers, null_odds)

    @rank_zero_only
    def _save_json(self, answers: dict[str, str], null_odds: dict[str, float]) -> None:
        out = Path(self.predictions_dir or self.trainer.log_dir or self.trainer.default_root_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "predictions.json").write_text(
            json.dumps(answers, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        (out / "null_odds.json").write_text(json.dumps(null_odds, indent=2), encoding="utf-8")
        print(f"wrote {len(answers)} predictions to {out / 'predictions.json'} and {out / 'null_odds.json'}")
