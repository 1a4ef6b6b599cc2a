"""Runs through ``python -m lit_distill fit``: a user callback from YAML, and DDP with 2 CPU processes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from lit_distill.models.qa_model import QAModel
from lit_distill.modules import Teacher
from lit_distill.modules.teacher_cache import PAD_LOGIT, TeacherLogits, assemble, compute_teacher_logits
from tests.modules.conftest import make_datamodule, tiny_config, trainer

ROOT = Path(__file__).resolve().parents[2]
SMALL = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}
DATA = dict(
    source={
        "class_path": "lit_distill.data.SyntheticSquad",
        "init_args": {"train_size": 48, "dev_size": 12, "search_size": 6},
    },
    max_seq_length=64,
    doc_stride=32,
    batch_size=8,
    eval_batch_size=16,
)


def fit(
    config: dict[str, Any], tmp_path: Path, *extra: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lit_distill", "fit", "--config", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def read_metrics(csv_dir: Path) -> dict[str, float]:
    rows = list(csv.DictReader((next(csv_dir.rglob("metrics.csv"))).open()))
    last: dict[str, float] = {}
    for row in rows:
        last.update({k: float(v) for k, v in row.items() if v not in ("", None)})
    return last


def base_config(tmp_path: Path, data_dir: Path, model: dict[str, Any], **trainer_kw: Any) -> dict[str, Any]:
    return {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_epochs": 1,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "enable_checkpointing": False,
            "num_sanity_val_steps": 0,
            "default_root_dir": str(tmp_path),
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp_path)},
            },
            **trainer_kw,
        },
        "model": model,
        "data": {
            "class_path": "lit_distill.data.SquadDataModule",
            "init_args": {**DATA, "cache_dir": str(data_dir)},
        },
    }


def test_user_callback_from_yaml_contributes_to_the_loss(tmp_path: Path, data_dir: Path) -> None:
    record = tmp_path / "record.json"
    model = {
        "class_path": "lit_distill.modules.Teacher",
        "init_args": {"model_config": SMALL},
    }
    config = base_config(
        tmp_path, data_dir, model, limit_train_batches=3, limit_val_batches=1, log_every_n_steps=1
    )
    config["trainer"]["callbacks"] = [
        {
            "class_path": "tests.modules.callback_fixtures.RecordingPenalty",
            "init_args": {"weight": 0.5, "record_file": str(record)},
        }
    ]
    res = fit(config, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(record.read_text()) == {"calls": 3, "steps": 3}
    metrics = read_metrics(tmp_path)
    assert metrics["train/extra_RecordingPenalty"] > 0


@pytest.mark.slow
def test_ddp_two_cpu_processes_cache_and_metric_match_one_process(tmp_path: Path, data_dir: Path) -> None:
    dm = make_datamodule(data_dir)
    dm.prepare_data()
    dm.setup("fit")
    torch.manual_seed(0)
    teacher_dir = tmp_path / "teacher"
    QAModel(tiny_config(len(dm.tokenizer), layers=4)).save(teacher_dir, tokenizer=dm.tokenizer)
    cache = tmp_path / "cache"
    export = tmp_path / "student"
    model = {
        "class_path": "lit_distill.modules.DistilBertStudent",
        "init_args": {
            "teacher": str(teacher_dir),
            "logit_cache_dir": str(cache),
            "learning_rate": 1e-3,
            "export_dir": str(export),
        },
    }
    config = base_config(tmp_path / "run", data_dir, model, log_every_n_steps=1)
    res = fit(config, tmp_path, "--trainer.strategy", "ddp", "--trainer.devices", "2", timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    ddp_metrics = read_metrics(tmp_path / "run")
    assert ddp_metrics["train/loss"] == pytest.approx(ddp_metrics["train/loss"])  # finite, logged
    assert torch.isfinite(torch.tensor(ddp_metrics["train/loss_kd"]))

    # the cache the two processes built together equals one process's on every real token
    files = list(cache.glob("teacher-logits-*.pt"))
    assert len(files) == 1
    shared = TeacherLogits.load(files[0])
    loader = dm.train_dataloader()
    teacher = QAModel.from_pretrained(teacher_dir).eval()
    single = assemble(
        *compute_teacher_logits(
            teacher, loader.dataset, loader.collate_fn, batch_size=16, device=torch.device("cpu")
        ),
        len(loader.dataset),
    )
    assert bool(shared.filled.all()) and shared.filled.numel() == single.filled.numel()
    width = min(shared.start.size(1), single.start.size(1))
    real = (single.start[:, :width] > PAD_LOGIT) & (shared.start[:, :width] > PAD_LOGIT)
    assert real.sum() > 0
    assert torch.allclose(shared.start[:, :width][real], single.start[:, :width][real], atol=1e-5)
    assert torch.allclose(shared.end[:, :width][real], single.end[:, :width][real], atol=1e-5)

    # the metric computed across two processes equals one process's on the same (final) weights
    module = Teacher(model=str(export))
    one = trainer(tmp_path / "one").validate(module, datamodule=make_datamodule(data_dir), verbose=False)[0]
    for key in ("val/exact", "val/f1", "val/HasAns_f1", "val/NoAns_f1", "val/total"):
        assert ddp_metrics[key] == pytest.approx(one[key], abs=1e-4), key


def _fit_one_step(tmp_path: Path, data_dir: Path, model: dict[str, Any]) -> tuple[Path, Path]:
    """``fit`` of ``model`` for one step from a config file; the config file and the checkpoint."""
    from lit_distill.cli import LitDistillCLI

    config = base_config(
        tmp_path, data_dir, model, max_steps=1, limit_val_batches=1, enable_checkpointing=True
    )
    config["trainer"]["callbacks"] = [
        {
            "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {"dirpath": str(tmp_path / "ckpt")},
        }
    ]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    LitDistillCLI(args=["fit", "--config", str(path)])
    (ckpt,) = (tmp_path / "ckpt").glob("*.ckpt")
    return path, ckpt


def test_evaluation_arguments_given_with_a_checkpoint_file_are_honoured(
    tmp_path: Path, data_dir: Path
) -> None:
    """LightningCLI replaces model arguments by a checkpoint's hyper-parameters; run-time ones are not among them."""
    from lit_distill.cli import LitDistillCLI

    model = {
        "class_path": "lit_distill.modules.Teacher",
        "init_args": {"model_config": SMALL, "length_config": [0.9, 0.9]},
    }
    path, ckpt = _fit_one_step(tmp_path, data_dir, model)
    hparams = torch.load(ckpt, weights_only=False)["hyper_parameters"]
    assert "_class_path" in hparams and "length_config" not in hparams

    cli = LitDistillCLI(
        args=[
            "validate",
            "--config",
            str(path),
            "--ckpt_path",
            str(ckpt),
            "--model.init_args.length_config=[0.5, 0.25]",
            f"--model.init_args.predictions_dir={tmp_path / 'preds'}",
        ]
    )
    assert cli.model.length_config == [0.5, 0.25]
    assert cli.model.predictions_dir == str(tmp_path / "preds")
    assert "val/exact" in cli.trainer.callback_metrics


