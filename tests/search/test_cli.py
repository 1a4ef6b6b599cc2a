"""`python -m lit_distill search`: subcommands end to end with the fake launcher, errors without tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lit_distill.commands.search import main

from .helpers import spec_dict, write_spec


def test_run_then_report_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = spec_dict(tmp_path, observation_budget=4)
    raw["monotone_chains"] = [
        {"name": "lengths", "key": "model.length_config", "length": 3, "bounds": {"min": 4, "max": 32}}
    ]
    raw["produced_metrics"] = ["length_sum"]
    raw["metrics"].append({"name": "length_sum", "strategy": "store"})
    path = write_spec(tmp_path, raw)
    assert main(["--config", str(path)]) == 0  # no subcommand: run
    out = capsys.readouterr().out
    assert "4 trials" in out and "on the Pareto front" in out
    report = tmp_path / "out" / "report"
    assert {p.name for p in report.iterdir()} >= {"pareto.json", "trials.csv", "pareto_front.png"}
    for overrides in (tmp_path / "out" / "trials").glob("*/overrides.yaml"):
        lengths = yaml.safe_load(overrides.read_text())["model"]["init_args"]["length_config"]
        assert lengths == sorted(lengths, reverse=True) and lengths[-1] >= 4 and lengths[0] <= 32

    (report / "pareto.json").unlink()
    assert main(["report", "--config", str(path), "--no-plots"]) == 0
    assert (report / "pareto.json").exists()

    assert main(["check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "lengths.u0: double in [0, 1]" in out and "spec OK" in out and "--config" in out
    assert "trials start as: subprocess (start_method: auto)" in out  # a custom launcher: no fork


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {
                "parameters": [
                    {"name": "p", "key": "model.nope", "type": "double", "bounds": {"min": 0, "max": 1}}
                ]
            },
            "config key 'model.nope' does not exist",
        ),
        (
            {
                "parameters": [
                    {"name": "p", "key": "model.knob", "type": "double", "bounds": {"min": 1, "max": 0}}
                ]
            },
            "bounds.min (1) must be smaller than bounds.max (0)",
        ),
        ({"metrics": [{"name": "exact", "objective": "up"}]}, "'up' is not allowed"),
        (
            {"metrics": [{"name": "latency_ms", "objective": "minimize", "threshold": 3}]},
            "do not produce a metric 'latency_ms'",
        ),
    ],
)
def test_bad_specs_exit_2_before_any_trial(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    changes: dict,
    message: str,  # type: ignore[type-arg]
) -> None:
    path = write_spec(tmp_path, spec_dict(tmp_path, **changes))
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out" / "trials").exists()


def test_report_of_a_missing_study_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_spec(tmp_path, spec_dict(tmp_path))
    assert main(["report", "--config", str(path)]) == 2
    assert "no study 'toy'" in capsys.readouterr().err


def test_holdout_without_a_holdout_block_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_spec(tmp_path, spec_dict(tmp_path, observation_budget=2))
    assert main(["run", "--config", str(path), "--no-report"]) == 0
    assert main(["holdout", "--config", str(path)]) == 2
    assert "no `holdout:` block" in capsys.readouterr().err


def test_holdout_reevaluates_the_front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = spec_dict(tmp_path, observation_budget=3)
    raw["holdout"] = {"overrides": {"model.init_args.other": 7.5, "model.init_args.tag": "{trial_dir}/x"}}
    raw["produced_metrics"] = ["other"]
    path = write_spec(tmp_path, raw)
    assert main(["run", "--config", str(path), "--no-report"]) == 0
    assert main(["holdout", "--config", str(path)]) == 0
    csv_text = (tmp_path / "out" / "report" / "trials.csv").read_text()
    assert "holdout_other" in csv_text and "7.5" in csv_text
    for done in (tmp_path / "out" / "trials").glob("*/holdout/overrides.yaml"):
        assert yaml.safe_load(done.read_text())["model"]["init_args"]["tag"] == f"{done.parent.parent}/x"


def test_unusable_storage_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(tmp_path, spec_dict(tmp_path))
    assert main(["run", "--config", str(path), "--storage", "nosuchdb://x/y"]) == 2
    err = capsys.readouterr().err
    assert "cannot open the study storage nosuchdb://x/y" in err and "Traceback" not in err


def test_a_resumed_search_buys_new_points_not_replays(tmp_path: Path) -> None:
    """A search stopped after one trial and run again spends its budget on distinct points (#14.4)."""
    from lit_distill.search.optuna_backend import load_study
    from lit_distill.search.spec import load_spec

    path = write_spec(tmp_path, spec_dict(tmp_path, observation_budget=3))
    assert main(["run", "--config", str(path), "--budget", "1", "--no-report"]) == 0  # stopped early
    assert main(["run", "--config", str(path), "--no-report"]) == 0  # the same command again
    trials = load_study(load_spec(path)).get_trials()
    points = {(t.params["knob"], t.params["hidden"]) for t in trials}
    assert len(trials) == 3 and len(points) == 3, [t.params for t in trials]


def test_worker_seeds_differ_by_study_size_and_worker() -> None:
    from lit_distill.search.sampling import worker_seed

    assert worker_seed(0, 0) == worker_seed(0, 0)  # a fresh `search run` is reproducible
    seeds = {worker_seed(0, 0), worker_seed(0, 2), worker_seed(0, 0, "a:1"), worker_seed(0, 0, "b:1")}
    assert len(seeds) == 4 and worker_seed(None, 5, "a:1") is None


def test_dashboard_serves_the_study_from_its_journal(tmp_path: Path) -> None:
    """`search dashboard` opens the spec's own storage (here the default journal) in optuna-dashboard."""
    pytest.importorskip(
        "optuna_dashboard", reason='optuna-dashboard not installed: pip install ".[dashboard]"'
    )
    import json
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from .helpers import ROOT

    path = write_spec(tmp_path, spec_dict(tmp_path, observation_budget=2))
    assert main(["run", "--config", str(path), "--no-report"]) == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lit_distill",
            "search",
            "dashboard",
            "--config",
            str(path),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as r:
                    studies = json.loads(r.read())["study_summaries"]
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.communicate()[0]
                time.sleep(0.3)
        assert [s["study_name"] for s in studies] == ["toy"]
    finally:
        server.kill()
        server.wait()


def test_a_search_whose_trials_all_fail_names_their_errors_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real trial with a bad value: the reason names the value, not jsonargparse's header (#14.5)."""
    from .helpers import ROOT

    monkeypatch.chdir(ROOT)  # real trials import tests.search.toy
    raw = spec_dict(tmp_path, fake=False, observation_budget=1)
    raw["fixed"] = {"model.init_args.fail": "bogus"}
    path = write_spec(tmp_path, raw)
    assert main(["run", "--config", str(path), "--no-report"]) == 1
    captured = capsys.readouterr()
    assert "no trial of search 'toy' completed" in captured.err
    assert len(list((tmp_path / "out" / "trials").glob("*/trial.log"))) == 1
    from lit_distill.commands.search import load_records
    from lit_distill.search.spec import load_spec

    (record,) = load_records(load_spec(path), None)
    assert record.outcome == "fail"
    assert "Got value: bogus" in record.reason and "Parser key" in record.reason


@pytest.mark.parametrize(
    ("log", "summary"),
    [
        (
            "noise\npython -m lit_distill fit: error: temperature must be > 0\n(run with --debug)\n",
            "python -m lit_distill fit: error: temperature must be > 0",
        ),
        ("Traceback (most recent call last):\n  File 'x'\nValueError: boom\n", "ValueError: boom"),
        (
            'usage: ...\nerror: Parser key "model":\n  Errors:\n    Parser key "k":\n      Expected int. Got value: x\n'
            "  Given value: {}\n",
            'error: Parser key "model": Parser key "k": Expected int. Got value: x',
        ),
        ("", "(empty log)"),
    ],
)
def test_error_summary_finds_the_line_that_says_why(log: str, summary: str) -> None:
    from lit_distill.search.runner import error_summary

    assert error_summary(log) == summary


def test_a_search_whose_first_trials_exit_with_one_input_error_stops_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """#29: the same user error twice, nothing completed: exit 2 with that error, no budget burnt, no figures."""
    raw = spec_dict(tmp_path, observation_budget=6)
    raw["fixed"] = {"model.init_args.fail": "input"}
    path = write_spec(tmp_path, raw)
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "stopped instead of spending its budget: its first 2 trials" in err
    assert "toy input error" in err and "Traceback" not in err
    assert len(list((tmp_path / "out" / "trials").glob("*/trial.log"))) == 2
    assert not list((tmp_path / "out").rglob("*.png"))


def test_input_errors_that_differ_between_points_do_not_stop_the_search(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An error naming the trial's own value may not hold elsewhere in the space: the budget runs."""
    raw = spec_dict(tmp_path, observation_budget=3)
    raw["fixed"] = {"model.init_args.fail": "input_knob"}
    path = write_spec(tmp_path, raw)
    assert main(["run", "--config", str(path)]) == 1  # nothing completed
    assert "no trial of search 'toy' completed" in capsys.readouterr().err
    assert len(list((tmp_path / "out" / "trials").glob("*/trial.log"))) == 3
    assert not list((tmp_path / "out").rglob("*.png"))  # no empty figures either
    assert (tmp_path / "out" / "report" / "trials.csv").exists()


def test_progress_lines_show_objectives_and_parameters_first() -> None:
    from lit_distill.search.optuna_tell import describe
    from lit_distill.search.runner import TrialOutcome
    from lit_distill.search.spec import parse_spec

    spec = parse_spec(spec_dict(Path("/nonexistent")), Path("/nonexistent/spec.yaml"))
    metrics = {f"HasAns_{k}": 1.0 for k in ("exact", "f1", "total")} | {
        f"NoAns_{k}": 2.0 for k in ("exact", "f1", "total")
    }
    metrics |= {"best_exact": 3.0, "best_f1": 3.0, "exact": 61.234, "f1": 66.0, "num_parameters": 12345.0}
    line = describe(spec, 7, {"knob": 0.31, "hidden": 3}, TrialOutcome("complete", metrics, wall_s=1.5))
    assert line == "trial 7: complete in 1.5 s: exact=61.23 num_parameters=12345 | f1=66 | knob=0.31 hidden=3"


def test_base_config_may_be_a_list_like_the_readme_s_two_configs(tmp_path: Path) -> None:
    """#29.9: teacher config + student overlay, given in order; the overlay's values and keys count."""
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"model": {"init_args": {"knob": 0.9, "other": 2.5}}}))
    from .helpers import TOY_FIT

    raw = spec_dict(tmp_path, base_config=[str(TOY_FIT), str(overlay)], observation_budget=1)
    raw["parameters"] = [raw["parameters"][1]]  # hidden only: knob comes from the overlay
    raw["fixed"] = {"model.init_args.other": 3.5}
    raw["produced_metrics"] = ["other"]
    raw["metrics"].append({"name": "other", "strategy": "store"})
    path = write_spec(tmp_path, raw)
    assert main(["run", "--config", str(path), "--no-report"]) == 0
    (trial,) = (tmp_path / "out" / "trials").glob("0*")
    command = (trial / "command.txt").read_text()
    assert command.index(str(TOY_FIT)) < command.index(str(overlay)) < command.index("overrides.yaml")
    from lit_distill.commands.search import load_records
    from lit_distill.search.spec import load_spec

    (record,) = load_records(load_spec(path), None)
    assert record.metrics["exact"] == pytest.approx(30.0) and record.metrics["other"] == 3.5  # knob 0.9


