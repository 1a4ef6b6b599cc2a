"""SigOpt-Lite (``backend: {type: sigopt, driver: lite}``) end to end through ``python -m lit_distill search``.

The spec is the shipped quickstart length search (``configs/search/quickstart_length.yaml``:
four non-increasing per-layer lengths, F1 against evaluation time) on the toy base config,
with the search tests' millisecond launcher standing in for ``python -m lit_distill`` (its
metrics are a known function of the overrides): the optimiser is SigOpt's real one.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from lit_distill.commands.search import main
from lit_distill.search.records import flag_front
from lit_distill.search.runner import trial_dir
from lit_distill.search.sigopt_lite import SigOptLiteWorker, exclusive, lite_records
from lit_distill.search.spec import SearchSpecError, load_spec

from .fake_sigopt import needs_lite
from .helpers import FAKE_TRIAL, ROOT, TOY_FIT, process_gone, write_spec

pytestmark = needs_lite


def _raw(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    """The quickstart length search as SigOpt-Lite runs it, on the toy config and fake launcher."""
    raw = yaml.safe_load((ROOT / "configs/search/quickstart_length.yaml").read_text())
    raw.pop("holdout")
    raw.update(
        base_config=str(TOY_FIT),
        launcher=[sys.executable, str(FAKE_TRIAL)],
        output_dir=str(tmp_path / "out"),
        observation_budget=4,
        backend={"type": "sigopt", "driver": "lite", "seed": 0},
        # f1 comes from the knob, eval_time_s from the lengths: a front with a trade-off
        parameters=[
            {"name": "knob", "key": "model.knob", "type": "double", "bounds": {"min": 0.0, "max": 1.0}}
        ],
    )
    raw["monotone_chains"][0]["length"] = 2
    raw.update(changes)
    return raw


def _search(spec_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lit_distill", "search", *args, "--config", str(spec_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigkill_and_restart_replays_and_finishes_the_budget_then_writes_a_front(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    raw["fixed"] = {"model.init_args.sleep": 1.5}  # slow enough to be killed inside trial 1
    path = write_spec(tmp_path, raw)
    spec = load_spec(path)
    search = _search(path, "run", "--no-report")
    deadline = time.time() + 90
    while not (trial_dir(spec, 1) / "command.txt").exists():
        assert time.time() < deadline and search.poll() is None, search.stdout.read() if search.stdout else ""
        time.sleep(0.05)
    search.send_signal(signal.SIGKILL)
    search.wait()
    first = (trial_dir(spec, 0) / "outcome.json").read_text()
    killed = json.loads((trial_dir(spec, 1) / "suggestion.json").read_text())
    assert not (trial_dir(spec, 1) / "outcome.json").exists()
    for pid in _trial_pids(spec, 1):  # the trial process died with its search
        assert process_gone(pid, within_s=5), f"trial process {pid} outlived the killed search"

    again = _search(path, "run")  # resume, then the report
    out = again.communicate(timeout=120)[0]
    assert again.returncode == 0, out
    assert "replayed 1 finished trial(s) into a fresh SigOpt-Lite experiment" in out
    assert (
        "trial 1: the search process died while the trial ran; marked FAIL (interrupted), queued again" in out
    )
    assert (trial_dir(spec, 0) / "outcome.json").read_text() == first  # the finished trial was not run again
    rerun = json.loads((trial_dir(spec, 2) / "suggestion.json").read_text())
    assert rerun["rerun_of"] == 1 and rerun["assignments"] == killed["assignments"]
    runs = (spec.output_dir / "trials" / "runs.txt").read_text().split()
    assert runs.count("00000") == 1 and len(runs) == len(set(runs))  # no trial ran twice

    records = {r.number: r for r in lite_records(spec)}
    assert records[1].outcome == "interrupted" and records[1].state == "FAIL"
    finished = [r for r in records.values() if r.outcome == "complete"]
    assert len(finished) == 4 and sorted(records) == [0, 1, 2, 3, 4]  # the budget: 4 finished trials
    pareto = json.loads((spec.output_dir / "report" / "pareto.json").read_text())
    front = pareto["front"]
    assert front and all(t["metrics"]["f1"] > 0 for t in front)
    assert (spec.output_dir / "report" / "pareto_front.png").stat().st_size > 0
    assert "on the Pareto front (f1, eval_time_s)" in out


def _trial_pids(spec: Any, number: int) -> list[int]:
    """Processes whose command line names trial ``number``'s overrides (Linux /proc)."""
    needle = str(trial_dir(spec, number) / "overrides.yaml").encode()
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and needle in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize(
    ("changes", "args", "said"),
    [
        (
            {"parallel_bandwidth": 2},
            ["check"],
            "parallel_bandwidth: 2: backend sigopt with driver lite runs one",
        ),
        ({"parallel_bandwidth": 2}, ["run"], "SigOpt-Lite allows parallel_bandwidth 1 only"),
        ({}, ["worker"], "search worker: backend sigopt with driver lite keeps its experiment in the memory"),
        (
            {},
            ["run", "--threads", "2"],
            "--threads 2: backend sigopt with driver lite runs one trial at a time",
        ),
        (
            {
                "parameters": [
                    {"name": "knob", "key": "model.knob", "type": "double", "bounds": {"min": 0, "max": 1}}
                ],
                "linear_constraints": [
                    {"type": "less_than", "threshold": 0.9, "terms": [{"name": "knob", "weight": 1}]}
                ],
            },
            ["check"],
            "backend sigopt (driver lite) refuses this experiment: Constraint must have more than one term",
        ),
        (
            {"metrics": [{"name": "f1", "objective": "maximize", "threshold": 50}]},
            ["check"],
            "refuses this experiment: Thresholds are only supported for experiments with more than one",
        ),
    ],
)
def test_what_lite_cannot_do_is_refused_in_one_line_before_any_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict[str, Any], args: list[str], said: str
) -> None:
    path = write_spec(tmp_path, _raw(tmp_path, **changes))
    assert main([*args[:1], "--config", str(path), *args[1:]]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and said in errors[0] and "Traceback" not in err, err
    assert not (tmp_path / "out" / "trials" / "00000").exists()


def test_search_check_accepts_the_lite_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(tmp_path, _raw(tmp_path))
    assert main(["check", "--config", str(path)]) == 0
    assert "spec OK" in capsys.readouterr().out


def test_a_resumed_search_replays_into_the_gaussian_process_and_agrees_on_the_front(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger("lit_distill.search"), "propagate", True)  # whatever ran before
    spec = load_spec(write_spec(tmp_path, _raw(tmp_path, monotone_chains=[], observation_budget=5)))
    assert SigOptLiteWorker(spec).run() == 5  # one parameter: 5 random start-up suggestions
    with caplog.at_level(logging.INFO):
        worker = SigOptLiteWorker(spec, budget=7)
        assert worker.run() == 2  # the 5 on disk are replayed, not run again
    assert "replayed 5 finished trial(s)" in caplog.text
    # with the 5 replayed observations lite is past its start-up: its Gaussian process suggests
    gp = [
        r
        for r in caplog.records
        if r.name.startswith("libsigopt") and "'endpoint': 'gp_next_points" in r.getMessage()
    ]
    assert gp
    records = lite_records(spec)
    old, new = {r.assignment["knob"] for r in records[:5]}, [r.assignment["knob"] for r in records[5:]]
    assert len(records) == 7 and not old & set(new)  # new points, not the replayed ones again
    front = flag_front(spec, records)
    assert sorted(b["knob"] for b in worker.best_assignments) == sorted(r.assignment["knob"] for r in front)


def test_a_second_process_on_the_same_search_is_refused(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, _raw(tmp_path)))
    with (
        exclusive(spec),
        pytest.raises(
            SearchSpecError,
            match=r"is in use by another run: PID .* a SigOpt-Lite search runs in one process",
        ),
    ):
        SigOptLiteWorker(spec).run()


