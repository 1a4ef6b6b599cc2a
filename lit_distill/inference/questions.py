"""The questions of a SQuAD-format file, for ``predict``: gold answers optional.

``predict`` answers files with or without gold answers (a hidden test set has none),
so it reads every question with a non-empty ``question`` and paragraph ``context`` and
ignores the answers; the structure is checked as every reader of the project checks it
(:func:`lit_distill.data.squad_walk.iter_questions`), and errors name the file, the
article and the question id.
"""

from __future__ import annotations

from pathlib import Path

from lit_distill.data.squad import SquadExample, read_json_file
from lit_distill.data.squad_walk import iter_questions
from lit_distill.user_errors import UserInputError

__all__ = ["read_questions"]


def read_questions(path: str | Path, limit: int | None = None) -> list[SquadExample]:
    """Every question of a SQuAD-format JSON file, in file order (the first ``limit`` of them).

    Raises:
        FileNotFoundError: naming the file.
        SquadFormatError: not JSON or not the SQuAD structure.
        UserInputError: an empty question or context, or a repeated question id (naming it).
    """
    source = str(path)
    data = read_json_file(path, "data file")
    examples: list[SquadExample] = []
    seen: set[str] = set()
    for _, title, p_index, para, qa in iter_questions(data, source):
        qid = str(qa["id"])
        where = f"{source}, article {title!r}, question {qid!r}"
        question, context = qa.get("question"), para.get("context")
        if not isinstance(question, str) or not question.strip():
            raise UserInputError(f"{where}: the question must be a non-empty string, got {question!r}")
        if not isinstance(context, str) or not context.strip():
            raise UserInputError(f"{where}: paragraph {p_index} needs a non-empty 'context' string")
        if qid in seen:
            raise UserInputError(f"{where}: repeated question id; predictions are keyed by id")
        seen.add(qid)
        examples.append(SquadExample(qid, str(title), question, context, (), (), False))
        if limit is not None and len(examples) >= limit:
            break
    if not examples:
        raise UserInputError(f"{source}: no questions to answer")
    return examples
