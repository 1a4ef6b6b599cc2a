"""Analyse one model's predictions: input problems, scores and category tables per view.

A *view* is one way of reading the predictions:

* ``given`` — the answers as written, with the official ``--na-prob-thresh`` rule applied
  when a no-answer probability file is given (default threshold 1.0 as in the official
  script, so probabilities in [0, 1] never override an answer);
* ``best_threshold`` — only with a no-answer probability file: the threshold that gives the
  official ``best_exact`` (``best_exact_thresh``, found by
  :func:`lit_distill.metrics.squad.find_best_threshold`), applied the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lit_distill.analysis.categories import Scored, categories_for, score_predictions
from lit_distill.analysis.inputs import AnalysisInputError, Dataset
from lit_distill.analysis.tables import cut_groups, overall_row, table
from lit_distill.metrics.squad import normalize_answer, squad_evaluate

__all__ = ["ModelAnalysis", "View", "analyze_model", "find_problems"]

SWEEP = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass
class View:
    """One reading of a model's predictions.

    Attributes:
        name: ``given`` or ``best_threshold``.
        threshold: The no-answer threshold applied (None without probabilities).
        scored: Scored question by id (answered questions, data order).
        official: ``squad_evaluate``'s result for the same predictions and threshold.
        tables: Cut name → rows (see :mod:`lit_distill.analysis.tables`); ``overall`` → one row.
        mostly_correct_sweep: Wrong answers (answerable, non-empty) with F1 ≥ t, for t in 0.1…0.9.
    """

    name: str
    threshold: float | None
    scored: dict[str, Scored]
    official: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mostly_correct_sweep: dict[str, int] = field(default_factory=dict)


@dataclass
class ModelAnalysis:
    """Everything ``analyze`` found for one prediction file.

    Attributes:
        label: Display name (``--labels``).
        predictions: Path of the prediction file.
        na_probs: Path of the no-answer probability file, if any.
        problems: ``unknown_ids`` (predictions for ids not in the data), ``missing_ids``
            (questions without a prediction), ``empty_on_v1`` (no-answer predictions on
            SQuAD 1.1 data): question ids, data order where there is one.
        views: View name → :class:`View`.
    """

    label: str
    predictions: str
    na_probs: str | None
    problems: dict[str, list[str]]
    views: dict[str, View]


def find_problems(dataset: Dataset, preds: Mapping[str, str]) -> dict[str, list[str]]:
    """Ids that the prediction set and the data do not share, and 2.0 answers on 1.1 data."""
    known = {q.id for q in dataset.questions}
    problems = {
        "unknown_ids": [qid for qid in preds if qid not in known],
        "missing_ids": [q.id for q in dataset.questions if q.id not in preds],
        "empty_on_v1": [],
    }
    if dataset.version == "1.1":
        problems["empty_on_v1"] = [
            q.id for q in dataset.questions if q.id in preds and not normalize_answer(preds[q.id])
        ]
    return problems


def _view(
    dataset: Dataset,
    name: str,
    preds: Mapping[str, str],
    na_probs: Mapping[str, float] | None,
    threshold: float,
    mostly_correct_f1: float,
    answer_edges: Sequence[int],
    context_edges: Sequence[int],
) -> View:
    gold = dataset.gold()
    official = squad_evaluate(gold, preds, na_probs, na_prob_thresh=threshold, report_missing=False)
    scored = score_predictions(gold, preds, dataset.version, na_probs, threshold, mostly_correct_f1)
    categories = categories_for(dataset.version)
    view = View(name, threshold if na_probs is not None else None, scored, official)
    view.tables["overall"] = [overall_row(dataset, scored, categories)]
    for cut, (groups, order) in cut_groups(dataset, answer_edges, context_edges).items():
        view.tables[cut] = table(groups, order, scored, categories)
    wrong_f1 = [
        s.f1
        for q in dataset.questions
        if (s := scored.get(q.id)) is not None
        and q.has_answer
        and not s.exact
        and normalize_answer(s.prediction)
    ]
    view.mostly_correct_sweep = {f"{t:.1f}": sum(1 for f in wrong_f1 if f >= t - 1e-9) for t in SWEEP}
    return view


def analyze_model(
    dataset: Dataset,
    preds: Mapping[str, str],
    label: str,
    *,
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
    mostly_correct_f1: float = 0.5,
    answer_edges: Sequence[int] = (1, 2, 3, 5, 10),
    context_edges: Sequence[int] = (100, 150, 200, 300),
    predictions_path: str = "",
    na_probs_path: str | None = None,
) -> ModelAnalysis:
    """Scores, categories and cut tables of one prediction set in every view it allows.

    Raises:
        AnalysisInputError: If no prediction matches a question of the data, or the
            no-answer probabilities lack a predicted question.
    """
    problems = find_problems(dataset, preds)
    if len(problems["missing_ids"]) == len(dataset.questions):
        example = next(iter(preds), None)
        raise AnalysisInputError(
            f"{predictions_path or label}: no prediction matches a question id of {dataset.source} "
            f"({len(preds)} predictions{f', e.g. {example!r}' if example is not None else ''}); nothing to analyse"
        )
    if na_probs is not None:
        lacking = [q.id for q in dataset.questions if q.id in preds and q.id not in na_probs]
        if lacking:
            raise AnalysisInputError(
                f"{na_probs_path or label}: no-answer probabilities lack {len(lacking)} predicted "
                f"question id(s), e.g. {lacking[0]!r}"
            )
    args = (mostly_correct_f1, answer_edges, context_edges)
    views = {"given": _view(dataset, "given", preds, na_probs, na_prob_thresh, *args)}
    if na_probs is not None:
        best = float(views["given"].official["best_exact_thresh"])
        views["best_threshold"] = _view(dataset, "best_threshold", preds, na_probs, best, *args)
    return ModelAnalysis(label, predictions_path, na_probs_path, problems, views)
