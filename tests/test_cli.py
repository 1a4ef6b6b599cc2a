"""The command line: help, dispatch, errors, and every shipped YAML config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lit_distill.__main__ import LIGHTNING_COMMANDS, PROJECT_COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]
FIT_CONFIGS = sorted(
    p for p in (ROOT / "configs").rglob("*.yaml") if "search" not in p.relative_to(ROOT / "configs").parts
)


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lit_distill", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in [*LIGHTNING_COMMANDS, *PROJECT_COMMANDS]:
        assert f"  {name} " in out


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fitt"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'fitt'" in err and "fit" in err


def test_fit_help_runs() -> None:
    res = run_cli("fit", "--help")
    assert res.returncode == 0, res.stderr
    assert "--trainer.max_epochs" in res.stdout and "--model" in res.stdout


def test_misspelled_option_exits_2_without_traceback() -> None:
    res = run_cli("fit", "--trainer.max_epochz", "3")
    assert res.returncode == 2
    assert "max_epochz" in res.stderr
    assert "Traceback" not in res.stderr


def test_wrong_type_exits_2_without_traceback() -> None:
    res = run_cli("fit", "--trainer.max_epochs", "three")
    assert res.returncode == 2
    assert "max_epochs" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("config", FIT_CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_every_config_prints_a_full_config(config: Path) -> None:
    res = run_cli("fit", "--config", str(config), "--print_config")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "model:" in res.stdout and "class_path" in res.stdout
    assert "trainer:" in res.stdout


@pytest.mark.parametrize("command", sorted(PROJECT_COMMANDS))
def test_every_project_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"python -m lit_distill {command}" in capsys.readouterr().out


# ------------------------------------------------ every shipped config builds its classes
SOURCE_KEYS = {"model", "teacher", "student", "tokenizer"}  # hub ids or run outputs -> a tiny local model
SEARCH_SPECS = sorted((ROOT / "configs" / "search").glob("*.yaml"))
TOGETHER = {"local_cpu/student.yaml": ["local_cpu/teacher.yaml", "local_cpu/student.yaml"]}  # README recipe


@pytest.fixture(scope="module")
def tiny_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A tiny random model saved with a tiny WordPiece tokenizer, and a one-question SQuAD file."""
    import json

    from transformers import BertTokenizerFast

    from lit_distill.models import EncoderConfig, QAModel

    root = tmp_path_factory.mktemp("tiny_sources")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz"]))
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    config = EncoderConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=12,  # the shipped student_layers reach teacher layer 11
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=512,
    )
    QAModel(config).save(root / "model", tokenizer=tokenizer)
    qa = {"id": "q1", "question": "a", "answers": [{"text": "b", "answer_start": 2}], "is_impossible": False}
    article = {"title": "t", "paragraphs": [{"context": "a b c", "qas": [qa]}]}
    (root / "squad.json").write_text(json.dumps({"version": "v2.0", "data": [article]}))
    return {"model": str(root / "model"), "file": str(root / "squad.json")}


def _offline(node: object, sources: dict[str, str]) -> object:
    """``node`` with every model source and data file replaced by the tiny local ones."""
    if isinstance(node, dict):
        if str(node.get("class_path", "")).endswith(".SquadFiles"):  # the user's SQuAD files -> a tiny one
            files = {k: v and sources["file"] for k, v in (node.get("init_args") or {}).items()}
            return {**node, "init_args": files}
        out = {}
        for key, value in node.items():
            if key in SOURCE_KEYS and isinstance(value, str):
                out[key] = sources["model"]
            else:
                out[key] = _offline(value, sources)
        return out
    if isinstance(node, list):
        return [_offline(v, sources) for v in node]
    return node


