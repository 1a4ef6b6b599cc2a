"""The Optuna backend with the millisecond fake launcher: outcomes told right, budget, resume, workers, SIGKILL."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from lit_distill.search.optuna_backend import (
    GP_MAX_BUDGET,
    OptunaWorker,
    load_study,
    make_sampler,
    pessimistic_values,
    resolve_sampler,
)
from lit_distill.search.runner import TrialOutcome, trial_dir
from lit_distill.search.spec import SearchSpec, load_spec, parse_spec

from .helpers import ROOT, process_gone, spec_dict, write_spec

FAIL_PARAM = {
    "name": "fail",
    "key": "model.fail",
    "type": "categorical",
    "categorical_values": ["none", "cuda_oom", "crash"],
}


def _spec(tmp_path: Path, **changes: Any) -> SearchSpec:
    return load_spec(write_spec(tmp_path, spec_dict(tmp_path, **changes)))


def _search(tmp_path: Path, spec_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lit_distill", "search", *args, "--config", str(spec_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_outcomes_are_told_as_documented(tmp_path: Path) -> None:
    raw = spec_dict(tmp_path, observation_budget=4)
    raw["parameters"].append(FAIL_PARAM)
    spec = load_spec(write_spec(tmp_path, raw))
    study = load_study(spec)
    for knob, fail in ((0.3, "none"), (0.9, "none"), (0.3, "cuda_oom"), (0.3, "crash")):
        study.enqueue_trial({"knob": knob, "hidden": 4, "fail": fail})
    assert OptunaWorker(spec).run() == 4

    t0, t1, t2, t3 = load_study(spec).get_trials()
    assert t0.state == TrialState.COMPLETE and t0.values == [90.0, 41.0]
    assert t0.user_attrs["feasible"] and t0.constraints == {"oom": 0.0, "threshold:exact": -30.0}
    assert t0.user_attrs["metrics"]["f1"] == 95.0 and t0.user_attrs["assignment"]["knob"] == 0.3

    assert t1.state == TrialState.COMPLETE and t1.values == pytest.approx([30.0, 41.0])  # real values
    assert not t1.user_attrs["feasible"] and t1.constraints["threshold:exact"] == pytest.approx(30.0)

    # out of memory: COMPLETE (so samplers learn), pessimistic values, violated constraint
    assert t2.state == TrialState.COMPLETE and t2.user_attrs["outcome"] == "oom"
    assert t2.values == pytest.approx([30.0, 41.0])  # worst exact and worst num_parameters seen so far
    assert t2.constraints["oom"] == 1.0 and not t2.user_attrs["feasible"]
    assert "CUDA out of memory" in t2.user_attrs["reason"]

    assert t3.state == TrialState.FAIL and t3.user_attrs["outcome"] == "fail"
    assert "fake crash" in Path(t3.user_attrs["log"]).read_text()  # log kept


def test_pessimistic_values_fallbacks(tmp_path: Path) -> None:
    raw = spec_dict(tmp_path)
    raw["metrics"][1]["pessimistic"] = 1e9
    spec = load_spec(write_spec(tmp_path, raw))
    assert pessimistic_values(spec, []) == [60.0, 1e9]  # exact: its threshold; num_parameters: given


def test_stopped_search_resumes_without_rerunning(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    assert OptunaWorker(spec, budget=3).run() == 3
    first = {t.number: t.values for t in load_study(spec).get_trials()}
    assert OptunaWorker(spec, budget=5).run() == 2
    trials = load_study(spec).get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3, 4]
    assert {t.number: t.values for t in trials[:3]} == first
    runs = (spec.output_dir / "trials" / "runs.txt").read_text().split()
    assert sorted(runs) == [f"{n:05d}" for n in range(5)]  # every trial ran exactly once
    assert OptunaWorker(spec, budget=5).run() == 0  # budget used: nothing more


def test_linear_constraint_violations_are_never_run(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        observation_budget=5,
        linear_constraints=[
            {"type": "less_than", "threshold": 0.5, "terms": [{"name": "knob", "weight": 1}]}
        ],
    )
    OptunaWorker(spec).run()
    trials = load_study(spec).get_trials()
    ran = [t for t in trials if t.user_attrs.get("outcome") == "complete"]
    rejected = [t for t in trials if t.user_attrs.get("outcome") == "linear_constraint"]
    assert len(ran) == 5 and all(t.params["knob"] <= 0.5 for t in ran)
    assert all(t.params["knob"] > 0.5 and t.constraints["linear"] == 1.0 for t in rejected)
    assert not any((trial_dir(spec, t.number) / "outcome.json").exists() for t in rejected)


def test_finished_trial_of_a_dead_worker_is_recovered(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    study = load_study(spec)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    host = os.uname().nodename
    for with_outcome in (True, False):
        trial = study.ask({})
        trial.suggest_float("knob", 0, 1)
        trial.suggest_int("hidden", 1, 64)
        trial.set_user_attr("worker", f"{host}:{dead_pid}")
        directory = trial_dir(spec, trial.number)
        trial.set_user_attr("trial_dir", str(directory))
        if with_outcome:
            directory.mkdir(parents=True)
            metrics = {"exact": 75.0, "num_parameters": 9.0, "f1": 80.0}
            (directory / "outcome.json").write_text(TrialOutcome("complete", metrics).to_json())
    worker = OptunaWorker(spec)
    assert worker.recover() == 2
    t0, t1, t2 = load_study(spec).get_trials()
    assert t0.state == TrialState.COMPLETE and t0.values == [75.0, 9.0] and t0.user_attrs["recovered"]
    assert t1.state == TrialState.FAIL and t1.user_attrs["outcome"] == "interrupted"
    assert t2.state == TrialState.WAITING and t2.system_attrs["fixed_params"] == t1.params  # queued again
    assert t2.user_attrs["rerun_of"] == 1
    assert worker.recover() == 0  # nothing left to recover


def test_trial_claimed_by_no_worker_is_closed_before_the_last_worker_leaves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A storage error inside ``ask`` leaves a RUNNING trial without a worker: it must not end the search."""
    # an in-process `search` command of an earlier test gave the logger its own stderr handler
    monkeypatch.setattr(logging.getLogger("lit_distill.search"), "propagate", True)
    spec = _spec(tmp_path, observation_budget=2, stale_after_s=1.5)
    orphan = load_study(spec).ask()  # created, then (as if the connection dropped) never claimed
    assert OptunaWorker(spec).run() == 2
    assert f"trial(s) {orphan.number} were created but claimed by no worker" in caplog.text
    assert f"trial {orphan.number}: created, but claimed by no worker" in caplog.text
    trials = load_study(spec).get_trials()
    assert trials[orphan.number].state == TrialState.FAIL
    assert trials[orphan.number].user_attrs["outcome"] == "abandoned"
    assert trials[orphan.number].user_attrs["uncounted"]
    counted = [t for t in trials if not t.user_attrs.get("uncounted")]
    assert len(counted) == 2 and all(t.state == TrialState.COMPLETE for t in counted)


