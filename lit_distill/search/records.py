"""Search trials as backend-neutral records, and the Pareto front among them.

Optuna trials and SigOpt observations both become :class:`TrialRecord`;
:mod:`lit_distill.search.report` writes them to disk and :mod:`lit_distill.search.plots`
draws them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from lit_distill.checks import is_number
from lit_distill.search.pareto import pareto_mask
from lit_distill.search.runner import trial_dir
from lit_distill.search.space import assignment_problem
from lit_distill.search.spec import SearchSpec, SearchSpecError
from lit_distill.search.storage import study_name

log = logging.getLogger("lit_distill.search")

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


def record_from_trial(trial: FrozenTrial, spec: SearchSpec) -> TrialRecord:
    """A report record from an Optuna trial written by :class:`OptunaWorker`, checked against ``spec``.

    What the study stores is data that anyone with access to the storage can edit, so it is
    checked before use: the assignment must be a point of the spec's space and the metrics
    numbers. The trial's directory is never read from the study: it is
    ``<output_dir>/trials/<number>`` of this spec (:func:`~lit_distill.search.runner.trial_dir`).

    Raises:
        SearchSpecError: Naming the trial and the stored value that is not allowed.
    """
    attrs = trial.user_attrs
    state = trial.state.name
    default = "running" if trial.state in (TrialState.RUNNING, TrialState.WAITING) else "fail"
    assignment = attrs.get("assignment", {})
    problem = assignment_problem(spec, assignment) if assignment else None
    metrics = attrs.get("metrics", {})
    if problem is None and not (isinstance(metrics, dict) and all(is_number(v) for v in metrics.values())):
        problem = f"metrics {metrics!r} are not numbers by name"
    if problem is not None:
        raise SearchSpecError(
            f"study {study_name(spec)!r}: trial {trial.number}: "
            f"the stored {problem}; the study storage was edited or holds another spec's study "
            "(set backend.study_name for a new one)"
        )
    return TrialRecord(
        number=trial.number,
        state=state,
        outcome=str(attrs.get("outcome", default)),
        feasible=bool(attrs.get("feasible", False)) and attrs.get("outcome") == "complete",
        assignment=dict(assignment),
        metrics={str(k): float(v) for k, v in metrics.items()},
        reason=str(attrs.get("reason", "")),
        trial_dir=str(trial_dir(spec, trial.number)),
    )


def records_from_study(study: optuna.Study, spec: SearchSpec) -> list[TrialRecord]:
    """Every trial of a study as a record (:func:`record_from_trial`), surplus trials (never run) left out."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("outcome") != "surplus"]
    records = [record_from_trial(t, spec) for t in trials]
    moved = [
        t.number
        for t, r in zip(trials, records, strict=True)
        if "trial_dir" in t.user_attrs and Path(str(t.user_attrs["trial_dir"])) != Path(r.trial_dir)
    ]
    if moved:
        log.warning(
            "trial(s) %s: the study records another trial_dir than this spec's %s/trials/<number>; "
            "paths are never taken from the study, so these are used",
            ", ".join(map(str, moved[:10])) + (" …" if len(moved) > 10 else ""),
            spec.output_dir,
        )
    return records


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
