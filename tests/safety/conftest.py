"""Fault injection through the command line (issue 32): the real runs, done once for the package.

:func:`scenarios` runs every ``fit`` / ``export`` scenario of the package in one driver process
(:mod:`tests.safety.faults`: torch and Lightning imported once, each run a forked child, as
``python -m lit_distill`` would run it); each test then asserts what its scenario left behind.
The runs are tiny: a 2-layer, 32-wide teacher on synthetic data, 2 epochs of 3 steps.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[2]
STEPS_PER_EPOCH = 3
EPOCHS = 2
MODEL = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}  # dropout on (the defaults): a resumed run must also draw the same random numbers
SYNTHETIC = {"train_size": 48, "dev_size": 12, "search_size": 6}


def fit_config(data_dir: Path) -> dict[str, Any]:
    """A tiny teacher run into ``run/`` (relative to the working directory): ``last.ckpt`` at epoch ends."""
    return {
        "seed_everything": 7,
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_epochs": EPOCHS,
            "limit_train_batches": STEPS_PER_EPOCH,
            "limit_val_batches": 1,
            "num_sanity_val_steps": 0,
            "log_every_n_steps": 1,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "default_root_dir": "run",
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": "run", "name": "", "version": ""},
            },
            "callbacks": [
                {
                    "class_path": "lit_distill.callbacks.LastCheckpoint",
                    "init_args": {"dirpath": "run/checkpoints"},
                }
            ],
        },
        "progress": {"every_n_steps": 100},
        "model": {
            "class_path": "lit_distill.modules.Teacher",
            "init_args": {"model_config": MODEL, "learning_rate": 1e-3},
        },
        "data": {
            "class_path": "lit_distill.data.SquadDataModule",
            "init_args": {
                "source": {"class_path": "lit_distill.data.SyntheticSquad", "init_args": SYNTHETIC},
                "max_seq_length": 64,
                "doc_stride": 32,
                "batch_size": 8,
                "eval_batch_size": 16,
                "num_workers": 0,
                "cache_dir": str(data_dir),
            },
        },
    }


@pytest.fixture(scope="session")
def safety_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic data, its tokenizer and features, built once."""
    from lit_distill.data import SquadDataModule, SyntheticSquad

    path = tmp_path_factory.mktemp("safety-data")
    SquadDataModule(
        SyntheticSquad(**SYNTHETIC), max_seq_length=64, doc_stride=32, cache_dir=str(path)
    ).prepare_data()
    return path


