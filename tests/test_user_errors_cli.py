"""One user-error contract for every command (issue 33, item 1): a value, file or configuration the user
got wrong ends in one ``error:`` line and exit code 2, never a traceback, whether it is caught when the
command line is parsed, when the run is set up, or when it starts fitting, exporting, analysing,
benchmarking or searching.

Each case runs the real entry point (``lit_distill.__main__.main``) in this process on tiny models and
synthetic data built once for the module; most fail at *setup* time (after the arguments parsed).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from lit_distill.__main__ import main
from lit_distill.models.qa_model import QAModel
from tests.modules.conftest import make_datamodule, tiny_config

FIX = Path(__file__).parent / "metrics" / "fixtures"


@dataclass(frozen=True)
class World:
    """What the cases point at: synthetic data, a teacher and students sharing its tokenizer."""

    root: Path
    data: Path  # the synthetic data's cache directory
    teacher: Path  # 4 layers, hidden 32, 2 heads
    student: Path  # a saved 2-layer model directory (not a TinyBERT intermediate-stage checkpoint)
    narrow: Path  # a saved 2-layer model of hidden size 16


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("user_errors")
    dm = make_datamodule(root / "data")
    dm.prepare_data()
    vocab = len(dm.tokenizer)
    torch.manual_seed(0)
    paths = {}
    for name, config in (
        ("teacher", tiny_config(vocab, layers=4)),
        ("student", tiny_config(vocab, layers=2)),
        ("narrow", tiny_config(vocab, layers=2, hidden=16)),
    ):
        paths[name] = root / name
        QAModel(config).save(paths[name], tokenizer=dm.tokenizer)
    return World(root=root, data=root / "data", **paths)


@pytest.fixture(autouse=True)
def _quiet_stale_log_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs: a logging handler bound to an earlier test's captured stderr must not print errors."""
    monkeypatch.setattr(logging, "raiseExceptions", False)


def fit_config(
    w: World, out: Path, model: dict[str, Any], callbacks: list[Any] | None = None, **trainer: Any
) -> str:
    """A ``fit`` / ``validate`` YAML over the world's synthetic data; returns its path."""
    config = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_steps": 1,
            "limit_val_batches": 1,
            "num_sanity_val_steps": 0,
            "logger": False,
            "enable_checkpointing": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "default_root_dir": str(out / "run"),
            "callbacks": callbacks or [],
            **trainer,
        },
        "model": model,
        "data": {
            "class_path": "lit_distill.data.SquadDataModule",
            "init_args": {
                "source": {
                    "class_path": "lit_distill.data.SyntheticSquad",
                    "init_args": {"train_size": 48, "dev_size": 12, "search_size": 6},
                },
                "max_seq_length": 64,
                "doc_stride": 32,
                "batch_size": 8,
                "eval_batch_size": 16,
                "cache_dir": str(w.data),
            },
        },
    }
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def old_data_config(w: World, out: Path, **data: Any) -> str:
    """:func:`fit_config` with the data module's ``init_args`` replaced by ``data`` (no ``source``)."""
    path = Path(fit_config(w, out, model("Teacher", **TEACHER_2L)))
    config = yaml.safe_load(path.read_text())
    config["data"]["init_args"] = {"max_seq_length": 64, "doc_stride": 32, "cache_dir": str(w.data), **data}
    path.write_text(yaml.safe_dump(config))
    return str(path)


def model(class_name: str, **init_args: Any) -> dict[str, Any]:
    return {"class_path": f"lit_distill.modules.{class_name}", "init_args": init_args}


def callback(path: str, **init_args: Any) -> dict[str, Any]:
    return {"class_path": path, "init_args": init_args}


def json_file(out: Path, name: str, content: Any) -> str:
    path = out / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def search_spec(out: Path, **changes: Any) -> str:
    from tests.search.helpers import spec_dict, write_spec

    return str(write_spec(out, spec_dict(out, **changes)))