def test_a_checkpoint_records_its_source_and_one_with_the_flat_data_keys_still_validates(
    tmp_path: Path, data_dir: Path
) -> None:
    """A fit records the data source as plain values (loadable with ``weights_only``); a checkpoint written
    before the data module took one ``source`` (flat ``synthetic_*`` keys) still validates and exports."""
    from lit_distill.cli import LitDistillCLI
    from lit_distill.data.sources import SyntheticSquad, source_from_hparams
    from lit_distill.export.source import load_source

    model = {"class_path": "lit_distill.modules.Teacher", "init_args": {"model_config": SMALL}}
    path, ckpt = _fit_one_step(tmp_path, data_dir, model)
    checkpoint = torch.load(ckpt, weights_only=True)
    recorded = checkpoint["datamodule_hyper_parameters"]
    assert recorded["source"] == {
        "class_path": "lit_distill.data.SyntheticSquad",
        "init_args": {**vars(SyntheticSquad(train_size=48, dev_size=12, search_size=6))},
    }
    old_data = {k: v for k, v in recorded.items() if k != "source"}
    old_data.update(synthetic=True, synthetic_train_size=48, synthetic_dev_size=12, synthetic_search_size=6)
    old_data.update(train_file=None, validation_file=None, hub_dataset=None, hub_train_split="train")
    checkpoint["datamodule_hyper_parameters"] = old_data
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)

    cli = LitDistillCLI(args=["validate", "--config", str(path), "--ckpt_path", str(old)])
    assert "val/exact" in cli.trainer.callback_metrics
    exported = load_source(
        old, tokenizer=str(cli.datamodule.source.default_tokenizer(cli.datamodule.cache_dir))
    )
    assert source_from_hparams(exported.data) == SyntheticSquad(train_size=48, dev_size=12, search_size=6)
