"""``export --to onnx``: the model as an ONNX graph with dynamic batch and sequence axes, optionally INT8.

The graph is traced by ``torch.onnx.export``'s TorchScript exporter (``dynamo=False``)
from :class:`~lit_distill.export.traceable.TraceableQA`; Drop-and-Restore runs inside it.
The TorchScript exporter is used because the dynamo exporter took 37 s for a 3-layer
toy model on the development machine (5 s with TorchScript) and cannot lower the
stable sort; both give the same graph semantics here.

INT8 (:mod:`lit_distill.export.quantize`) is ONNX Runtime's dynamic quantisation of the
weight matrix multiplications (attention's activation-by-activation products stay fp32).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from lit_distill.export.errors import require
from lit_distill.export.quantize import quantize_int8
from lit_distill.export.traceable import TraceableQA
from lit_distill.models.qa_model import QAModel

__all__ = ["INPUT_NAMES", "OUTPUT_NAMES", "export_onnx", "quantize_int8"]

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAMES = ("start_logits", "end_logits")
OPSET = 17


def _example_inputs(model: QAModel) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A small padded batch (2 sequences of 16 tokens, the second padded) to trace with."""
    length = min(16, model.config.max_position_embeddings)
    input_ids = torch.randint(1, model.config.vocab_size, (2, length))
    attention_mask = torch.ones(2, length, dtype=torch.long)
    attention_mask[1, length // 2 :] = 0
    token_type_ids = torch.zeros(2, length, dtype=torch.long)
    token_type_ids[:, length // 4 :] = 1
    return input_ids, attention_mask, token_type_ids


def export_onnx(model: QAModel, path: Path, length_config: Sequence[int | float] | None = None) -> Path:
    """Write ``model`` (with an in-graph length configuration, if given) to ``path``.

    Inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` (int64, (batch, sequence));
    outputs ``start_logits``, ``end_logits`` (float32, (batch, sequence)).
    """
    require("onnx")
    wrapper = TraceableQA(model, length_config).eval()
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, *OUTPUT_NAMES)}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python ints: the graph keeps them as tensors
        torch.onnx.export(
            wrapper,
            _example_inputs(model),
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    return path
