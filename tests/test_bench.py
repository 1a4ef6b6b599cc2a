"""``python -m lit_distill bench``: options, outputs, errors, checkpoint loading."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from lit_distill.__main__ import main as lit_main
from lit_distill.commands.bench import Baseline, Rounds, benchmark, load_qa_model, main
from lit_distill.models.config import EncoderConfig
from lit_distill.models.qa_model import QAModel
from lit_distill.timing import round_order


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
    # the speed-up column is printed whether or not this machine's timing was steady enough to fill it
    header = next(line for line in printed.splitlines() if line.startswith("config"))
    assert "vs full" in header and "24-16-8" in printed
    results = json.loads(out_json.read_text())["results"]
    assert [r["config"] for r in results] == ["full", "24-16-8", "1-0.5-0.25", "32-32-32"]
    full, short, ratio, same = results
    assert full["speedup_vs_full"] == 1.0 and full["length_config"] is None
    assert all("speedup_vs_full_flag" in r for r in results)  # a speed-up is a number or a reason
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
    args = ["bench", "--checkpoint", str(model_dir), "--seq-length", "32", "--repeats", "1", *extra]
    assert lit_main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_checkpoint_and_bad_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lit_main(["bench", "--checkpoint", str(tmp_path / "nope")]) == 2
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
        benchmark(model, [None], seq_length=8, rounds=Rounds(repeats=0))


class SpikyClock:
    """A fake clock for ``benchmark``: the k-th timed run (in the rounds' rotating order) takes
    its configuration's cost, times 3 when ``spike(k, config)`` says the machine was busy then."""

    def __init__(self, costs: list[float], spike: Any) -> None:
        self.costs, self.spike, self.reads, self.now = costs, spike, 0, 0.0

    def __call__(self) -> float:
        run, is_end = divmod(self.reads, 2)
        self.reads += 1
        if is_end:
            n = len(self.costs)
            config = round_order(n, run // n)[run % n]
            self.now += self.costs[config] * (3.0 if self.spike(run, config) else 1.0)
        return self.now


def test_benchmark_flags_a_speed_up_timed_under_injected_load(model_dir: Path) -> None:
    model = QAModel.from_pretrained(model_dir)

    def rounds(clock: SpikyClock) -> Rounds:
        return Rounds(warmup=0, repeats=8, clock=clock)

    steady = benchmark(
        model, [None, [8, 8, 8]], 1, 16, rounds=rounds(SpikyClock([4.0, 2.0], lambda k, c: False))
    )
    assert steady[1]["speedup_vs_full"] == pytest.approx(2.0) and steady[1]["latency_median_s"] == 2.0
    spiky_clock = SpikyClock([4.0, 2.0], lambda k, c: c == 1 and k % 4 < 2)
    spiky = benchmark(model, [None, [8, 8, 8]], 1, 16, rounds=rounds(spiky_clock))
    assert spiky[1]["speedup_vs_full"] is None
    assert "spread" in spiky[1]["speedup_vs_full_flag"] and spiky[0]["speedup_vs_full"] == 1.0
    from lit_distill.commands.bench import _table

    assert _table(spiky).splitlines()[3].split()[-1] == "noisy"


def test_baseline_is_timed_in_the_same_rounds(model_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(1)
    small = QAModel(EncoderConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=16, max_position_embeddings=64))  # fmt: skip
    small.save(tmp_path / "small")
    out = tmp_path / "b.json"
    args = ["--checkpoint", str(tmp_path / "small"), "--baseline", str(model_dir), "--seq-length", "16"]
    assert main([*args, "--batch-size", "1", "--repeats", "3", "--warmup", "0", "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    rows = data["results"]
    assert [r["config"] for r in rows] == ["full", "baseline"] and rows[1]["model"] == str(model_dir)
    assert data["meta"]["baseline"] == str(model_dir)
    assert rows[1]["speedup_vs_baseline"] == 1.0 and "speedup_vs_baseline_measured" in rows[0]
    assert "gflops_per_seq" not in rows[1]  # the baseline's FLOPs are not the model's
    model = QAModel.from_pretrained(model_dir)
    fake = Rounds(warmup=0, repeats=4, clock=SpikyClock([1.0, 3.0], lambda k, c: False))
    timed = benchmark(small, [None], 1, 16, rounds=fake, baseline=Baseline(model, "big"))
    assert timed[0]["speedup_vs_baseline"] == pytest.approx(3.0) and timed[0]["speedup_vs_full"] == 1.0
