"""Paths of the hand-written fixtures (invented text, see fixtures/; ``answer_start`` is not read)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DATA = FIXTURES / "tiny-v2.json"
TEACHER = FIXTURES / "teacher-pred.json"
STUDENT = FIXTURES / "student-pred.json"
TEACHER_NA = FIXTURES / "teacher-na.json"


def counts(row: dict[str, object], categories: tuple[str, ...]) -> tuple[object, ...]:
    """(questions, missing, count of each category) of a table row."""
    return (row["questions"], row["missing"], *(row[c] for c in categories))
