"""``SquadMetric``: a torchmetrics ``Metric`` that scores SQuAD inside validation/test, DDP-safe.

Each process stores its batches' start/end logits and ``feature_index`` as
tensors; torchmetrics gathers them across processes (tensors, never strings).
``compute`` then drops the duplicate features a ``DistributedSampler`` adds to
even out the ranks (by ``feature_index``), groups features by question,
post-processes and scores with the official semantics. Every rank computes the
same numbers from the same gathered tensors.

Only questions with at least one feature seen are scored (``total`` says how
many), so ``limit_val_batches`` gives a score on the evaluated part.

The no-answer threshold ``null_score_diff_threshold`` is in logit-difference units
(``null - best``, transformers' rule). On SQuAD 2.0 ``compute`` adds
``best_null_score_diff_threshold``: the threshold in those units at which the split's F1
is best (:func:`~lit_distill.metrics.postprocess.best_null_score_diff_threshold`), the
value to deploy with; the official ``best_f1_thresh`` next to it is a *probability*
(``sigmoid`` of the difference).

Example:
    >>> metric = SquadMetric()
    >>> metric.bind(datamodule.eval_set("validation"))
    >>> for batch in datamodule.val_dataloader():
    ...     out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    ...     metric.update(out.start_logits, out.end_logits, batch["feature_index"])
    >>> metric.compute()["f1"]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from lit_distill.data.eval_set import EvalSet
from lit_distill.metric_names import METRIC_KEYS, V2_ONLY_PREFIXES
from lit_distill.metrics.postprocess import (
    QAPredictions,
    best_null_score_diff_threshold,
    postprocess_predictions,
)
from lit_distill.metrics.squad import squad_evaluate
from lit_distill.user_errors import UserInputError

__all__ = ["METRIC_KEYS", "V2_ONLY_PREFIXES", "SquadMetric"]


class SquadMetric(Metric):
    """Official-compatible SQuAD exact match / F1 from span logits.

    Args:
        n_best: Start and end candidates per feature.
        max_answer_length: Longest answer in tokens.
        null_score_diff_threshold: SQuAD 2.0: predict ``""`` when ``null - best`` exceeds this
            (logit-difference units; ``logit(p)`` of a probability threshold ``p``).
        **kwargs: Passed to ``torchmetrics.Metric`` (e.g. ``sync_on_compute``).
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False

    start_logits: list[torch.Tensor]
    end_logits: list[torch.Tensor]
    feature_index: list[torch.Tensor]

    def __init__(
        self,
        n_best: int = 20,
        max_answer_length: int = 30,
        null_score_diff_threshold: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if n_best < 1:
            raise UserInputError(f"n_best must be >= 1, got {n_best}")
        if max_answer_length < 1:
            raise UserInputError(f"max_answer_length must be >= 1, got {max_answer_length}")
        self.n_best = n_best
        self.max_answer_length = max_answer_length
        self.null_score_diff_threshold = null_score_diff_threshold
        self.eval_set: EvalSet | None = None
        self._predictions: QAPredictions | None = None
        self.add_state("start_logits", default=[], dist_reduce_fx="cat")
        self.add_state("end_logits", default=[], dist_reduce_fx="cat")
        self.add_state("feature_index", default=[], dist_reduce_fx="cat")

    def bind(self, eval_set: EvalSet) -> SquadMetric:
        """Attach the split being evaluated (examples + per-feature offsets); returns ``self``."""
        self.eval_set = eval_set
        self._predictions = None
        return self

    def reset(self) -> None:
        """Clear the stored batches and the predictions of the last ``compute``."""
        super().reset()
        self._predictions = None

    def _width(self) -> int:
        if self.eval_set is None:
            raise RuntimeError("SquadMetric.bind(eval_set) must be called before update/compute")
        return self.eval_set.max_length

    def update(
        self, start_logits: torch.Tensor, end_logits: torch.Tensor, feature_index: torch.Tensor
    ) -> None:
        """Store one batch: ``start_logits``/``end_logits`` (B, L), ``feature_index`` (B,)."""
        width = self._width()
        if start_logits.shape != end_logits.shape or start_logits.dim() != 2:
            raise ValueError(
                f"start_logits and end_logits must both be (B, L); got {tuple(start_logits.shape)} "
                f"and {tuple(end_logits.shape)}"
            )
        if feature_index.shape != start_logits.shape[:1]:
            raise ValueError(
                f"feature_index must be (B,) = {tuple(start_logits.shape[:1])}, got {tuple(feature_index.shape)}"
            )
        # Batches are padded to their longest feature; bring all to the eval set's width
        # so they concatenate (positions beyond a feature are never in the context).
        pad = width - start_logits.shape[1]
        start = start_logits.detach().float()
        end = end_logits.detach().float()
        if pad > 0:
            start = F.pad(start, (0, pad), value=float("-inf"))  # (B, width)
            end = F.pad(end, (0, pad), value=float("-inf"))  # (B, width)
        elif pad < 0:
            start, end = start[:, :width], end[:, :width]
        self.start_logits.append(start)
        self.end_logits.append(end)
        self.feature_index.append(feature_index.detach().long())

    def _gathered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # A list of batches before synchronisation, one concatenated tensor after it.
        states = (self.feature_index, self.start_logits, self.end_logits)
        if any(isinstance(s, list) and not s for s in states):
            empty = np.zeros((0, self._width()), dtype=np.float32)
            return empty, empty, np.zeros(0, dtype=np.int64)
        index, start, end = (dim_zero_cat(s).cpu().numpy() for s in states)  # (N,), (N, L), (N, L)
        unique, first = np.unique(index, return_index=True)  # sorted feature ids, first occurrence
        return start[first], end[first], unique

    def compute(self) -> dict[str, float]:
        """Official keys: ``exact``, ``f1``, ``total``, ``HasAns_*``, and for SQuAD 2.0 ``NoAns_*``, ``best_*``.

        SQuAD 2.0 adds ``best_null_score_diff_threshold`` (logit-difference units; its F1, on
        the best spans re-decoded, is at least ``best_f1``, which the official sweep computes
        on the answers as given).
        """
        eval_set = self.eval_set
        self._width()
        assert eval_set is not None  # for mypy; _width() raised otherwise
        start, end, index = self._gathered()
        if len(index) and (index.min() < 0 or index.max() >= eval_set.n_features):
            raise ValueError(
                f"feature_index out of range [0, {eval_set.n_features}) for the bound eval set "
                f"(got {index.min()}..{index.max()}); bind the eval set of the split being evaluated"
            )
        preds = postprocess_predictions(
            eval_set,
            start,
            end,
            feature_indices=index,
            n_best=self.n_best,
            max_answer_length=self.max_answer_length,
            null_score_diff_threshold=self.null_score_diff_threshold,
        )
        self._predictions = preds
        if not preds.answers:
            return dict.fromkeys(("exact", "f1", "total"), 0.0)
        scores = squad_evaluate(eval_set.gold(), preds.answers, preds.na_probs, report_missing=False)
        if eval_set.version == "1.1":  # no unanswerable questions: the 2.0-only keys mean nothing
            scores = {k: v for k, v in scores.items() if not k.startswith(V2_ONLY_PREFIXES)}
        else:
            _, threshold = best_null_score_diff_threshold(eval_set.gold(), preds.spans)
            scores["best_null_score_diff_threshold"] = threshold
        return {k: float(v) for k, v in scores.items()}

    def predictions(self) -> tuple[dict[str, str], dict[str, float]]:
        """(answer by question id, no-answer probability by question id) of the last ``compute``.

        These are the official ``predictions.json`` and ``null_odds.json`` contents.
        """
        if self._predictions is None:
            self.compute()
        assert self._predictions is not None
        return dict(self._predictions.answers), dict(self._predictions.na_probs)
