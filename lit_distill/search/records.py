"""Search trials as backend-neutral records, and the Pareto front among them.

Optuna trials and SigOpt observations both become :class:`TrialRecord`;
:mod:`lit_distill.search.report` writes them to disk and :mod:`lit_distill.search.plots`
draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from lit_distill.search.pareto import pareto_mask
from lit_distill.search.spec import SearchSpec

__all__ = ["TrialRecord", "flag_front", "record_from_trial", "records_from_study"]


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
