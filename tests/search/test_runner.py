"""The trial runner: real `python -m lit_distill fit` subprocesses on the toy module, and classification."""

from __future__ import annotations

import json
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lit_distill.search.runner import build_command, classify, read_outcome, run_trial
from lit_distill.search.spec import parse_spec

from .helpers import ROOT, spec_dict

REQUIRED = ["exact", "num_parameters"]


def test_classify_outcomes() -> None:
    ok = {"exact": 70.0, "num_parameters": 5.0}
    assert classify(0, "", ok, REQUIRED) == ("complete", "")
    assert classify(0, "", None, REQUIRED)[0] == "fail"
    status, reason = classify(0, "", {"exact": 1.0}, REQUIRED)
    assert status == "fail" and "lacks ['num_parameters']" in reason
    assert classify(0, "", {"exact": float("nan"), "num_parameters": 1.0}, REQUIRED)[0] == "fail"
    cuda = "Traceback ...\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
    assert classify(1, cuda, None, REQUIRED) == ("oom", f"out of memory: {cuda.splitlines()[1]}")
    assert classify(1, "Traceback ...\nMemoryError\n", None, REQUIRED)[0] == "oom"
    assert (
        classify(
            1, "RuntimeError: [enforce fail] DefaultCPUAllocator: can't allocate memory", None, REQUIRED
        )[0]
        == "oom"
    )
    status, reason = classify(-signal.SIGKILL, "", None, REQUIRED)
    assert status == "oom" and "SIGKILL" in reason
    status, reason = classify(1, "Traceback\nValueError: bad thing\n", None, REQUIRED)
    assert status == "fail" and "ValueError: bad thing" in reason and "code 1" in reason
    assert classify(None, "", None, REQUIRED, timed_out=True)[0] == "fail"


def test_command_adds_trial_result_and_writes_overrides(tmp_path: Path) -> None:
    spec = parse_spec(spec_dict(tmp_path, fake=False), tmp_path / "spec.yaml")
    argv = build_command(spec, tmp_path, {"model.init_args.knob": 0.3})
    assert argv[-1] == "--trainer.callbacks+=lit_distill.callbacks.trial_result.TrialResult"
    assert argv[1:4] == ["-m", "lit_distill", "fit"]
    text = (tmp_path / "overrides.yaml").read_text()
    assert "knob: 0.3" in text and f"default_root_dir: {tmp_path}" in text


@pytest.mark.slow
def test_real_trials_complete_and_oom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two real Lightning trials at once: the overrides reach the module, CUDA OOM is recognised."""
    monkeypatch.chdir(ROOT)  # trials import this worktree's code and tests.search.toy
    raw = spec_dict(tmp_path, fake=False)
    raw["metrics"].append({"name": "HasAns_f1", "strategy": "store"})
    spec = parse_spec(raw, tmp_path / "spec.yaml")
    runs = {
        "ok": {
            "model.init_args.knob": 0.4,
            "model.init_args.hidden": 3,
            "model.init_args.length_config": [4, 2],
        },
        "cuda_oom": {"model.init_args.fail": "cuda_oom"},
    }
    with ThreadPoolExecutor(2) as pool:
        futures = {k: pool.submit(run_trial, spec, tmp_path / k, v) for k, v in runs.items()}
        outcomes = {k: f.result() for k, f in futures.items()}

    ok = outcomes["ok"]
    assert ok.status == "complete", (ok.reason, Path(ok.log).read_text()[-3000:])
    assert ok.metrics["exact"] == pytest.approx(80.0)  # 90 - 100·|0.4 - 0.3|
    assert ok.metrics["HasAns_f1"] == pytest.approx(86.0)
    assert ok.metrics["length_sum"] == 6.0
    assert ok.metrics["num_parameters"] == 10 * 3 + 3 + 1  # Embedding(10, 3) + Linear(3, 1)
    assert ok.metrics["num_parameters_no_embeddings"] == 4
    assert ok.metrics["eval_time_s"] > 0
    on_disk = json.loads((tmp_path / "ok" / "metrics.json").read_text())
    assert on_disk["exact"] == pytest.approx(80.0)
    assert read_outcome(tmp_path / "ok") == ok

    oom = outcomes["cuda_oom"]
    assert oom.status == "oom" and "CUDA out of memory" in oom.reason and oom.metrics == {}
    assert "Traceback" in Path(oom.log).read_text()


def test_crash_is_a_failure_with_its_log_kept(tmp_path: Path) -> None:
    spec = parse_spec(spec_dict(tmp_path), tmp_path / "spec.yaml")  # fake launcher: milliseconds
    crash = run_trial(spec, tmp_path / "t", {"model.init_args.fail": "crash"})
    assert crash.status == "fail" and "ValueError: fake crash" in crash.reason
    assert "ValueError: fake crash" in Path(crash.log).read_text()
    assert crash.returncode == 1 and read_outcome(tmp_path / "t") == crash


def test_missing_launcher_is_a_failed_trial_not_a_crash(tmp_path: Path) -> None:
    spec = parse_spec(spec_dict(tmp_path, launcher=["/nonexistent/python"]), tmp_path / "spec.yaml")
    outcome = run_trial(spec, tmp_path / "t", {})
    assert outcome.status == "fail" and "could not start" in outcome.reason


def test_timeout_kills_the_trial(tmp_path: Path) -> None:
    spec = parse_spec(spec_dict(tmp_path, trial_timeout_s=0.5), tmp_path / "spec.yaml")
    outcome = run_trial(spec, tmp_path / "t", {"model.init_args.sleep": 30})
    assert outcome.status == "fail" and "timed out" in outcome.reason and outcome.wall_s < 10
