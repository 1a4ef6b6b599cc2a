"""SQuAD-style Hugging Face datasets (columns ``id, title, context, question, answers``) as examples.

Rows are checked by the same :class:`~lit_distill.data.squad.SquadValidator` as the
official JSON files, so errors and the load report read the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lit_distill.data.squad import LoadedSquad, OnMisaligned, SquadFormatError, SquadValidator, SquadVersion

__all__ = ["load_hub_squad", "rows_to_examples"]


def rows_to_examples(
    rows: Iterable[Mapping[str, Any]], source: str, version: SquadVersion, on_misaligned: OnMisaligned
) -> LoadedSquad:
    v = SquadValidator(source, version, on_misaligned)
    titles: set[str] = set()
    for i, row in enumerate(rows):
        missing = [k for k in ("id", "question", "context", "answers") if k not in row]
        if missing:
            raise v.error(
                f"row {i} lacks column(s) {missing}; a SQuAD-style dataset needs id, title, "
                "context, question, answers{text, answer_start}"
            )
        title = str(row.get("title", ""))
        titles.add(title)
        context = row["context"]
        if not isinstance(context, str) or not context.strip():
            raise v.error(f"row {i} has an empty context", title, str(row["id"]))
        answers = row["answers"] or {}
        texts = list(answers.get("text", []))
        starts = list(answers.get("answer_start", []))
        if len(texts) != len(starts):
            raise v.error("answers.text and answers.answer_start differ in length", title, str(row["id"]))
        qa = {
            "id": row["id"],
            "question": row["question"],
            "answers": [{"text": t, "answer_start": s} for t, s in zip(texts, starts, strict=True)],
            "is_impossible": not texts and version == "2.0",
        }
        v.question(title, context, qa, i)
    v.finish()
    return LoadedSquad(v.examples, len(titles), v.report)


def load_hub_squad(
    name: str,
    split: str,
    version: SquadVersion = "2.0",
    config: str | None = None,
    on_misaligned: OnMisaligned = "skip",
    cache_dir: str | None = None,
    data_files: str | list[str] | None = None,
) -> LoadedSquad:
    """Load a Hugging Face dataset with SQuAD columns (e.g. ``rajpurkar/squad_v2``).

    Needs network access the first time (or a local ``datasets`` cache).

    Args:
        name: Dataset name or local path for ``datasets.load_dataset``.
        split: Split name (``"train"``, ``"validation"``...).
        version: ``"1.1"`` forbids unanswerable questions (an empty answer list is an error).
        config: Optional dataset configuration name.
        on_misaligned: ``"skip"`` (drop + warn + report) or ``"fail"`` (raise).
        cache_dir: Optional ``datasets`` cache directory.
        data_files: Optional data files (e.g. ``name="json"`` with a JSON-lines file of SQuAD columns).

    Returns:
        The examples and the load report.

    Raises:
        SquadFormatError: If the dataset cannot be loaded or its rows are malformed.
    """
    import datasets

    try:
        ds = datasets.load_dataset(name, config, split=split, cache_dir=cache_dir, data_files=data_files)
    except Exception as exc:  # datasets raises many types; give one clear message
        raise SquadFormatError(
            f"could not load Hugging Face dataset {name!r} split {split!r}: {exc}"
        ) from exc
    return rows_to_examples(ds, f"{name}[{split}]", version, on_misaligned)
