"""`search check`: builds one trial in this process, names the code a spec holds, never starts the launcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from lit_distill.commands.search import main

from .helpers import spec_dict, write_spec


def test_check_builds_the_example_trial_and_reports_what_it_would_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """#29: a value every trial would reject is found by `check`, before any trial runs (exit 2)."""
    raw = spec_dict(tmp_path)
    raw["fixed"] = {"model.init_args.fail": "bogus"}  # ToyQA takes one of none|cuda_oom|host_oom|crash
    path = write_spec(tmp_path, raw)
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "the example trial (mid-point of the space) cannot start" in err and "bogus" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "study.journal").exists()  # no trial, no study

    assert main(["check", "--static", "--config", str(path)]) == 0  # builds nothing
    assert "spec OK" in capsys.readouterr().out


def test_check_lists_the_code_a_spec_names_and_runs_none_of_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """#32.3: a callable in `fixed:` is listed as code; building the trial never calls it."""
    marker = tmp_path / "called"
    raw = spec_dict(tmp_path)
    raw["fixed"] = {
        "trainer.callbacks": [
            {
                "class_path": "lightning.pytorch.callbacks.LambdaCallback",
                "init_args": {"on_fit_start": "pathlib.Path.touch"},
            }
        ],
        "model.init_args.tag": str(marker),
    }
    path = write_spec(tmp_path, raw)
    assert main(["check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        "fixed: trainer.callbacks.0.class_path: class_path 'lightning.pytorch.callbacks.LambdaCallback'"
        in out
    )
    assert "fixed: trainer.callbacks.0.init_args.on_fit_start: dotted name 'pathlib.Path.touch'" in out
    assert "base config: model.class_path: class_path 'tests.search.toy.ToyQA'" in out
    assert "launcher [" in out and "check never starts it" in out
    assert "example trial built in this process" in out and "model: ToyQA" in out
    assert not marker.exists()
