"""Drop-and-Restore evaluation: the per-configuration loop and the callback's checks."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor
from toy_qa import TinyQAModule, quiet_trainer

from lit_distill.callbacks.length_eval import LengthConfigEvaluator, evaluate_length_configs
from lit_distill.models.config import EncoderConfig
from lit_distill.models.flops import forward_flops
from lit_distill.models.qa_model import QAModel
from lit_distill.timing import round_order


class CountingMetric:
    """Records what it is given; its "f1" is the number of features seen."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def update(self, start: Tensor, end: Tensor, feature_index: Tensor) -> None:
        assert start.shape == end.shape
        self.seen += feature_index.tolist()

    def compute(self) -> dict[str, float]:
        return {"exact": 1.0, "f1": float(len(self.seen)), "total": float(len(self.seen))}


def _batches() -> list[dict[str, Tensor]]:
    torch.manual_seed(0)
    out = []
    for b in range(3):
        ids = torch.randint(1, 30, (2, 12))
        mask = torch.ones_like(ids)
        mask[1, 8:] = 0  # the second feature has 8 real tokens
        out.append(
            {"input_ids": ids, "attention_mask": mask, "feature_index": torch.tensor([2 * b, 2 * b + 1])}
        )
    return out


def test_rows_per_configuration_with_scores_time_and_flops() -> None:
    config = EncoderConfig(
        vocab_size=30, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16,
    )  # fmt: skip
    model = QAModel(config).eval()
    calls: list[Any] = []

    def forward(batch: dict[str, Tensor], length_config: Any = None) -> Any:
        calls.append(length_config)
        return model(batch["input_ids"], batch["attention_mask"], length_config=length_config)

    metrics: list[CountingMetric] = []

    def new_metric() -> CountingMetric:
        metrics.append(CountingMetric())
        return metrics[-1]

    configs: list[Any] = [None, [6, 4], [0.5, 0.25]]
    rows = evaluate_length_configs(forward, _batches, new_metric, config, configs, torch.device("cpu"))
    assert [r["config"] for r in rows] == ["full", "6-4", "0.5-0.25"]
    # interleaved: every batch runs under each configuration, in a new order each batch
    assert calls == [configs[i] for batch in range(3) for i in round_order(3, batch)]
    assert len(metrics) == 3 and all(m.seen == [0, 1, 2, 3, 4, 5] for m in metrics)  # one per configuration
    for row, cfg in zip(rows, configs, strict=True):
        assert row["features"] == 6 and row["f1"] == 6.0 and row["exact"] == 1.0
        expected = (forward_flops(config, 12, cfg) + forward_flops(config, 8, cfg)) / 2 / 1e9
        assert row["gflops_per_feature"] == pytest.approx(expected)
        assert row["model_time_s"] > 0 and row["wall_time_s"] >= row["model_time_s"]
        assert row["throughput_features_per_s"] == pytest.approx(6 / row["model_time_s"])
    assert rows[0]["relative_flops"] == 1.0 and rows[1]["relative_flops"] < 1.0


class LoadedMachine:
    """A fake clock; the forward pass advances it by the configuration's cost times an injected load."""

    def __init__(self, cost: dict[Any, float], load: Any) -> None:
        self.now, self.cost, self.load, self.calls = 0.0, cost, load, 0

    def __call__(self) -> float:
        return self.now

    def forward(self, batch: dict[str, Tensor], length_config: Any = None) -> Any:
        key = None if length_config is None else tuple(length_config)
        self.now += self.cost[key] * self.load(self.calls, key)
        self.calls += 1
        n, length = batch["input_ids"].shape
        return type("Out", (), {"start_logits": torch.zeros(n, length), "end_logits": torch.zeros(n, length)})


def _evaluate_on(machine: LoadedMachine, repeats: int = 1) -> list[dict[str, Any]]:
    config = EncoderConfig(
        vocab_size=30, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16,
    )  # fmt: skip
    return evaluate_length_configs(
        machine.forward, _batches, CountingMetric, config, [None, [6, 4]], torch.device("cpu"),
        timing_repeats=repeats, clock=machine,
    )  # fmt: skip


