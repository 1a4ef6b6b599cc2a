"""Errors in what the user gave, found while ``fit`` sets up: one line, exit code 2, nothing left behind.

(Issue 32 item 7 and issue 29 item 7.) Each runs ``python -m lit_distill`` in this process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_distill.__main__ import main
from tests.safety.conftest import synthetic_tokenizer


@pytest.fixture(autouse=True)
def _quiet_stale_log_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs: a logging handler bound to an earlier test's captured stderr must not print errors."""
    import logging

    monkeypatch.setattr(logging, "raiseExceptions", False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def assert_one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("(run with --debug"), err  # the message, then the hint
    return lines[0]


def nothing_left(folder: Path) -> None:
    """No checkpoint, no lock file, no temporary."""
    assert (
        not list(folder.rglob("*.ckpt"))
        and not list(folder.rglob(".*lock"))
        and not list(folder.rglob(".*tmp-*"))
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "--model.init_args.model_config.num_hidden_layers=-3",
            "num_hidden_layers must be a positive integer, got -3",
        ),
        (
            "--model.init_args.model_config.num_attention_heads=0",
            "num_attention_heads must be a positive integer, got 0",
        ),
    ],
)
def test_an_impossible_model_size_is_one_line(
    fit_yaml: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    override: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = run(capsys, "fit", f"--config={fit_yaml}", override)
    assert code == 2
    assert f"error: model_config: EncoderConfig.{message}" in assert_one_line(err)
    assert not (tmp_path / "run").exists()  # found when the classes are built: nothing was started
    nothing_left(tmp_path)


def test_a_2000_word_question_in_the_training_file_is_one_line_as_in_data_check(
    fit_yaml: Path,
    safety_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = synthetic_tokenizer(safety_data).parent
    data = json.loads((folder / "train.json").read_text())
    question = data["data"][0]["paragraphs"][0]["qas"][0]
    question["question"] = " ".join(["where"] * 2000)
    train = tmp_path / "long_train.json"
    train.write_text(json.dumps(data))
    tokenizer = str(synthetic_tokenizer(safety_data))
    monkeypatch.chdir(tmp_path)
    code, err = run(
        capsys,
        "fit",
        f"--config={fit_yaml}",
        "--data.init_args.source=lit_distill.data.SquadFiles",
        f"--data.init_args.source.init_args.train={train}",
        f"--data.init_args.source.init_args.validation={folder / 'dev.json'}",
        f"--data.init_args.tokenizer={tokenizer}",
        f"--data.init_args.cache_dir={tmp_path / 'cache'}",
    )
    assert code == 2
    line = assert_one_line(err)
    assert f"for question {question['id']!r} (64 question tokens" in line and "lower doc_stride" in line
    nothing_left(tmp_path)
    # data-check names the same question in the same way
    code, err = run(
        capsys,
        "data-check",
        "--data",
        str(train),
        "--tokenizer",
        tokenizer,
        "--max-seq-length",
        "64",
        "--doc-stride",
        "32",
    )
    assert code == 2 and f"for question {question['id']!r} (64 question tokens" in err


def test_an_unwritable_checkpoint_directory_is_named_by_its_setting_not_by_a_probe_file(
    fit_yaml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 29 item 7. /proc takes no new files, also for root (whom permission bits do not stop)."""
    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc")
    monkeypatch.chdir(tmp_path)
    code, err = run(
        capsys, "fit", f"--config={fit_yaml}", "--trainer.callbacks.init_args.dirpath=/proc/lit-distill"
    )
    assert code == 2
    line = assert_one_line(err)
    assert "trainer.callbacks (LastCheckpoint) dirpath='/proc/lit-distill' is not writable" in line
    assert "/proc/tmp" not in line
    nothing_left(tmp_path)
