"""``export --to onnx``: logits equal PyTorch's for padding, token types, pruned heads, pruned FFN widths and length configurations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
import yaml
from conftest import make_model
from helpers import padded_batch

from lit_distill.__main__ import main
from lit_distill.export import export_model
from lit_distill.export.api import eval_settings
from lit_distill.export.artifact import load_artifact, onnx_forward, onnx_session
from lit_distill.export.evaluate import evaluate, prepare_eval
from lit_distill.export.onnx_export import export_onnx
from lit_distill.modules.sources import load_qa_model

# (heads per layer, layout, length configuration, feed-forward widths per layer)
CASES = [
    (None, "bert", None, None),
    ([4, 2, 3], "bert", [0.8, 0.5, 0.3], [5, 37, 20]),
    ([1, 4, 2], "distilbert", [12, 9, 4], None),
]


@pytest.mark.parametrize(
    ("heads", "layout", "lengths", "widths"),
    CASES,
    ids=["plain", "pruned-ratios", "distilbert-pruned-counts"],
)
def test_onnx_logits_equal_pytorch(
    heads: Any, layout: str, lengths: Any, widths: Any, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    model = make_model(heads, seed=3, layout=layout, intermediate_per_layer=widths)
    run = onnx_forward(onnx_session(export_onnx(model, tmp_path / "m.onnx", lengths), threads=1))
    # Batch sizes and lengths other than the traced (2, 16); every row but the first padded.
    for seed, (b, n) in enumerate([(3, 20), (1, 12), (5, 40)]):
        batch = padded_batch(model.config.vocab_size, b, n, seed, types=layout == "bert")
        start, end = run(*(batch[k].numpy() for k in ("input_ids", "attention_mask", "token_type_ids")))
        with torch.no_grad():
            ours = model(**batch, length_config=lengths)
        mask = batch["attention_mask"].bool().numpy()
        np.testing.assert_allclose(start[mask], ours.start_logits.numpy()[mask], atol=1e-4, rtol=0)
        np.testing.assert_allclose(end[mask], ours.end_logits.numpy()[mask], atol=1e-4, rtol=0)


@pytest.fixture(scope="module")
def int8_export(
    pruned_ckpt: Path, eval_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, list[str]]:
    lines: list[str] = []
    out = tmp_path_factory.mktemp("onnx") / "int8"
    result = export_model(
        pruned_ckpt,
        "onnx",
        out,
        int8=True,
        length_config="[0.9,0.7,0.5]",
        eval_file=eval_file,
        threads=1,
        log=lines.append,
    )
    return result, lines


def _front_matter_scores(card: str) -> dict[str, float]:
    """The EM / F1 the model card's YAML front matter (the model-index) reports."""
    front = yaml.safe_load(card.split("---", 2)[1])
    metrics = [m for r in front["model-index"][0]["results"] for m in r["metrics"]]
    return {m["name"]: float(m["value"]) for m in metrics if m.get("name") in ("EM", "F1")}