def test_report_without_trials_and_spec_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_spec(tmp_path, _raw(tmp_path))
    assert main(["report", "--config", str(path)]) == 2
    assert "no SigOpt-Lite trials in" in capsys.readouterr().err
    for backend, said in (
        ({"type": "optuna", "driver": "lite"}, "backend.driver: applies to type: sigopt only"),
        ({"type": "sigopt", "driver": "lite", "project": "p"}, "backend.project: driver lite keeps its one"),
        ({"type": "sigopt", "driver": "grpc"}, "backend.driver"),
    ):
        path = write_spec(tmp_path, _raw(tmp_path, backend=backend))
        assert main(["check", "--config", str(path)]) == 2
        assert said in capsys.readouterr().err


def test_sigopt_reporter_without_a_server_finds_no_run_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With the real package and no server, SigOpt has no run (lite serves experiments only)."""
    import sigopt

    from lit_distill.callbacks.sigopt_reporter import SigOptReporter

    from .toy import ToyData, ToyQA, quiet_trainer

    calls: list[str] = []
    for name in ("log_checkpoint", "log_metric", "log_metadata"):
        monkeypatch.setattr(sigopt, name, lambda *a, _n=name, **k: calls.append(_n))
    monkeypatch.setattr(logging.getLogger("lightning.pytorch"), "propagate", True)
    callback = SigOptReporter()
    with caplog.at_level("INFO"):
        quiet_trainer(str(tmp_path), [callback]).fit(ToyQA(knob=0.3), ToyData())
    assert sigopt.get_run_id() is None and not callback.active and calls == []
    notices = [r.getMessage() for r in caplog.records if "SigOptReporter" in r.getMessage()]
    assert len(notices) == 1 and "no SigOpt run context" in notices[0]