@pytest.fixture(scope="session")
def fit_yaml(safety_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("safety-config") / "fit.yaml"
    path.write_text(yaml.safe_dump(fit_config(safety_data), sort_keys=False))
    return path


def other_file_system_tmpdir(work: Path) -> Path | None:
    """A temporary directory on another file system than ``work`` (``/dev/shm``), if the machine has one."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK) or shm.stat().st_dev == work.stat().st_dev:
        return None
    return shm


@dataclass
class Scenarios:
    """What the driver did: each job's result (``exit`` or ``signal``, ``pid``), log, and working directory."""

    root: Path
    results: dict[str, dict[str, Any]]
    tmpdir: Path | None

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text()

    def dir(self, name: str) -> Path:
        return self.root / name


def synthetic_tokenizer(data_dir: Path) -> Path:
    return next((data_dir / "synthetic").glob("seed0-48-12-6-*/tokenizer"))


def _jobs(root: Path, config: Path, tmpdir: Path, data_dir: Path) -> list[dict[str, Any]]:
    fit = ["fit", f"--config={config}"]
    export = ["export", "run/checkpoints/last.ckpt", "--to", "hf", "--output", "deploy/model"]
    export += ["--tokenizer", str(synthetic_tokenizer(data_dir))]
    env = {"TMPDIR": str(tmpdir)}

    def job(name: str, cwd: str, args: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        (root / cwd).mkdir(exist_ok=True)
        return {"name": name, "cwd": str(root / cwd), "log": str(root / f"{name}.log"), "args": args, **extra}

    ckpt = "run/checkpoints"
    every_step = "--trainer.callbacks.init_args.every_n_train_steps=1"
    mid_second_epoch = STEPS_PER_EPOCH + 1
    return [
        # SIGTERM mid-epoch, then resume with the command it printed; the reference runs uninterrupted
        job("full", "full", fit),
        job(
            "sigterm",
            "sigterm",
            [
                *fit,
                "--trainer.callbacks+=tests.safety.faults.SigtermAtStep",
                f"--trainer.callbacks.step={mid_second_epoch}",
            ],
            copy_after=[str(root / "sigterm" / ckpt), str(root / "sigterm-saved")],
        ),
        job("resume", "sigterm", args_from={"log": str(root / "sigterm.log"), "after": "resume with: "}),
        # SIGKILL halfway through writing the third checkpoint, TMPDIR on another file system
        job(
            "sigkill",
            "sigkill",
            [*fit, every_step],
            env=env,
            kill_while_writing={"directory": str(root / "sigkill" / ckpt), "save": 3},
            copy_after=[str(root / "sigkill" / ckpt), str(root / "sigkill-left")],
        ),
        job("sigkill-resume", "sigkill", [*fit, every_step, "--ckpt_path=last"], env=env),
        # the disk fills up while the next checkpoint is written
        job(
            "disk-first",
            "disk",
            [*fit, "--trainer.max_epochs=1"],
            copy_after=[str(root / "disk" / ckpt / "last.ckpt"), str(root / "disk-before.ckpt")],
        ),
        job(
            "disk-full",
            "disk",
            [*fit, every_step, "--ckpt_path=last"],
            env=env,
            fsize_from={"path": str(root / "disk-before.ckpt"), "fraction": 0.5},
        ),
        # the disk fills up while fit exports its model (no checkpoints in this run)
        job(
            "export-dir-full",
            "exportdir",
            [
                *fit,
                "--trainer.callbacks=[]",
                "--trainer.enable_checkpointing=false",
                "--trainer.max_steps=1",
                "--model.init_args.export_dir=run/model",
            ],
            fsize=100_000,
        ),
        # `export --overwrite` with a full disk keeps the earlier export
        job(
            "export",
            "full",
            export,
            copy_after=[str(root / "full/deploy/model"), str(root / "export-before")],
        ),
        job("export-full", "full", [*export, "--overwrite"], fsize=100_000),
        # two fits into one folder: the second starts while the first trains
        job(
            "first",
            "concurrent",
            [
                *fit,
                "--trainer.callbacks+=tests.safety.faults.HoldTraining",
                f"--trainer.callbacks.started={root / 'concurrent/started'}",
                f"--trainer.callbacks.release={root / 'concurrent/release'}",
            ],
            background=True,
        ),
        job(
            "second",
            "concurrent",
            [*fit, "--trainer.max_epochs=3"],
            wait_for=str(root / "concurrent/started"),
            touch_after=str(root / "concurrent/release"),
        ),
    ]


@pytest.fixture(scope="session")
def scenarios(
    fit_yaml: Path, safety_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenarios]:
    """Run every scenario once per test session (about 15 s of CPU), also under ``pytest -n``.

    The xdist workers share the runs (pytest-xdist's recipe: the first worker runs them under
    a file lock in the directory all workers' temporary directories are in; the others read
    the results it wrote).
    """
    basetemp = tmp_path_factory.getbasetemp()
    shared = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp  # this session's
    root = shared / "safety-runs"
    done = root / "results.json"
    created: Path | None = None
    with FileLock(str(shared / "safety-runs.lock")):
        if not done.is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            shm = other_file_system_tmpdir(root)
            created = Path(shm or root) / f"lit-distill-safety-{os.getpid()}"
            created.mkdir(exist_ok=True)
            results = _run_driver(root, _jobs(root, fit_yaml, created, safety_data))
            done.write_text(json.dumps({"results": results, "tmpdir": str(created) if shm else None}))
    recorded = json.loads(done.read_text())
    try:
        yield Scenarios(root, recorded["results"], recorded["tmpdir"] and Path(recorded["tmpdir"]))
    finally:
        if created is not None and created.parent != root:
            shutil.rmtree(created, ignore_errors=True)


def _run_driver(root: Path, jobs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    jobs_file = root / "jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("LIT_DISTILL_DEBUG", None)
    res = subprocess.run(
        [sys.executable, "-m", "tests.safety.faults", str(jobs_file)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env=env,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    results = {}
    for line in res.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
            results[result["name"]] = result
    return results