def test_storage_error_between_ask_and_claim_closes_the_asked_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec(tmp_path, observation_budget=2)
    worker = OptunaWorker(spec)
    real, calls = worker._trial_id, []

    def flaky(number: int) -> int:
        calls.append(number)
        if len(calls) == 1:  # the first lookup after the first ask: the server dropped the call
            raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("server closed the connection"))
        return real(number)

    monkeypatch.setattr(worker, "_trial_id", flaky)
    assert worker.run() == 2
    first, *rest = load_study(spec).get_trials()
    assert first.state == TrialState.FAIL and first.user_attrs["outcome"] == "abandoned"
    assert [t.state for t in rest] == [TrialState.COMPLETE, TrialState.COMPLETE]


@pytest.mark.parametrize("storage", ["journal", "sqlite"])
def test_two_workers_share_one_study(tmp_path: Path, storage: str) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}" if storage == "sqlite" else str(tmp_path / "study.journal")
    raw = spec_dict(tmp_path, observation_budget=8)
    raw["fixed"] = {"model.init_args.sleep": 0.4}
    raw["produced_metrics"] = []
    path = write_spec(tmp_path, raw)
    workers = [_search(tmp_path, path, "worker", "--storage", url, "--seed", str(i)) for i in range(2)]
    outputs = [w.communicate(timeout=120)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs

    spec = load_spec(path)
    trials = load_study(spec, url).get_trials()
    counted = [t for t in trials if not t.user_attrs.get("uncounted")]
    assert len(counted) == 8 and all(t.state == TrialState.COMPLETE for t in counted)
    assert len({t.user_attrs["worker"] for t in counted}) == 2  # both workers took trials
    runs = (spec.output_dir / "trials" / "runs.txt").read_text().split()
    assert sorted(runs) == sorted(f"{t.number:05d}" for t in counted)  # none lost, none run twice
    for t in counted:  # what the optimiser holds is what the trial wrote
        written = json.loads((trial_dir(spec, t.number) / "metrics.json").read_text())
        assert t.values == [written["exact"], written["num_parameters"]]


def test_sigkill_loses_no_finished_trial_and_reruns_the_interrupted_one(tmp_path: Path) -> None:
    raw = spec_dict(tmp_path, observation_budget=3)
    raw["fixed"] = {"model.init_args.sleep": 1.5}
    path = write_spec(tmp_path, raw)
    spec = load_spec(path)
    search = _search(tmp_path, path, "run", "--no-report")
    deadline = time.time() + 90
    while not (trial_dir(spec, 1) / "command.txt").exists():
        assert time.time() < deadline and search.poll() is None, search.stdout.read() if search.stdout else ""
        time.sleep(0.1)
    time.sleep(0.3)
    search.send_signal(signal.SIGKILL)
    search.wait()
    study = load_study(spec)
    t0, t1 = study.get_trials()
    assert t0.state == TrialState.COMPLETE and t1.state == TrialState.RUNNING
    child = int(t1.user_attrs["pid"])
    if not process_gone(child, within_s=5):  # the trial process dies with its search (PR_SET_PDEATHSIG)
        pytest.fail(f"trial process {child} outlived the killed search")

    again = _search(tmp_path, path, "run", "--no-report")
    out = again.communicate(timeout=120)[0]
    assert again.returncode == 0, out
    assert "trial 1: worker" in out and "marked FAIL (interrupted), queued again" in out
    trials = load_study(spec).get_trials()
    assert trials[0].values == t0.values  # the finished trial survived untouched
    assert trials[1].state == TrialState.FAIL and trials[1].user_attrs["outcome"] == "interrupted"
    assert trials[2].params == t1.params and trials[2].user_attrs["rerun_of"] == 1
    counted = [t for t in trials if not t.user_attrs.get("uncounted")]
    assert len(counted) == 3 and all(t.state == TrialState.COMPLETE for t in counted)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "gp"),  # a small sequential search
        ({"observation_budget": GP_MAX_BUDGET + 1}, "tpe"),  # GP's cost grows with the cube of the trials
        ({"parallel_bandwidth": 2}, "tpe"),  # only TPE's constant liar spreads concurrent trials
        ({"backend": {"sampler": "tpe"}}, "tpe"),
        ({"backend": {"sampler": "random"}}, "random"),
    ],
)
def test_auto_sampler_is_gp_for_small_sequential_searches(
    tmp_path: Path, changes: dict, expected: str
) -> None:
    spec = parse_spec(spec_dict(tmp_path, **changes), tmp_path / "spec.yaml")
    assert resolve_sampler(spec) == expected
    kinds = {
        "gp": optuna.samplers.GPSampler,
        "tpe": optuna.samplers.TPESampler,
        "random": optuna.samplers.RandomSampler,
    }
    assert isinstance(make_sampler(spec, 0), kinds[expected])
