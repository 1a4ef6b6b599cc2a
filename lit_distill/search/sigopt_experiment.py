"""What a search tells SigOpt and reads back, the same for a SigOpt server and SigOpt-Lite.

The search space is the same as Optuna's (chains reparametrised as fractions,
:func:`~lit_distill.search.space.optimizer_space`); metrics keep SigOpt's own
``objective``/``strategy``/``threshold``; linear constraints, ``observation_budget`` and
``parallel_bandwidth`` go to the experiment. SigOpt learns from failed observations, so an
out-of-memory trial and a crash are both ``failed`` observations.
"""

from __future__ import annotations

from typing import Any

from lit_distill.search.runner import TrialOutcome
from lit_distill.search.space import optimizer_space
from lit_distill.search.spec import SearchSpec


def experiment_body(spec: SearchSpec) -> dict[str, Any]:
    """The ``experiments().create`` arguments for a spec."""
    parameters: list[dict[str, Any]] = []
    for p in optimizer_space(spec):
        if p.type == "categorical":
            source = next((q for q in spec.parameters if q.name == p.name), None)
            if source is not None and source.grid is not None:
                kind = "int" if source.type == "int" else "double"
                parameters.append({"name": p.name, "type": kind, "grid": list(p.choices or ())})
            else:
                values = [{"name": str(v)} for v in p.choices or ()]
                parameters.append({"name": p.name, "type": "categorical", "categorical_values": values})
            continue
        entry: dict[str, Any] = {"name": p.name, "type": p.type, "bounds": {"min": p.low, "max": p.high}}
        if p.type == "int":
            entry["bounds"] = {"min": int(p.low or 0), "max": int(p.high or 0)}
        if p.log:
            entry["transformation"] = "log"
        parameters.append(entry)
    metrics = []
    for m in spec.metrics:
        metric: dict[str, Any] = {"name": m.name, "objective": m.objective, "strategy": m.strategy}
        if m.threshold is not None:
            metric["threshold"] = m.threshold
        metrics.append(metric)
    body: dict[str, Any] = {
        "name": spec.name,
        "parameters": parameters,
        "metrics": metrics,
        "observation_budget": spec.observation_budget,
        "parallel_bandwidth": spec.parallel_bandwidth,
    }
    if spec.backend.project:
        body["project"] = spec.backend.project
    if spec.linear_constraints:
        body["linear_constraints"] = [
            {
                "type": c.type,
                "threshold": c.threshold,
                "terms": [{"name": n, "weight": w} for n, w in c.terms],
            }
            for c in spec.linear_constraints
        ]
    return body


def typed_assignments(spec: SearchSpec, assignments: dict[str, Any]) -> dict[str, Any]:
    """SigOpt returns categorical values as strings; map them back to the spec's values."""
    out = dict(assignments)
    for p in spec.parameters:
        if p.type == "categorical" and p.name in out:
            by_text = {str(v): v for v in p.categories or ()}
            out[p.name] = by_text.get(str(out[p.name]), out[p.name])
    return out


def observation_values(spec: SearchSpec, outcome: TrialOutcome) -> dict[str, Any]:
    """The ``observations().create`` arguments that report a finished trial's result.

    ``{"values": [...]}`` (every metric of the spec, stored ones included) when it completed,
    else ``{"failed": True}`` (out of memory, crash, timeout, missing metrics).
    """
    if outcome.status != "complete":
        return {"failed": True}
    return {"values": [{"name": m.name, "value": outcome.metrics[m.name]} for m in spec.metrics]}


def feasible(spec: SearchSpec, metrics: dict[str, float]) -> bool:
    """Whether a complete trial's metrics meet every threshold of the spec."""
    return all(m.violation(metrics[m.name]) <= 0 for m in spec.thresholded if m.name in metrics)
