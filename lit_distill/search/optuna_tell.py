"""Telling an Optuna study how a trial ended: user attributes, constraint values, objective values.

What each outcome tells the optimiser is described in :mod:`lit_distill.search.optuna_backend`;
the values themselves come from :mod:`lit_distill.search.told_values`. Every function takes
the storage the study was opened on and the trial's storage id (``trial_id``), so that a
worker can close a trial another worker asked for (an interrupted one).
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import TrialState

from lit_distill.search.runner import TrialOutcome
from lit_distill.search.spec import SearchSpec
from lit_distill.search.told_values import constraint_values, pessimistic_values, store_constraints

__all__ = ["describe", "fail_uncounted", "tell_outcome", "tell_rejected"]


def _mark_uncounted(storage: optuna.storages.BaseStorage, trial_id: int, outcome: str, reason: str) -> None:
    """Record that the trial does not use the observation budget, and why."""
    storage.set_trial_user_attr(trial_id, "uncounted", True)
    storage.set_trial_user_attr(trial_id, "outcome", outcome)
    storage.set_trial_user_attr(trial_id, "reason", reason)


def fail_uncounted(
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    number: int,
    trial_id: int,
    outcome: str,
    reason: str,
) -> None:
    """Tell trial ``number`` FAIL without using the budget (interrupted, abandoned, surplus)."""
    _mark_uncounted(storage, trial_id, outcome, reason)
    study.tell(number, state=TrialState.FAIL)


def tell_rejected(
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    spec: SearchSpec,
    number: int,
    trial_id: int,
    violated: list[int],
) -> None:
    """Tell a suggestion that breaks linear constraints ``violated`` as infeasible, without running it."""
    _mark_uncounted(
        storage, trial_id, "linear_constraint", f"violates linear_constraints {violated}; not run"
    )
    store_constraints(storage, trial_id, constraint_values(spec, "linear_constraint"))
    study.tell(number, pessimistic_values(spec, study.get_trials(deepcopy=False)))


def tell_outcome(
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    spec: SearchSpec,
    number: int,
    trial_id: int,
    outcome: TrialOutcome,
    recovered: bool = False,
) -> None:
    """Tell a trial that ran: FAIL, out of memory (pessimistic values, infeasible) or its objectives."""
    attrs: dict[str, Any] = {"outcome": outcome.status, "reason": outcome.reason, "log": outcome.log}
    attrs["wall_s"] = outcome.wall_s
    if recovered:
        attrs["recovered"] = True
    if outcome.status == "fail":
        for k, v in attrs.items():
            storage.set_trial_user_attr(trial_id, k, v)
        study.tell(number, state=TrialState.FAIL)
        return
    if outcome.status == "oom":
        values = pessimistic_values(spec, study.get_trials(deepcopy=False))
        attrs["feasible"] = False
    else:
        values = [outcome.metrics[m.name] for m in spec.objectives]
        attrs["feasible"] = all(m.violation(outcome.metrics[m.name]) <= 0 for m in spec.thresholded)
        attrs["metrics"] = outcome.metrics
    for k, v in attrs.items():
        storage.set_trial_user_attr(trial_id, k, v)
    store_constraints(storage, trial_id, constraint_values(spec, outcome.status, outcome.metrics))
    study.tell(number, values)


def describe(spec: SearchSpec, number: int, assignment: dict[str, Any], outcome: TrialOutcome) -> str:
    """One log line for a finished trial: the objectives first, then the other metrics of the spec,
    then the parameters (e.g. ``trial 3: complete in 41.2 s: f1=52.31 num_parameters=2104322 |
    exact=49.6 | n_layers=2 alpha_ce=0.41``)."""
    shown = " ".join(f"{k}={_short(v)}" for k, v in assignment.items())
    if outcome.status != "complete":
        return (
            f"trial {number}: {outcome.status} after {outcome.wall_s:.1f} s: {outcome.reason} | {shown} "
            f"(log: {outcome.log})"
        )
    objectives = " ".join(f"{m.name}={_short(outcome.metrics[m.name])}" for m in spec.objectives)
    others = " ".join(
        f"{m.name}={_short(outcome.metrics[m.name])}" for m in spec.metrics if m.strategy != "optimize"
    )
    parts = [objectives, *([others] if others else []), shown]
    return f"trial {number}: complete in {outcome.wall_s:.1f} s: " + " | ".join(parts)


def _short(value: Any) -> str:
    """A whole number as it is, another number in four significant digits, a list in brackets."""
    if isinstance(value, list):
        return "[" + ",".join(_short(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
