"""INT8 schemes: which weight products are quantised, with which weight type and scales."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import make_model
from onnx import numpy_helper

from lit_distill.__main__ import main
from lit_distill.export.onnx_export import export_onnx
from lit_distill.export.quantize import INT8_SCHEMES, Int8Scheme, quantize_int8, weight_matmuls


@pytest.fixture(scope="module")
def fp32_graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = make_model([4, 2, 3], seed=2)
    return export_onnx(model, tmp_path_factory.mktemp("q") / "m.onnx", [0.9, 0.7, 0.5])


def _quantized(path: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """(quantised node name -> op type), (initializer name -> array) of an INT8 graph."""
    graph = onnx.load(str(path)).graph
    ops = {n.name: n.op_type for n in graph.node}
    return ops, {i.name: numpy_helper.to_array(i) for i in graph.initializer}


@pytest.mark.parametrize("layout", ["bert", "distilbert"])
def test_every_weight_product_is_found_by_layer(layout: str, tmp_path: Path) -> None:
    graph = export_onnx(make_model(None, layout=layout), tmp_path / "m.onnx")
    found = weight_matmuls(onnx.load(str(graph)))
    kinds = sorted(found.values(), key=lambda v: (v[1] is None, v[1] or 0, v[0]))
    expected = [(k, i) for i in range(3) for k in ("attn_out", "ffn_in", "ffn_out", "qkv")]
    assert kinds == [*expected, ("qa_head", None)]


@pytest.mark.parametrize(
    ("scheme", "weight_dtype", "kept"),
    [
        (INT8_SCHEMES["s8"], np.int8, set()),
        (INT8_SCHEMES["u8"], np.uint8, set()),
        (Int8Scheme(keep_fp32=("qa_head", "first_layer")), np.int8, {"/qa_outputs/MatMul", "/qkv/MatMul"}),
    ],
    ids=["s8", "u8", "s8-head-and-first-layer-fp32"],
)
def test_scheme_sets_weight_type_and_keeps_groups_fp32(
    fp32_graph: Path, tmp_path: Path, scheme: Int8Scheme, weight_dtype: type, kept: set[str]
) -> None:
    ops, weights = _quantized(quantize_int8(fp32_graph, tmp_path / "q.onnx", scheme))
    still_fp32 = {name for name in weight_matmuls(onnx.load(str(fp32_graph))) if ops.get(name) == "MatMul"}
    assert kept <= still_fp32
    assert len(still_fp32) == len(kept) + (3 if kept else 0)  # first layer: qkv, attn_out, ffn_in, ffn_out
    quantized = [w for name, w in weights.items() if name.endswith("_quantized")]
    assert quantized and all(w.dtype == weight_dtype for w in quantized)


def test_per_channel_has_one_scale_per_output_column(fp32_graph: Path, tmp_path: Path) -> None:
    _, weights = _quantized(quantize_int8(fp32_graph, tmp_path / "q.onnx", "s8-per-channel"))
    quantized = {name[: -len("_quantized")]: w for name, w in weights.items() if name.endswith("_quantized")}
    assert len(quantized) == 13  # 4 weight products in each of 3 layers + the QA head
    for name, weight in quantized.items():  # (K, N) weight -> (N,) scales
        assert weights[f"{name}_scale"].shape == (weight.shape[1],), name


def test_unknown_scheme_is_refused_by_the_command(
    uniform_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["export", str(uniform_dir), "--to", "onnx", "--int8", "--output", str(tmp_path / "o")]
    assert main([*args, "--int8-scheme", "int4"]) == 2
    assert "--int8-scheme: 'int4'; known schemes: s8" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
