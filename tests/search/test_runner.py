"""The trial runner: real `python -m lit_distill fit` trials on the toy module (fresh subprocesses and
forks of the pre-imported trial server), and classification."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lit_distill.search.launch import resolve_start_method
from lit_distill.search.runner import build_command, classify, read_outcome, run_trial
from lit_distill.search.spec import SearchSpecError, parse_spec

from .helpers import ROOT, process_gone, spec_dict

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


def test_start_method_resolution(tmp_path: Path) -> None:
    default = ("{python}", "-m", "lit_distill")
    linux = sys.platform.startswith("linux")
    assert resolve_start_method("auto", default) == ("forkserver" if linux else "subprocess")
    assert resolve_start_method("auto", ("srun", "{python}", "-m", "lit_distill")) == "subprocess"
    assert resolve_start_method("subprocess", default) == "subprocess"
    with pytest.raises(ValueError, match="cannot use launcher"):
        resolve_start_method("forkserver", ("srun", "python"))
    with pytest.raises(SearchSpecError, match=r"start_method: .*'subprocess' \(or 'auto'\)"):
        parse_spec(spec_dict(tmp_path, start_method="forkserver"), tmp_path / "spec.yaml")  # fake launcher
    with pytest.raises(SearchSpecError, match=r"start_method: 'fork' is not allowed; choose one of"):
        parse_spec(spec_dict(tmp_path, fake=False, start_method="fork"), tmp_path / "spec.yaml")


START_METHODS = ["subprocess", "forkserver"] if sys.platform.startswith("linux") else ["subprocess"]


@pytest.mark.slow
@pytest.mark.parametrize("start_method", START_METHODS)
def test_real_trials_complete_and_oom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_method: str
) -> None:
    """Two real Lightning trials at once: the overrides reach the module, CUDA OOM is recognised."""
    monkeypatch.chdir(ROOT)  # trials import this worktree's code and tests.search.toy
    raw = spec_dict(tmp_path, fake=False, start_method=start_method)
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


def test_trial_logs_keep_what_a_terminal_shows_not_progress_bar_redraws(tmp_path: Path) -> None:
    """#29.9: a bar drawn with carriage returns and colours ends up as its last state, as plain text."""
    spec = parse_spec(spec_dict(tmp_path), tmp_path / "spec.yaml")  # fake launcher: milliseconds
    outcome = run_trial(spec, tmp_path / "t", {"model.init_args.tag": "bar"})
    text = Path(outcome.log).read_bytes()
    assert outcome.status == "complete"
    assert b"100%|##########|" in text and b"\r" not in text and b"\x1b" not in text
    assert b" 50%" not in text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"plain line", b"plain line"),
        (b"   ", b"   "),
        (b"\r 10%|#  |\r100%|###|", b"100%|###|"),
        (b"windows line\r", b"windows line"),
        (b"\r\x1b[32mok\x1b[0m", b"ok"),
        (b"\r 10%|#  |\r          \r", None),  # an erased bar (tqdm's leave=False) leaves nothing
    ],
)
def test_clean_line(raw: bytes, shown: bytes | None) -> None:
    from lit_distill.search.trial_log import clean_line

    assert clean_line(raw) == shown


def test_missing_launcher_is_a_failed_trial_not_a_crash(tmp_path: Path) -> None:
    spec = parse_spec(spec_dict(tmp_path, launcher=["/nonexistent/python"]), tmp_path / "spec.yaml")
    outcome = run_trial(spec, tmp_path / "t", {})
    assert outcome.status == "fail" and "could not start" in outcome.reason


