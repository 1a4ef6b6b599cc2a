"""What an Optuna trial is told: constraint values and the pessimistic values of an out-of-memory trial.

Pure functions of the spec and the stored trials; :mod:`lit_distill.search.optuna_backend` calls them.
"""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from lit_distill.search.sampling import NATIVE_CONSTRAINTS
from lit_distill.search.spec import SearchSpec

#: Fallback pessimistic magnitude when nothing better is known (see :func:`pessimistic_values`).
FALLBACK_PESSIMISTIC = 1e18


def constraint_values(
    spec: SearchSpec, status: str, metrics: dict[str, float] | None = None
) -> dict[str, float]:
    """Named constraint values of a told trial (≤ 0 is satisfied), the same keys for every trial.

    ``oom`` is 1 for an out-of-memory trial (and every other constraint then reads violated too);
    ``linear`` is 1 for a suggestion that breaks a linear constraint; ``threshold:<metric>`` is
    the distance to the metric's threshold (:meth:`Metric.violation`).
    """
    bad = status in ("oom", "linear_constraint")
    values = {"oom": 1.0 if status == "oom" else 0.0}
    if spec.linear_constraints:
        values["linear"] = 1.0 if status == "linear_constraint" else 0.0
    for m in spec.thresholded:
        values[f"threshold:{m.name}"] = 1.0 if bad or metrics is None else m.violation(metrics[m.name])
    return values


def store_constraints(storage: optuna.storages.BaseStorage, trial_id: int, values: dict[str, float]) -> None:
    """Attach constraint values to a running trial so the sampler sees them when it is told."""
    storage.set_trial_user_attr(trial_id, "constraints", list(values.values()))
    if NATIVE_CONSTRAINTS:
        for key, value in values.items():
            storage.set_trial_system_attr(trial_id, f"constraints:{key}", float(value))


def pessimistic_values(spec: SearchSpec, trials: Sequence[FrozenTrial]) -> list[float]:
    """Values told for an out-of-memory trial, one per objective.

    Per metric: its ``pessimistic`` if given; else the worst value among trials that
    completed normally; else its threshold; else ``∓1e18``.
    """
    values = []
    for i, metric in enumerate(spec.objectives):
        seen = [
            t.values[i]
            for t in trials
            if t.state == TrialState.COMPLETE and t.user_attrs.get("outcome") == "complete" and t.values
        ]
        if metric.pessimistic is not None:
            values.append(metric.pessimistic)
        elif seen:
            values.append(min(seen) if metric.objective == "maximize" else max(seen))
        elif metric.threshold is not None:
            values.append(metric.threshold)
        else:
            values.append(-FALLBACK_PESSIMISTIC if metric.objective == "maximize" else FALLBACK_PESSIMISTIC)
    return values
