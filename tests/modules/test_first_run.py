"""A new user's first real run (issue 15): resumable checkpoints in every shipped config,
plain progress lines in logs, precision, the model summary, alpha_ce 0 without a teacher."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from lit_distill.callbacks import LastCheckpoint
from lit_distill.callbacks.plain_progress import format_duration, progress_line
from lit_distill.cli import LitDistillCLI, default_precision
from lit_distill.models.qa_model import QAModel
from tests.modules.conftest import make_datamodule, tiny_config

ROOT = Path(__file__).resolve().parents[2]
STEPS = 2  # training batches per epoch in the resume runs
COMMON = [
    "--trainer.max_epochs=2",
    f"--trainer.limit_train_batches={STEPS}",
    "--trainer.num_sanity_val_steps=0",
    "--trainer.accelerator=cpu",
    "--trainer.devices=1",
    "--trainer.enable_progress_bar=false",
    "--progress.every_n_steps=1",
]
SMALL_DATA = [
    "--data.init_args.max_seq_length=64",
    "--data.init_args.doc_stride=32",
    "--data.init_args.batch_size=8",
    "--data.init_args.eval_batch_size=16",
    "--data.init_args.num_workers=0",
]
TINY_SYNTHETIC = [  # the synthetic data of the conftest's data_dir (a config's SyntheticSquad source)
    "--data.init_args.source.init_args.train_size=48",
    "--data.init_args.source.init_args.dev_size=12",
    "--data.init_args.source.init_args.search_size=6",
]


def synthetic_files(data_dir: Path) -> tuple[Path, Path]:
    folder = next((data_dir / "synthetic").glob("seed0-48-12-6-*"))
    return folder / "train.json", folder / "dev.json"


def local_files(data_dir: Path, encoder: Path) -> list[str]:
    """Overrides that turn a hub-dataset config into the synthetic data as local files."""
    train, dev = synthetic_files(data_dir)
    return [
        "--data.init_args.source=lit_distill.data.SquadFiles",
        f"--data.init_args.source.init_args.train={train}",
        f"--data.init_args.source.init_args.validation={dev}",
        f"--data.init_args.tokenizer={encoder}",
        f"--data.init_args.cache_dir={data_dir}",
        *SMALL_DATA,
    ]


def run_cli(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> LitDistillCLI:
    """``python -m lit_distill ARGS`` in this process (the same parser and classes), run in ``cwd``."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", sys.argv[:1])
    return LitDistillCLI(args=args)


