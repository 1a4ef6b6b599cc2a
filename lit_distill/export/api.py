"""``export_model``: the Python face of ``python -m lit_distill export``."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from lit_distill.compression.length_config import check_length_config, parse_length_config
from lit_distill.data.features import FeatureSettings
from lit_distill.export.artifact import ONNX_FILE, Manifest, load_artifact, onnx_forward, onnx_session
from lit_distill.export.card import build_card
from lit_distill.export.errors import ExportInputError, require
from lit_distill.export.evaluate import EvalData, evaluate, prepare_eval
from lit_distill.export.hf_export import save_hf
from lit_distill.export.onnx_export import export_onnx
from lit_distill.export.quantize import DEFAULT_INT8_SCHEME, INT8_SCHEMES, quantize_int8
from lit_distill.export.source import ExportSource, load_source
from lit_distill.file_modes import apply_umask

__all__ = ["ExportResult", "eval_settings", "export_model", "upload_to_hub"]

Target = Literal["hf", "onnx"]
TARGETS = ("hf", "onnx")


@dataclass
class ExportResult:
    """What :func:`export_model` wrote and measured.

    Attributes:
        directory: The exported directory.
        manifest: Its manifest.
        metrics: EM/F1/latency of the artifact on the evaluation file (None without one).
        fp32_metrics: The fp32 graph's metrics, for an INT8 export.
    """

    directory: Path
    manifest: Manifest
    metrics: dict[str, Any] | None = None
    fp32_metrics: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _check_output(output: Path, overwrite: bool) -> None:
    if output.exists() and not output.is_dir():
        raise ExportInputError("--output", f"{str(output)!r} is a file; give a directory")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise ExportInputError(
            "--output", f"{str(output)!r} exists and is not empty; pass --overwrite to replace it"
        )


def eval_settings(positions: int, max_seq_length: int = 384, doc_stride: int = 128) -> FeatureSettings:
    """The evaluation windows of ``export --eval-file`` for a model with ``positions`` positions.

    Raises:
        ExportInputError: naming ``--max-seq-length`` when no valid window fits.
    """
    width = min(max_seq_length, positions)
    settings = FeatureSettings(width, min(doc_stride, width // 4), min(64, width // 2))
    try:
        settings.validate()
    except ValueError as err:
        raise ExportInputError("--max-seq-length", str(err)) from err
    return settings


def _length_config(
    value: str | Sequence[int | float] | None, source: ExportSource
) -> list[int] | list[float] | None:
    if value is None:
        return None
    config = source.model.config
    try:
        parsed = (
            parse_length_config(value, config.num_hidden_layers, max_length=config.max_position_embeddings)
            if isinstance(value, str)
            else check_length_config(
                value, config.num_hidden_layers, config.max_position_embeddings, "--length-config"
            )
        )
    except ValueError as err:
        raise ExportInputError(
            "--length-config",
            f"{err} (the model has {config.num_hidden_layers} layers, "
            f"at most {config.max_position_embeddings} positions)",
        ) from err
    return parsed


def _write_artifact(
    source: ExportSource,
    to: Target,
    int8: bool,
    scheme: str,
    length: list[int] | list[float] | None,
    work: Path,
    data: EvalData | None,
    threads: int | None,
    log: Callable[[str], None],
) -> tuple[Manifest, dict[str, Any] | None]:
    """Write the model into ``work``; returns its manifest and, for INT8, the fp32 graph's metrics."""
    fp32_metrics = None
    if to == "hf":
        custom = save_hf(source.model, source.tokenizer, work, length)
        return Manifest("hf", False, length, custom, source.path), None
    source.tokenizer.save_pretrained(str(work))
    if not int8:
        export_onnx(source.model, work / ONNX_FILE, length)
        return Manifest("onnx", False, length, False, source.path), None
    fp32 = work / "model.fp32.onnx"
    export_onnx(source.model, fp32, length)
    if data is not None:
        fp32_metrics = evaluate(onnx_forward(onnx_session(fp32, threads)), data)
        log(f"fp32 ONNX: EM {fp32_metrics['exact']:.2f} F1 {fp32_metrics['f1']:.2f}")
    quantize_int8(fp32, work / ONNX_FILE, scheme)
    fp32.unlink()
    return Manifest("onnx", True, length, False, source.path, scheme), fp32_metrics


