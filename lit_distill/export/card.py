"""The model card (``README.md``) of an exported directory, built with ``huggingface_hub``.

The card is meant to be published: it names local paths relative to the working
directory or by their last two parts (:func:`public_source`), never absolutely. Its
"How to use" snippets run as written from the folder that holds the exported directory
(a test runs them): lit_distill's :class:`~lit_distill.inference.QuestionAnswerer`, the
``answer`` command, and plain transformers / ONNX Runtime for the logits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lit_distill.data.sources import HubSquad, SquadFiles, SyntheticSquad, source_from_hparams
from lit_distill.export.artifact import ONNX_FILE, Manifest
from lit_distill.models.config import EncoderConfig

__all__ = [
    "EXAMPLE_CONTEXT",
    "EXAMPLE_QUESTION",
    "METRIC_NAMES",
    "build_card",
    "model_title",
    "public_source",
]

# metric key -> (model-index metric type, readable name)
METRIC_NAMES = {
    "exact": ("exact_match", "EM"),
    "f1": ("f1", "F1"),
    "HasAns_exact": ("exact_match", "HasAns EM"),
    "HasAns_f1": ("f1", "HasAns F1"),
    "NoAns_exact": ("exact_match", "NoAns EM"),
    "NoAns_f1": ("f1", "NoAns F1"),
}
EXAMPLE_QUESTION = "Where is the Eiffel Tower?"
EXAMPLE_CONTEXT = "The Eiffel Tower is a wrought-iron tower in Paris, built for the 1889 World's Fair."


def public_source(name: str | None) -> str:
    """How a published file names a checkpoint, directory or data file.

    A hub name or a relative path stays as it is; an absolute path becomes relative to the
    working directory when it lies inside it, else ``.../PARENT/NAME`` (its last two parts),
    so that no user name or host layout reaches a model card or manifest.
    """
    if not name:
        return ""
    path = Path(name)
    if not name.startswith("~") and not path.is_absolute() and ".." not in path.parts:
        return path.as_posix()
    full = path.expanduser().resolve()
    try:
        return full.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return ".../" + "/".join(full.parts[-2:])


def _public_value(value: Any) -> Any:
    """``value`` with absolute paths (strings starting with ``/`` or ``~``) made public."""
    if isinstance(value, str) and value.startswith(("/", "~")):
        return public_source(value)
    if isinstance(value, list):
        return [_public_value(v) for v in value]
    return value


def model_title(config: EncoderConfig, manifest: Manifest, recipe: Mapping[str, Any]) -> str:
    """The card's title: what the model is, not the folder it was written to."""
    arch = "DistilBERT" if config.layout == "distilbert" else "BERT"
    role = "student" if recipe.get("teacher") else "model"
    of = f" of {public_source(str(recipe['teacher']))}" if recipe.get("teacher") else ""
    fmt = "ONNX INT8" if manifest.int8 else ("ONNX" if manifest.format == "onnx" else "PyTorch")
    return (
        f"{config.num_hidden_layers}-layer {arch} {role}{of} for SQuAD {manifest.squad_version} "
        f"question answering ({fmt})"
    )


def training_data(data: Mapping[str, Any]) -> str:
    """The training data recorded by the checkpoint's data module, in one line."""
    version = data.get("version")
    form = f" (SQuAD {version} format)" if version else ""
    source = source_from_hparams(data)  # also a checkpoint's flat keys of before the source objects
    if isinstance(source, HubSquad):
        config = f", config {source.config}" if source.config else ""
        return f"Hugging Face dataset `{source.dataset}`{config}, split `{source.train_split}`{form}"
    if isinstance(source, SquadFiles) and source.train:
        return f"`{public_source(source.train)}`{form}"
    if isinstance(source, SyntheticSquad):
        return (
            f"lit_distill's synthetic data ({source.train_size} training questions, seed {source.seed}){form}"
        )
    if isinstance(data.get("source"), Mapping):
        return f"a `{data['source'].get('class_path')}` source{form}"
    return "not recorded (exported from a model directory, not a training checkpoint)"