def test_every_shipped_fit_config_keeps_a_resumable_last_checkpoint_and_a_logger() -> None:
    configs = [
        *ROOT.glob("configs/*.yaml"),
        *ROOT.glob("configs/quickstart/*.yaml"),
        *ROOT.glob("configs/local_cpu/*.yaml"),
        ROOT / "configs/search/bases/efficient_bert_fit.yaml",
    ]
    assert len(configs) >= 14
    for path in configs:
        config = yaml.safe_load(path.read_text())
        trainer = config["trainer"]
        paths = [c["class_path"] for c in trainer["callbacks"]]
        assert "lit_distill.callbacks.LastCheckpoint" in paths, path
        assert trainer.get("logger", {}).get("class_path", "").endswith("CSVLogger"), path
        assert "precision" not in trainer or trainer["precision"] == "32-true", (
            path
        )  # else: follows accelerator


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every_n_train_steps": 0}, "every_n_train_steps must be a positive integer"),
        ({"every_n_minutes": 0}, "every_n_minutes must be a finite number > 0 or null"),
        ({"every_n_train_steps": 10, "every_n_minutes": 5.0}, "not both"),
    ],
)
def test_last_checkpoint_rejects_bad_intervals(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LastCheckpoint(**kwargs)


def test_progress_line_and_default_precision() -> None:
    line = progress_line(50, 400, 0, 2.31414, 31.24, 192.4)
    assert line == "epoch 0 step 50/400 loss 2.3141 31.2 samples/s ETA 0:03:12"
    assert format_duration(float("nan")) == "?"
    assert default_precision("cpu") == "32-true" and default_precision("gpu") == "16-mixed"
    assert default_precision("auto") == ("16-mixed" if torch.cuda.is_available() else "32-true")


@pytest.fixture(scope="module")
def two_layer_student(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dm = make_datamodule(data_dir)
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("student")
    QAModel(tiny_config(len(dm.tokenizer), layers=2)).save(path, tokenizer=dm.tokenizer)
    return path


def test_fit_killed_with_sigkill_after_its_first_epoch_resumes_from_last_ckpt(
    tmp_path: Path,
    data_dir: Path,
    teacher_dir: Path,
    two_layer_student: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One shipped config per family: a real-run teacher on the hub (bert-base, rajpurkar/squad_v2),
    a TinyBERT student (a different module, no validation), and a quickstart student (cached teacher
    logits, synthetic data); models and data overridden to tiny offline ones."""
    jobs = {
        "configs/teacher.yaml": [
            *local_files(data_dir, teacher_dir),
            "--trainer.limit_val_batches=1",
            f"--model.init_args.model={teacher_dir}",
        ],
        "configs/tinybert_id.yaml": [
            *local_files(data_dir, teacher_dir),
            f"--model.init_args.teacher={teacher_dir}",
            f"--model.init_args.student={two_layer_student}",
        ],
        "configs/quickstart/distilbert.yaml": [
            "--trainer.limit_val_batches=1",
            f"--model.init_args.teacher={teacher_dir}",
            *TINY_SYNTHETIC,
            f"--data.init_args.cache_dir={data_dir}",
            *SMALL_DATA,
        ],
    }
    runs = {name: tmp_path / name.replace("/", "_") for name in jobs}
    for cwd in runs.values():
        cwd.mkdir()
    kill = "--trainer.callbacks+=tests.modules.kill_fixtures.SigkillAfterFirstEpoch"
    spec = [
        {"cwd": str(runs[name]), "args": ["fit", f"--config={ROOT / name}", *COMMON, *extra, kill]}
        for name, extra in jobs.items()
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "tests.modules.kill_fixtures", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    assert "ENDED [9, 9, 9]" in res.stdout, res.stdout[-2000:] + res.stderr[-4000:]  # all SIGKILLed
    # plain progress lines with stdout not a terminal, and the summary's FLOP line instead of Lightning's 0
    assert f"epoch 0 step 1/{2 * STEPS} loss " in res.stdout and " samples/s ETA " in res.stdout
    assert "validation epoch 0 step" in res.stdout and "val/f1" in res.stdout
    assert "Forward FLOPs per 64-token feature" in res.stderr and "Total Flops" not in res.stderr

    for name, extra in jobs.items():
        dirpath = runs[name] / "runs" / Path(name).stem / "checkpoints"
        if name.startswith("configs/quickstart"):
            dirpath = runs[name] / "runs/quickstart/student/checkpoints"
        last = dirpath / "last.ckpt"
        saved = torch.load(last, map_location="cpu", weights_only=False)
        assert (saved["epoch"], saved["global_step"]) == (0, STEPS), name  # written after epoch 1 of 2
        cli = run_cli(
            ["fit", f"--config={ROOT / name}", *COMMON, *extra, "--ckpt_path=last"], runs[name], monkeypatch
        )
        assert Path(cli.trainer.ckpt_path or "").resolve() == last.resolve(), name
        assert cli.trainer.global_step == 2 * STEPS and cli.trainer.current_epoch == 2, name
        assert cli.trainer.precision == "32-true", name  # the config sets none: follows the CPU
        resumed = torch.load(last, map_location="cpu", weights_only=False)
        assert resumed["global_step"] == 2 * STEPS, name


@pytest.mark.parametrize("use_cache", [True, False])
def test_alpha_ce_0_never_runs_the_teacher_nor_builds_its_cache(
    tmp_path: Path,
    data_dir: Path,
    teacher_dir: Path,
    use_cache: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = tmp_path / "cache"
    args = [
        "fit",
        f"--config={ROOT / 'configs/quickstart/distilbert.yaml'}",
        *COMMON,
        "--trainer.max_epochs=1",
        "--trainer.limit_val_batches=0",
        "--trainer.callbacks+=tests.modules.kill_fixtures.TeacherMustNotRun",
        f"--model.init_args.teacher={teacher_dir}",
        "--model.init_args.alpha_ce=0",
        "--model.init_args.alpha_squad=1",
        f"--model.init_args.use_cache={str(use_cache).lower()}",
        f"--model.init_args.logit_cache_dir={cache}",
        *TINY_SYNTHETIC,
        f"--data.init_args.cache_dir={data_dir}",
        *SMALL_DATA,
    ]
    cli = run_cli(args, tmp_path, monkeypatch)
    assert cli.trainer.global_step == STEPS
    assert not cache.exists() or not any(cache.iterdir())
    assert float(cli.trainer.callback_metrics["train/loss_squad"]) > 0


def test_length_evaluator_from_yaml_counts_limit_val_batches_and_speedup_column(
    tmp_path: Path,
    data_dir: Path,
    teacher_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Counts next to ratios arrive as floats from YAML; they are counts. One batch as validation."""
    overlay = tmp_path / "length_eval.yaml"
    overlay.write_text(
        "trainer:\n"
        "  callbacks:\n"
        "    - class_path: LengthConfigEvaluator\n"
        "      init_args:\n"
        f"        output_dir: {tmp_path / 'out'}\n"
        "        length_configs:\n"
        "          - [64, 48, 32, 16]\n"
        "          - [1.0, 0.8, 0.6, 0.5]\n"
        "          - [1.0, 1.0, 1.0, 1.0]\n"  # keeps every token: the full model, not evaluated twice
        "          - [64, 48, 32, 16]\n"
    )
    args = [
        "validate",
        f"--config={ROOT / 'configs/quickstart/teacher.yaml'}",
        f"--config={overlay}",
        "--trainer.limit_val_batches=1",
        "--trainer.enable_progress_bar=false",
        "--model.init_args.model_config=null",
        f"--model.init_args.model={teacher_dir}",
        *TINY_SYNTHETIC,
        f"--data.init_args.cache_dir={data_dir}",
        *SMALL_DATA,
    ]
    lightning_log = logging.getLogger("lightning.pytorch")  # does not propagate to the root logger
    lightning_log.addHandler(caplog.handler)
    try:
        run_cli(args, tmp_path, monkeypatch)
    finally:
        lightning_log.removeHandler(caplog.handler)
    rows = json.loads((tmp_path / "out/length_configs.json").read_text())["results"]
    assert [r["config"] for r in rows] == ["full", "64-48-32-16", "1-0.8-0.6-0.5"]
    assert rows[1]["length_config"] == [64, 48, 32, 16]
    assert {r["features"] for r in rows} == {
        16
    }  # one batch of 16, as limit_val_batches=1 (the split has more)
    assert rows[0]["relative_flops"] == 1.0 and rows[2]["relative_flops"] < 1.0
    table = caplog.text.split("Drop-and-Restore evaluation", 1)[1]
    # one batch is one timed round: too few to report a speed-up, and the table says so
    assert rows[2]["speedup_vs_full"] is None and "timed round" in rows[2]["speedup_vs_full_flag"]
    assert "speed-up" in table and "noisy" in table and "speed-up not reported" in table
