"""Safety through ``python -m lit_distill fit`` (issue 14): no code from checkpoints, outputs checked
before the first step, user errors as one message with exit code 2, corrupt checkpoints named.

Most cases run the real entry point (``lit_distill.__main__.main``) in this process and fail before
any data is prepared; one runs it as a subprocess to see the exit code and stderr a user sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from lit_distill.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}


class _CreatesMarker:
    """Unpickling this calls ``open(marker, "w")``: the file appears if the pickle is executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def hostile_checkpoint(path: Path, marker: Path) -> Path:
    """A checkpoint shaped like ours (a ``lit_distill`` entry) with a pickled object that runs code."""
    torch.save(
        {
            "lit_distill": {"model_config": SMALL, "tokenizer": None, "x": _CreatesMarker(marker)},
            "state_dict": {},
        },
        path,
    )
    return path


def config(tmp_path: Path, model: dict[str, Any], **trainer_kw: Any) -> dict[str, Any]:
    return {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_steps": 1,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "num_sanity_val_steps": 0,
            "default_root_dir": str(tmp_path / "run"),
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp_path / "run")},
            },
            **trainer_kw,
        },
        "model": model,
        "data": {
            "class_path": "lit_distill.data.SquadDataModule",
            "init_args": {
                "source": {
                    "class_path": "lit_distill.data.SyntheticSquad",
                    "init_args": {"train_size": 16, "dev_size": 8, "search_size": 4},
                },
                "max_seq_length": 64,
                "doc_stride": 32,
                "batch_size": 8,
                "cache_dir": str(tmp_path / "data"),
            },
        },
    }


def write(tmp_path: Path, cfg: dict[str, Any]) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def student(teacher: str, **init_args: Any) -> dict[str, Any]:
    return {
        "class_path": "lit_distill.modules.DistilBertStudent",
        "init_args": {"teacher": teacher, **init_args},
    }


TEACHER = {"class_path": "lit_distill.modules.Teacher", "init_args": {"model_config": SMALL}}


@pytest.fixture(autouse=True)
def _quiet_stale_log_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs: a logging handler bound to an earlier test's captured stderr must not print errors."""
    import logging

    monkeypatch.setattr(logging, "raiseExceptions", False)


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["fit", *args])
    return code, capsys.readouterr().err


