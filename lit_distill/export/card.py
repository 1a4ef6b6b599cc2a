"""The model card (``README.md``) of an exported directory, built with ``huggingface_hub``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lit_distill.export.artifact import ONNX_FILE, Manifest

__all__ = ["METRIC_NAMES", "build_card"]

# metric key -> (model-index metric type, readable name)
METRIC_NAMES = {
    "exact": ("exact_match", "EM"),
    "f1": ("f1", "F1"),
    "HasAns_exact": ("exact_match", "HasAns EM"),
    "HasAns_f1": ("f1", "HasAns F1"),
    "NoAns_exact": ("exact_match", "NoAns EM"),
    "NoAns_f1": ("f1", "NoAns F1"),
}


def _usage(manifest: Manifest) -> str:
    if manifest.format == "onnx":
        return (
            "```python\nimport onnxruntime as ort\nfrom transformers import AutoTokenizer\n\n"
            "tokenizer = AutoTokenizer.from_pretrained(DIR)\n"
            f'session = ort.InferenceSession(f"{{DIR}}/{ONNX_FILE}")\n'
            'enc = tokenizer(question, context, return_tensors="np")\n'
            "start_logits, end_logits = session.run(None, {k: v for k, v in enc.items()})\n```\n\n"
            "Inputs `input_ids`, `attention_mask`, `token_type_ids` (int64, batch x sequence, any "
            "batch size and length); Drop-and-Restore, if configured, runs inside the graph."
        )
    remote = ", trust_remote_code=True" if manifest.custom_code else ""
    text = (
        "```python\nfrom transformers import AutoModelForQuestionAnswering, pipeline\n\n"
        f"model = AutoModelForQuestionAnswering.from_pretrained(DIR{remote})\n"
        f'qa = pipeline("question-answering", model=DIR{remote})\n```\n'
    )
    if manifest.custom_code:
        text += (
            "\nThis model needs lit_distill's encoder (per-layer head counts after pruning and/or a "
            "default Drop-and-Restore length configuration), which plain transformers does not have: its "
            "source is in this directory (`modeling_lit_distill.py`, `lit_distill_encoder.py`, ...) and "
            "loading it needs `trust_remote_code=True`.\n"
        )
    return text


def _metrics_table(metrics: Mapping[str, Any], fp32: Mapping[str, Any] | None) -> str:
    rows = [
        "| metric | value |" + (" fp32 | change |" if fp32 else ""),
        "|---|---|" + ("---|---|" if fp32 else ""),
    ]
    for key, (_, label) in METRIC_NAMES.items():
        if key in metrics:
            line = f"| {label} | {metrics[key]:.2f} |"
            if fp32 and key in fp32:
                line += f" {fp32[key]:.2f} | {metrics[key] - fp32[key]:+.2f} |"
            rows.append(line)
    rows.append(f"| questions | {metrics.get('total', 0)} |" + (" | |" if fp32 else ""))
    rows.append(
        f"| latency, batch 1 (ms, median) | {metrics['latency_ms']:.2f} |"
        + (f" {fp32['latency_ms']:.2f} | {metrics['latency_ms'] / fp32['latency_ms']:.2f}x |" if fp32 else "")
    )
    return "\n".join(rows)


def build_card(
    manifest: Manifest,
    name: str,
    num_parameters: int,
    recipe: Mapping[str, Any],
    shape: Mapping[str, Any],
    metrics: Mapping[str, Any] | None = None,
    eval_file: str | None = None,
    fp32_metrics: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> Any:
    """A ``huggingface_hub.ModelCard``: recipe, parameter count, measured EM/F1 and latency.

    Args:
        manifest: What was exported.
        name: Model name for the card's metadata.
        num_parameters: Parameters of the exported model.
        recipe: Distillation and compression settings read from the checkpoint.
        shape: Layers, hidden size, heads per layer, feed-forward size.
        metrics: From :func:`lit_distill.export.evaluate.evaluate` on the artifact itself, or None.
        eval_file: The evaluation file the metrics were measured on.
        fp32_metrics: The fp32 model's metrics on the same file (for an INT8 export).
        threads: CPU threads the latency was measured with.
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    results = []
    if metrics is not None and eval_file is not None:
        for key, (metric_type, label) in METRIC_NAMES.items():
            if key in metrics:
                results.append(
                    EvalResult(
                        task_type="question-answering",
                        dataset_type="squad",
                        dataset_name=eval_file,
                        metric_type=metric_type,
                        metric_name=label,
                        metric_value=round(float(metrics[key]), 2),
                    )
                )
    tags = ["question-answering", "lit_distill", "distillation"]
    tags += ["onnx"] * (manifest.format == "onnx") + ["int8"] * manifest.int8
    tags += ["drop-and-restore"] * (manifest.length_config is not None)
    data = ModelCardData(
        library_name="onnx" if manifest.format == "onnx" else "transformers",
        pipeline_tag="question-answering",
        tags=tags,
        model_name=name,
        eval_results=results or None,
    )
    kind = {"hf": "Hugging Face (PyTorch)", "onnx": "ONNX (ONNX Runtime)"}[manifest.format]
    kind += f", dynamic INT8 linear layers (scheme {manifest.int8_scheme})" if manifest.int8 else ", fp32"
    recipe_lines = (
        "\n".join(f"| {k} | `{json.dumps(v)}` |" for k, v in recipe.items()) or "| (none recorded) | |"
    )
    shape_lines = "\n".join(f"| {k} | `{json.dumps(v)}` |" for k, v in shape.items())
    length = (
        json.dumps(manifest.length_config) if manifest.length_config is not None else "none (full length)"
    )
    body = [
        f"# {name}",
        "",
        f"Extractive question answering model exported by lit_distill from `{manifest.source}`: {kind}.",
        "",
        "## How to use",
        "",
        _usage(manifest),
        "## Model",
        "",
        f"- Parameters: {num_parameters:,}",
        f"- Length configuration (Drop-and-Restore): {length}",
        "",
        "| shape | value |",
        "|---|---|",
        shape_lines,
        "",
        "## Recipe (from the checkpoint)",
        "",
        "| setting | value |",
        "|---|---|",
        recipe_lines,
        "",
        "## Evaluation of this artifact",
        "",
    ]
    if metrics is None:
        body.append("Not evaluated (export without `--eval-file`).")
    else:
        body += [
            f"Measured on `{eval_file}` with this exported artifact itself"
            + (f" ({threads} CPU thread{'s' * (threads != 1)})" if threads else "")
            + "; latency is the median batch-1 forward pass over the file's first features at their real length.",
            "",
            _metrics_table(metrics, fp32_metrics),
        ]
    content = f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body) + "\n"
    return ModelCard(content)
