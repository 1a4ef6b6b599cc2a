"""Read the files ``analyze`` works on: a SQuAD JSON dataset and official-format prediction files.

Only the fields the official evaluation script reads are required (``data``,
``paragraphs``, ``qas``, ``id``, ``answers[].text``); ``title``, ``context`` and
``question`` are read when present for the tables. Gold answers are kept exactly
as the file lists them (no alignment check), so the scores equal ``squad-eval``'s.
Every problem raises :class:`AnalysisInputError` naming the file, article and question id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lit_distill.checks import is_number
from lit_distill.data.squad_walk import iter_questions
from lit_distill.user_errors import UserInputError

__all__ = ["AnalysisInputError", "Dataset", "Question", "load_dataset", "read_na_probs", "read_predictions"]

Version = Literal["1.1", "2.0"]


class AnalysisInputError(UserInputError):
    """A user file or argument is unusable; the message says which and why (exit code 2)."""


@dataclass(frozen=True)
class Question:
    """One question of the dataset.

    Attributes:
        id: Question id.
        title: Article title (the topic).
        question: Question text.
        context: Paragraph text.
        answers: Gold answer texts, as listed (empty = unanswerable).
    """

    id: str
    title: str
    question: str
    context: str
    answers: tuple[str, ...]

    @property
    def has_answer(self) -> bool:
        """Whether the data lists an answer (the official HasAns split)."""
        return bool(self.answers)


@dataclass(frozen=True)
class Dataset:
    """Questions in file order, the SQuAD version and where they came from.

    Attributes:
        questions: Every question, in file order.
        version: ``"2.0"`` if any question is unanswerable or the file says ``v2.x``, else ``"1.1"``.
        source: The file path (for messages).
    """

    questions: tuple[Question, ...]
    version: Version
    source: str

    def gold(self) -> dict[str, list[str]]:
        """Gold answer texts by question id, in file order (what ``squad_evaluate`` takes)."""
        return {q.id: list(q.answers) for q in self.questions}

    def topics(self) -> list[str]:
        """Article titles in file order, each once."""
        return list(dict.fromkeys(q.title for q in self.questions))


def _read_json(path: str | Path, what: str) -> Any:
    from lit_distill.data.squad import SquadFormatError, read_json_file

    try:
        return read_json_file(path, what)
    except (FileNotFoundError, SquadFormatError) as exc:
        raise AnalysisInputError(str(exc)) from exc


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) else default


def parse_dataset(data: Any, source: str) -> Dataset:
    """A :class:`Dataset` from an already-parsed SQuAD JSON object."""
    questions: list[Question] = []
    seen: set[str] = set()
    for a_i, raw_title, _, para, qa in iter_questions(data, source, AnalysisInputError):
        title = _text(raw_title, f"#{a_i}")
        qid = str(qa["id"])
        if qid in seen:
            raise AnalysisInputError(f"{source}, article {title!r}: duplicate question id {qid!r}")
        seen.add(qid)
        answers = qa.get("answers", [])
        if not isinstance(answers, list) or not all(
            isinstance(a, Mapping) and isinstance(a.get("text"), str) for a in answers
        ):
            raise AnalysisInputError(
                f"{source}, article {title!r}, question {qid!r}: 'answers' must be a list of {{'text': ...}}"
            )
        context = _text(para.get("context"), "")
        questions.append(
            Question(qid, title, _text(qa.get("question"), ""), context, tuple(a["text"] for a in answers))
        )
    if not questions:
        raise AnalysisInputError(f"{source}: the file has no questions")
    declared = str(data.get("version", ""))
    v2 = any(not q.has_answer for q in questions) or declared.lstrip("v").startswith("2")
    return Dataset(tuple(questions), "2.0" if v2 else "1.1", source)


def load_dataset(path: str | Path) -> Dataset:
    """Read a SQuAD 1.1 / 2.0 JSON file."""
    return parse_dataset(_read_json(path, "data file"), str(path))


def _mapping(obj: Any, source: str, what: str, check: Any) -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        raise AnalysisInputError(f"{source}: must be a JSON object mapping question id to {what}")
    for key, value in obj.items():
        if not check(value):
            raise AnalysisInputError(f"{source}: question {key!r} maps to {value!r}; expected {what}")
    return {str(k): v for k, v in obj.items()}


def read_predictions(path: str | Path) -> dict[str, str]:
    """Official ``predictions.json``: question id → answer text (``""`` = no answer)."""
    return _mapping(
        _read_json(path, "prediction file"), str(path), "an answer string", lambda v: isinstance(v, str)
    )


def read_na_probs(path: str | Path) -> dict[str, float]:
    """Official ``na_prob.json`` / ``null_odds.json``: question id → no-answer probability (or score)."""
    raw = _mapping(
        _read_json(path, "no-answer probability file"),
        str(path),
        "a number",
        is_number,
    )
    return {k: float(v) for k, v in raw.items()}
