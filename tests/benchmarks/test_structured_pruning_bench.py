"""The structured-pruning benchmark's timing and plot helpers, on tiny random models."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from benchmarks.structured_pruning import interleaved_latency, plot, print_table
from lit_distill.models.config import EncoderConfig
from lit_distill.models.qa_model import QAModel
from lit_distill.models.surgery import prune_ffn


def _model() -> QAModel:
    torch.manual_seed(0)
    config = {"vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2}
    return QAModel(
        EncoderConfig.from_dict({**config, "intermediate_size": 32, "max_position_embeddings": 16})
    )


def test_latency_per_model_in_order_and_models_unchanged() -> None:
    base = _model()
    pruned = copy.deepcopy(base)
    prune_ffn(pruned, {0: list(range(16)), 1: list(range(8))})
    before = [p.clone() for p in base.parameters()]
    latency = interleaved_latency([base, pruned], batch_size=2, seq=8, repeats=3)
    assert len(latency) == 2 and all(t > 0 for t in latency)
    assert all(torch.equal(a, b) for a, b in zip(before, base.parameters(), strict=True))
    assert pruned.config.layer_intermediate_sizes == [16, 24]


def _rows() -> list[dict[str, object]]:
    common = {"exact": 10.0, "num_parameters": 1000, "encoder_params": 1.0, "heads": 4}
    return [
        {
            "model": "unpruned",
            "ffn": 64,
            "encoder_flops": 1.0,
            "f1": 20.0,
            "latency_median_s": 0.02,
            "speedup": 1.0,
            "time_saved_per_flop_saved": None,
            **common,
        },
        {
            "model": "ffn, -50% FLOPs",
            "ffn": 16,
            "encoder_flops": 0.5,
            "f1": 15.0,
            "latency_median_s": 0.0125,
            "speedup": 1.6,
            "time_saved_per_flop_saved": 0.75,
            **common,
        },
        {"model": "heads, -70% FLOPs", "error": "not reachable"},
    ]


def test_table_prints_speedup_and_share_of_flops_saved(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(_rows(), 8, timed=True)
    out = capsys.readouterr().out
    ffn_line = next(line for line in out.splitlines() if line.startswith("ffn, -50%"))
    assert "1.60x" in ffn_line and "75%" in ffn_line
    assert "heads, -70% FLOPs        not reachable" in out


def test_plot_writes_png_with_distilled_points(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "pruning.png"
    timed = [r for r in _rows() if "error" not in r]
    plot(timed, {"ffn, -50% FLOPs": 18.0}, 8, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
