"""Count categories per group: one row per topic / question word / length bin, plus the overall row.

A row holds ``group``, ``questions`` (answered questions in the group), ``missing`` (questions
of the group without a prediction, left out of the scores as the official script does),
``exact`` and ``f1`` (percent of ``questions``; None when there are none) and one count per
category. ``exact`` over all rows equals the official script's exact match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lit_distill.analysis.categories import Scored
from lit_distill.analysis.cuts import (
    NO_ANSWER,
    QUESTION_WORDS,
    answer_length,
    bin_labels,
    context_length,
    length_bin,
    question_word,
)
from lit_distill.analysis.inputs import Dataset

__all__ = ["CUTS", "OVERALL", "cut_groups", "overall_row", "summarise", "table"]

CUTS = ("topic", "question_word", "answer_length", "context_length")
OVERALL = "(all)"


def cut_groups(
    dataset: Dataset, answer_edges: Sequence[int], context_edges: Sequence[int]
) -> dict[str, tuple[dict[str, str], list[str]]]:
    """For every cut: (group of each question id, groups in display order)."""
    questions = dataset.questions
    answer_order = bin_labels(answer_edges) + ([NO_ANSWER] if dataset.version == "2.0" else [])
    return {
        "topic": ({q.id: q.title for q in questions}, dataset.topics()),
        "question_word": ({q.id: question_word(q.question) for q in questions}, list(QUESTION_WORDS)),
        "answer_length": (
            {q.id: length_bin(answer_length(q.answers), answer_edges) for q in questions},
            answer_order,
        ),
        "context_length": (
            {q.id: length_bin(context_length(q.context), context_edges) for q in questions},
            bin_labels(context_edges),
        ),
    }


def summarise(
    group: str, qids: Sequence[str], scored: Mapping[str, Scored], categories: Sequence[str]
) -> dict[str, Any]:
    """One table row for the questions ``qids`` (those missing from ``scored`` count as missing)."""
    hits = [scored[q] for q in qids if q in scored]
    n = len(hits)
    row: dict[str, Any] = {
        "group": group,
        "questions": n,
        "missing": len(qids) - n,
        "exact": 100.0 * sum(s.exact for s in hits) / n if n else None,
        "f1": 100.0 * sum(s.f1 for s in hits) / n if n else None,
    }
    for cat in categories:
        row[cat] = sum(1 for s in hits if s.category == cat)
    return row


def table(
    groups: Mapping[str, str],
    order: Sequence[str],
    scored: Mapping[str, Scored],
    categories: Sequence[str],
) -> list[dict[str, Any]]:
    """Rows for each group in ``order`` that has questions in the data (sums in data order)."""
    members: dict[str, list[str]] = {g: [] for g in order}
    for qid, group in groups.items():
        members.setdefault(group, []).append(qid)
    return [summarise(g, qids, scored, categories) for g, qids in members.items() if qids]


def overall_row(dataset: Dataset, scored: Mapping[str, Scored], categories: Sequence[str]) -> dict[str, Any]:
    """The row over every question of the dataset."""
    return summarise(OVERALL, [q.id for q in dataset.questions], scored, categories)
