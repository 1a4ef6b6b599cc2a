"""Search reports: every trial as a record, the Pareto front flagged, JSON + CSV on disk.

The records are backend-neutral (Optuna trials and SigOpt observations both become
:class:`TrialRecord`); :mod:`lit_distill.search.plots` draws the figures from them.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from lit_distill.search.pareto import pareto_mask
from lit_distill.search.spec import SearchSpec


@dataclass
class TrialRecord:
    """One trial as the report shows it.

    Attributes:
        number: Trial number in the study (or observation index).
        state: ``COMPLETE``, ``FAIL``, ``RUNNING`` or ``WAITING``.
        outcome: ``complete``, ``oom``, ``fail``, ``interrupted``, ``surplus``,
            ``linear_constraint``, or ``running``.
        feasible: Complete and every threshold met.
        assignment: Parameter name → value (chains as lists).
        metrics: Every metric the trial wrote.
        reason: Why it failed or is infeasible (empty otherwise).
        trial_dir: The trial's directory.
        on_front: Non-dominated among feasible complete trials on the optimised metrics.
        holdout: Metrics of the holdout evaluation, if one ran.
    """

    number: int
    state: str
    outcome: str
    feasible: bool
    assignment: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    trial_dir: str = ""
    on_front: bool = False
    holdout: dict[str, float] = field(default_factory=dict)


def record_from_trial(trial: FrozenTrial) -> TrialRecord:
    """A report record from an Optuna trial written by :class:`OptunaWorker`."""
    attrs = trial.user_attrs
    state = trial.state.name
    default = "running" if trial.state in (TrialState.RUNNING, TrialState.WAITING) else "fail"
    return TrialRecord(
        number=trial.number,
        state=state,
        outcome=str(attrs.get("outcome", default)),
        feasible=bool(attrs.get("feasible", False)) and attrs.get("outcome") == "complete",
        assignment=dict(attrs.get("assignment", {})),
        metrics={k: float(v) for k, v in attrs.get("metrics", {}).items()},
        reason=str(attrs.get("reason", "")),
        trial_dir=str(attrs.get("trial_dir", "")),
    )


def records_from_study(study: optuna.Study) -> list[TrialRecord]:
    """Every trial of a study as a record, surplus trials (never run) left out."""
    return [
        record_from_trial(t)
        for t in study.get_trials(deepcopy=False)
        if t.user_attrs.get("outcome") != "surplus"
    ]


def flag_front(spec: SearchSpec, records: list[TrialRecord]) -> list[TrialRecord]:
    """Set ``on_front`` on the non-dominated feasible complete records; returns the front."""
    names = [m.name for m in spec.objectives]
    directions = [m.objective for m in spec.objectives]
    candidates = [r for r in records if r.feasible and all(n in r.metrics for n in names)]
    mask = pareto_mask([[r.metrics[n] for n in names] for r in candidates], directions)
    for r in records:
        r.on_front = False
    front = [r for r, keep in zip(candidates, mask, strict=True) if keep]
    for r in front:
        r.on_front = True
    return sorted(front, key=lambda r: r.metrics[names[0]], reverse=directions[0] == "maximize")


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
    with path.open("w", newline="") as f:
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
    path.write_text(json.dumps(_json_safe(payload), indent=2))


def write_report(
    spec: SearchSpec,
    records: list[TrialRecord],
    out_dir: Path,
    plots: bool = True,
    analysis_data: Path | None = None,
) -> dict[str, Path]:
    """Write ``pareto.json``, ``trials.csv`` and (with matplotlib) the PNG figures.

    With ``analysis_data`` (a SQuAD file), also the error analysis of the front trials that
    wrote predictions for it, under ``<out_dir>/analysis`` (see :mod:`lit_distill.analysis.search_front`).

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
    if analysis_data is not None:
        from lit_distill.analysis.search_front import analyze_front

        files.update(analyze_front(front, analysis_data, out_dir / "analysis", plots=plots))
    return files
