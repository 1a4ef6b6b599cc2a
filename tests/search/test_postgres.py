"""Distributed search on a real PostgreSQL server (issue #16), with the millisecond fake trials.

Needs a server: ``eval "$(bash .ci/postgres.sh start)"`` exports ``LIT_DISTILL_TEST_POSTGRES_URL``
(and ``LIT_DISTILL_TEST_POSTGRES_CTL``, which the restart test uses to stop and start it).
Without one these tests are skipped with that reason; with ``LIT_DISTILL_REQUIRE_POSTGRES=1``
(set by ``.ci/run``) a missing server is a failure instead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from lit_distill.commands.search import main
from lit_distill.search import storage as storage_module
from lit_distill.search.optuna_backend import load_study
from lit_distill.search.pareto import pareto_mask
from lit_distill.search.runner import trial_dir
from lit_distill.search.spec import load_spec
from lit_distill.search.storage import open_study, redact

from .helpers import ROOT, spec_dict, write_spec

URL = os.environ.get("LIT_DISTILL_TEST_POSTGRES_URL", "")
CTL = os.environ.get("LIT_DISTILL_TEST_POSTGRES_CTL", "")
PASSWORD = URL.partition("://")[2].partition("@")[0].partition(":")[2]
NO_SERVER = (
    'no PostgreSQL server: run `eval "$(bash .ci/postgres.sh start)"` (sets LIT_DISTILL_TEST_POSTGRES_URL)'
)

if not URL and os.environ.get("LIT_DISTILL_REQUIRE_POSTGRES") == "1":
    raise RuntimeError(f"LIT_DISTILL_REQUIRE_POSTGRES=1 but {NO_SERVER}")
needs_server = pytest.mark.skipif(not URL, reason=NO_SERVER)


def _spec(tmp_path: Path, sleep: float, budget: int, **changes: Any) -> Path:
    raw = spec_dict(tmp_path, observation_budget=budget, **changes)
    raw["fixed"] = {"model.init_args.sleep": sleep}
    raw["produced_metrics"] = []
    raw["backend"] = {**raw["backend"], "study_name": f"test-{uuid.uuid4().hex[:12]}", "sampler": "tpe"}
    return write_spec(tmp_path, raw)


def _worker(spec_path: Path, tag: str) -> subprocess.Popen[str]:
    log = (spec_path.parent / f"worker-{tag}.log").open("w")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lit_distill",
            "search",
            "worker",
            "--config",
            str(spec_path),
            "--storage",
            URL,
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(workers: dict[str, subprocess.Popen[str]], spec_path: Path) -> dict[str, tuple[int, str]]:
    out = {}
    for tag, w in workers.items():
        w.wait(timeout=180)
        out[tag] = (w.returncode, (spec_path.parent / f"worker-{tag}.log").read_text())
    return out


def _check_consistent(spec_path: Path, budget: int) -> list[Any]:
    """Exact budget, every counted trial complete, run once, and stored exactly as it wrote its metrics."""
    spec = load_spec(spec_path)
    trials = load_study(spec, URL, create=False).get_trials()
    counted = [t for t in trials if not t.user_attrs.get("uncounted")]
    assert len(counted) == budget and all(t.state == TrialState.COMPLETE for t in counted)
    runs = (spec.output_dir / "trials" / "runs.txt").read_text().split()
    assert len(runs) == len(set(runs)), "a trial ran twice"
    assert {f"{t.number:05d}" for t in counted} <= set(runs)  # every counted trial really ran
    for t in counted:  # nothing half-written: what PostgreSQL holds is what the trial wrote
        written = json.loads((trial_dir(spec, t.number) / "metrics.json").read_text())
        assert t.values == [written["exact"], written["num_parameters"]]
        assert t.user_attrs["metrics"]["f1"] == written["f1"]
    return trials


@needs_server
def test_three_workers_share_one_study(tmp_path: Path) -> None:
    budget = 9
    path = _spec(tmp_path, sleep=0.8, budget=budget)
    results = _finish({str(i): _worker(path, str(i)) for i in range(3)}, path)
    assert all(rc == 0 for rc, _ in results.values()), results
    trials = [t for t in _check_consistent(path, budget) if t.state == TrialState.COMPLETE]
    runs = (load_spec(path).output_dir / "trials" / "runs.txt").read_text().split()
    assert sorted(runs) == [f"{t.number:05d}" for t in trials]  # none lost, none run twice
    assert len({t.user_attrs["worker"] for t in trials}) >= 2  # the work was shared

    # the report read back from PostgreSQL is what the workers recorded
    spec = load_spec(path)
    assert main(["report", "--config", str(path), "--storage", URL, "--no-plots"]) == 0
    payload = json.loads((spec.output_dir / "report" / "pareto.json").read_text())
    written = {t.number: json.loads((trial_dir(spec, t.number) / "metrics.json").read_text()) for t in trials}
    feasible = sorted(n for n, m in written.items() if m["exact"] >= 60)
    mask = pareto_mask(
        [[written[n]["exact"], written[n]["num_parameters"]] for n in feasible], ["maximize", "minimize"]
    )
    assert sorted(r["number"] for r in payload["front"]) == [
        n for n, on in zip(feasible, mask, strict=True) if on
    ]
    for r in payload["front"]:
        assert {k: r["metrics"][k] for k in ("exact", "num_parameters", "f1")} == {
            k: written[r["number"]][k] for k in ("exact", "num_parameters", "f1")
        }
    assert payload["trial_counts"]["complete"] == budget


def _wait_for(condition: Any, what: str, within_s: float = 120) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@needs_server
def test_sigkilled_worker_is_recovered_by_heartbeat_and_a_restarted_worker_continues(tmp_path: Path) -> None:
    budget = 4
    path = _spec(tmp_path, sleep=2.0, budget=budget, stale_after_s=3.0)
    spec = load_spec(path)
    victim = _worker(path, "victim")
    study, store = open_study(spec, URL)

    def victim_trial() -> Any:
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        return next((t for t in running if t.user_attrs.get("worker", "").endswith(f":{victim.pid}")), None)

    trial = _wait_for(victim_trial, "the victim's first trial")
    # As if the victim ran on another machine: only its stale heartbeat can tell that it died.
    trial_id = store.get_trial_id_from_study_id_trial_number(
        store.get_study_id_from_name(study.study_name), trial.number
    )
    store.set_trial_user_attr(trial_id, "worker", "another-host:1")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    results = _finish({"other": _worker(path, "other"), "restarted": _worker(path, "restarted")}, path)
    assert all(rc == 0 for rc, _ in results.values()), results

    trials = _check_consistent(path, budget)
    killed = trials[trial.number]
    assert killed.state == TrialState.FAIL and killed.user_attrs["outcome"] == "interrupted"
    assert "another-host:1 died" in killed.user_attrs["reason"]
    rerun = [t for t in trials if t.user_attrs.get("rerun_of") == trial.number]
    assert len(rerun) == 1 and rerun[0].params == killed.params and rerun[0].state == TrialState.COMPLETE
    logs = "".join(text for _, text in results.values())
    assert f"trial {trial.number}: worker another-host:1 died while it ran" in logs


@needs_server
@pytest.mark.skipif(
    not CTL, reason="LIT_DISTILL_TEST_POSTGRES_CTL (from .ci/postgres.sh) is needed to restart the server"
)
def test_workers_wait_for_a_restarted_database(tmp_path: Path) -> None:
    """Workers notice the outage (a failed call or a failed connection), wait for the server and continue."""
    budget = 6
    # stale_after_s: a trial the outage left claimed by no worker is closed within seconds
    path = _spec(tmp_path, sleep=1.0, budget=budget, stale_after_s=5.0)
    spec = load_spec(path)
    workers = {str(i): _worker(path, str(i)) for i in range(2)}
    study = load_study(spec, URL)
    _wait_for(lambda: len(study.get_trials(states=(TrialState.COMPLETE,))) >= 1, "a first complete trial")
    subprocess.run(f"{CTL} pause", shell=True, check=True, capture_output=True)
    time.sleep(3)
    subprocess.run(f"{CTL} resume", shell=True, check=True, capture_output=True)
    results = _finish(workers, path)
    for rc, text in results.values():
        assert rc == 0 and "Traceback" not in text and PASSWORD not in text, text
    logs = "".join(text for _, text in results.values())
    shown = redact(URL)
    assert f"a call to {shown} failed" in logs or f"study storage {shown} unreachable" in logs
    _check_consistent(path, budget)


@needs_server
@pytest.mark.parametrize("broken", ["password", "database", "host"])
def test_bad_storage_url_is_one_clear_error_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], broken: str
) -> None:
    head, _, tail = URL.partition("@")
    hostport, _, db = tail.partition("/")
    url = {
        "password": URL.replace(f":{PASSWORD}@", ":not-the-password@"),
        "database": f"{head}@{hostport}/no_such_database",
        "host": f"{head}@127.0.0.1:1/{db}",  # nothing listens on port 1
    }[broken]
    expected = {
        "password": "password authentication failed",
        "database": 'database "no_such_database" does not exist',
        "host": "Connection refused",
    }[broken]
    path = _spec(tmp_path, sleep=0.0, budget=2)
    start = time.perf_counter()
    assert main(["worker", "--config", str(path), "--storage", url]) == 2
    err = capsys.readouterr().err
    assert f"error: cannot connect to the study storage {redact(url)}" in err and expected in err
    assert "***" in err and PASSWORD not in err and "not-the-password" not in err and "Traceback" not in err
    assert not (tmp_path / "out" / "trials").exists()  # before any trial
    assert time.perf_counter() - start < 15


def test_missing_driver_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_module, "_installed", lambda module: False)
    path = _spec(tmp_path, sleep=0.0, budget=2)
    assert (
        main(["worker", "--config", str(path), "--storage", "postgresql://u:secret@db.example:5432/s"]) == 2
    )
    err = capsys.readouterr().err
    assert (
        'needs a PostgreSQL driver (psycopg), which is not installed: pip install "lit_distill[postgres]"'
        in err
    )
    assert "postgresql://u:***@db.example:5432/s" in err and "secret" not in err


@needs_server
@pytest.mark.parametrize("how", ["PGPASSWORD", "env:"])
def test_the_password_stays_off_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    """#32.4: libpq's PGPASSWORD with a URL without password, or the whole URL from a variable."""
    path = _spec(tmp_path, sleep=0.0, budget=1)
    if how == "PGPASSWORD":
        monkeypatch.setenv("PGPASSWORD", PASSWORD)
        storage = URL.replace(f":{PASSWORD}@", "@")
    else:
        monkeypatch.setenv("SEARCH_TEST_DB", URL)
        storage = "env:SEARCH_TEST_DB"
    assert main(["run", "--config", str(path), "--storage", storage, "--no-report"]) == 0
    assert PASSWORD not in capsys.readouterr().err
    _check_consistent(path, 1)
