"""``python -m lit_distill bench``: options, outputs, errors, checkpoint loading."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from lit_distill.commands.bench import benchmark, load_qa_model, main
from lit_distill.models.config import EncoderConfig
from lit_distill.models.qa_model import QAModel


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    config = EncoderConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    path = tmp_path_factory.mktemp("bench") / "model"
    QAModel(config).save(path)
    return path


def test_bench_writes_json_and_csv_with_full_comparison(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json, out_csv = tmp_path / "b.json", tmp_path / "b.csv"
    code = main(
        [
            "--checkpoint", str(model_dir),
            "--length-config", "[24,16,8]",
            "--length-config", "[1.0,0.5,0.25];[32,32,32]",
            "--batch-size", "2", "--seq-length", "32", "--warmup", "1", "--repeats", "3",
            "--device", "cpu", "--output", str(out_json), "--csv", str(out_csv),
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "speed-up" in printed and "24-16-8" in printed
    results = json.loads(out_json.read_text())["results"]
    assert [r["config"] for r in results] == ["full", "24-16-8", "1-0.5-0.25", "32-32-32"]
    full, short, ratio, same = results
    assert full["speedup_vs_full"] == 1.0 and full["length_config"] is None
    assert short["gflops_per_seq"] < full["gflops_per_seq"]
    assert short["flops_ratio_vs_full"] < 0.75
    assert same["flops_ratio_vs_full"] == pytest.approx(1.0)  # keeping every token costs the same
    assert short["flops_ratio_vs_full"] < ratio["flops_ratio_vs_full"] < 1.0  # 32-16-8 tokens vs 24-16-8
    for r in results:
        assert r["repeats"] == 3 and r["latency_min_s"] <= r["latency_median_s"] <= r["latency_max_s"]
        assert r["throughput_seq_per_s"] == pytest.approx(2 / r["latency_median_s"])
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 4 and rows[1]["length_config"] == "[24, 16, 8]"


def test_no_compare_full_times_only_the_given_configs(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    args = ["--checkpoint", str(model_dir), "--length-config", "[8,8,8]", "--no-compare-full"]
    assert main([*args, "--seq-length", "16", "--repeats", "1", "--output", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert [r["config"] for r in results] == ["8-8-8"] and "speedup_vs_full" not in results[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--length-config", "[8,16,4]"], "must not increase"),
        (["--length-config", "[8,4]"], "2 entries but the model has 3 layers"),
        (["--length-config", "[40,20,10]"], "<= --seq-length 32"),
        (["--seq-length", "100"], "max_position_embeddings (64)"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    model_dir: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--checkpoint", str(model_dir), "--seq-length", "32", "--repeats", "1", *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_missing_checkpoint_and_bad_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--checkpoint", str(tmp_path / "nope")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--checkpoint", str(tmp_path), "--repeats", "0"])
    assert info.value.code == 2
    assert "--repeats must be >= 1" in capsys.readouterr().err


def test_load_from_a_lightning_checkpoint_rebuilds_a_pruned_model(model_dir: Path, tmp_path: Path) -> None:
    from lit_distill.models.surgery import prune_heads

    model = QAModel.from_pretrained(model_dir)
    prune_heads(model, {0: [1]})
    ckpt = tmp_path / "pruned.ckpt"
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "lit_distill": {"model_config": model.config.to_dict()}}, ckpt)
    loaded = load_qa_model(ckpt)
    assert loaded.config.layer_heads == [1, 2, 2]
    ids = torch.randint(1, 50, (2, 10))
    mask = torch.ones_like(ids)
    model.eval()
    loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids, mask).start_logits, model(ids, mask).start_logits)
    torch.save({"state_dict": state}, tmp_path / "foreign.ckpt")
    with pytest.raises(ValueError, match="not a checkpoint written by a lit_distill module"):
        load_qa_model(tmp_path / "foreign.ckpt")


def test_benchmark_validates_arguments(model_dir: Path) -> None:
    model = QAModel.from_pretrained(model_dir)
    with pytest.raises(ValueError, match="repeats >= 1"):
        benchmark(model, [None], repeats=0, seq_length=8)
