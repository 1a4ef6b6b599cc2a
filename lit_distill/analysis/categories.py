"""Each answered question in one of five categories (the "Efficient BERT" study's error analysis).

The rule, applied to the prediction after the no-answer threshold (a question whose
no-answer probability exceeds the threshold counts as answered ``""``, as in the
official script):

1. **correct** — exact match with a gold answer (official normalisation; for an
   unanswerable question: the prediction normalises to ``""``);
2. **label_has_no_answer** — the question is unanswerable and the model gave an answer;
3. **label_has_answer** — the question is answerable and the prediction normalises to
   ``""`` (the model said "no answer");
4. **mostly_correct** — otherwise, if the best token F1 over the gold answers is at least
   ``mostly_correct_f1`` (default 0.5; a tie counts as mostly correct, with a 1e-9 tolerance
   for float rounding);
5. **mostly_wrong** — everything else.

SQuAD 1.1 data has no "no answer" categories: there an empty prediction (a SQuAD 2.0
prediction set scored on 1.1 data) is *mostly_wrong* (its F1 is 0) and the command names
those questions. Exact match and F1 come from :mod:`lit_distill.metrics.squad`, so the
category counts add up to the official scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lit_distill.metrics.squad import compute_exact, compute_f1, normalize_answer

__all__ = [
    "CATEGORIES",
    "DEFAULT_MOSTLY_CORRECT_F1",
    "Scored",
    "categories_for",
    "classify",
    "score_predictions",
]

CATEGORIES = ("correct", "mostly_correct", "mostly_wrong", "label_has_answer", "label_has_no_answer")
DEFAULT_MOSTLY_CORRECT_F1 = 0.5
_TIE_TOLERANCE = 1e-9


def categories_for(version: str) -> tuple[str, ...]:
    """The categories a SQuAD version can have (1.1: no "no answer" categories)."""
    return CATEGORIES if version == "2.0" else CATEGORIES[:3]


@dataclass(frozen=True)
class Scored:
    """One answered question after scoring.

    Attributes:
        prediction: The answer as scored (``""`` when the no-answer threshold overrode it).
        exact: 1 or 0, as the official script counts it.
        f1: Token F1 in [0, 1], as the official script counts it.
        category: One of :data:`CATEGORIES`.
        thresholded: The no-answer threshold replaced the written answer by ``""``.
    """

    prediction: str
    exact: float
    f1: float
    category: str
    thresholded: bool = False


def classify(
    answers: Sequence[str],
    prediction: str,
    version: str = "2.0",
    mostly_correct_f1: float = DEFAULT_MOSTLY_CORRECT_F1,
    no_answer_forced: bool = False,
) -> Scored:
    """Score one question and put it in a category (rule in the module docstring).

    Args:
        answers: Gold answer texts (empty = unanswerable).
        prediction: The predicted answer text.
        version: ``"2.0"`` or ``"1.1"`` (1.1 has no "no answer" categories).
        mostly_correct_f1: F1 at or above which a wrong answer is *mostly correct*.
        no_answer_forced: The no-answer probability exceeded the threshold; the
            question counts as answered ``""`` with the official script's scores
            (1 for an unanswerable question, 0 otherwise).
    """
    has_answer = bool(answers)
    if no_answer_forced:
        score = float(not has_answer)
        if not has_answer:
            return Scored("", score, score, "correct", True)
        return Scored("", score, score, "label_has_answer" if version == "2.0" else "mostly_wrong", True)
    golds = [a for a in answers if normalize_answer(a)] or [""]
    exact = float(max(compute_exact(a, prediction) for a in golds))
    f1 = float(max(compute_f1(a, prediction) for a in golds))
    if exact:
        category = "correct"
    elif not has_answer:
        category = "label_has_no_answer"
    elif not normalize_answer(prediction):
        category = "label_has_answer" if version == "2.0" else "mostly_wrong"
    elif f1 >= mostly_correct_f1 - _TIE_TOLERANCE:
        category = "mostly_correct"
    else:
        category = "mostly_wrong"
    return Scored(prediction, exact, f1, category)


def score_predictions(
    gold: Mapping[str, Sequence[str]],
    preds: Mapping[str, str],
    version: str = "2.0",
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
    mostly_correct_f1: float = DEFAULT_MOSTLY_CORRECT_F1,
) -> dict[str, Scored]:
    """Every predicted question of ``gold`` scored and categorised, in data order.

    Questions without a prediction are left out (as the official script leaves them
    out of its totals); predictions for ids not in ``gold`` are ignored.

    Raises:
        KeyError: If ``na_probs`` lacks a predicted question id.
    """
    out: dict[str, Scored] = {}
    for qid, answers in gold.items():
        if qid not in preds:
            continue
        forced = na_probs is not None and na_probs[qid] > na_prob_thresh
        out[qid] = classify(answers, preds[qid], version, mostly_correct_f1, forced)
    return out
