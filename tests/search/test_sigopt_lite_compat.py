"""SigOpt-Lite on the numpy 2 stack: the alias it needs, and every SigOpt feature the spec language
uses, through SigOpt's real optimiser (each test reaches its Gaussian-process phase)."""

from __future__ import annotations

import importlib.metadata
import logging
import math
from pathlib import Path
from typing import Any

import pytest

from lit_distill.search.records import TrialRecord, flag_front
from lit_distill.search.sigopt_experiment import experiment_body, feasible, typed_assignments
from lit_distill.search.sigopt_lite_compat import LITE_PACKAGES, apply_numpy_aliases, lite_connection
from lit_distill.search.space import decode
from lit_distill.search.spec import SearchSpec, load_spec

from .fake_sigopt import needs_lite
from .helpers import ROOT, spec_dict, write_spec

pytestmark = needs_lite


def _spec(tmp_path: Path, parameters: list[dict[str, Any]], **changes: Any) -> SearchSpec:
    raw = spec_dict(tmp_path, backend={"type": "sigopt", "driver": "lite"}, **changes)
    raw["parameters"] = parameters
    raw["produced_metrics"] = []
    return load_spec(write_spec(tmp_path, raw))


def _gp_suggestions(caplog: pytest.LogCaptureFixture) -> int:
    """Suggestions libsigopt computed with its Gaussian process (logged by its views)."""
    return sum(
        "'endpoint': 'gp_next_points" in r.getMessage() and "'type': 'return'" in r.getMessage()
        for r in caplog.records
    )


def test_the_pinned_packages_and_the_install_line_agree() -> None:
    for pin in LITE_PACKAGES:
        name, version = pin.split("==")
        assert importlib.metadata.version(name) == version, pin
    line = "--no-deps " + " ".join(LITE_PACKAGES)  # README and .ci/run install the same versions
    assert line in (ROOT / "README.md").read_text()
    assert line in (ROOT / ".ci/run").read_text()


def test_numpy_product_alias_is_what_libsigopt_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy

    lite_connection()
    from libsigopt.compute.probabilistic_failures import (
        FailureListProductComponents,
        ProductOfListOfProbabilisticFailures,
    )

    probability = ProductOfListOfProbabilisticFailures._compute_probability_of_success
    parts = FailureListProductComponents(poss=numpy.array([[0.5, 1.0], [0.5, 0.2]]), grad_poss=None)
    assert probability(None, parts).tolist() == pytest.approx([0.25, 0.2])
    monkeypatch.delattr(numpy, "product")  # as numpy 2 ships: libsigopt 1.0.0 breaks without the alias
    with pytest.raises(AttributeError, match="product"):
        probability(None, parts)
    apply_numpy_aliases()
    assert numpy.product is numpy.prod and probability(None, parts).tolist() == pytest.approx([0.25, 0.2])


def test_parameter_types_round_trip_through_sigopt_lite(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = _spec(
        tmp_path,
        [
            {"name": "knob", "key": "model.a", "type": "double", "bounds": {"min": 0.0, "max": 1.0}},
            {"name": "hidden", "key": "model.b", "type": "int", "bounds": {"min": 1, "max": 64}},
            {
                "name": "lr",
                "key": "model.c",
                "type": "double",
                "bounds": {"min": 1e-5, "max": 1e-2},
                "transformation": "log",
            },
            {"name": "rule", "key": "model.d", "type": "categorical", "categorical_values": ["sum", 7]},
            {"name": "heads", "key": "model.e", "type": "int", "grid": [1, 2, 4]},
        ],
        observation_budget=20,
    )
    body = experiment_body(spec)
    assert {p["name"]: p.get("transformation") for p in body["parameters"]}["lr"] == "log"
    conn = lite_connection()
    experiment = conn.experiments(conn.experiments().create(**body).id)
    seen = []
    with caplog.at_level(logging.INFO, logger="libsigopt"):
        for _ in range(14):
            suggestion = experiment.suggestions().create()
            a = decode(spec, typed_assignments(spec, dict(suggestion.assignments)))
            seen.append(a)
            exact = 100 * (1 - abs(a["knob"] - 0.3)) - abs(math.log10(a["lr"]) + 3)
            values = [
                {"name": "exact", "value": exact},
                {"name": "num_parameters", "value": float(a["hidden"] * a["heads"])},
                {"name": "f1", "value": exact + (a["rule"] == 7)},
            ]
            experiment.observations().create(suggestion=suggestion.id, values=values)
    assert _gp_suggestions(caplog) >= 1  # the last suggestions came from the Gaussian process
    for a in seen:
        assert 0.0 <= a["knob"] <= 1.0
        assert isinstance(a["hidden"], int) and 1 <= a["hidden"] <= 64
        assert 1e-5 <= a["lr"] <= 1e-2
        assert a["rule"] in ("sum", 7)  # the number comes back as the spec's number, not "7"
        assert a["heads"] in (1, 2, 4)
    assert {type(a["rule"]) for a in seen} <= {str, int}


def test_constraints_thresholds_failures_and_best_assignments(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = _spec(
        tmp_path,
        [
            {"name": "x", "key": "model.x", "type": "double", "bounds": {"min": 0.0, "max": 1.0}},
            {"name": "y", "key": "model.y", "type": "double", "bounds": {"min": 0.0, "max": 1.0}},
        ],
        metrics=[
            {"name": "exact", "objective": "maximize", "threshold": 20},
            {"name": "num_parameters", "objective": "minimize"},
            {"name": "f1", "objective": "maximize", "strategy": "constraint", "threshold": 10},
        ],
        linear_constraints=[
            {
                "type": "less_than",
                "threshold": 1.2,
                "terms": [{"name": "x", "weight": 1}, {"name": "y", "weight": 1}],
            }
        ],
        observation_budget=12,
    )
    conn = lite_connection()
    experiment = conn.experiments(conn.experiments().create(**experiment_body(spec)).id)
    records = []
    with caplog.at_level(logging.INFO, logger="libsigopt"):
        for i in range(10):
            suggestion = experiment.suggestions().create()
            a = dict(suggestion.assignments)
            assert a["x"] + a["y"] <= 1.2 + 1e-9, a  # every suggestion, random or GP, keeps the constraint
            if i in (1, 4):  # an out-of-memory trial, a crash: SigOpt learns from failed observations
                experiment.observations().create(suggestion=suggestion.id, failed=True)
                records.append(TrialRecord(i, "FAIL", "fail", False, a))
                continue
            metrics = {"exact": 100 * a["x"], "num_parameters": 10 * a["y"] + 1, "f1": 100 * a["y"]}
            values = [{"name": k, "value": v} for k, v in metrics.items()]
            experiment.observations().create(suggestion=suggestion.id, values=values)
            records.append(TrialRecord(i, "COMPLETE", "complete", feasible(spec, metrics), a, metrics))
    # the constraint metric sends libsigopt through numpy.product (the alias) from its first GP suggestion
    assert _gp_suggestions(caplog) >= 1
    observations = list(experiment.observations().fetch().iterate_pages())
    assert [o.failed for o in observations] == [r.outcome == "fail" for r in records]
    best = [dict(b.assignments) for b in experiment.best_assignments().fetch().iterate_pages()]
    front = flag_front(spec, records)
    assert front, "no feasible trial: the test's metrics should give some"
    assert sorted(map(sorted_items, best)) == sorted(sorted_items(r.assignment) for r in front)


def sorted_items(mapping: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(mapping.items()))
