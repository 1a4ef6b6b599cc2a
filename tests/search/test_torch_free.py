"""The search process never imports torch: its modules, the metric names and the layer maps it reads."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import lit_distill.search
from lit_distill.metric_names import METRIC_KEYS, TRIAL_METRICS

# imported by the trial fork server on purpose, so that every trial starts with torch loaded
PRELOAD = "lit_distill.search.trial_preload"


def test_search_modules_import_without_torch() -> None:
    names = sorted(
        f"lit_distill.search.{m.name}"
        for m in pkgutil.iter_modules(lit_distill.search.__path__)
        if f"lit_distill.search.{m.name}" != PRELOAD
    )
    assert "lit_distill.search.spec" in names and "lit_distill.search.optuna_backend" in names
    names += ["lit_distill.metric_names", "lit_distill.layer_maps"]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "    if 'torch' in sys.modules:\n"
        "        raise SystemExit(f'{name} imports torch')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_trial_metrics_are_the_squad_scores_the_model_and_the_artifact_measurements() -> None:
    from lit_distill.search.spec import SearchSpec

    assert set(METRIC_KEYS) < TRIAL_METRICS
    assert TRIAL_METRICS - set(METRIC_KEYS) == {
        "num_parameters",
        "num_parameters_no_embeddings",
        "eval_time_s",
        "run_time_s",
        "deployed_latency_ms",
        "deployed_exact",
        "deployed_f1",
    }
    assert SearchSpec.__dataclass_fields__["produced_metrics"].default is TRIAL_METRICS