def _pytorch_forward(model: Any, length_config: list[float]) -> Any:
    """The checkpoint's own QAModel in PyTorch as an artifact's numpy forward."""

    def run(ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            out = model(torch.from_numpy(ids), torch.from_numpy(mask), token_type_ids=torch.from_numpy(types),
                        length_config=length_config)  # fmt: skip
        return out.start_logits.numpy(), out.end_logits.numpy()

    return run


def test_int8_artifact_runs_and_card_has_its_scores(
    int8_export: tuple[Any, list[str]], pruned_ckpt: Path, eval_file: Path
) -> None:
    result, lines = int8_export
    out = result.directory
    assert any(line.startswith("INT8 vs fp32: F1 ") for line in lines)
    assert not list(out.glob("*.fp32.onnx"))
    artifact = load_artifact(out, threads=1)
    assert artifact.manifest.int8 and artifact.manifest.length_config == [0.9, 0.7, 0.5]
    ops = {node.op_type for node in onnx.load(str(out / "model.onnx")).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeMatMul"}  # really INT8
    metrics, fp32 = result.metrics, result.fp32_metrics
    assert metrics is not None and fp32 is not None and metrics["total"] == 12
    card = (out / "README.md").read_text()
    assert "type: f1" in card and "int8" in card
    # Scored again here, not read back from the numbers that wrote the card: the INT8 column is
    # the exported directory's own graph on the file, the fp32 column the checkpoint in PyTorch
    # under the same length configuration (the fp32 graph equals it to 1e-4, test above).
    data = prepare_eval(eval_file, artifact.tokenizer, eval_settings(64))
    own = evaluate(artifact.forward, data, latency_samples=1)
    checkpoint = load_qa_model(str(pruned_ckpt), "model").model.eval()
    pytorch = evaluate(_pytorch_forward(checkpoint, [0.9, 0.7, 0.5]), data, latency_samples=1)
    assert f"| EM | {own['exact']:.2f} | {pytorch['exact']:.2f} |" in card
    assert f"| F1 | {own['f1']:.2f} | {pytorch['f1']:.2f} |" in card
    assert _front_matter_scores(card) == {"EM": round(own["exact"], 2), "F1": round(own["f1"], 2)}


def test_bench_times_the_exported_graph(
    int8_export: tuple[Any, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(int8_export[0].directory)
    report = tmp_path / "bench.json"
    argv = ["bench", "--checkpoint", out, "--runtime", "onnxruntime", "--batch-size", "2", "--seq-length", "24",
            "--warmup", "1", "--repeats", "2", "--threads", "1", "--output", str(report)]  # fmt: skip
    assert main(argv) == 0
    assert "onnxruntime INT8 length 0.9-0.7-0.5" in capsys.readouterr().out
    row = json.loads(report.read_text())["results"][0]
    assert row["runtime"] == "onnxruntime" and row["int8"] is True and row["latency_median_s"] > 0
    assert main(["bench", "--checkpoint", out, "--runtime", "torch"]) == 2
    assert "--runtime onnxruntime" in capsys.readouterr().err


def test_bench_times_graphs_beside_a_baseline_without_spinning_threads(
    int8_export: tuple[Any, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alone, a graph keeps ONNX Runtime's spinning threads (its deployed latency); timed in the same
    rounds as a baseline, neither session spins, or one's idle threads slow the other's runs."""
    import lit_distill.export.artifact as artifact_module

    spinning: list[bool] = []

    def recording(path: Path, threads: int | None = None, spinning_: bool = True) -> Any:
        spinning.append(spinning_)
        return onnx_session(path, threads, spinning_)

    monkeypatch.setattr(artifact_module, "onnx_session", recording)
    out = str(int8_export[0].directory)
    argv = ["bench", "--checkpoint", out, "--batch-size", "1", "--seq-length", "16", "--warmup", "1",
            "--repeats", "2", "--threads", "1"]  # fmt: skip
    assert main(argv) == 0 and spinning == [True]
    spinning.clear()
    assert main([*argv, "--baseline", out]) == 0 and spinning == [False, False]


def test_traced_selection_keeps_invalid_slots_last_from_the_second_dropping_layer_on() -> None:
    """From the second dropping layer the current tokens carry original positions far above their
    count; the traced selection must still put a short sequence's unused slots after its kept
    tokens, in original order, as the PyTorch path does."""
    from lit_distill.export.traceable import _select
    from lit_distill.models.length import mark_significance, select_tokens

    positions = torch.tensor([[0, 5, 9, 12], [0, 7, 11, 13]])  # (B, n): 4 tokens left of 14
    received = torch.tensor([[0.1, 0.9, 0.5, 0.7], [0.2, 0.3, 0.1, 0.8]])
    valid = torch.ones(2, 4, dtype=torch.bool)
    significance = mark_significance(received, valid)  # [CLS] (position 0) always first
    counts = torch.tensor([3, 2])  # the second sequence keeps [CLS] and one token: one slot unused
    traced = _select(significance, counts, positions)
    eager = select_tokens(significance, counts, positions)
    for index, keep in (traced, eager):
        assert keep.tolist() == [[True, True, True], [True, True, False]]
        kept = positions.gather(1, index)
        assert kept[0].tolist() == [0, 5, 12]  # the three most significant, in original order
        assert kept[1, :2].tolist() == [0, 13]  # the real slots first (13 > 7 + 5, the unused slot)
    assert torch.equal(traced[0], eager[0]) and torch.equal(traced[1], eager[1])
