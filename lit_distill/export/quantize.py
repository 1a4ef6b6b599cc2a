"""Dynamic INT8 quantisation of an exported graph with ONNX Runtime's quantiser, by named scheme.

A scheme fixes what ``onnxruntime.quantization.quantize_dynamic`` is asked to do: the
weight type (``s8``: signed weights, u8 x s8 products; ``u8``: unsigned weights, u8 x u8),
per-channel weight scales, 7-bit weights (``reduce_range``) and which weight matrix
products stay fp32. Only the weight matrix products (``MatMul`` with a constant weight,
``MatMulConstBOnly``) are quantised: attention's activation x activation products stay
fp32. Activations are quantised per tensor at run time (dynamic); ONNX Runtime's dynamic
quantisation writes the QOperator form (``DynamicQuantizeLinear`` + ``MatMulInteger``,
fused to ``DynamicQuantizeMatMul``): QDQ needs static, calibrated activation scales.

Why the default is not ONNX Runtime's own default (``s8``, one scale per weight matrix):
on the real MiniLM model one scale per matrix costs 2-3 F1, mostly from the resolution
of the weights (7-bit weights, ``reduce_range``, are worse still); one scale per output
column (``s8-per-channel``) roughly halves the logit error. docs/deploy.md has the
measured F1 and latency of each scheme.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lit_distill.export.errors import ExportInputError, require
from lit_distill.user_errors import UserInputError

__all__ = [
    "DEFAULT_INT8_SCHEME",
    "INT8_SCHEMES",
    "Int8Scheme",
    "int8_scheme",
    "quantize_int8",
    "weight_matmuls",
]


@dataclass(frozen=True)
class Int8Scheme:
    """One way of quantising the weight matrix products.

    Attributes:
        weight_type: ``"s8"`` (QInt8 weights) or ``"u8"`` (QUInt8 weights).
        per_channel: One scale per output column instead of one per matrix.
        reduce_range: 7-bit weights (ONNX Runtime's remedy for u8 x s8 saturation).
        keep_fp32: Groups of weight products left in fp32: ``"qa_head"``, ``"first_layer"``,
            ``"last_layer"``, ``"ffn_out"`` (every layer's second feed-forward product).
        description: One line for ``--help`` and the docs.
    """

    weight_type: str = "s8"
    per_channel: bool = False
    reduce_range: bool = False
    keep_fp32: tuple[str, ...] = ()
    description: str = ""


GROUPS = ("qa_head", "first_layer", "last_layer", "ffn_out")

INT8_SCHEMES: dict[str, Int8Scheme] = {
    "s8": Int8Scheme(
        description="s8 weights, one scale per matrix (ONNX Runtime's default; ours until 2026-12)"
    ),
    "s8-reduce-range": Int8Scheme(reduce_range=True, description="7-bit s8 weights, one scale per matrix"),
    "s8-per-channel": Int8Scheme(per_channel=True, description="s8 weights, one scale per output column"),
    "u8": Int8Scheme(weight_type="u8", description="u8 weights (u8 x u8 products), one scale per matrix"),
    "u8-per-channel": Int8Scheme(
        weight_type="u8", per_channel=True, description="u8 weights, one scale per output column"
    ),
}
DEFAULT_INT8_SCHEME = "s8-per-channel"
"""Per-channel scales: the smallest F1 loss on real data at the same speed (docs/deploy.md)."""


def int8_scheme(name: str) -> Int8Scheme:
    """The scheme called ``name``.

    Raises:
        ExportInputError: naming ``--int8-scheme`` and the known names.
    """
    if name not in INT8_SCHEMES:
        raise ExportInputError("--int8-scheme", f"{name!r}; known schemes: {', '.join(INT8_SCHEMES)}")
    return INT8_SCHEMES[name]


_LAYER_PRODUCT = re.compile(r"^/(qkv|attn_out|ffn_in|ffn_out)(?:_(\d+))?/MatMul$")
_HEAD_PRODUCT = re.compile(r"^/qa_outputs/MatMul$")


def weight_matmuls(model: Any) -> dict[str, tuple[str, int | None]]:
    """The graph's weight matrix products: node name -> (kind, layer index or None for the head).

    Args:
        model: An ``onnx.ModelProto`` written by :func:`~lit_distill.export.onnx_export.export_onnx`.
    """
    weights = {init.name for init in model.graph.initializer}
    found: dict[str, tuple[str, int | None]] = {}
    for node in model.graph.node:
        if node.op_type != "MatMul" or len(node.input) < 2 or node.input[1] not in weights:
            continue
        layer = _LAYER_PRODUCT.match(node.name)
        if layer:
            found[node.name] = (layer.group(1), int(layer.group(2) or 0))
        elif _HEAD_PRODUCT.match(node.name):
            found[node.name] = ("qa_head", None)
    return found


def _excluded(products: dict[str, tuple[str, int | None]], groups: tuple[str, ...]) -> list[str]:
    """Names of the weight products in ``groups`` (see :class:`Int8Scheme`)."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise UserInputError(f"unknown fp32 groups {unknown}; known: {', '.join(GROUPS)}")
    layers = [layer for _, layer in products.values() if layer is not None]
    last = max(layers, default=0)
    chosen = []
    for name, (kind, layer) in products.items():
        if (
            ("qa_head" in groups and kind == "qa_head")
            or ("first_layer" in groups and layer == 0)
            or ("last_layer" in groups and layer == last)
            or ("ffn_out" in groups and kind == "ffn_out")
        ):
            chosen.append(name)
    return chosen


def quantize_int8(source: Path, target: Path, scheme: str | Int8Scheme = DEFAULT_INT8_SCHEME) -> Path:
    """Dynamic INT8 quantisation of the weight matrix products of ``source`` into ``target``.

    Args:
        source: An fp32 graph written by :func:`~lit_distill.export.onnx_export.export_onnx`.
        target: Where the INT8 graph goes.
        scheme: A name in :data:`INT8_SCHEMES` or a scheme.
    """
    onnx = require("onnx")
    quantization = require("onnxruntime.quantization")
    chosen = int8_scheme(scheme) if isinstance(scheme, str) else scheme
    products = weight_matmuls(onnx.load(str(source)))
    quantization.quantize_dynamic(
        str(source),
        str(target),
        weight_type=quantization.QuantType.QInt8
        if chosen.weight_type == "s8"
        else quantization.QuantType.QUInt8,
        per_channel=chosen.per_channel,
        reduce_range=chosen.reduce_range,
        op_types_to_quantize=[
            "MatMul"
        ],  # the exporter writes no Gemm (linear layers on (B, L, H) are MatMul)
        nodes_to_exclude=_excluded(products, chosen.keep_fp32),
        extra_options={"MatMulConstBOnly": True},
    )
    return target
