"""INT8 quantisation of an exported graph with ONNX Runtime's quantiser, by named scheme.

A dynamic scheme fixes what ``onnxruntime.quantization.quantize_dynamic`` is asked to do: the
weight type (``s8``: signed weights, u8 x s8 products; ``u8``: unsigned weights, u8 x u8),
per-channel weight scales, 7-bit weights (``reduce_range``) and which weight matrix
products stay fp32. Only the weight matrix products (``MatMul`` with a constant weight,
``MatMulConstBOnly``) are quantised: attention's activation x activation products stay
fp32. Activations are quantised per tensor at run time (dynamic); ONNX Runtime's dynamic
quantisation writes the QOperator form (``DynamicQuantizeLinear`` + ``MatMulInteger``,
fused to ``DynamicQuantizeMatMul``): QDQ needs static, calibrated activation scales.

A static scheme (``static-minmax``, ``static-percentile``, ``static-entropy``) is
``onnxruntime.quantization.quantize_static`` in the QDQ format: the activation scales are
fixed once from calibration windows (:mod:`lit_distill.export.calibration`) by the named
calibration method (ONNX Runtime's ``CalibrationMethod``: MinMax, Percentile at 99.999 %,
Entropy), u8 activations (asymmetric), s8 weights with one scale per output column. The same
weight products are quantised as in the dynamic schemes (the nodes are named to the
quantiser, so attention's activation x activation products and the Drop-and-Restore
significance stay fp32), and a product's output stays fp32 (``DequantizeLinear`` on both
inputs, no ``QuantizeLinear`` after it), which ONNX Runtime fuses into
``MatMulIntegerToFloat``. The graph is calibrated with its length configuration in it, so
the ranges are those of the tokens each layer keeps.

Any scheme can keep named groups of products in fp32 (``keep_fp32_nodes``):
:mod:`lit_distill.export.sensitivity` chooses them from measured F1.

Why the default is not ONNX Runtime's own default (``s8``, one scale per weight matrix):
on the real MiniLM model one scale per matrix costs 2-3 F1, mostly from the resolution
of the weights (7-bit weights, ``reduce_range``, are worse still); one scale per output
column (``s8-per-channel``) roughly halves the logit error. docs/deploy.md has the
measured F1 and latency of each scheme.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lit_distill.export.calibration import Feed, WindowReader
from lit_distill.export.errors import ExportInputError, require
from lit_distill.user_errors import UserInputError

__all__ = [
    "CALIBRATION_METHODS",
    "DEFAULT_INT8_SCHEME",
    "INT8_SCHEMES",
    "Int8Scheme",
    "int8_groups",
    "int8_scheme",
    "quantize_int8",
    "weight_matmuls",
]

CALIBRATION_METHODS = ("minmax", "percentile", "entropy")
"""Calibration methods of the static schemes (ONNX Runtime's MinMax, Percentile, Entropy)."""


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
        calibration: None for dynamic quantisation, else the static scheme's calibration
            method (one of :data:`CALIBRATION_METHODS`); static schemes have u8 activations.

    Raises:
        ExportInputError: an unknown calibration method (naming the known ones).
    """

    weight_type: str = "s8"
    per_channel: bool = False
    reduce_range: bool = False
    keep_fp32: tuple[str, ...] = ()
    description: str = ""
    calibration: str | None = None

    def __post_init__(self) -> None:
        if self.calibration is not None and self.calibration not in CALIBRATION_METHODS:
            raise ExportInputError(
                "calibration method", f"{self.calibration!r}; known methods: {', '.join(CALIBRATION_METHODS)}"
            )

    @property
    def static(self) -> bool:
        """Whether the scheme is calibrated (static QDQ) rather than dynamic."""
        return self.calibration is not None


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
    **{
        f"static-{method}": Int8Scheme(
            per_channel=True,
            calibration=method,
            description=f"static QDQ: u8 activations calibrated by {method} on --calibration-file windows, "
            "s8 weights per output column",
        )
        for method in CALIBRATION_METHODS
    },
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


def int8_groups(model: Any) -> dict[str, list[str]]:
    """The groups the sensitivity fallback quantises one at a time: group name -> weight product nodes.

    ``layer{i}.attention`` (the QKV and output projections of layer ``i``), ``layer{i}.ffn``
    (its two feed-forward products) and ``qa_head``, in the graph's order.

    Args:
        model: An ``onnx.ModelProto`` written by :func:`~lit_distill.export.onnx_export.export_onnx`.
    """
    groups: dict[str, list[str]] = {}
    for name, (kind, layer) in weight_matmuls(model).items():
        if layer is None:
            group = "qa_head"
        else:
            group = f"layer{layer}.{'attention' if kind in ('qkv', 'attn_out') else 'ffn'}"
        groups.setdefault(group, []).append(name)
    layers = sorted({g for g in groups if g != "qa_head"}, key=lambda g: (int(g[5:].split(".")[0]), g))
    return {g: groups[g] for g in [*layers, *(["qa_head"] if "qa_head" in groups else [])]}


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


def quantize_int8(
    source: Path,
    target: Path,
    scheme: str | Int8Scheme = DEFAULT_INT8_SCHEME,
    calibration: Sequence[Feed] | None = None,
    keep_fp32_nodes: Sequence[str] = (),
    calibration_cache: Path | None = None,
) -> Path:
    """INT8 quantisation of the weight matrix products of ``source`` into ``target``.

    Args:
        source: An fp32 graph written by :func:`~lit_distill.export.onnx_export.export_onnx`.
        target: Where the INT8 graph goes.
        scheme: A name in :data:`INT8_SCHEMES` or a scheme.
        calibration: Calibration windows (:func:`~lit_distill.export.calibration.calibration_windows`);
            needed by a static scheme, unused by a dynamic one.
        keep_fp32_nodes: Weight product nodes left in fp32 besides the scheme's own groups.
        calibration_cache: A static scheme's activation ranges are read from this JSON file when
            it exists (written by an earlier call on the same graph and method) and written to
            it otherwise, so that one graph is calibrated once however often it is quantised
            (ONNX Runtime's ``calibration_cache_path``; an ONNX Runtime without it calibrates
            again on every call, from ``calibration``).

    Raises:
        ExportInputError: a static scheme without calibration windows (naming ``--calibration-file``).
    """
    onnx = require("onnx")
    quantization = require("onnxruntime.quantization")
    chosen = int8_scheme(scheme) if isinstance(scheme, str) else scheme
    graph = onnx.load(str(source))
    products = weight_matmuls(graph)
    excluded = sorted({*_excluded(products, chosen.keep_fp32), *keep_fp32_nodes})
    weight_type = (
        quantization.QuantType.QInt8 if chosen.weight_type == "s8" else quantization.QuantType.QUInt8
    )
    if not chosen.static:
        quantization.quantize_dynamic(
            str(source),
            str(target),
            weight_type=weight_type,
            per_channel=chosen.per_channel,
            reduce_range=chosen.reduce_range,
            op_types_to_quantize=[
                "MatMul"
            ],  # the exporter writes no Gemm (linear layers on (B, L, H) are MatMul)
            nodes_to_exclude=excluded,
            extra_options={"MatMulConstBOnly": True},
        )
        return target
    if not _has_calibration_cache(quantization.quantize_static):
        calibration_cache = None
    cached = calibration_cache is not None and calibration_cache.is_file()
    if not calibration and not cached:
        raise ExportInputError(
            "--calibration-file",
            "a static INT8 scheme needs calibration windows: give a SQuAD file of training text",
        )
    chosen_nodes = [name for name in products if name not in excluded]
    if not chosen_nodes:  # everything kept in fp32: the graph is the fp32 one
        onnx.save(graph, str(target))
        return target
    reader = WindowReader(calibration, [i.name for i in graph.graph.input]) if calibration else None
    methods = quantization.CalibrationMethod
    method = {"minmax": methods.MinMax, "percentile": methods.Percentile, "entropy": methods.Entropy}
    cache = {} if calibration_cache is None else {"calibration_cache_path": str(calibration_cache)}
    with _quiet():
        quantization.quantize_static(
            str(source),
            str(target),
            reader,
            quant_format=quantization.QuantFormat.QDQ,
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=chosen_nodes,
            per_channel=chosen.per_channel,
            reduce_range=chosen.reduce_range,
            activation_type=quantization.QuantType.QUInt8,
            weight_type=weight_type,
            calibrate_method=method[str(chosen.calibration)],
            **cache,
            extra_options={
                "CalibStridedMinMax": 1,  # one window per pass: Drop-and-Restore shapes differ between windows
                "OpTypesToExcludeOutputQuantization": ["MatMul"],  # fp32 outputs: MatMulIntegerToFloat
            },
        )
    return target


def _has_calibration_cache(quantize_static: Any) -> bool:
    """Whether this ONNX Runtime's ``quantize_static`` can save and reuse calibration ranges."""
    return "calibration_cache_path" in inspect.signature(quantize_static).parameters


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the calibrators' progress prints and the quantiser's pre-processing advice."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.disable(previous)