def test_a_steady_speed_up_is_reported_per_batch_round() -> None:
    rows = _evaluate_on(LoadedMachine({None: 4.0, (6, 4): 2.0}, lambda call, key: 1.0))
    assert rows[1]["speedup_vs_full"] == pytest.approx(2.0) and rows[1]["speedup_vs_full_flag"] is None
    assert rows[0]["speedup_vs_full"] == 1.0
    assert rows[1]["model_time_s"] == pytest.approx(6.0) and rows[0]["model_time_s"] == pytest.approx(12.0)


def test_a_configuration_timed_under_injected_load_is_flagged_not_reported() -> None:
    """A load spike on every other run of the short configuration: its speed-up is not a number."""
    spikes = LoadedMachine({None: 4.0, (6, 4): 2.0}, lambda call, key: 3.0 if key and call % 4 > 1 else 1.0)
    rows = _evaluate_on(spikes, repeats=3)
    short = rows[1]
    assert short["speedup_vs_full"] is None and "spread" in short["speedup_vs_full_flag"]
    assert short["speedup_vs_full_measured"] > 0  # kept beside the flag, for a reader who wants it
    from lit_distill.callbacks.length_eval import _table

    line = next(line for line in _table(rows).splitlines() if line.startswith("6-4 "))
    assert line.split()[-1] == "noisy" and "x" not in line.split()[-1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"length_configs": [[4, 8]]}, r"length_configs\[0\].*must not increase"),
        ({"length_configs": [[4, 2], [1.5, 1.0]]}, r"length_configs\[1\].*ratios must be in"),
        ({"length_configs": [[4]], "split": "train"}, "split must be"),
        ({"length_configs": [[4]], "when": "always"}, "when must be"),
        ({"length_configs": [], "include_full": False}, "nothing to do"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LengthConfigEvaluator(**kwargs)


def test_callback_on_synthetic_squad_writes_json_and_csv(tmp_path: Path) -> None:
    from lit_distill.data import SquadDataModule, SyntheticSquad

    dm = SquadDataModule(
        SyntheticSquad(train_size=20, dev_size=12, search_size=4),
        max_seq_length=96,
        doc_stride=32,
        batch_size=4,
        cache_dir=str(tmp_path / "data"),
    )
    dm.prepare_data()
    dm.setup("validate")
    module = TinyQAModule(layers=2, heads=2, vocab_size=len(dm.tokenizer))
    cb = LengthConfigEvaluator(length_configs=[[0.8, 0.5], [48, 24]], output_dir=str(tmp_path / "out"))
    quiet_trainer([cb], tmp_path).validate(module, datamodule=dm)
    data = json.loads((tmp_path / "out" / "length_configs.json").read_text())
    assert data["meta"]["split"] == "validation"
    rows = data["results"]
    assert [r["config"] for r in rows] == ["full", "0.8-0.5", "48-24"]
    n_features = len(dm.eval_set("validation").feature_example_index)
    for r in rows:
        assert 0.0 <= r["f1"] <= 100.0 and 0.0 <= r["exact"] <= r["f1"] + 1e-9
        assert r["features"] == n_features
    assert rows[1]["relative_flops"] < 1.0 and rows[2]["relative_flops"] < 1.0
    with (tmp_path / "out" / "length_configs.csv").open() as handle:
        assert [row["config"] for row in csv.DictReader(handle)] == ["full", "0.8-0.5", "48-24"]
    assert cb.results == rows


def test_token_selection_reaches_the_model_and_is_checked() -> None:
    """LAT's selection flows from the evaluator into every forward pass (issue 13, item 7)."""
    config = EncoderConfig(
        vocab_size=30, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16,
    )  # fmt: skip
    model = QAModel(config).eval()
    seen: list[Any] = []

    def forward(batch: dict[str, Tensor], **kwargs: Any) -> Any:
        seen.append(kwargs.get("token_selection"))
        return model(batch["input_ids"], batch["attention_mask"], **kwargs)

    rows = evaluate_length_configs(
        forward, _batches, CountingMetric, config, [[6, 4]], torch.device("cpu"), token_selection="lat"
    )
    assert seen == ["lat"] * 3 and rows[0]["config"] == "6-4"
    assert LengthConfigEvaluator([[6, 4]], token_selection="lat").token_selection == "lat"
    with pytest.raises(ValueError, match="token_selection='LAT'; allowed: real_queries, lat, lat_keep_cls"):
        LengthConfigEvaluator([[6, 4]], token_selection="LAT")  # type: ignore[arg-type]