def test_timeout_kills_the_trial(tmp_path: Path) -> None:
    spec = parse_spec(spec_dict(tmp_path, trial_timeout_s=0.5), tmp_path / "spec.yaml")
    outcome = run_trial(spec, tmp_path / "t", {"model.init_args.sleep": 30})
    assert outcome.status == "fail" and "timed out" in outcome.reason and outcome.wall_s < 10


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the trial fork server is Linux-only")
def test_forked_trials_end_like_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forked trials crash, run out of memory, time out and get SIGKILLed one at a time, as subprocesses do."""
    monkeypatch.chdir(ROOT)
    spec = parse_spec(
        spec_dict(tmp_path, fake=False, start_method="forkserver", trial_timeout_s=20), tmp_path / "spec.yaml"
    )
    crash = run_trial(spec, tmp_path / "crash", {"model.init_args.fail": "crash"})
    assert crash.status == "fail" and crash.returncode == 1 and "ValueError: toy crash" in crash.reason
    assert "Traceback" in Path(crash.log).read_text()  # stderr of the fork goes to the trial's log
    host = run_trial(spec, tmp_path / "host", {"model.init_args.fail": "host_oom"})
    assert host.status == "oom" and "MemoryError" in host.reason

    slow = {"model.init_args.sleep": 60}
    timed = run_trial(spec, tmp_path / "timeout", slow)
    assert timed.status == "fail" and "timed out" in timed.reason and timed.wall_s < 40

    def kill_soon(pid: int) -> None:
        threading.Timer(1.0, os.kill, (pid, signal.SIGKILL)).start()

    killed = run_trial(spec, tmp_path / "killed", slow, on_start=kill_soon)
    assert killed.status == "oom" and killed.returncode == -signal.SIGKILL and "SIGKILL" in killed.reason

    ok = run_trial(spec, tmp_path / "ok", {"model.init_args.knob": 0.2})  # the server survived all of it
    assert ok.status == "complete" and ok.metrics["exact"] == pytest.approx(80.0)


_DRIVER = """
import sys
from pathlib import Path
from lit_distill.search.runner import run_trial
from lit_distill.search.spec import parse_spec
from tests.search.helpers import spec_dict

if __name__ == "__main__":
    tmp = Path(sys.argv[1])
    spec = parse_spec(spec_dict(tmp, fake=False, start_method="forkserver"), tmp / "spec.yaml")
    run_trial(spec, tmp / "t", {"model.init_args.sleep": 120}, on_start=lambda pid: print(pid, flush=True))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the trial fork server is Linux-only")
def test_forked_trial_dies_with_its_search(tmp_path: Path) -> None:
    """SIGKILL of the search process ends its forked trial at once: no orphan keeps training.

    The fork server is stopped (SIGSTOP) before the search is killed, as a server still busy
    with its own interpreter shutdown would be: the trial must not wait for it (before the
    fix it did, for seconds, and a trial near its end finished and wrote its files).
    """
    driver = tmp_path / "driver.py"
    driver.write_text(_DRIVER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    search = subprocess.Popen(
        [sys.executable, str(driver), str(tmp_path)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert search.stdout is not None
    child = int(search.stdout.readline())
    server = int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1])  # the trial's parent
    assert server != search.pid
    time.sleep(0.5)
    os.kill(server, signal.SIGSTOP)
    try:
        search.send_signal(signal.SIGKILL)
        search.wait()
        if not process_gone(child, within_s=5):
            os.kill(child, signal.SIGKILL)
            pytest.fail(f"forked trial {child} outlived the killed search")
        assert not (tmp_path / "t" / "metrics.json").exists()
    finally:
        os.kill(server, signal.SIGCONT)
    if not process_gone(server, within_s=30):  # it exits on its own once it runs again
        os.kill(server, signal.SIGKILL)
        pytest.fail(f"trial fork server {server} outlived the killed search")


def test_a_squad2_only_metric_missing_on_squad11_says_why() -> None:
    """A length search optimising best_f1 on SQuAD 1.1 data fails each trial with the reason."""
    status, reason = classify(0, "", {"exact": 80.0, "f1": 85.0}, ["best_f1", "eval_time_s"])
    assert status == "fail" and "lacks ['best_f1', 'eval_time_s']" in reason
    assert "exist only on SQuAD 2.0 data" in reason and "on SQuAD 1.1 optimise f1" in reason
    assert "SQuAD 2.0" not in classify(0, "", {"exact": 1.0}, REQUIRED)[1]
