"""``export --overwrite`` never deletes its input, the working directory or their parents (issue 32).

Each case runs ``python -m lit_distill export`` in this process and checks what is still
there afterwards, byte for byte.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from lit_distill.__main__ import main
from lit_distill.export.artifact import MANIFEST
from lit_distill.models.config import EncoderConfig
from lit_distill.models.qa_model import QAModel
from lit_distill.modules.qa_module import CHECKPOINT_KEY
from tests.safety.conftest import MODEL, synthetic_tokenizer


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def export(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["export", *args, "--to", "hf"])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def tokenizer(safety_data: Path) -> Any:
    from lit_distill.models.loading import load_tokenizer

    return load_tokenizer(str(synthetic_tokenizer(safety_data)))


def tiny_model(tokenizer: Any) -> QAModel:
    torch.manual_seed(0)
    return QAModel(EncoderConfig(**MODEL, vocab_size=len(tokenizer)))


@pytest.fixture
def workspace(tokenizer: Any, safety_data: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """``tmp/work/`` holding a checkpoint ``my.ckpt`` (as a lit_distill module writes it) and a file of the user's.

    Returns the folder and the ``--tokenizer`` option the export needs.
    """
    work = tmp_path / "work"
    work.mkdir()
    model = tiny_model(tokenizer)
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save(
        {CHECKPOINT_KEY: {"model_config": model.config.to_dict(), "tokenizer": None}, "state_dict": state},
        work / "my.ckpt",
    )
    (work / "notes.txt").write_text("the user's own file\n")
    return work, ["--tokenizer", str(synthetic_tokenizer(safety_data))]


@pytest.mark.parametrize("output", ["input-folder", "input-folder-parent"])
def test_export_over_its_own_input_is_refused_and_deletes_nothing(
    workspace: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str], output: str
) -> None:
    work, tokenizer = workspace
    target = work if output == "input-folder" else work.parent
    before = snapshot(work)
    code, err = export(capsys, str(work / "my.ckpt"), "--output", str(target), "--overwrite", *tokenizer)
    assert code == 2
    assert f"--output: {str(target)!r} is the model being exported" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    assert snapshot(work) == before


def test_a_model_directory_cannot_be_its_own_output(
    tmp_path: Path, tokenizer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir = tiny_model(tokenizer).save(tmp_path / "model", tokenizer)
    before = snapshot(model_dir)
    code, err = export(capsys, str(model_dir), "--output", str(model_dir), "--overwrite")
    assert code == 2 and "is the model being exported" in err
    assert snapshot(model_dir) == before


@pytest.mark.parametrize("output", [".", "..", "../.."])
def test_output_dot_or_a_parent_of_the_working_directory_is_one_line(
    workspace: tuple[Path, list[str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    output: str,
) -> None:
    work, tokenizer = workspace
    inner = work / "inner"
    inner.mkdir()
    monkeypatch.chdir(inner)
    before = snapshot(work)
    code, err = export(capsys, str(work / "my.ckpt"), "--output", output, "--overwrite", *tokenizer)
    assert code == 2
    assert f"--output: {output!r} is the working directory or one of its parents" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    assert snapshot(work) == before and inner.is_dir()


def test_overwrite_replaces_only_an_earlier_export(
    workspace: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    work, tokenizer = workspace
    mine = work / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("not an export\n")
    code, err = export(capsys, str(work / "my.ckpt"), "--output", str(mine), "--overwrite", *tokenizer)
    assert code == 2 and f"is not an earlier export (no {MANIFEST})" in err
    assert (mine / "thesis.tex").read_text() == "not an export\n"

    out = work / "deploy"
    assert export(capsys, str(work / "my.ckpt"), "--output", str(out), *tokenizer)[0] == 0
    (out / "stale.txt").write_text("left by hand in the old export\n")
    code, err = export(capsys, str(work / "my.ckpt"), "--output", str(out), *tokenizer)
    assert code == 2 and "exists and is not empty; pass --overwrite" in err
    assert export(capsys, str(work / "my.ckpt"), "--output", str(out), "--overwrite", *tokenizer)[0] == 0
    assert (out / MANIFEST).is_file() and (out / "model.safetensors").is_file()
    assert not (out / "stale.txt").exists()  # the directory was replaced as a whole
    assert sorted(p.name for p in work.iterdir()) == [
        "deploy",
        "mine",
        "my.ckpt",
        "notes.txt",
    ]  # no temporaries