# ------------------------------------------------------------------ 1. checkpoints run no code
def test_hostile_teacher_checkpoint_runs_no_code_through_the_command_line(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = hostile_checkpoint(tmp_path / "teacher.ckpt", marker)
    cfg = write(tmp_path, config(tmp_path, student(str(evil))))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("LIT_DISTILL_DEBUG", None)
    res = subprocess.run(
        [sys.executable, "-m", "lit_distill", "fit", "--config", cfg],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    assert not marker.exists(), "the checkpoint's pickle was executed"
    assert res.returncode == 2, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    assert f"teacher={str(evil)!r}" in res.stderr and "could run code" in res.stderr
    assert "(io.open)" in res.stderr  # what was refused


def test_hostile_student_checkpoint_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    evil = hostile_checkpoint(tmp_path / "student.ckpt", marker)
    (tmp_path / "teacher").mkdir()
    code, err = run_main(
        capsys,
        "--config",
        write(tmp_path, config(tmp_path, student(str(tmp_path / "teacher"), student=str(evil)))),
    )
    assert (code, marker.exists()) == (2, False)
    assert f"student={str(evil)!r}" in err and "Traceback" not in err


def test_load_qa_model_refuses_what_slips_past_the_early_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The weights_only load itself is the guard, not only the scan done when the module is built."""
    from lit_distill import checkpoint_files
    from lit_distill.modules.sources import load_qa_model
    from lit_distill.user_errors import UserInputError

    marker = tmp_path / "pwned"
    evil = hostile_checkpoint(tmp_path / "t.ckpt", marker)
    monkeypatch.setattr(torch.serialization, "get_unsafe_globals_in_checkpoint", lambda _: [])
    with pytest.raises(UserInputError, match="could run code"):
        load_qa_model(str(evil), "teacher")
    assert not marker.exists()
    monkeypatch.setenv(checkpoint_files.TRUST_ENV, "1")  # the explicit opt-in unpickles, with a warning
    with pytest.warns(UserWarning, match="fully unpickled"), pytest.raises(Exception):  # noqa: B017
        load_qa_model(str(evil), "teacher")
    assert marker.exists()


# ------------------------------------------------------------------ 5. user errors: one message, exit 2
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (["--model.init_args.temperature", "-1"], "temperature must be a finite number > 0, got -1.0"),
        (["--model.init_args.alpha_ce", "-0.5"], "alpha_ce must be a finite number >= 0, got -0.5"),
        (
            ["--model.init_args.alpha_ce", "0", "--model.init_args.alpha_squad", "0"],
            "the loss weights sum to 0",
        ),
        (["--data.init_args.batch_size", "0"], "batch_size must be a positive integer, got 0"),
        (
            ["--model.init_args.teacher", "missing/teacher.ckpt"],
            "teacher='missing/teacher.ckpt': no such file",
        ),
    ],
    ids=["negative-temperature", "negative-weight", "zero-weights", "batch-size-0", "missing-teacher"],
)
def test_bad_parameter_is_one_message_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], override: list[str], expected: str
) -> None:
    (tmp_path / "teacher").mkdir()
    cfg = write(tmp_path, config(tmp_path, student(str(tmp_path / "teacher"))))
    code, err = run_main(capsys, "--config", cfg, *override)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err and "Namespace(" not in err and "Union subtypes" not in err
    assert len(err.strip().splitlines()) <= 4, err


def test_debug_shows_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "teacher").mkdir()
    cfg = write(tmp_path, config(tmp_path, student(str(tmp_path / "teacher"))))
    monkeypatch.setenv("LIT_DISTILL_DEBUG", "1")
    with pytest.raises(ValueError, match="temperature must be a finite number"):
        main(["fit", "--config", cfg, "--model.init_args.temperature", "-1"])
    monkeypatch.setenv("LIT_DISTILL_DEBUG", "0")  # restored after the test
    with pytest.raises(ValueError, match="temperature must be a finite number"):
        main(["fit", "--debug", "--config", cfg, "--model.init_args.temperature", "-1"])
    assert os.environ["LIT_DISTILL_DEBUG"] == "1"  # passed on to DDP ranks and search trials


def test_malformed_squad_file_in_fit_is_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lit_distill.data.wordpiece import train_wordpiece_tokenizer

    text = "the lighthouse was built in 1871 by an engineer when who what where"
    tokenizer = train_wordpiece_tokenizer([text] * 4, tmp_path / "tok", vocab_size=100)
    bad = tmp_path / "train.json"
    context = "The lighthouse was built in 1871."
    qa = {"id": "q1", "question": "When?", "answers": [{"text": "1871", "answer_start": "x"}]}
    bad.write_text(
        json.dumps({"data": [{"title": "Lighthouse", "paragraphs": [{"context": context, "qas": [qa]}]}]})
    )
    cfg = config(tmp_path, TEACHER)
    cfg["data"]["init_args"] = {
        "source": {
            "class_path": "lit_distill.data.SquadFiles",
            "init_args": {"train": str(bad), "validation": str(bad)},
        },
        "tokenizer": str(tokenizer),
        "max_seq_length": 64,
        "doc_stride": 32,
        "cache_dir": str(tmp_path / "data"),
    }
    code, err = run_main(capsys, "--config", write(tmp_path, cfg))
    assert code == 2
    assert str(bad) in err and "'Lighthouse'" in err and "'q1'" in err and "answer_start" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------ 2. outputs checked before the first step
READ_ONLY_DIR = Path("/sys/kernel")  # exists; no one, root included, can create files in it


@pytest.mark.parametrize("where", ["checkpoint", "export", "logger"])
def test_unwritable_output_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    cfg = config(
        tmp_path, {**TEACHER, "init_args": {**TEACHER["init_args"], "export_dir": str(tmp_path / "model")}}
    )
    if where == "checkpoint":  # an existing directory that cannot be written: today's code trains, then fails
        if not READ_ONLY_DIR.is_dir():
            pytest.skip(f"{READ_ONLY_DIR} is not available here")
        unwritable, reason = READ_ONLY_DIR, "is not writable"
        cfg["trainer"]["callbacks"] = [
            {
                "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                "init_args": {"dirpath": str(unwritable)},
            }
        ]
        parameter = "trainer.callbacks (ModelCheckpoint) dirpath"
    else:  # a directory that cannot be created: its parent is a regular file
        unwritable, reason = blocker / "out", "is a file, not a directory"
        if where == "export":
            cfg["model"]["init_args"]["export_dir"] = str(unwritable)
            parameter = "model.init_args.export_dir"
        else:
            cfg["trainer"]["logger"]["init_args"]["save_dir"] = str(unwritable)
            parameter = "trainer.logger (CSVLogger) save_dir"
    code, err = run_main(capsys, "--config", write(tmp_path, cfg))
    assert code == 2, err
    assert f"{parameter}={str(unwritable)!r}" in err and reason in err
    assert not (tmp_path / "data").exists(), "data were prepared before the check"
    assert not (tmp_path / "model").exists()


# ------------------------------------------------------------------ 6. corrupt --ckpt_path
def _damaged_checkpoint(path: Path, how: str) -> Path:
    torch.save({"state_dict": {"w": torch.arange(20000, dtype=torch.float32)}, "hyper_parameters": {}}, path)
    size = path.stat().st_size
    if how == "truncated":
        os.truncate(path, size // 2)
    else:
        with path.open("r+b") as f:
            f.seek(size // 2)
            f.write(b"\x5a" * 64)
    return path


@pytest.mark.parametrize("how", ["truncated", "overwritten"])
def test_corrupt_ckpt_path_is_named_and_leaves_no_log_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    ckpt = _damaged_checkpoint(tmp_path / "last.ckpt", how)
    code, err = run_main(
        capsys, "--config", write(tmp_path, config(tmp_path, TEACHER)), "--ckpt_path", str(ckpt)
    )
    assert code == 2, err
    assert f"ckpt_path={str(ckpt)!r} is not a readable checkpoint" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_corrupt_last_checkpoint_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt_dir = tmp_path / "ckpt"
    ckpt_dir.mkdir()
    ckpt = _damaged_checkpoint(ckpt_dir / "last.ckpt", "truncated")
    cfg = config(tmp_path, TEACHER)
    cfg["trainer"]["callbacks"] = [
        {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": {"dirpath": str(ckpt_dir)}}
    ]
    code, err = run_main(capsys, "--config", write(tmp_path, cfg), "--ckpt_path", "last")
    assert code == 2, err
    assert str(ckpt) in err and "truncated or corrupt" in err
    assert not (tmp_path / "run").exists()
