"""Walking a SQuAD JSON object question by question, with the structural checks every reader needs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lit_distill.data.squad import SquadFormatError

__all__ = ["iter_questions"]


def iter_questions(
    data: Any, source: str, error: type[Exception] = SquadFormatError
) -> Iterator[tuple[int, Any, int, Mapping[str, Any], Mapping[str, Any]]]:
    """Walk a SQuAD JSON object: ``(article index, title, paragraph index, paragraph, question)``.

    Checks the structure every reader needs (a ``data`` list, each article's
    ``paragraphs`` list, each paragraph's ``qas`` list, each question's ``id``)
    and raises ``error`` naming the file, article and paragraph otherwise.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("data"), list):
        raise error(f"{source}: top level must be an object with a 'data' list (the SQuAD format)")
    for a_i, article in enumerate(data["data"]):
        title = article.get("title", f"#{a_i}") if isinstance(article, Mapping) else f"#{a_i}"
        paragraphs = article.get("paragraphs") if isinstance(article, Mapping) else None
        if not isinstance(paragraphs, list):
            raise error(f"{source}, article {title!r}: no 'paragraphs' list")
        for p_i, para in enumerate(paragraphs):
            qas = para.get("qas") if isinstance(para, Mapping) else None
            if not isinstance(qas, list):
                raise error(f"{source}, article {title!r}: paragraph {p_i} has no 'qas' list")
            for qa in qas:
                if not isinstance(qa, Mapping) or "id" not in qa:
                    raise error(f"{source}, article {title!r}: paragraph {p_i} has a question without 'id'")
                yield a_i, title, p_i, para, qa
