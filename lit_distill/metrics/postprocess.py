"""Start/end logits → answer text per question, vectorised over all features at once.

Semantics (those of the usual BERT SQuAD post-processing):

* per feature, the ``n_best`` highest start and end logits over all positions
  are paired; a pair is a candidate if both tokens lie in the context, the end
  is not before the start and the span has at most ``max_answer_length`` tokens;
  its score is ``start_logit + end_logit``;
* per question, the best candidate over all its features wins (ties: the
  earlier feature, then the higher-ranked start, then end);
* SQuAD 2.0: the null score is the smallest ``start[CLS] + end[CLS]`` over the
  question's features; the answer is ``""`` when ``null - best > null_score_diff_threshold``;
* the no-answer probability is ``sigmoid(null - best)`` (1.0 without any
  candidate), a monotone score suitable for the official ``best_*`` sweep.

Units of the no-answer threshold: ``null_score_diff_threshold`` is a *logit
difference* (``null - best``, transformers' ``utils_qa`` name and rule), while the
official script's ``best_exact_thresh`` / ``best_f1_thresh`` are thresholds on the
no-answer *probability* ``sigmoid(null - best)``. :func:`threshold_from_probability`
converts the second into the first (``logit(p)``; 0.3 becomes -0.85, not 0.3), and
:func:`best_null_score_diff_threshold` finds the best threshold directly in logit units.

There is no Python loop over candidates: ``topk`` on (F, L) logits, an
(F, k, k) score grid, and a grouped arg-max per question.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from lit_distill.data.eval_set import EvalSet
from lit_distill.metrics.squad import squad_evaluate
from lit_distill.user_errors import UserInputError

__all__ = [
    "BestSpan",
    "QAPredictions",
    "best_null_score_diff_threshold",
    "postprocess_predictions",
    "probability_from_threshold",
    "threshold_from_probability",
]


@dataclass(frozen=True)
class BestSpan:
    """The best non-null span of one question, before the no-answer decision.

    Attributes:
        text: The span's text (``""`` when no candidate span exists).
        start: First character of the span in the context (-1 without a candidate).
        end: One past its last character (-1 without a candidate).
        score: ``start_logit + end_logit`` of the span (``-inf`` without a candidate).
        null_score_diff: ``null - score``, the quantity compared with
            ``null_score_diff_threshold`` (``inf`` without a candidate).
    """

    text: str
    start: int
    end: int
    score: float
    null_score_diff: float


@dataclass
class QAPredictions:
    """Answers and no-answer probabilities by question id (only questions with features seen).

    Attributes:
        answers: The answer text (``""`` = no answer) by question id.
        na_probs: ``sigmoid(null - best)`` by question id (the official ``null_odds.json``).
        spans: The best non-null span of each question, whatever the no-answer decision.
    """

    answers: dict[str, str]
    na_probs: dict[str, float]
    spans: dict[str, BestSpan] = field(default_factory=dict)


def probability_from_threshold(null_score_diff_threshold: float) -> float:
    """The no-answer probability threshold equivalent to a logit-difference threshold (``sigmoid``)."""
    if null_score_diff_threshold < -700:
        return 0.0
    return 1.0 / (1.0 + math.exp(-null_score_diff_threshold))


def threshold_from_probability(probability: float) -> float:
    """The ``null_score_diff_threshold`` equivalent to a no-answer probability threshold (``logit``).

    The official ``best_f1_thresh`` (a probability, as in ``null_odds.json``) becomes
    the threshold :func:`postprocess_predictions` and transformers' ``utils_qa`` compare
    ``null - best`` with: answering ``""`` when the probability exceeds ``p`` is answering
    ``""`` when ``null - best`` exceeds ``logit(p)``. ``0`` maps to ``-inf`` (never answer),
    ``1`` to ``inf`` (always answer). Logits are float32, so the result is the float32 nearest
    to ``logit(p)``: a ``p`` read from ``null_odds.json`` gives back the question's margin
    exactly, and that question stays answered, as in the official sweep. Probabilities above
    about ``1 - 1e-9`` carry too few digits to recover a margin beyond about 20 exactly;
    prefer :func:`best_null_score_diff_threshold`, which works in logit units from the start.

    Raises:
        ValueError: ``probability`` outside [0, 1].
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"a no-answer probability threshold must be in [0, 1], got {probability!r}")
    if probability == 0.0:
        return -math.inf
    if probability == 1.0:
        return math.inf
    return float(np.float32(math.log(probability) - math.log1p(-probability)))