def _usage(manifest: Manifest, directory: str, segment_ids: bool) -> str:
    q, c = json.dumps(EXAMPLE_QUESTION), json.dumps(EXAMPLE_CONTEXT)
    where = f'DIR = "{directory}"  # this directory, as seen from where you run the code'
    extra = '"lit_distill[export]"' if manifest.format == "onnx" else "lit_distill"
    text = (
        f"With lit_distill (`pip install {extra}`), which cuts the context into the windows below, "
        "decodes the n-best spans over all windows and applies the no-answer threshold, all read from "
        "`lit_distill_export.json`:\n\n"
        "```python\nfrom lit_distill.inference import QuestionAnswerer\n\n"
        f"{where}\n"
        "qa = QuestionAnswerer.from_artifact(DIR)\n"
        f"answer = qa.answer(question={q}, context={c})\n"
        "print(answer.text, answer.score, answer.no_answer)\n```\n\n"
        "or from the command line (`predict` answers a SQuAD-format file, `serve` starts an HTTP server):\n\n"
        f"```bash\npython -m lit_distill answer {directory} --question {q} --context {c}\n```\n\n"
    )
    if manifest.format == "onnx":
        return text + (
            "The logits alone, with ONNX Runtime:\n\n"
            "```python\nimport onnxruntime as ort\nfrom transformers import AutoTokenizer\n\n"
            f"{where}\n"
            "tokenizer = AutoTokenizer.from_pretrained(DIR)\n"
            f'session = ort.InferenceSession(f"{{DIR}}/{ONNX_FILE}", providers=["CPUExecutionProvider"])\n'
            f'enc = tokenizer({q}, {c}, return_tensors="np")\n'
            "names = {i.name for i in session.get_inputs()}\n"
            "start_logits, end_logits = session.run(None, {k: v for k, v in enc.items() if k in names})\n```\n\n"
            "Inputs `input_ids`, `attention_mask`, `token_type_ids` (int64, batch x sequence, any "
            "batch size and length); Drop-and-Restore, if configured, runs inside the graph.\n"
        )
    remote = ", trust_remote_code=True" if manifest.custom_code else ""
    types = "" if segment_ids else ", return_token_type_ids=False"
    text += (
        "The logits alone, with plain transformers (transformers 5 has no question-answering pipeline):\n\n"
        "```python\nfrom transformers import AutoModelForQuestionAnswering, AutoTokenizer\n\n"
        f"{where}\n"
        f"tokenizer = AutoTokenizer.from_pretrained(DIR{remote})\n"
        f"model = AutoModelForQuestionAnswering.from_pretrained(DIR{remote})\n"
        f'inputs = tokenizer({q}, {c}, return_tensors="pt"{types})\n'
        "outputs = model(**inputs)\n"
        "start_logits, end_logits = outputs.start_logits, outputs.end_logits  # (1, L) each\n```\n"
    )
    if manifest.custom_code:
        text += (
            "\nThis model needs lit_distill's encoder (per-layer head counts after pruning and/or a "
            "default Drop-and-Restore length configuration), which plain transformers does not have: its "
            "source is in this directory (`modeling_lit_distill.py`, `lit_distill_encoder.py`, ...) and "
            "loading it needs `trust_remote_code=True`.\n"
        )
    return text


def _decoding_lines(manifest: Manifest) -> list[str]:
    lines = [
        f"- Windows: `max_seq_length` {manifest.max_seq_length} tokens, `doc_stride` {manifest.doc_stride} "
        f"(questions cut to {manifest.max_query_length} tokens); answers of at most "
        f"{manifest.max_answer_length} tokens from the {manifest.n_best_size} best starts and ends of each window",
    ]
    if manifest.squad_version == "2.0":
        lines.append(
            f"- SQuAD 2.0: no-answer threshold `null_score_diff_threshold` = {manifest.null_score_diff_threshold:.6g} "
            "(logit-difference units: the answer is empty when the [CLS] span's score exceeds the best "
            f"span's by more than this; {manifest.threshold_source})"
        )
    else:
        lines.append("- SQuAD 1.1: always answers a span (no no-answer decision)")
    return lines


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
    training_data: str = "not recorded",
    base_encoder: str = "not recorded",
    directory_name: str = "DIR",
    eval_limit: int | None = None,
    segment_ids: bool = True,
) -> Any:
    """A ``huggingface_hub.ModelCard``: usage, recipe, parameter count, decoding, measured EM/F1 and latency.

    Args:
        manifest: What was exported.
        name: The model's name: the card's title and metadata.
        num_parameters: Parameters of the exported model.
        recipe: Distillation and compression settings read from the checkpoint.
        shape: Layers, hidden size, heads per layer, feed-forward size.
        metrics: From :func:`lit_distill.export.evaluate.evaluate` on the artifact itself, or None.
        eval_file: The evaluation file the metrics were measured on.
        fp32_metrics: The fp32 model's metrics on the same file (for an INT8 export).
        threads: CPU threads the latency was measured with.
        training_data: What the model was trained on (:func:`training_data`).
        base_encoder: The pre-trained encoder it descends from (relative or by name).
        directory_name: The exported directory's name, used in the snippets.
        eval_limit: The evaluation used the file's first ``eval_limit`` questions only.
        segment_ids: Whether the model takes ``token_type_ids`` (DistilBERT's layout does not).
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    results = []
    if metrics is not None and eval_file is not None:
        for key, (metric_type, label) in METRIC_NAMES.items():
            if key in metrics:
                results.append(
                    EvalResult(
                        task_type="question-answering",
                        dataset_type="squad_v2" if manifest.squad_version == "2.0" else "squad",
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
        "\n".join(f"| {k} | `{json.dumps(_public_value(v))}` |" for k, v in recipe.items())
        or "| (none recorded) | |"
    )
    shape_lines = "\n".join(f"| {k} | `{json.dumps(v)}` |" for k, v in shape.items())
    length = (
        json.dumps(manifest.length_config) if manifest.length_config is not None else "none (full length)"
    )
    body = [
        f"# {name}",
        "",
        f"Extractive question answering model exported by lit_distill from `{public_source(manifest.source)}`: "
        f"{kind}.",
        "",
        "## How to use",
        "",
        _usage(manifest, directory_name, segment_ids),
        "## Model",
        "",
        f"- Base encoder: `{base_encoder}`",
        f"- Training data: {training_data}",
        f"- Parameters: {num_parameters:,}",
        f"- Length configuration (Drop-and-Restore): {length}",
        *_decoding_lines(manifest),
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
        limit = f" (its first {eval_limit} questions)" if eval_limit else ""
        body += [
            f"Measured on `{eval_file}`{limit} with this exported artifact itself and the decoding above"
            + (f" ({threads} CPU thread{'s' * (threads != 1)})" if threads else "")
            + "; latency is the median batch-1 forward pass over the file's first features at their real length.",
            "",
            _metrics_table(metrics, fp32_metrics),
        ]
    content = f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body) + "\n"
    return ModelCard(content)
