"""The model card: its "How to use" snippets run as written, and it publishes no absolute local path."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lit_distill.__main__ import main as dispatch
from lit_distill.export import export_model
from lit_distill.export.card import public_source

ROOT = Path(__file__).resolve().parents[2]


def snippets(card: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", card, flags=re.DOTALL)


@pytest.fixture(scope="module")
def cards(
    uniform_dir: Path, pruned_ckpt: Path, eval_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cards")
    quiet = {"log": lambda _: None, "threads": 1}
    return {
        "plain": export_model(uniform_dir, "hf", root / "plain", eval_file=eval_file, **quiet).directory,
        "custom": export_model(pruned_ckpt, "hf", root / "custom", **quiet).directory,
        "int8": export_model(uniform_dir, "onnx", root / "int8", int8=True, **quiet).directory,
    }


@pytest.mark.parametrize("kind", ["plain", "custom", "int8"])
def test_python_snippets_run_as_written(
    kind: str, cards: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = cards[kind]
    card = (directory / "README.md").read_text()
    blocks = snippets(card, "python")
    assert len(blocks) == 2 and "QuestionAnswerer.from_artifact(DIR)" in blocks[0]
    monkeypatch.chdir(directory.parent)  # "DIR" is the directory, seen from the folder that holds it
    for block in blocks:
        namespace: dict[str, object] = {"__name__": "__snippet__"}
        exec(compile(block, f"{kind}/README.md", "exec"), namespace)
    assert capsys.readouterr().out.strip()  # the first snippet prints the answer
    assert namespace["start_logits"].shape[-1] > 5  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["plain", "int8"])
def test_command_snippet_runs_as_written(
    kind: str, cards: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (block,) = snippets((cards[kind] / "README.md").read_text(), "bash")
    argv = shlex.split(block)
    assert argv[:3] == ["python", "-m", "lit_distill"]
    monkeypatch.chdir(cards[kind].parent)
    assert dispatch(argv[3:]) == 0
    assert capsys.readouterr().out.strip()


def test_command_snippet_runs_in_a_shell(cards: dict[str, Path]) -> None:
    (block,) = snippets((cards["custom"] / "README.md").read_text(), "bash")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        ["bash", "-c", block.replace("python ", f"{sys.executable} ", 1)],
        cwd=cards["custom"].parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip()


def test_card_states_what_the_model_is_and_names_no_absolute_path(cards: dict[str, Path]) -> None:
    card = (cards["plain"] / "README.md").read_text()
    assert (
        card.count("\n# ") == 1
        and "\n# 3-layer BERT model for SQuAD 2.0 question answering (PyTorch)" in card
    )
    for text in (
        "Base encoder:",
        "Training data:",
        "`max_seq_length` 64",
        "`doc_stride` 16",
        "null_score_diff_threshold",
    ):
        assert text in card, text
    for directory in cards.values():
        text = (directory / "README.md").read_text() + (directory / "lit_distill_export.json").read_text()
        assert str(directory.parent.parent) not in text and "/tmp/" not in text


def test_public_source() -> None:
    assert public_source("bert-base-uncased") == "bert-base-uncased"
    assert public_source("runs/student/last.ckpt") == "runs/student/last.ckpt"
    assert public_source("/home/someone/models/runs/student.ckpt") == ".../runs/student.ckpt"
    assert public_source(str(Path.cwd() / "runs" / "a.ckpt")) == "runs/a.ckpt"
    assert public_source("../elsewhere/a.ckpt").startswith(".../")
