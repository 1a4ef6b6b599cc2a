"""Write the analysis: ``summary.json``, one CSV per cut, and the comparison files.

Files (in the output directory):

* ``summary.json`` — settings, each model's problems, official scores, every table, every view;
* ``by_topic.csv``, ``by_question_word.csv``, ``by_answer_length.csv``, ``by_context_length.csv``
  — one row per model, view and group (the ``(all)`` row closes each block);
* with several models: ``compare_topics.csv`` (counts per topic and category side by side) and
  ``disagreements_<first>_vs_<other>.csv`` / ``.json`` per other model.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lit_distill.analysis.categories import categories_for
from lit_distill.analysis.compare import compare_topics, disagreements
from lit_distill.analysis.inputs import Dataset
from lit_distill.analysis.model import ModelAnalysis
from lit_distill.analysis.tables import CUTS
from lit_distill.atomic_write import replace_file, write_text

__all__ = ["file_label", "write_csv", "write_outputs"]


def file_label(label: str) -> str:
    """A label made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("._") or "model"


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return " | ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else ""
    return "" if value is None else value


def write_csv(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Rows as CSV (columns in first-seen order; lists joined with `` | ``, floats to 4 decimals)."""
    header: list[str] = []
    for row in rows:
        header += [k for k in row if k not in header]
    with replace_file(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})


def _problems(model: ModelAnalysis) -> dict[str, Any]:
    return {name: {"count": len(ids), "ids": ids} for name, ids in model.problems.items()}


def write_outputs(
    dataset: Dataset,
    models: Sequence[ModelAnalysis],
    out_dir: Path,
    settings: dict[str, Any],
    compare_view: str = "given",
) -> dict[str, Path]:
    """Write every table; returns name → path.

    Args:
        dataset: The questions.
        models: Analyses, the reference model first.
        out_dir: Output directory (created).
        settings: Command settings recorded in ``summary.json``.
        compare_view: View used for the comparison files.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for cut in CUTS:
        rows = []
        for m in models:
            for view in m.views.values():
                for row in [*view.tables[cut], *view.tables["overall"]]:
                    rows.append({"model": m.label, "view": view.name, "threshold": view.threshold, **row})
        files[f"by_{cut}"] = out_dir / f"by_{cut}.csv"
        write_csv(rows, files[f"by_{cut}"])
    comparisons = []
    if len(models) > 1:
        categories = categories_for(dataset.version)
        scored = {m.label: m.views[compare_view].scored for m in models}
        files["compare_topics"] = out_dir / "compare_topics.csv"
        write_csv(compare_topics(dataset, scored, categories), files["compare_topics"])
        first = models[0]
        for other in models[1:]:
            rows = disagreements(
                dataset, (first.label, scored[first.label]), (other.label, scored[other.label])
            )
            stem = f"disagreements_{file_label(first.label)}_vs_{file_label(other.label)}"
            files[stem] = out_dir / f"{stem}.csv"
            write_csv(rows, files[stem])
            write_text(out_dir / f"{stem}.json", json.dumps(rows, indent=2, ensure_ascii=False))
            comparisons.append(
                {
                    "first": first.label,
                    "other": other.label,
                    "view": compare_view,
                    f"{first.label} right, {other.label} wrong": sum(r["right"] == first.label for r in rows),
                    f"{other.label} right, {first.label} wrong": sum(r["right"] == other.label for r in rows),
                    "files": [f"{stem}.csv", f"{stem}.json"],
                }
            )
    summary = {
        "data": dataset.source,
        "version": dataset.version,
        "questions": len(dataset.questions),
        "topics": len(dataset.topics()),
        "settings": settings,
        "categories": list(categories_for(dataset.version)),
        "models": [
            {
                "label": m.label,
                "predictions": m.predictions,
                "na_probs": m.na_probs,
                "problems": _problems(m),
                "views": {
                    name: {
                        "threshold": v.threshold,
                        "official": v.official,
                        "mostly_correct_sweep": v.mostly_correct_sweep,
                        **{cut: rows for cut, rows in v.tables.items()},
                    }
                    for name, v in m.views.items()
                },
            }
            for m in models
        ],
        "comparisons": comparisons,
    }
    files["summary"] = out_dir / "summary.json"
    write_text(files["summary"], json.dumps(summary, indent=2, ensure_ascii=False))
    return files
