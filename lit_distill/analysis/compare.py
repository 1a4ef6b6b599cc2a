"""Side by side: category counts per topic for several models, and the questions they disagree on.

"Right" means exact match (category ``correct``). A disagreement is a question that both
models answered and exactly one of them got right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lit_distill.analysis.categories import Scored
from lit_distill.analysis.inputs import Dataset
from lit_distill.analysis.tables import OVERALL

__all__ = ["compare_topics", "disagreements"]


def compare_topics(
    dataset: Dataset, scored: Mapping[str, Mapping[str, Scored]], categories: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per (topic, category), then the overall rows; one count column per model label.

    Args:
        dataset: The questions.
        scored: Model label → scored questions (the first label is the reference).
        categories: Categories to count, in order.

    Returns:
        Rows ``{"topic", "category", <label>: count, ..., "<label> - <first label>": difference}``;
        a ``questions`` row per topic gives each model's number of answered questions.
    """
    labels = list(scored)
    by_topic: dict[str, list[str]] = {t: [] for t in dataset.topics()}
    for q in dataset.questions:
        by_topic[q.title].append(q.id)
    by_topic[OVERALL] = [q.id for q in dataset.questions]
    rows: list[dict[str, Any]] = []
    for topic, qids in by_topic.items():
        for category in ("questions", *categories):
            row: dict[str, Any] = {"topic": topic, "category": category}
            for label in labels:
                hits = [scored[label][q] for q in qids if q in scored[label]]
                row[label] = (
                    len(hits) if category == "questions" else sum(s.category == category for s in hits)
                )
            for label in labels[1:]:
                row[f"{label} - {labels[0]}"] = row[label] - row[labels[0]]
            rows.append(row)
    return rows


def disagreements(
    dataset: Dataset, first: tuple[str, Mapping[str, Scored]], other: tuple[str, Mapping[str, Scored]]
) -> list[dict[str, Any]]:
    """Questions one model gets right (exact match) and the other wrong, in data order.

    Args:
        dataset: The questions.
        first: (label, scored questions) of the reference model.
        other: (label, scored questions) of the model compared with it.

    Returns:
        Rows with ``id``, ``topic``, ``question``, ``gold_answers`` (distinct texts), ``right`` (label of
        the model that is right), then prediction, category and F1 of each model.
    """
    (a, sa), (b, sb) = first, other
    rows: list[dict[str, Any]] = []
    for q in dataset.questions:
        if q.id not in sa or q.id not in sb:
            continue
        ra, rb = sa[q.id].category == "correct", sb[q.id].category == "correct"
        if ra == rb:
            continue
        rows.append(
            {
                "id": q.id,
                "topic": q.title,
                "question": q.question,
                "gold_answers": list(dict.fromkeys(q.answers)),  # each distinct text once
                "right": a if ra else b,
                f"{a}_prediction": sa[q.id].prediction,
                f"{a}_category": sa[q.id].category,
                f"{a}_f1": round(sa[q.id].f1, 4),
                f"{b}_prediction": sb[q.id].prediction,
                f"{b}_category": sb[q.id].category,
                f"{b}_f1": round(sb[q.id].f1, 4),
            }
        )
    return rows
