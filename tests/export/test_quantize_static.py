"""Static (calibrated) INT8 in the QDQ format, and the per-group sensitivity fallback to fp32."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from conftest import VOCAB, make_model
from helpers import SETTINGS, padded_batch

from lit_distill.__main__ import main
from lit_distill.export import ExportInputError, export_model
from lit_distill.export.artifact import onnx_forward, onnx_session
from lit_distill.export.calibration import WindowReader, calibration_windows
from lit_distill.export.onnx_export import export_onnx
from lit_distill.export.quantize import Int8Scheme, int8_groups, quantize_int8, weight_matmuls
from lit_distill.export.sensitivity import sensitivity_fallback

LENGTHS = [0.9, 0.7, 0.5]


@pytest.fixture(scope="module")
def fp32_graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(make_model(None, seed=2), tmp_path_factory.mktemp("static") / "m.onnx", LENGTHS)


@pytest.fixture(scope="module")
def windows(eval_file: Path, tokenizer: Any) -> list[dict[str, np.ndarray]]:
    return calibration_windows(eval_file, tokenizer, SETTINGS, count=8)


def _int8_products(path: Path) -> dict[str, bool]:
    """Every MatMul node -> whether an input comes out of a DequantizeLinear (an INT8 product)."""
    graph = onnx.load(str(path)).graph
    made_by = {out: node.op_type for node in graph.node for out in node.output}
    return {
        node.name: any(made_by.get(i) == "DequantizeLinear" for i in node.input)
        for node in graph.node
        if node.op_type == "MatMul"
    }


@pytest.mark.parametrize("method", ["minmax", "percentile", "entropy"])
def test_static_qdq_graph_runs_with_lengths_and_stays_close_to_fp32(
    fp32_graph: Path, windows: list[dict[str, np.ndarray]], tmp_path: Path, method: str
) -> None:
    graph = quantize_int8(fp32_graph, tmp_path / "q.onnx", f"static-{method}", windows)
    ops = [n.op_type for n in onnx.load(str(graph)).graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops  # QDQ, calibrated activation scales
    products = _int8_products(graph)
    weights = set(weight_matmuls(onnx.load(str(fp32_graph))))
    assert len(weights) == 13  # 4 per layer + the QA head
    # exactly the weight products are INT8: attention's activation x activation products stay fp32
    assert {name for name, int8 in products.items() if int8} == weights
    int8, fp32 = (onnx_forward(onnx_session(g, threads=1)) for g in (graph, fp32_graph))
    batch = padded_batch(len(VOCAB), 3, 30, seed=7)  # a padded batch the calibration never saw
    feed = [batch[k].numpy() for k in ("input_ids", "attention_mask", "token_type_ids")]
    (s8, e8), (s32, e32) = int8(*feed), fp32(*feed)
    real = feed[1].astype(bool)
    spread = float(np.concatenate([s32[real], e32[real]]).std())
    error = float(np.abs(np.concatenate([s8[real] - s32[real], e8[real] - e32[real]])).mean())
    assert 0 < error < 0.1 * spread, (method, error, spread)


def test_reader_feeds_one_window_at_a_time_and_honours_ranges(windows: list[dict[str, np.ndarray]]) -> None:
    reader = WindowReader(windows, ["input_ids", "attention_mask"])
    assert len(reader) == len(windows) == 8
    first = reader.get_next()
    assert first is not None and set(first) == {"input_ids", "attention_mask"}
    assert first["input_ids"].shape[0] == 1 and first["attention_mask"].all()  # batch 1, no padding
    reader.set_range(start_index=3, end_index=5)
    got = [reader.get_next(), reader.get_next(), reader.get_next()]
    assert got[2] is None and got[0] is reader.feeds[3] and got[1] is reader.feeds[4]


def test_a_bad_calibration_method_or_missing_windows_is_one_line(
    fp32_graph: Path, tmp_path: Path, uniform_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(
        ExportInputError,
        match=r"^calibration method: 'histogram'; known methods: minmax, percentile, entropy$",
    ):
        Int8Scheme(calibration="histogram")
    with pytest.raises(
        ExportInputError, match=r"^--calibration-file: a static INT8 scheme needs calibration windows"
    ):
        quantize_int8(fp32_graph, tmp_path / "q.onnx", "static-minmax")
    args = ["export", str(uniform_dir), "--to", "onnx", "--int8", "--output", str(tmp_path / "o")]
    assert main([*args, "--int8-scheme", "static-histogram"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--int8-scheme: 'static-histogram'; known schemes:" in err
    assert "static-entropy" in err
    assert main([*args, "--int8-scheme", "static-entropy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --calibration-file: --int8-scheme static-entropy")
    assert not (tmp_path / "o").exists()


def test_a_search_trial_refuses_a_static_scheme() -> None:
    from lit_distill.export import DeployedLatency

    with pytest.raises(ValueError, match=r"'static-entropy' is calibrated .* choose a dynamic scheme: s8, "):
        DeployedLatency(int8_scheme="static-entropy")


def test_groups_are_each_layer_s_attention_and_ffn_products_and_the_head(fp32_graph: Path) -> None:
    groups = int8_groups(onnx.load(str(fp32_graph)))
    layers = [f"layer{i}.{part}" for i in range(3) for part in ("attention", "ffn")]
    assert list(groups) == [*layers, "qa_head"]
    assert sorted(n for nodes in groups.values() for n in nodes) == sorted(
        weight_matmuls(onnx.load(str(fp32_graph)))
    )
    assert all(len(groups[g]) == 2 for g in layers) and groups["qa_head"] == ["/qa_outputs/MatMul"]


GROUPS = {"layer0.attention": ["a0"], "layer0.ffn": ["f0"], "layer1.attention": ["a1"], "qa_head": ["h"]}


def _fake(bad: dict[str, float]) -> tuple[Any, Any, list[frozenset[str]]]:
    """quantize/score callables: each quantised node of a ``bad`` group costs that many F1 points."""
    calls: list[frozenset[str]] = []
    every = {n for nodes in GROUPS.values() for n in nodes}

    def quantize(keep: Sequence[str]) -> Path:
        calls.append(frozenset(every - set(keep)))
        return Path(f"g{len(calls) - 1}")

    def score(graph: Path) -> float:
        quantised = calls[int(graph.name[1:])]
        return (
            80.0 - sum(cost for g, cost in bad.items() if set(GROUPS[g]) <= quantised) - 0.1 * len(quantised)
        )

    return quantize, score, calls


def test_fallback_keeps_a_bad_group_in_fp32_and_stops_within_budget() -> None:
    quantize, score, calls = _fake({"layer0.ffn": 3.0})
    graph, report = sensitivity_fallback(GROUPS, quantize, score, 80.0, budget=1.0, log=lambda _: None)
    assert report.kept_fp32 == ["layer0.ffn"]
    assert calls[int(graph.name[1:])] == {"a0", "a1", "h"}  # the returned graph quantises every other group
    assert report.group_loss["layer0.ffn"] == pytest.approx(3.1) and report.group_loss[
        "qa_head"
    ] == pytest.approx(0.1)
    assert report.all_int8_f1 == pytest.approx(76.6) and report.final_f1 == pytest.approx(79.7)
    assert report.within_budget and [s["kept_fp32"] for s in report.steps] == [[], ["layer0.ffn"]]


def test_fallback_adds_groups_worst_first_until_within_budget_or_all_fp32() -> None:
    quantize, score, _ = _fake({"qa_head": 2.0, "layer1.attention": 1.5})
    _, report = sensitivity_fallback(GROUPS, quantize, score, 80.0, budget=0.5, log=lambda _: None)
    assert report.kept_fp32 == ["qa_head", "layer1.attention"] and report.within_budget
    # a budget nothing but fp32 meets keeps every group
    quantize, score, calls = _fake({"qa_head": 2.0})
    graph, report = sensitivity_fallback(GROUPS, quantize, score, 80.0, budget=0.0, log=lambda _: None)
    assert sorted(report.kept_fp32) == sorted(GROUPS) and calls[int(graph.name[1:])] == frozenset()


def test_fallback_measures_nothing_more_when_all_int8_is_within_budget() -> None:
    quantize, score, calls = _fake({})
    _, report = sensitivity_fallback(GROUPS, quantize, score, 80.0, budget=1.0, log=lambda _: None)
    assert report.kept_fp32 == [] and report.group_loss == {} and len(calls) == 1
    with pytest.raises(ExportInputError, match=r"^--int8-budget: must be a finite number of F1 points >= 0"):
        sensitivity_fallback(GROUPS, quantize, score, 80.0, budget=-1.0)


def test_export_static_with_budget_writes_the_report_and_keeps_its_groups_fp32(
    uniform_dir: Path, eval_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the command of docs/deploy.md, shrunk: the eval file doubles as calibration and sensitivity split
    out = tmp_path / "out"
    argv = ["export", str(uniform_dir), "--to", "onnx", "--int8", "--int8-scheme", "static-minmax",
            "--calibration-file", str(eval_file), "--calibration-windows", "6", "--int8-budget", "0",
            "--sensitivity-file", str(eval_file), "--length-config", json.dumps(LENGTHS),
            "--eval-file", str(eval_file), "--max-seq-length", "64", "--doc-stride", "16", "--threads", "1",
            "--output", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert "INT8 sensitivity: fp32 F1" in capsys.readouterr().out
    report = json.loads((out / "int8_report.json").read_text())
    assert report["scheme"] == "static-minmax" and report["calibration"] == "minmax"
    assert report["calibration_windows"] == 6 and report["sensitivity_file"] == eval_file.name
    fallback = report["fallback"]
    assert fallback["within_budget"] and fallback["budget"] == 0.0
    assert report["kept_fp32"] == fallback["kept_fp32"]
    assert fallback["fp32_f1"] - fallback["final_f1"] <= 1e-9
    # every group the report keeps is fp32 in the artifact; every other weight product is INT8
    groups = int8_groups(onnx.load(str(export_onnx(make_model(), tmp_path / "ref.onnx", LENGTHS))))
    kept = {n for g in report["kept_fp32"] for n in groups[g]}
    products = _int8_products(out / "model.onnx")
    assert {n for nodes in groups.values() for n in nodes if not products[n]} == kept
    assert json.loads((out / "lit_distill_export.json").read_text())["int8_scheme"] == "static-minmax"


def test_the_python_api_returns_the_int8_report(uniform_dir: Path, tmp_path: Path) -> None:
    result = export_model(uniform_dir, "onnx", tmp_path / "o", int8=True, log=lambda _: None)
    assert result.extra["int8"] == json.loads((tmp_path / "o" / "int8_report.json").read_text())
    assert result.extra["int8"]["scheme"] == "s8-per-channel" and result.extra["int8"]["calibration"] is None
    with pytest.raises(ExportInputError, match=r"^--calibration-file: only with --int8$"):
        export_model(uniform_dir, "onnx", tmp_path / "p", calibration_file="train.json")
