"""SQuAD scoring with the semantics of the official ``evaluate-v2.0.py`` (and v1.1 data).

Written from the published specification of the official script:

* answers are normalised (lower case, punctuation removed, articles ``a``/``an``/``the``
  removed, whitespace collapsed); exact match compares normalised strings, F1 the
  bags of normalised tokens;
* each question takes the maximum over its gold answers; gold answers that
  normalise to nothing are dropped and a question without gold answers has the
  single gold answer ``""`` (so predicting ``""`` is right for unanswerable ones);
* with no-answer probabilities, a question whose probability exceeds
  ``na_prob_thresh`` counts as answered with ``""``;
* ``HasAns_*`` / ``NoAns_*`` split by whether the data lists answers;
* ``best_exact`` / ``best_f1`` sweep the threshold over the sorted probabilities;
* a question without a prediction is reported and left out of the totals, as
  the official script does for the overall numbers. (The official script then
  stops with a ``KeyError`` in the HasAns/NoAns split; here those splits also
  count only predicted questions.)

Sums run in data order so that the numbers are bit-identical to the official ones.
"""

from __future__ import annotations

import re
import string
import sys
from collections import Counter
from collections.abc import Mapping
from typing import Any

from lit_distill.user_errors import UserInputError

__all__ = ["compute_exact", "compute_f1", "find_best_threshold", "normalize_answer", "squad_evaluate"]

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation and articles, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def compute_exact(gold: str, pred: str) -> int:
    """1 if the normalised strings are equal, else 0."""
    return int(normalize_answer(gold) == normalize_answer(pred))


def compute_f1(gold: str, pred: str) -> float:
    """Token-overlap F1 of the normalised strings (1/0 when either side is empty)."""
    gold_toks, pred_toks = _tokens(gold), _tokens(pred)
    if not gold_toks or not pred_toks:
        return int(gold_toks == pred_toks)
    same = sum((Counter(gold_toks) & Counter(pred_toks)).values())
    if same == 0:
        return 0
    precision = 1.0 * same / len(pred_toks)
    recall = 1.0 * same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def find_best_threshold(
    preds: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_answer: Mapping[str, bool],
) -> tuple[float, float]:
    """Best score reachable by answering ``""`` above a no-answer threshold, and that threshold.

    Starts from "answer nothing" (every scored unanswerable question right) and adds
    questions in order of increasing no-answer probability. Only the questions in
    ``scores`` count, in the numerator as in the denominator: with every question
    predicted this is the official script's sum; with part of a file scored (a
    validation limited to a few batches) the result stays a percentage of the scored
    questions, never above 100.
    """
    current: float = sum(1 for qid in scores if not has_answer[qid])
    best, best_thresh = current, 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            current += scores[qid]
        elif preds[qid]:
            current -= 1
        if current > best:
            best, best_thresh = current, na_probs[qid]
    return 100.0 * best / len(scores), best_thresh


def _summary(
    exact: Mapping[str, float], f1: Mapping[str, float], qids: list[str] | None = None
) -> dict[str, Any]:
    keys = list(exact) if qids is None else qids
    total = len(keys)
    return {
        "exact": 100.0 * sum(exact[k] for k in keys) / total,
        "f1": 100.0 * sum(f1[k] for k in keys) / total,
        "total": total,
    }


def squad_evaluate(
    gold: Mapping[str, list[str]],
    preds: Mapping[str, str],
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
    report_missing: bool = True,
) -> dict[str, Any]:
    """Score predictions like the official SQuAD 2.0 script.

    Args:
        gold: Gold answer texts by question id, in data order (empty list = unanswerable).
        preds: Predicted answer text by question id (``""`` = no answer).
        na_probs: Optional no-answer probability by question id; adds
            ``best_exact``, ``best_exact_thresh``, ``best_f1``, ``best_f1_thresh``.
        na_prob_thresh: Questions with a no-answer probability above this count as ``""``.
        report_missing: Print ``Missing prediction for <id>`` to stderr for each missing id.

    Returns:
        ``exact``, ``f1``, ``total`` and, where the data has such questions,
        ``HasAns_*`` / ``NoAns_*`` (+ the ``best_*`` keys with ``na_probs``).

    Raises:
        UserInputError: If nothing can be scored or ``na_probs`` lacks a predicted id.
    """
    has_answer = {qid: bool(answers) for qid, answers in gold.items()}
    exact_raw: dict[str, int] = {}
    f1_raw: dict[str, float] = {}
    for qid, answers in gold.items():
        golds = [a for a in answers if normalize_answer(a)] or [""]
        if qid not in preds:
            if report_missing:
                print(f"Missing prediction for {qid}", file=sys.stderr)
            continue
        pred = preds[qid]
        exact_raw[qid] = max(compute_exact(a, pred) for a in golds)
        f1_raw[qid] = max(compute_f1(a, pred) for a in golds)
    if not exact_raw:
        raise UserInputError("no prediction matches a question id of the data; nothing to score")
    probs = dict(na_probs) if na_probs is not None else dict.fromkeys(preds, 0.0)
    missing_probs = [qid for qid in exact_raw if qid not in probs]
    if missing_probs:
        raise UserInputError(
            f"no-answer probabilities lack {len(missing_probs)} predicted id(s), e.g. {missing_probs[0]!r}"
        )

    def thresholded(raw: Mapping[str, float]) -> dict[str, float]:
        return {q: float(not has_answer[q]) if probs[q] > na_prob_thresh else s for q, s in raw.items()}

    exact, f1 = thresholded(exact_raw), thresholded(f1_raw)
    out = _summary(exact, f1)
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [q for q, v in has_answer.items() if v is wanted]
        if qids:
            scored = [q for q in qids if q in exact]
            if scored:
                out.update({f"{prefix}_{k}": v for k, v in _summary(exact, f1, scored).items()})
    if na_probs is not None:
        best_exact, exact_thresh = find_best_threshold(preds, exact_raw, probs, has_answer)
        best_f1, f1_thresh = find_best_threshold(preds, f1_raw, probs, has_answer)
        out.update(
            {
                "best_exact": best_exact,
                "best_exact_thresh": exact_thresh,
                "best_f1": best_f1,
                "best_f1_thresh": f1_thresh,
            }
        )
    return out