def test_values_read_back_from_the_study_are_checked_and_never_used_as_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """#32.3: a trial_dir edited in the database is not written to; an edited assignment is refused."""
    import json
    import sqlite3

    raw = spec_dict(tmp_path, observation_budget=2)
    raw["holdout"] = {"overrides": {"model.init_args.other": 7.5}}
    path = write_spec(tmp_path, raw)
    db = tmp_path / "study.db"
    storage = ["--storage", f"sqlite:///{db}"]
    assert main(["run", "--config", str(path), "--no-report", *storage]) == 0
    elsewhere = tmp_path / "elsewhere"
    with sqlite3.connect(db) as con:
        con.execute(
            "UPDATE trial_user_attributes SET value_json = ? WHERE key = 'trial_dir'",
            (json.dumps(str(elsewhere)),),
        )
    assert main(["holdout", "--config", str(path), *storage]) == 0
    assert not elsewhere.exists()
    assert len(list((tmp_path / "out" / "trials").glob("*/holdout/outcome.json"))) >= 1
    assert "paths are never taken from the study" in capsys.readouterr().err

    with sqlite3.connect(db) as con:
        con.execute(
            "UPDATE trial_user_attributes SET value_json = ? WHERE key = 'assignment'",
            (json.dumps({"knob": 5.0, "hidden": 3}),),
        )
    assert main(["report", "--config", str(path), "--no-plots", *storage]) == 2
    err = capsys.readouterr().err
    assert "knob=5.0 lies outside [0, 1]" in err and "the study storage was edited" in err


@pytest.mark.parametrize("form", ["env", "file"])
def test_the_storage_url_may_come_from_a_variable_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    """#32.4: a URL kept out of `ps` and the shell's history."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    if form == "env":
        monkeypatch.setenv("TOY_STORAGE", url)
        value = "env:TOY_STORAGE"
    else:
        (tmp_path / "storage.txt").write_text(url + "\n")
        value = f"file:{tmp_path / 'storage.txt'}"
    path = write_spec(tmp_path, spec_dict(tmp_path, observation_budget=1))
    assert main(["run", "--config", str(path), "--no-report", "--storage", value]) == 0
    assert (tmp_path / "study.db").exists() and not (tmp_path / "out" / "study.journal").exists()
    missing = "env:NO_SUCH_VARIABLE" if form == "env" else f"file:{tmp_path / 'nope.txt'}"
    assert main(["report", "--config", str(path), "--storage", missing]) == 2
    err = capsys.readouterr().err
    assert ("'NO_SUCH_VARIABLE' is not set" in err) if form == "env" else ("cannot read" in err)
