"""Writing per-configuration result rows as JSON and CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_rows"]


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    if value is None:
        return ""
    return value


def write_rows(
    rows: Sequence[Mapping[str, Any]],
    json_path: str | Path | None = None,
    csv_path: str | Path | None = None,
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Write ``rows`` (one dict per configuration) to JSON and/or CSV.

    The JSON file is ``{"meta": {...}, "results": [...]}``; the CSV file has one
    line per row with the union of the rows' keys as columns (lists are written
    as JSON, ``None`` as an empty cell). Parent directories are created.
    """
    if json_path is not None:
        path = Path(json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"meta": dict(meta or {}), "results": list(rows)}, indent=2) + "\n")
    if csv_path is not None:
        path = Path(csv_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _cell(row.get(k)) for k in columns})
