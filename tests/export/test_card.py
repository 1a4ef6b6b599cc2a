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


OLD_DATA_HPARAMS = {  # what SquadDataModule recorded before it took one `source`
    "train_file": "/home/someone/squad/train-v1.1.json",
    "validation_file": "/home/someone/squad/dev-v1.1.json",
    "test_file": None,
    "hub_dataset": None,
    "hub_train_split": "train",
    "synthetic": False,
    "synthetic_train_size": 3000,
    "version": "1.1",
}


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (OLD_DATA_HPARAMS, "`.../squad/train-v1.1.json` (SQuAD 1.1 format)"),
        ({"hub_dataset": "rajpurkar/squad_v2", "hub_config": "c", "version": "2.0"},
         "Hugging Face dataset `rajpurkar/squad_v2`, config c, split `train` (SQuAD 2.0 format)"),
        ({"synthetic": True, "synthetic_train_size": 48, "synthetic_seed": 3},
         "lit_distill's synthetic data (48 training questions, seed 3)"),
        ({"source": {"class_path": "lit_distill.data.SyntheticSquad", "init_args": {"train_size": 48}}},
         "lit_distill's synthetic data (48 training questions, seed 0)"),
        ({"source": {"class_path": "lit_distill.data.HubSquad", "init_args": {"dataset": "rajpurkar/squad"}}},
         "Hugging Face dataset `rajpurkar/squad`, split `train`"),
        ({"source": {"class_path": "my_project.MySource", "init_args": {}}}, "a `my_project.MySource` source"),
        ({}, "not recorded (exported from a model directory, not a training checkpoint)"),
    ],
)  # fmt: skip
def test_training_data_reads_the_source_and_the_flat_keys_of_older_checkpoints(
    data: dict[str, object], line: str
) -> None:
    from lit_distill.export.card import training_data

    assert training_data(data) == line


def test_a_checkpoint_with_the_flat_data_keys_exports_with_its_training_data(
    pruned_ckpt: Path, tmp_path: Path
) -> None:
    """A checkpoint written before the data module took one ``source`` still exports (and names its data)."""
    import torch

    checkpoint = torch.load(pruned_ckpt, weights_only=True)
    checkpoint["datamodule_hyper_parameters"] = {
        **checkpoint["datamodule_hyper_parameters"],
        **OLD_DATA_HPARAMS,
        "version": "2.0",
    }
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    out = export_model(old, "hf", tmp_path / "out", log=lambda _: None, threads=1).directory
    card = (out / "README.md").read_text()
    assert "- Training data: `.../squad/train-v1.1.json` (SQuAD 2.0 format)" in card


def test_a_checkpoint_of_the_source_object_loads_without_unpickling(
    pruned_ckpt: Path, tmp_path: Path
) -> None:
    """The data module records its source as plain values: the export reads it with ``weights_only``."""
    import torch

    from lit_distill.data import SquadDataModule, SyntheticSquad

    dm = SquadDataModule(SyntheticSquad(train_size=48, seed=2), cache_dir=str(tmp_path / "data"))
    checkpoint = torch.load(pruned_ckpt, weights_only=True)
    checkpoint["datamodule_hyper_parameters"] = {**dict(dm.hparams), "tokenizer": checkpoint[
        "datamodule_hyper_parameters"]["tokenizer"]}  # fmt: skip
    new = tmp_path / "new.ckpt"
    torch.save(checkpoint, new)
    torch.load(new, weights_only=True)  # no class of the project is pickled
    out = export_model(new, "hf", tmp_path / "out", log=lambda _: None, threads=1).directory
    assert "lit_distill's synthetic data (48 training questions, seed 2)" in (out / "README.md").read_text()