# (command, case id, argv built from the world and a fresh folder, what the one error line says)
Case = tuple[str, str, Callable[[World, Path], list[str]], str]
TEACHER_2L = {"model_config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                               "intermediate_size": 64, "max_position_embeddings": 64}}  # fmt: skip

CASES: list[Case] = [
    # ------------------------------------------------------------------ fit (setup and fit start)
    ("fit", "tinybert-prediction-from-a-model-directory",
     lambda w, o: ["--config", fit_config(w, o, model("TinyBertStudent", teacher=str(w.teacher),
                                                      stage="prediction", student=str(w.student)))],
     "needs student to be the checkpoint of an intermediate-distillation run"),
    ("fit", "tinybert-layer-map-3-of-4",
     lambda w, o: ["--config", fit_config(w, o, model("TinyBertStudent", teacher=str(w.teacher),
                                                      student_layers=[0, 1, 2]))],
     "multiple"),
    ("fit", "cosine-loss-across-widths",
     lambda w, o: ["--config", fit_config(w, o, model("DistilBertStudent", teacher=str(w.teacher),
                                                      student=str(w.narrow), alpha_cos=0.5))],
     "alpha_cos=0.5 compares hidden states"),
    ("fit", "head-pruning-empties-a-layer",
     lambda w, o: ["--config", fit_config(w, o, model("Teacher", **TEACHER_2L), [
         callback("lit_distill.callbacks.head_pruning.HeadPruning", strategy="random", heads_per_layer=[2, 0])])],
     "would leave none"),
    ("fit", "unbounded-schedule",
     lambda w, o: ["--config", fit_config(w, o, model("Teacher", **TEACHER_2L), max_steps=-1, max_epochs=-1)],
     "unbounded run"),
    ("fit", "window-too-small-for-the-questions",
     lambda w, o: ["--config", fit_config(w, o, model("Teacher", **TEACHER_2L)),
                   "--data.init_args.max_seq_length", "24", "--data.init_args.doc_stride", "16",
                   "--data.init_args.cache_dir", str(o / "data")],
     "context window"),
    # ------------------------------------------------------------------ fit: data keys of before `source`
    ("fit", "old-synthetic-size-on-the-command-line",
     lambda w, o: ["--config", fit_config(w, o, model("Teacher", **TEACHER_2L)),
                   "--data.init_args.synthetic_train_size=48"],
     "'synthetic_train_size' was replaced by one source object: use data.init_args.source: "
     "{class_path: lit_distill.data.SyntheticSquad, init_args: {train_size: ...}}"),
    ("fit", "old-train-file-in-a-yaml",
     lambda w, o: ["--config", old_data_config(w, o, train_file=str(FIX / "tiny-v2.json"))],
     "'train_file' was replaced by one source object: use data.init_args.source: "
     "{class_path: lit_distill.data.SquadFiles, init_args: {train: ...}}"),
    ("fit", "old-hub-dataset-in-a-yaml",
     lambda w, o: ["--config", old_data_config(w, o, hub_dataset="rajpurkar/squad_v2", tokenizer=str(w.teacher))],
     "'hub_dataset' was replaced by one source object: use data.init_args.source: "
     "{class_path: lit_distill.data.HubSquad, init_args: {dataset: ...}}"),
    ("fit", "old-synthetic-flag-in-a-yaml",
     lambda w, o: ["--config", old_data_config(w, o, synthetic=True)],
     "'synthetic' was replaced by one source object: use data.init_args.source: "
     "{class_path: lit_distill.data.SyntheticSquad}"),
    ("fit", "no-data-source",
     lambda w, o: ["--config", old_data_config(w, o)],
     "data source is required"),
    ("fit", "synthetic-source-field-out-of-range",
     lambda w, o: ["--config", fit_config(w, o, model("Teacher", **TEACHER_2L)),
                   "--data.init_args.source.init_args.long_fraction=1.5"],
     "SyntheticSquad long_fraction"),
    ("validate", "old-synthetic-validation-split-on-the-command-line",
     lambda w, o: ["--config", fit_config(w, o, model("Teacher", model=str(w.student))),
                   "--data.init_args.synthetic_validation_split", "search"],
     "'synthetic_validation_split' was replaced by one source object"),
    # ------------------------------------------------------------------ validate
    ("validate", "length-evaluator-layer-count",
     lambda w, o: ["--config", fit_config(w, o, model("Teacher", model=str(w.student)), [
         callback("lit_distill.callbacks.length_eval.LengthConfigEvaluator", length_configs=[[1.0, 0.5, 0.5]],
                  output_dir=str(o / "lengths"))])],
     "has 3 entries but the model has 2 layers"),
    ("validate", "module-length-config-layer-count",
     lambda w, o: ["--config", fit_config(w, o, model("Teacher", model=str(w.student), length_config=[48, 32, 16]))],
     "has 3 entries but the model has 2 layers"),
    ("validate", "module-length-config-above-max-seq-length",
     lambda w, o: ["--config", fit_config(w, o, model("Teacher", model=str(w.student), length_config=[96, 48]))],
     "max_seq_length"),
    # ------------------------------------------------------------------ export
    ("export", "length-config-layer-count",
     lambda w, o: [str(w.teacher), "--to", "onnx", "--length-config", "[1.0,0.5]", "--output", str(o / "x")],
     "has 2 entries but the model has 4 layers"),
    ("export", "eval-file-missing",
     lambda w, o: [str(w.teacher), "--to", "hf", "--output", str(o / "x"), "--eval-file", str(o / "none.json")],
     "--eval-file"),
    ("export", "not-a-model",
     lambda w, o: [str(w.root / "data"), "--to", "hf", "--output", str(o / "x")],
     "config.json"),
    # ------------------------------------------------------------------ analyze
    ("analyze", "predictions-missing",
     lambda w, o: ["--data", str(FIX / "tiny-v2.json"), "--predictions", str(o / "none.json"), "--output", str(o / "a")],
     "none.json"),
    ("analyze", "bins-not-increasing",
     lambda w, o: ["--data", str(FIX / "tiny-v2.json"), "--predictions", str(FIX / "tiny-v2-pred.json"),
                   "--answer-bins", "3,2", "--output", str(o / "a")],
     "strictly increasing"),
    ("analyze", "predictions-not-answers",
     lambda w, o: ["--data", str(FIX / "tiny-v2.json"), "--predictions", json_file(o, "p.json", [1, 2]),
                   "--output", str(o / "a")],
     "p.json"),
    # ------------------------------------------------------------------ bench
    ("bench", "length-config-layer-count",
     lambda w, o: ["--checkpoint", str(w.student), "--length-config", "[8,8,8]", "--seq-length", "16", "--repeats", "1"],
     "has 3 entries but the model has 2 layers"),
    ("bench", "seq-length-above-positions",
     lambda w, o: ["--checkpoint", str(w.student), "--seq-length", "128", "--repeats", "1"],
     "max_position_embeddings (64)"),
    ("bench", "baseline-missing",
     lambda w, o: ["--checkpoint", str(w.student), "--baseline", str(o / "none"), "--repeats", "1"],
     "none"),
    ("bench", "runtime-on-a-model-directory",
     lambda w, o: ["--checkpoint", str(w.student), "--runtime", "onnxruntime", "--repeats", "1"],
     "has no lit_distill_export.json"),
    # ------------------------------------------------------------------ answer / predict / serve
    ("answer", "a-model-directory-not-an-export",
     lambda w, o: [str(w.student), "--question", "Who?", "--context", "Nobody."],
     "has no lit_distill_export.json"),
    ("answer", "artifact-missing",
     lambda w, o: [str(o / "none"), "--question", "Who?", "--context", "Nobody."],
     "does not exist"),
    ("predict", "a-model-directory-not-an-export",
     lambda w, o: [str(w.student), "--data", str(FIX / "tiny-v2.json"), "--output", str(o / "p.json")],
     "has no lit_distill_export.json"),
    ("predict", "data-missing",
     lambda w, o: [str(w.student), "--data", str(o / "none.json"), "--output", str(o / "p.json")],
     "no such file"),
    ("serve", "artifact-missing",
     lambda w, o: [str(o / "none")],
     "does not exist"),
    ("serve", "privileged-port",
     lambda w, o: [str(w.student), "--port", "80"],
     "--port 80"),
    # ------------------------------------------------------------------ data-check
    ("data-check", "stride-not-below-window",
     lambda w, o: ["--data", str(FIX / "tiny-v2.json"), "--tokenizer", str(w.teacher), "--max-seq-length", "32",
                   "--doc-stride", "32"],
     "doc_stride"),
    ("data-check", "data-missing",
     lambda w, o: ["--data", str(o / "none.json"), "--tokenizer", str(w.teacher)],
     "not found"),
    ("data-check", "not-squad",
     lambda w, o: ["--data", json_file(o, "d.json", {"version": "x"}), "--tokenizer", str(w.teacher)],
     "d.json"),
    # ------------------------------------------------------------------ squad-eval
    ("squad-eval", "prediction-not-a-string",
     lambda w, o: [str(FIX / "tiny-v2.json"), json_file(o, "p.json", {"m1": 3})],
     "expected an answer string"),
    ("squad-eval", "no-prediction-matches",
     lambda w, o: [str(FIX / "tiny-v2.json"), json_file(o, "p.json", {"nope": "x"})],
     "no prediction matches a question id"),
    ("squad-eval", "data-not-json",
     lambda w, o: [json_file(o, "d.json", "{not json"), str(FIX / "tiny-v2-pred.json")],
     "not valid JSON"),
    # ------------------------------------------------------------------ quickstart
    ("quickstart", "zero-epochs",
     lambda w, o: ["--output-dir", str(o / "q"), "--teacher-epochs", "0"],
     "--teacher-epochs must be a positive integer"),
    ("quickstart", "config-dir-missing",
     lambda w, o: ["--output-dir", str(o / "q"), "--config-dir", str(o / "none")],
     "not found"),
    # ------------------------------------------------------------------ replicate
    ("replicate", "encoder-missing",
     lambda w, o: ["--encoder", str(o / "none"), "--output", str(o / "r"), "--train", str(FIX / "tiny-v2.json"),
                   "--eval", str(FIX / "tiny-v2.json")],
     "--encoder"),
    ("replicate", "encoder-not-a-model",
     lambda w, o: ["--encoder", str(w.root / "data"), "--output", str(o / "r"), "--train", str(FIX / "tiny-v2.json"),
                   "--eval", str(FIX / "tiny-v2.json")],
     "no config.json"),
    # ------------------------------------------------------------------ search
    ("search", "key-not-in-the-base-config",
     lambda w, o: ["check", "--config", search_spec(o, parameters=[
         {"name": "x", "key": "model.init_args.nope", "type": "double", "bounds": {"min": 0.0, "max": 1.0}}])],
     "model.init_args.nope"),
    ("search", "report-of-a-study-never-run",
     lambda w, o: ["report", "--config", search_spec(o)],
     "no study 'toy'"),
    ("search", "old-data-key-in-the-base-config",
     lambda w, o: ["check", "--config", search_spec(o, base_config=old_data_config(w, o, synthetic=True), parameters=[
         {"name": "lr", "key": "model.init_args.learning_rate", "type": "double", "bounds": {"min": 1e-4, "max": 1e-3}}])],
     "'synthetic' was replaced by one source object"),
    ("search", "bounds-reversed",
     lambda w, o: ["check", "--config", search_spec(o, parameters=[
         {"name": "x", "key": "model.init_args.knob", "type": "double", "bounds": {"min": 1.0, "max": 0.0}}])],
     "bounds"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "case", "argv", "says"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_a_user_error_is_one_line_and_exit_2(
    command: str,
    case: str,
    argv: Callable[[World, Path], list[str]],
    says: str,
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = argv(world, tmp_path)
    capsys.readouterr()
    try:
        code = main([command, *args])
    except SystemExit as exc:  # argparse's own usage errors exit 2 by themselves
        code = exc.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 2, err
    assert len(errors) == 1, err
    assert says in errors[0], err


def test_every_command_has_setup_time_cases() -> None:
    """The table covers every command a user runs (Lightning's test/predict share validate's setup)."""
    from lit_distill.commands import PROJECT_COMMANDS

    covered = {c[0] for c in CASES}
    assert covered >= {"fit", "validate", *PROJECT_COMMANDS}
    assert all(sum(c[0] == command for c in CASES) >= 2 for command in covered)
