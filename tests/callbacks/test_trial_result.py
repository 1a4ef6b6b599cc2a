"""TrialResult: rank 0 writes metrics.json with the contract's keys after validation."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch import Trainer

from lit_distill.callbacks.trial_result import TrialResult, count_parameters, model_to_count
from lit_distill.trial_protocol import METRICS_PATH_ENV
from tests.search.toy import ToyData, ToyQA, quiet_trainer


def _trainer(tmp_path: Path, callback: TrialResult) -> Trainer:
    return quiet_trainer(str(tmp_path), [callback], sanity_steps=1)


def test_fit_writes_metrics_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(METRICS_PATH_ENV, raising=False)
    callback = TrialResult()
    _trainer(tmp_path, callback).fit(ToyQA(knob=0.2, hidden=3), ToyData())
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in (
        "exact",
        "f1",
        "HasAns_f1",
        "NoAns_f1",
        "num_parameters",
        "num_parameters_no_embeddings",
        "eval_time_s",
    ):
        assert key in metrics
    assert metrics["exact"] == pytest.approx(80.0)
    assert metrics["f1"] == pytest.approx(85.0)
    assert metrics["num_parameters"] == 34 and metrics["num_parameters_no_embeddings"] == 4
    assert metrics["eval_time_s"] > 0
    assert not any(k.startswith("val/") for k in metrics)


def test_validate_writes_to_the_path_the_search_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "elsewhere" / "m.json"
    monkeypatch.setenv(METRICS_PATH_ENV, str(target))
    _trainer(tmp_path, TrialResult()).validate(ToyQA(knob=0.3), ToyData())
    assert json.loads(target.read_text())["exact"] == pytest.approx(90.0)
    assert not (tmp_path / "metrics.json").exists()
    assert not list(target.parent.glob(".*.tmp"))  # atomic write leaves no temporary file


def test_only_rank_zero_writes(tmp_path: Path) -> None:
    callback = TrialResult(path=str(tmp_path / "m.json"))
    trainer = SimpleNamespace(sanity_checking=False, is_global_zero=False, callback_metrics={})
    callback.on_validation_end(trainer, ToyQA())  # type: ignore[arg-type]
    assert not (tmp_path / "m.json").exists()


def test_count_parameters_ties_embeddings_and_skips_teacher() -> None:
    emb = torch.nn.Embedding(10, 4)
    head = torch.nn.Linear(4, 10, bias=False)
    head.weight = emb.weight  # tied
    net = torch.nn.Sequential(emb, head)
    assert count_parameters(net) == 40
    assert count_parameters(net, include_embeddings=False) == 0

    class WithTeacher(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.teacher = torch.nn.Linear(100, 100)
            self.head = torch.nn.Linear(2, 1)

    assert count_parameters(model_to_count(WithTeacher(), None)) == 3  # type: ignore[arg-type]
    with pytest.raises(AttributeError, match=r"no nn\.Module attribute 'student'"):
        model_to_count(ToyQA(), "student")
