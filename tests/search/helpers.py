"""Spec builders shared by the search tests."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOY_FIT = HERE / "toy_fit.yaml"
FAKE_TRIAL = HERE / "fake_trial.py"


def spec_dict(tmp_path: Path, fake: bool = True, **changes: Any) -> dict[str, Any]:
    """A small valid spec over the toy module; ``fake`` uses the millisecond fake launcher."""
    spec: dict[str, Any] = {
        "name": "toy",
        "base_config": str(TOY_FIT),
        "parameters": [
            {"name": "knob", "key": "model.knob", "type": "double", "bounds": {"min": 0.0, "max": 1.0}},
            {
                "name": "hidden",
                "key": "model.init_args.hidden",
                "type": "int",
                "bounds": {"min": 1, "max": 64},
            },
        ],
        "metrics": [
            {"name": "exact", "objective": "maximize", "threshold": 60},
            {"name": "num_parameters", "objective": "minimize"},
            {"name": "f1", "strategy": "store"},
        ],
        "observation_budget": 6,
        "output_dir": str(tmp_path / "out"),
        "backend": {"seed": 0, "n_startup_trials": 3},
        "heartbeat_s": 0.5,
    }
    if fake:
        spec["launcher"] = [sys.executable, str(FAKE_TRIAL)]
    spec.update(changes)
    return spec


def write_spec(tmp_path: Path, spec: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def process_gone(pid: int, within_s: float) -> bool:
    """Whether process ``pid`` has ended (or is a zombie) within ``within_s`` seconds (Linux /proc)."""
    deadline = time.monotonic() + within_s
    while True:
        if not os.path.exists(f"/proc/{pid}") or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
