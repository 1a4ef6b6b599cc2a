"""Read and validate SQuAD v1.1 / v2.0 data (official JSON files; Hugging Face datasets: :mod:`~lit_distill.data.squad_hub`).

Every question becomes one :class:`SquadExample`. Bad input raises
:class:`SquadFormatError` naming the file, the article title, the question id
and what is wrong. Answers whose ``answer_start`` does not point at their text
are the one case a user may prefer to keep going: ``on_misaligned="skip"``
drops those answers (and a question left without answers), counts them in a
:class:`LoadReport` and emits one :class:`SquadDataWarning`;
``on_misaligned="fail"`` raises instead.

Example:
    >>> loaded = load_squad_json("dev-v2.0.json", version="2.0")
    >>> len(loaded.examples), loaded.report.n_misaligned
    (11873, 0)
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lit_distill.checks import is_int, one_of
from lit_distill.user_errors import UserInputError

__all__ = [
    "LoadReport",
    "LoadedSquad",
    "MisalignedAnswer",
    "OnMisaligned",
    "SquadDataWarning",
    "SquadExample",
    "SquadFormatError",
    "SquadValidator",
    "SquadVersion",
    "load_squad_json",
    "parse_squad_dict",
    "read_json_file",
]

SquadVersion = Literal["1.1", "2.0"]
OnMisaligned = Literal["skip", "fail"]
_VERSIONS = ("1.1", "2.0")
_ON_MISALIGNED = ("skip", "fail")


class SquadFormatError(UserInputError):
    """A SQuAD file or dataset is malformed; the message says where and what (a user error: exit code 2)."""


class SquadDataWarning(UserWarning):
    """Data was dropped (e.g. misaligned answers with ``on_misaligned="skip"``)."""


@dataclass(frozen=True)
class SquadExample:
    """One question with its context and gold answers.

    Attributes:
        id: Question id (unique within a dataset).
        title: Title of the article the paragraph belongs to.
        question: Question text.
        context: Paragraph text.
        answer_texts: Gold answer texts (all of them; empty for unanswerable).
        answer_starts: Character offsets of the answers in ``context``.
        is_impossible: True for an unanswerable (SQuAD 2.0) question.
    """

    id: str
    title: str
    question: str
    context: str
    answer_texts: tuple[str, ...]
    answer_starts: tuple[int, ...]
    is_impossible: bool


@dataclass(frozen=True)
class MisalignedAnswer:
    """An answer whose ``answer_start`` does not point at its text."""

    source: str
    title: str
    question_id: str
    answer_index: int
    text: str
    answer_start: int
    found: str


@dataclass
class LoadReport:
    """What loading dropped or noticed.

    Attributes:
        source: File path or dataset name.
        misaligned: Every misaligned answer found (kept for the user's report).
        dropped_question_ids: Questions dropped because no aligned answer was left.
    """

    source: str
    misaligned: list[MisalignedAnswer] = field(default_factory=list)
    dropped_question_ids: list[str] = field(default_factory=list)

    @property
    def n_misaligned(self) -> int:
        """Number of misaligned answers."""
        return len(self.misaligned)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for ``data-check`` and logs)."""
        return {
            "source": self.source,
            "misaligned_answers": self.n_misaligned,
            "dropped_questions": len(self.dropped_question_ids),
            "misaligned": [m.__dict__ for m in self.misaligned],
        }


@dataclass
class LoadedSquad:
    """Examples read from one source plus what was dropped.

    Attributes:
        examples: One per question, in file order.
        n_articles: Number of articles (distinct titles for hub datasets).
        report: Misaligned answers and dropped questions.
    """

    examples: list[SquadExample]
    n_articles: int
    report: LoadReport


class SquadValidator:
    """Builds examples from question dicts, checking each as it goes."""

    def __init__(self, source: str, version: SquadVersion, on_misaligned: OnMisaligned) -> None:
        one_of("version", version, _VERSIONS)
        one_of("on_misaligned", on_misaligned, _ON_MISALIGNED)
        self.source = source
        self.version = version
        self.on_misaligned = on_misaligned
        self.report = LoadReport(source)
        self.examples: list[SquadExample] = []
        self._seen: dict[str, str] = {}

    def error(self, what: str, title: str | None = None, qid: str | None = None) -> SquadFormatError:
        where = [self.source]
        if title is not None:
            where.append(f"article {title!r}")
        if qid is not None:
            where.append(f"question {qid!r}")
        return SquadFormatError(f"{', '.join(where)}: {what}")

    def paragraph(self, title: str, para: Any, p_index: int) -> None:
        if not isinstance(para, Mapping):
            raise self.error(f"paragraph {p_index} is not an object", title)
        for key in ("context", "qas"):
            if key not in para:
                raise self.error(f"paragraph {p_index} has no {key!r} field", title)
        context, qas = para["context"], para["qas"]
        if not isinstance(context, str):
            raise self.error(f"paragraph {p_index}: 'context' must be a string", title)
        if not context.strip():
            raise self.error(f"paragraph {p_index} has an empty context", title)
        if not isinstance(qas, list):
            raise self.error(f"paragraph {p_index}: 'qas' must be a list", title)
        for qa in qas:
            self.question(title, context, qa, p_index)

    def question(self, title: str, context: str, qa: Any, p_index: int) -> None:
        if not isinstance(qa, Mapping):
            raise self.error(f"paragraph {p_index} has a question that is not an object", title)
        if "id" not in qa:
            q = qa.get("question")
            raise self.error(
                f"paragraph {p_index}: a question has no 'id' field (question text {q!r})", title
            )
        qid = str(qa["id"])
        if qid in self._seen:
            raise self.error(f"duplicate question id (first seen in article {self._seen[qid]!r})", title, qid)
        self._seen[qid] = title
        question = qa.get("question")
        if question is None:
            raise self.error("no 'question' field", title, qid)
        if not isinstance(question, str) or not question.strip():
            raise self.error(f"the question must be a non-empty string, got {question!r}", title, qid)
        answers = qa.get("answers", [])
        if not isinstance(answers, list):
            raise self.error("'answers' must be a list", title, qid)
        impossible = qa.get("is_impossible", False)
        if not isinstance(impossible, bool):
            raise self.error(f"'is_impossible' must be true or false, got {impossible!r}", title, qid)
        if impossible:
            if self.version == "1.1":
                raise self.error(
                    "unanswerable question (is_impossible: true) in a version 1.1 run; "
                    "use version 2.0 for data with unanswerable questions",
                    title,
                    qid,
                )
            if answers:
                raise self.error("unanswerable question (is_impossible: true) has answers", title, qid)
            self.examples.append(SquadExample(qid, title, question, context, (), (), True))
            return
        if not answers:
            hint = (
                " (use version 2.0 and is_impossible: true for unanswerable questions)"
                if "is_impossible" not in qa
                else ""
            )
            raise self.error(f"answerable question without answers{hint}", title, qid)
        texts, starts = self._answers(title, qid, context, answers)
        if not texts:
            self.report.dropped_question_ids.append(qid)
            return
        self.examples.append(SquadExample(qid, title, question, context, texts, starts, False))

    def _answers(
        self, title: str, qid: str, context: str, answers: list[Any]
    ) -> tuple[tuple[str, ...], tuple[int, ...]]:
        texts: list[str] = []
        starts: list[int] = []
        for i, ans in enumerate(answers):
            if not isinstance(ans, Mapping) or "text" not in ans or "answer_start" not in ans:
                raise self.error(
                    f"answer {i} needs 'text' and 'answer_start' fields, got {ans!r}", title, qid
                )
            text, start = ans["text"], ans["answer_start"]
            if not isinstance(text, str) or not text.strip():
                raise self.error(f"answer {i}: 'text' must be a non-empty string, got {text!r}", title, qid)
            if not is_int(start):
                raise self.error(f"answer {i}: 'answer_start' must be an integer, got {start!r}", title, qid)
            found = context[start : start + len(text)] if start >= 0 else ""
            if found != text:
                bad = MisalignedAnswer(self.source, title, qid, i, text, start, found)
                if self.on_misaligned == "fail":
                    raise self.error(
                        f"answer {i} {text!r}: answer_start {start} points at {found!r}, not at the answer "
                        "(set on_misaligned='skip' to drop such answers with a warning)",
                        title,
                        qid,
                    )
                self.report.misaligned.append(bad)
                continue
            texts.append(text)
            starts.append(start)
        return tuple(texts), tuple(starts)

    def finish(self) -> None:
        if self.report.misaligned:
            first = self.report.misaligned[0]
            warnings.warn(
                f"{self.source}: skipped {self.report.n_misaligned} misaligned answer(s) "
                f"(answer_start does not point at the text) and dropped "
                f"{len(self.report.dropped_question_ids)} question(s) left without answers; "
                f"first: question {first.question_id!r} in article {first.title!r}. "
                "The full list is in the load report.",
                SquadDataWarning,
                stacklevel=3,
            )


def parse_squad_dict(
    data: Any, source: str, version: SquadVersion = "2.0", on_misaligned: OnMisaligned = "skip"
) -> LoadedSquad:
    """Validate an already-parsed SQuAD JSON object and turn it into examples.

    Args:
        data: The object ``json.load`` returned.
        source: Name used in messages (usually the file path).
        version: ``"1.1"`` forbids unanswerable questions; ``"2.0"`` allows them.
        on_misaligned: ``"skip"`` (drop + warn + report) or ``"fail"`` (raise).

    Returns:
        The examples and the load report.

    Raises:
        SquadFormatError: On malformed data (message names file, article, question id).
        ValueError: On a bad ``version`` or ``on_misaligned``.
    """
    v = SquadValidator(source, version, on_misaligned)
    if not isinstance(data, Mapping) or "data" not in data:
        raise v.error("top level must be an object with a 'data' list (the SQuAD format)")
    articles = data["data"]
    if not isinstance(articles, list):
        raise v.error("'data' must be a list of articles")
    for a_index, article in enumerate(articles):
        if not isinstance(article, Mapping):
            raise v.error(f"article {a_index} is not an object")
        title = str(article.get("title", f"#{a_index}"))
        if "paragraphs" not in article:
            raise v.error("article has no 'paragraphs' field", title)
        paragraphs = article["paragraphs"]
        if not isinstance(paragraphs, list):
            raise v.error("'paragraphs' must be a list", title)
        for p_index, para in enumerate(paragraphs):
            v.paragraph(title, para, p_index)
    v.finish()
    return LoadedSquad(v.examples, len(articles), v.report)


def load_squad_json(
    path: str | Path, version: SquadVersion = "2.0", on_misaligned: OnMisaligned = "skip"
) -> LoadedSquad:
    """Read an official-format SQuAD JSON file (v1.1 or v2.0).

    Args:
        path: The JSON file.
        version: ``"1.1"`` forbids unanswerable questions; ``"2.0"`` allows them.
        on_misaligned: ``"skip"`` (drop + warn + report) or ``"fail"`` (raise).

    Returns:
        The examples and the load report.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        SquadFormatError: If the file is not JSON or not valid SQuAD.
    """
    return parse_squad_dict(read_json_file(path), str(path), version, on_misaligned)


def read_json_file(path: str | Path, what: str = "SQuAD file") -> Any:
    """Parse a JSON file; errors name the file and the position of a syntax error.

    Raises:
        FileNotFoundError: ``"<what> not found: <path>"``.
        SquadFormatError: If the file is not UTF-8 JSON.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} not found: {p}")
    try:
        with p.open(encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise SquadFormatError(
            f"{what} {p}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise SquadFormatError(f"{what} {p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