def export_model(
    model: str | Path,
    to: Target,
    output: str | Path,
    *,
    int8: bool = False,
    int8_scheme: str = DEFAULT_INT8_SCHEME,
    length_config: str | Sequence[int | float] | None = None,
    eval_file: str | Path | None = None,
    overwrite: bool = False,
    push_to_hub: str | None = None,
    tokenizer: str | None = None,
    threads: int | None = None,
    max_seq_length: int = 384,
    doc_stride: int = 128,
    log: Callable[[str], None] = print,
) -> ExportResult:
    """Export a lit_distill model to a Hugging Face directory or an ONNX graph, evaluate it, write its card.

    The directory is written under a temporary name next to ``output`` and renamed at
    the end, so an error leaves nothing behind.

    Args:
        model: A ``.ckpt`` written by a lit_distill module or a ``QAModel.save`` directory.
        to: ``"hf"`` or ``"onnx"``.
        output: The directory to write.
        int8: Dynamic INT8 linear layers (ONNX only); prints the F1 change against fp32.
        int8_scheme: How the weights are quantised (:data:`~lit_distill.export.quantize.INT8_SCHEMES`).
        length_config: Drop-and-Restore lengths (``"[315,251,...]"`` or a list) built into
            the artifact (ONNX: in the graph; hf: the default of the custom model).
        eval_file: SQuAD-format file the artifact itself is evaluated on (EM/F1 and latency
            go into the model card).
        overwrite: Replace a non-empty ``output``.
        push_to_hub: Upload the directory to this Hugging Face Hub repository.
        tokenizer: Tokenizer name or directory, when the model does not record one.
        threads: CPU threads for evaluation and latency (default: the runtime's choice).
        max_seq_length: Tokens per evaluation window (capped at the model's positions).
        doc_stride: Overlap of consecutive evaluation windows.
        log: Where progress lines go.

    Raises:
        ExportInputError: bad input, naming the argument.
        ImportError: the ``export`` extra is missing (the message names it).

    Example::

        export_model("runs/student.ckpt", "onnx", "deploy/student-int8", int8=True,
                     length_config="[315,251,242,159,142,33]", eval_file="dev-v1.1.json")
    """
    if to not in TARGETS:
        raise ExportInputError("--to", f"{to!r}; allowed: {', '.join(TARGETS)}")
    if int8 and to != "onnx":
        raise ExportInputError(
            "--int8", "INT8 is offered for --to onnx (ONNX Runtime's quantiser); use --to onnx"
        )
    if int8_scheme not in INT8_SCHEMES:
        raise ExportInputError("--int8-scheme", f"{int8_scheme!r}; known schemes: {', '.join(INT8_SCHEMES)}")
    if to == "onnx":
        require("onnx")
        require("onnxruntime")
    out = Path(output).expanduser()
    _check_output(out, overwrite)
    source = load_source(model, tokenizer)
    length = _length_config(length_config, source)
    settings = eval_settings(source.model.config.max_position_embeddings, max_seq_length, doc_stride)
    data = prepare_eval(eval_file, source.tokenizer, settings) if eval_file is not None else None
    if threads is not None:
        torch.set_num_threads(threads)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        manifest, fp32_metrics = _write_artifact(
            source, to, int8, int8_scheme, length, work, data, threads, log
        )
        manifest.write(work)
        metrics = None
        if data is not None:
            artifact = load_artifact(work, threads=threads)
            metrics = evaluate(artifact.forward, data)
            log(
                f"{manifest.format}{' INT8' if int8 else ''}: EM {metrics['exact']:.2f} F1 {metrics['f1']:.2f} "
                f"latency {metrics['latency_ms']:.2f} ms (batch 1)"
            )
            if fp32_metrics is not None:
                log(
                    f"INT8 vs fp32: F1 {metrics['f1'] - fp32_metrics['f1']:+.2f} "
                    f"(EM {metrics['exact'] - fp32_metrics['exact']:+.2f})"
                )
        config = source.model.config
        shape = {
            "layers": config.num_hidden_layers,
            "hidden_size": config.hidden_size,
            "heads_per_layer": config.layer_heads,
            "intermediate_size": config.intermediate_size,
            "intermediate_per_layer": config.layer_intermediate_sizes,
            "vocab_size": config.vocab_size,
        }
        card = build_card(
            manifest,
            name=out.name,
            num_parameters=sum(p.numel() for p in source.model.parameters()),
            recipe=source.recipe,
            shape=shape,
            metrics=metrics,
            eval_file=None if eval_file is None else Path(eval_file).name,
            fp32_metrics=fp32_metrics,
            threads=threads or torch.get_num_threads(),
        )
        card.save(str(work / "README.md"))
        apply_umask(work)  # mkdtemp made it 0o700: the artifact gets the umask's permissions
        _replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log(f"wrote {out}")
    if push_to_hub:
        url = upload_to_hub(out, push_to_hub)
        log(f"pushed to {url}")
    return ExportResult(out, manifest, metrics, fp32_metrics)


def _replace(work: Path, out: Path) -> None:
    """Rename ``work`` to ``out``; an existing ``out`` (``--overwrite``) is removed only after that succeeds."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{work.name.rsplit('-', 1)[-1]}")
        out.rename(old)
    work.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def upload_to_hub(directory: str | Path, repo_id: str, private: bool = False) -> str:
    """Upload an exported directory to the Hugging Face Hub; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True, private=private)
    info = api.upload_folder(
        repo_id=repo_id, folder_path=str(directory), commit_message="Upload model exported by lit_distill"
    )
    return str(info)