@pytest.mark.parametrize("config", FIT_CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_every_config_builds_its_model_data_and_callbacks(
    config: Path, tiny_sources: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every shipped config instantiates its trainer, callbacks, model and data module (offline).

    Hub names and run outputs become a tiny local model, so a bad value anywhere in a
    shipped file (a wrong type, a value a constructor refuses) fails here.
    """
    import yaml

    name = str(config.relative_to(ROOT / "configs"))
    parts = [yaml.safe_load((ROOT / "configs" / part).read_text()) for part in TOGETHER.get(name, [name])]
    _build_offline(parts, tiny_sources, tmp_path, monkeypatch)


@pytest.mark.parametrize("spec_path", SEARCH_SPECS, ids=lambda p: p.name)
def test_every_search_spec_s_base_config_builds_with_its_fixed_and_holdout_values(
    spec_path: Path, tiny_sources: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search spec's base config(s), with the spec's ``fixed`` and ``holdout`` values set, builds (offline)."""
    from lit_distill.search.config_keys import canonical_keys, merge_configs, read_base, set_key
    from lit_distill.search.spec import load_spec

    spec = load_spec(spec_path)
    base = read_base(spec)
    values = {**spec.fixed, **spec.holdout_overrides}
    keys = canonical_keys(spec, [(k, k) for k in values])
    tree: dict[str, object] = {}
    for key, value in values.items():
        set_key(base, tree, keys[key], value)
    _build_offline([merge_configs(base, tree)], tiny_sources, tmp_path, monkeypatch)


def _build_offline(
    configs: list[dict], sources: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Instantiate ``configs`` (later ones override earlier ones) with tiny local models and files."""
    import yaml
    from lightning.pytorch import LightningDataModule, LightningModule

    from lit_distill.cli import LitDistillCLI
    from lit_distill.data.sources import SquadSource, source_config

    args: list[str] = []
    for i, loaded in enumerate(configs):
        written = tmp_path / f"{i}.yaml"
        written.write_text(yaml.safe_dump(_offline(loaded, sources)))
        args += ["--config", str(written)]
    monkeypatch.chdir(tmp_path)  # run outputs (runs/...) land here
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(sys, "argv", ["lit_distill"])
    cli = LitDistillCLI(args=args, run=False)
    assert isinstance(cli.model, LightningModule) and isinstance(cli.datamodule, LightningDataModule)
    wanted = [
        c["class_path"].rsplit(".", 1)[-1] for c in (configs[-1].get("trainer") or {}).get("callbacks", [])
    ]
    built = [type(c).__name__ for c in cli.trainer.callbacks]
    assert all(w in built for w in wanted), (wanted, built)
    assert type(cli.model).__name__ == configs[-1]["model"]["class_path"].rsplit(".", 1)[-1]
    data = {}
    for loaded in configs:
        data.update(((loaded.get("data") or {}).get("init_args")) or {})
    if "source" in data:  # the data module reads the source the config names, with its values
        source = cli.datamodule.source  # type: ignore[attr-defined]
        assert isinstance(source, SquadSource)
        given = _offline(data["source"], sources)
        recorded = source_config(source)
        assert recorded["class_path"] == given["class_path"]  # type: ignore[index]
        assert recorded["init_args"].items() >= (given.get("init_args") or {}).items()  # type: ignore[union-attr]


# The shipped recipes of a reference that clips gradients (BERT / run_qa.py and DistilBERT's script
# at 1.0, TinyBERT per tensor and Dynamic-TinyBERT globally at 1.0, LAT at 1.0) clip too.
REFERENCE_RECIPES = (
    "teacher.yaml",
    "distilbert.yaml",
    "distilbert_pruned.yaml",
    "tinybert_id.yaml",
    "tinybert_pd.yaml",
    "tinybert_pd_lengthdrop.yaml",
)


@pytest.mark.parametrize("name", REFERENCE_RECIPES)
def test_reference_recipes_clip_gradients_as_their_references_do(name: str) -> None:
    import yaml

    trainer = yaml.safe_load((ROOT / "configs" / name).read_text())["trainer"]
    assert trainer.get("gradient_clip_val") == 1.0, f"configs/{name} does not clip at 1.0"
    assert trainer.get("gradient_clip_algorithm", "norm") == "norm"