def best_null_score_diff_threshold(
    gold: Mapping[str, list[str]], spans: Mapping[str, BestSpan]
) -> tuple[float, float]:
    """The F1-best no-answer threshold in logit-difference units, and the F1 it reaches.

    Sweeps the threshold over every question's ``null - best`` with the official
    script's sweep (:func:`lit_distill.metrics.squad.find_best_threshold`), applied to the
    best spans themselves, so a question answered ``""`` at the threshold in use can be
    answered again: answering a question exactly when ``null_score_diff <= threshold``
    scores the returned F1 (up to questions that share the threshold's value). When
    answering no question is best, the threshold is one below the smallest difference seen.

    Args:
        gold: Gold answers by question id (empty list = unanswerable).
        spans: :attr:`QAPredictions.spans`.

    Returns:
        ``(f1, threshold)``: the best F1 (percent, over the questions in ``spans``) and the
        ``null_score_diff_threshold`` reaching it.
    """
    preds = {q: s.text for q, s in spans.items()}
    diffs = {q: s.null_score_diff for q, s in spans.items()}
    scores = squad_evaluate(gold, preds, diffs, report_missing=False)
    scored = [q for q in gold if q in preds]
    answer_none = 100.0 * sum(1 for q in scored if not gold[q]) / len(scored)
    best_f1, threshold = float(scores["best_f1"]), float(scores["best_f1_thresh"])
    if best_f1 == answer_none:  # the sweep never moved: answering nothing is (one of) the best
        finite = [d for d in diffs.values() if math.isfinite(d)]
        threshold = min(finite) - 1.0 if finite else 0.0
    return best_f1, threshold


def _as_float_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(x)
    return t.detach().to("cpu", torch.float32)


