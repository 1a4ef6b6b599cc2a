"""Search reports on disk: ``pareto.json``, ``trials.csv`` and the figures.

The records come from :mod:`lit_distill.search.records`; :mod:`lit_distill.search.plots`
draws the figures from them.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lit_distill.atomic_write import replace_file, write_text
from lit_distill.search.records import TrialRecord, flag_front
from lit_distill.search.spec import SearchSpec


def _flat_assignment(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, list):
        return {f"{name}[{i}]": v for i, v in enumerate(value)}
    return {name: value}


def write_csv(spec: SearchSpec, records: list[TrialRecord], path: Path) -> None:
    """One row per trial: number, state, outcome, feasible, on_front, parameters, metrics, reason."""
    param_cols: list[str] = []
    metric_cols: list[str] = [m.name for m in spec.metrics]
    holdout_cols: list[str] = []
    for r in records:
        for name, value in r.assignment.items():
            for col in _flat_assignment(value, name):
                if col not in param_cols:
                    param_cols.append(col)
        metric_cols += [k for k in sorted(r.metrics) if k not in metric_cols]
        holdout_cols += [f"holdout_{k}" for k in sorted(r.holdout) if f"holdout_{k}" not in holdout_cols]
    header = ["number", "state", "outcome", "feasible", "on_front", *param_cols, *metric_cols, *holdout_cols]
    header += ["reason", "trial_dir"]
    with replace_file(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        for r in records:
            row: dict[str, Any] = {
                "number": r.number,
                "state": r.state,
                "outcome": r.outcome,
                "feasible": r.feasible,
                "on_front": r.on_front,
                "reason": r.reason,
                "trial_dir": r.trial_dir,
            }
            for name, value in r.assignment.items():
                row.update(_flat_assignment(value, name))
            row.update(r.metrics)
            row.update({f"holdout_{k}": v for k, v in r.holdout.items()})
            writer.writerow(row)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_json(spec: SearchSpec, records: list[TrialRecord], front: list[TrialRecord], path: Path) -> None:
    """The front and a summary of the search as JSON."""
    counts: dict[str, int] = {}
    for r in records:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    payload = {
        "search": spec.name,
        "objectives": [{"name": m.name, "objective": m.objective} for m in spec.objectives],
        "thresholds": {m.name: m.threshold for m in spec.thresholded},
        "baseline": {"label": spec.baseline_label, "metrics": spec.baseline_metrics},
        "trial_counts": counts,
        "front": [asdict(r) for r in front],
    }
    write_text(path, json.dumps(_json_safe(payload), indent=2))


def write_report(
    spec: SearchSpec,
    records: list[TrialRecord],
    out_dir: Path,
    plots: bool = True,
) -> dict[str, Path]:
    """Write ``pareto.json``, ``trials.csv`` and (with matplotlib) the PNG figures.

    Sets ``on_front`` on the records (:func:`~lit_distill.search.records.flag_front`).

    Returns:
        Name → path of every file written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    front = flag_front(spec, records)
    files = {"json": out_dir / "pareto.json", "csv": out_dir / "trials.csv"}
    write_json(spec, records, front, files["json"])
    write_csv(spec, records, files["csv"])
    if plots:
        from lit_distill.search.plots import draw_all

        files.update(draw_all(spec, records, out_dir))
    return files
