"""A search trial reports the latency (and F1) of its deployed artifact: ONNX / INT8 with the trial's lengths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lightning.pytorch import Trainer

from lit_distill.callbacks import TrialResult
from lit_distill.data import SquadDataModule, SyntheticSquad
from lit_distill.export import DeployedLatency
from lit_distill.modules.teacher import Teacher
from lit_distill.search.spec import TRIAL_METRICS

LENGTHS = [40, 24]


def _trial(tmp_path: Path, callback: DeployedLatency) -> tuple[dict[str, float], Trainer, Teacher]:
    """A `validate` trial as the search runs it: tiny random model, synthetic data, TrialResult last."""
    dm = SquadDataModule(
        SyntheticSquad(train_size=8, dev_size=6, search_size=2),
        max_seq_length=64,
        doc_stride=32,
        batch_size=8,
        eval_batch_size=16,
        cache_dir=str(tmp_path / "data"),
    )
    module = Teacher(
        model_config={
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 48,
            "max_position_embeddings": 64,
        },
        length_config=LENGTHS,
    )
    trainer = Trainer(
        default_root_dir=str(tmp_path),
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback, TrialResult(path=str(tmp_path / "metrics.json"))],
    )
    trainer.validate(module, datamodule=dm)
    return json.loads((tmp_path / "metrics.json").read_text()), trainer, module


def test_trial_reports_the_exported_artifact_s_latency_and_f1(tmp_path: Path) -> None:
    callback = DeployedLatency(int8=False, seq_length=64, threads=1, warmup=1, repeats=2, evaluate=True)
    metrics, trainer, module = _trial(tmp_path, callback)
    assert {"deployed_latency_ms", "deployed_f1", "deployed_exact"} <= set(metrics) <= TRIAL_METRICS
    assert metrics["deployed_latency_ms"] > 0
    # the graph that was timed and scored is the trial's model with the trial's length configuration
    assert callback.last == {"length_config": LENGTHS, "int8": False, "graph": "model.onnx"}
    # fp32 ONNX equals PyTorch (logits to 1e-4), so the artifact's scores are the trial's own
    assert metrics["deployed_f1"] == pytest.approx(metrics["f1"], abs=1e-6)
    assert metrics["deployed_exact"] == pytest.approx(metrics["exact"], abs=1e-6)

    int8 = DeployedLatency(int8=True, seq_length=64, threads=1, warmup=1, repeats=2)
    measured = int8.trial_metrics(trainer, module)
    assert set(measured) == {"deployed_latency_ms"} and measured["deployed_latency_ms"] > 0
    assert int8.last == {"length_config": LENGTHS, "int8": True, "graph": "model.int8.onnx"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"int8_scheme": "int4"}, r"int8_scheme 'int4'; known schemes: s8"),
        ({"repeats": 0}, r"repeats must be an integer >= 1, got 0"),
        ({"threads": 0}, r"threads must be an integer >= 1 or null, got 0"),
    ],
)
def test_bad_arguments_name_themselves(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DeployedLatency(**kwargs)  # type: ignore[arg-type]