def postprocess_predictions(
    eval_set: EvalSet,
    start_logits: np.ndarray | torch.Tensor,
    end_logits: np.ndarray | torch.Tensor,
    feature_indices: np.ndarray | torch.Tensor | None = None,
    n_best: int = 20,
    max_answer_length: int = 30,
    null_score_diff_threshold: float = 0.0,
    version: str | None = None,
) -> QAPredictions:
    """Turn logits into answers.

    Args:
        eval_set: Examples and per-feature offsets.
        start_logits: (N, L) start logits; row ``i`` belongs to feature ``feature_indices[i]``.
        end_logits: (N, L) end logits.
        feature_indices: (N,) distinct feature indices (default: ``0..N-1``).
        n_best: Start and end candidates per feature.
        max_answer_length: Longest answer in tokens.
        null_score_diff_threshold: SQuAD 2.0 only: answer ``""`` when ``null - best`` exceeds this
            (logit-difference units, see :func:`threshold_from_probability`).
        version: ``"1.1"`` (never ``""`` while a candidate exists) or ``"2.0"``; default ``eval_set.version``.

    Returns:
        Answers and no-answer probabilities for every question with at least one feature.
    """
    if n_best < 1 or max_answer_length < 1:
        raise UserInputError(
            f"n_best and max_answer_length must be >= 1, got {n_best} and {max_answer_length}"
        )
    version = version or eval_set.version
    start = _as_float_tensor(start_logits)  # (N, L)
    end = _as_float_tensor(end_logits)  # (N, L)
    if start.shape != end.shape or start.dim() != 2:
        raise ValueError(
            f"start and end logits must both be (N, L); got {tuple(start.shape)} and {tuple(end.shape)}"
        )
    n_rows, width = start.shape
    feats = (
        np.arange(n_rows) if feature_indices is None else np.asarray(torch.as_tensor(feature_indices).cpu())
    )
    if len(feats) != n_rows:
        raise ValueError(f"feature_indices has {len(feats)} entries for {n_rows} rows of logits")
    if n_rows == 0:
        return QAPredictions({}, {})
    offsets = eval_set.offsets if feature_indices is None else eval_set.offsets[feats]  # (N, L_eval, 2)
    if offsets.shape[1] < width:  # logits wider than any feature: extra positions are outside the context
        offsets = np.pad(offsets, ((0, 0), (0, width - offsets.shape[1]), (0, 0)), constant_values=-1)

    k = min(n_best, width)
    s_val, s_idx = start.topk(k, dim=1)  # (N, k)
    e_val, e_idx = end.topk(k, dim=1)  # (N, k)
    s_char = torch.from_numpy(np.take_along_axis(offsets[:, :, 0], s_idx.numpy(), axis=1))  # (N, k)
    e_char = torch.from_numpy(np.take_along_axis(offsets[:, :, 1], e_idx.numpy(), axis=1))  # (N, k)
    span = e_idx[:, None, :] - s_idx[:, :, None]  # (N, k, k) end - start
    valid = (s_char >= 0)[:, :, None] & (e_char >= 0)[:, None, :] & (span >= 0) & (span < max_answer_length)
    scores = (s_val[:, :, None] + e_val[:, None, :]).masked_fill(~valid, -math.inf)  # (N, k, k)
    best_flat = scores.view(n_rows, -1).argmax(dim=1)  # (N,) first maximum in (start rank, end rank) order
    best_score = scores.view(n_rows, -1).gather(1, best_flat[:, None])[:, 0]  # (N,)
    best_s = s_idx.gather(1, (best_flat // k)[:, None])[:, 0]  # (N,)
    best_e = e_idx.gather(1, (best_flat % k)[:, None])[:, 0]  # (N,)
    best_s_logit = s_val.gather(1, (best_flat // k)[:, None])[:, 0]  # (N,)
    best_e_logit = e_val.gather(1, (best_flat % k)[:, None])[:, 0]  # (N,)
    null = (start[:, 0] + end[:, 0]).numpy()  # (N,) score of the [CLS] span

    example = eval_set.feature_example_index[feats]  # (N,)
    score_np = best_score.numpy()
    # Per example: the feature with the highest best score; ties -> the lower feature index.
    order = np.lexsort((feats, -score_np, example))
    ex_sorted = example[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = ex_sorted[1:] != ex_sorted[:-1]
    winners = order[first]  # (E_seen,) row of the winning feature per example
    seen_examples = ex_sorted[first]
    null_min = np.full(eval_set.n_examples, np.inf, dtype=np.float32)
    np.minimum.at(null_min, example, null)

    char_s = offsets[winners, best_s.numpy()[winners], 0]
    char_e = offsets[winners, best_e.numpy()[winners], 1]
    has_candidate = np.isfinite(score_np[winners])
    # Same float32 operation order as the classic implementation: (null - start) - end.
    diff = (null_min[seen_examples] - best_s_logit.numpy()[winners]) - best_e_logit.numpy()[winners]
    answers: dict[str, str] = {}
    na_probs: dict[str, float] = {}
    spans: dict[str, BestSpan] = {}
    for j, ex in enumerate(seen_examples.tolist()):
        qid = eval_set.example_ids[ex]
        if not has_candidate[j]:
            answers[qid], na_probs[qid] = "", 1.0
            spans[qid] = BestSpan("", -1, -1, -math.inf, math.inf)
            continue
        d = float(diff[j])
        na_probs[qid] = probability_from_threshold(d)
        lo, hi = int(char_s[j]), int(char_e[j])
        text = eval_set.contexts[ex][lo:hi]
        spans[qid] = BestSpan(text, lo, hi, float(score_np[winners[j]]), d)
        answers[qid] = "" if version == "2.0" and d > null_score_diff_threshold else text
    return QAPredictions(answers, na_probs, spans)
