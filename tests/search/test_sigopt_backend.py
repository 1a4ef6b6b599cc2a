"""The SigOpt backend against an in-memory fake server; credentials only from the environment."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lit_distill.commands.search import main
from lit_distill.search.sigopt_backend import SigOptWorker, connection_settings, records_from_experiment
from lit_distill.search.sigopt_experiment import experiment_body
from lit_distill.search.spec import SearchSpecError, load_spec

from .fake_sigopt import FakeSigOpt
from .helpers import spec_dict, write_spec

SECRET = "tok-very-secret-123"


def _raw(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    raw = spec_dict(tmp_path, backend={"type": "sigopt"}, observation_budget=5, parallel_bandwidth=2)
    raw["parameters"].append(
        {
            "name": "fail",
            "key": "model.fail",
            "type": "categorical",
            "categorical_values": ["none", "cuda_oom"],
        }
    )
    raw["parameters"].append(
        {
            "name": "lr",
            "key": "model.other",
            "type": "double",
            "bounds": {"min": 1e-5, "max": 1e-2},
            "transformation": "log",
        }
    )
    raw["monotone_chains"] = [
        {"name": "lengths", "key": "model.length_config", "length": 2, "bounds": {"min": 2, "max": 9}}
    ]
    raw["linear_constraints"] = [
        {"type": "less_than", "threshold": 0.9, "terms": [{"name": "knob", "weight": 1}]}
    ]
    raw["produced_metrics"] = []
    return raw


def test_experiment_body_is_sigopt_shaped(tmp_path: Path) -> None:
    body = experiment_body(load_spec(write_spec(tmp_path, _raw(tmp_path))))
    params = {p["name"]: p for p in body["parameters"]}
    assert params["hidden"] == {"name": "hidden", "type": "int", "bounds": {"min": 1, "max": 64}}
    assert params["lr"]["transformation"] == "log"
    assert params["fail"]["categorical_values"] == [{"name": "none"}, {"name": "cuda_oom"}]
    assert params["lengths.u0"]["bounds"] == {"min": 0.0, "max": 1.0}
    assert body["metrics"][0] == {
        "name": "exact",
        "objective": "maximize",
        "strategy": "optimize",
        "threshold": 60.0,
    }
    assert body["metrics"][2]["strategy"] == "store"
    assert body["linear_constraints"] == [
        {"type": "less_than", "threshold": 0.9, "terms": [{"name": "knob", "weight": 1.0}]}
    ]
    assert body["observation_budget"] == 5 and body["parallel_bandwidth"] == 2


def test_runs_trials_and_reports_failures_as_failed_observations(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = load_spec(write_spec(tmp_path, _raw(tmp_path)))
    server = FakeSigOpt(seed=3)
    with caplog.at_level(logging.DEBUG, logger="lit_distill.search"):
        assert SigOptWorker(spec, connection=server).run(threads=1) == 5
    assert len(server.observations) == 5
    for obs in server.observations:
        if obs.assignments["fail"] == "cuda_oom":
            assert obs.failed and obs.metadata["outcome"] == "oom"
        else:
            assert not obs.failed and {v.name for v in obs.values} == {"exact", "num_parameters", "f1"}
    assert any(o.failed for o in server.observations) and any(not o.failed for o in server.observations)
    # resume: the experiment id is reused, nothing new is created
    again = SigOptWorker(spec, connection=server)
    assert again.experiment_id == "42" and again.run() == 0
    records = records_from_experiment(spec, connection=server)
    assert len(records) == 5 and {r.outcome for r in records} == {"complete", "oom"}
    lengths = [r.assignment["lengths"] for r in records]
    assert all(a >= b for a, b in lengths)
    assert SECRET not in caplog.text


def test_missing_credentials_fail_before_any_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SIGOPT_API_TOKEN", raising=False)
    monkeypatch.setenv("SIGOPT_API_URL", "http://localhost:1")
    with pytest.raises(SearchSpecError, match="needs SIGOPT_API_TOKEN in the environment"):
        connection_settings()
    path = write_spec(tmp_path, _raw(tmp_path))
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "SIGOPT_API_TOKEN" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "trials").exists()


def test_token_is_never_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIGOPT_API_TOKEN", SECRET)
    monkeypatch.delenv("SIGOPT_API_URL", raising=False)
    path = write_spec(tmp_path, _raw(tmp_path))
    assert main(["check", "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert "SIGOPT_API_URL" in captured.err and SECRET not in captured.err + captured.out
