"""``export_model``: the Python face of ``python -m lit_distill export``."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from lit_distill.atomic_write import replace_directory
from lit_distill.checks import is_int
from lit_distill.compression.length_config import check_length_config, parse_length_config
from lit_distill.data.features import FeatureSettings
from lit_distill.export.artifact import (
    MANIFEST,
    ONNX_FILE,
    SQUAD_VERSIONS,
    Decoding,
    Manifest,
    load_artifact,
    onnx_forward,
    onnx_session,
)
from lit_distill.export.calibration import DEFAULT_CALIBRATION_WINDOWS
from lit_distill.export.card import build_card, model_title, public_source, training_data
from lit_distill.export.errors import ExportInputError, require
from lit_distill.export.evaluate import EvalData, evaluate, prepare_eval
from lit_distill.export.hf_export import save_hf
from lit_distill.export.int8_build import INT8_REPORT, Int8Inputs, Int8Options, build_int8, prepare_int8
from lit_distill.export.onnx_export import export_onnx
from lit_distill.export.quantize import DEFAULT_INT8_SCHEME, INT8_SCHEMES
from lit_distill.export.source import ExportSource, load_source

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
        extra: ``"int8"``: for an INT8 export, what the quantiser did (``int8_report.json``:
            scheme, calibration, the sensitivity fallback's measurements and the groups kept fp32).
    """

    directory: Path
    manifest: Manifest
    metrics: dict[str, Any] | None = None
    fp32_metrics: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _check_output(output: str | Path, overwrite: bool, model: str | Path) -> Path:
    """The absolute ``--output`` directory, once it is safe to write (and, with ``overwrite``, to replace).

    An export replaces the whole directory, so it may not be the working directory, the
    model being exported, or a parent of either; ``--overwrite`` replaces only an earlier
    export (a directory holding the export manifest).

    Raises:
        ExportInputError: naming ``--output`` and why.
    """
    given = str(output)
    out = Path(os.path.abspath(Path(output).expanduser()))
    resolved = out.resolve()
    cwd = Path.cwd().resolve()
    source = Path(model).expanduser().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise ExportInputError(
            "--output",
            f"{given!r} is the working directory or one of its parents; an export writes a directory of "
            "its own: give a new one, e.g. --output deploy/model",
        )
    if resolved == source or resolved in source.parents:
        raise ExportInputError(
            "--output",
            f"{given!r} is the model being exported ({str(model)!r}) or a folder holding it; "
            "give another directory",
        )
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ExportInputError("--output", f"{given!r} is a file or a link; give a directory")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ExportInputError(
                "--output", f"{given!r} exists and is not empty; pass --overwrite to replace it"
            )
        if not (out / MANIFEST).is_file():
            raise ExportInputError(
                "--output",
                f"{given!r} is not an earlier export (no {MANIFEST}); --overwrite replaces only a directory "
                "written by `export`: give a new directory or empty this one yourself",
            )
    return out


def eval_settings(
    positions: int,
    max_seq_length: int | None = None,
    doc_stride: int | None = None,
    max_query_length: int = 64,
) -> FeatureSettings:
    """The evaluation windows of ``export --eval-file`` for a model with ``positions`` positions.

    The window is ``max_seq_length`` (default 384) cut to the model's positions; the stride is
    ``doc_stride`` as given, and when not given 128 or a quarter of the window, whichever is
    smaller (a short-position model keeps most of each window for new context).

    Raises:
        ExportInputError: naming ``--max-seq-length`` or ``--doc-stride`` when no valid window fits.
    """
    width = min(384 if max_seq_length is None else max_seq_length, positions)
    stride = min(128, width // 4) if doc_stride is None else doc_stride
    settings = FeatureSettings(width, stride, min(max_query_length, width // 2))
    try:
        settings.validate()
    except ValueError as err:
        raise ExportInputError(
            "--doc-stride" if "doc_stride" in str(err) else "--max-seq-length", str(err)
        ) from err
    return settings


def _windows(
    source: ExportSource, max_seq_length: int | None, doc_stride: int | None
) -> tuple[FeatureSettings, str]:
    """The artifact's windows and where they came from: the options, else the checkpoint's data
    module (the windows the model was validated with during training), else the defaults."""
    positions = source.model.config.max_position_embeddings
    seq, stride, query = (source.data.get(k) for k in ("max_seq_length", "doc_stride", "max_query_length"))
    if max_seq_length is None and doc_stride is None and is_int(seq) and is_int(stride) and is_int(query):
        if seq <= positions:
            return eval_settings(positions, seq, stride, query), "the checkpoint's data module"
        # recorded windows longer than the model's positions (a data module's default on a small
        # model): the window is cut to the positions and the stride chosen for it
        return eval_settings(positions, seq, None, query), "the checkpoint's, cut to the model's positions"
    settings = eval_settings(positions, max_seq_length, doc_stride)
    given = [
        name
        for name, v in (("--max-seq-length", max_seq_length), ("--doc-stride", doc_stride))
        if v is not None
    ]
    return settings, " and ".join(given) if given else "default"


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


def _decoding(
    source: ExportSource, squad_version: str | None, threshold: float | None
) -> tuple[Decoding, str, str]:
    """The artifact's SQuAD version and no-answer threshold, and where each came from.

    The version: ``--squad-version``, else the checkpoint's data module, else 2.0. The
    threshold: ``--null-score-diff-threshold``, else the F1-best threshold of the checkpoint's
    last validation, else 0.
    """
    if squad_version is not None and squad_version not in SQUAD_VERSIONS:
        raise ExportInputError("--squad-version", f"{squad_version!r}; allowed: {', '.join(SQUAD_VERSIONS)}")
    recorded = source.data.get("version")
    version = squad_version or (str(recorded) if recorded in SQUAD_VERSIONS else "2.0")
    version_source = (
        "--squad-version"
        if squad_version
        else ("the checkpoint's data module" if recorded in SQUAD_VERSIONS else "default")
    )
    tuned = source.tuned_threshold
    if threshold is not None:
        if isinstance(threshold, bool) or not math.isfinite(threshold):
            raise ExportInputError("--null-score-diff-threshold", f"{threshold!r}; give a finite number")
        value, origin = float(threshold), "--null-score-diff-threshold"
    elif tuned is not None and isinstance(tuned.get("null_score_diff_threshold"), (int, float)):
        value = float(tuned["null_score_diff_threshold"])
        origin = (
            f"F1-best on the checkpoint's validation split ({tuned.get('questions', '?')} questions, "
            f"step {tuned.get('global_step', '?')})"
        )
    else:
        value, origin = 0.0, "default (the checkpoint records no tuned threshold)"
    if version == "1.1":
        origin = "not used (SQuAD 1.1: always answers)"
    return Decoding(squad_version=version, null_score_diff_threshold=value), origin, version_source


def _write_artifact(
    source: ExportSource,
    to: Target,
    int8: bool,
    quantizer: tuple[Int8Options, Int8Inputs],
    length: list[int] | list[float] | None,
    work: Path,
    data: EvalData | None,
    threads: int | None,
    log: Callable[[str], None],
    decoding: Decoding,
) -> tuple[Manifest, dict[str, Any] | None]:
    """Write the model into ``work``; returns its manifest and, for INT8, the fp32 graph's metrics."""
    fp32_metrics = None
    options, inputs = quantizer
    name = public_source(source.path)
    if to == "hf":
        custom = save_hf(source.model, source.tokenizer, work, length)
        return Manifest("hf", False, length, custom, name), None
    source.tokenizer.save_pretrained(str(work))
    if not int8:
        export_onnx(source.model, work / ONNX_FILE, length)
        return Manifest("onnx", False, length, False, name), None
    fp32 = work / "model.fp32.onnx"
    export_onnx(source.model, fp32, length)
    if data is not None:
        fp32_metrics = evaluate(onnx_forward(onnx_session(fp32, threads)), data, decoding=decoding)
        log(f"fp32 ONNX: EM {fp32_metrics['exact']:.2f} F1 {fp32_metrics['f1']:.2f}")
    report = build_int8(fp32, work / ONNX_FILE, options, inputs, threads, log)
    (work / INT8_REPORT).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    fp32.unlink()
    return Manifest("onnx", True, length, False, name, options.scheme), fp32_metrics


def export_model(
    model: str | Path,
    to: Target,
    output: str | Path,
    *,
    int8: bool = False,
    int8_scheme: str = DEFAULT_INT8_SCHEME,
    calibration_file: str | Path | None = None,
    calibration_windows: int = DEFAULT_CALIBRATION_WINDOWS,
    int8_budget: float | None = None,
    sensitivity_file: str | Path | None = None,
    length_config: str | Sequence[int | float] | None = None,
    eval_file: str | Path | None = None,
    overwrite: bool = False,
    push_to_hub: str | None = None,
    tokenizer: str | None = None,
    threads: int | None = None,
    max_seq_length: int | None = None,
    doc_stride: int | None = None,
    eval_limit: int | None = None,
    squad_version: str | None = None,
    null_score_diff_threshold: float | None = None,
    model_name: str | None = None,
    log: Callable[[str], None] = print,
) -> ExportResult:
    """Export a lit_distill model to a Hugging Face directory or an ONNX graph, evaluate it, write its card.

    The directory is written under a temporary name next to ``output`` and swapped in at
    the end (:func:`lit_distill.atomic_write.replace_directory`), so an error, a full disk
    included, leaves nothing behind and an earlier export whole.

    Args:
        model: A ``.ckpt`` written by a lit_distill module or a ``QAModel.save`` directory.
        to: ``"hf"`` or ``"onnx"``.
        output: The directory to write.
        int8: Dynamic INT8 linear layers (ONNX only); prints the F1 change against fp32.
        int8_scheme: How the weights are quantised (:data:`~lit_distill.export.quantize.INT8_SCHEMES`):
            dynamic, or static (``static-minmax``, ``static-percentile``, ``static-entropy``).
        calibration_file: SQuAD file (training text) whose windows calibrate a static scheme.
        calibration_windows: How many of its windows.
        int8_budget: Keep the most INT8-sensitive groups (each layer's attention / feed-forward
            products, the QA head) in fp32 until INT8 loses at most this many F1 points against
            the fp32 graph on ``sensitivity_file`` (:mod:`lit_distill.export.sensitivity`).
        sensitivity_file: SQuAD file the budget is measured on (default ``calibration_file``);
            not the evaluation file.
        length_config: Drop-and-Restore lengths (``"[315,251,...]"`` or a list) built into
            the artifact (ONNX: in the graph; hf: the default of the custom model).
        eval_file: SQuAD-format file the artifact itself is evaluated on (EM/F1 and latency
            go into the model card).
        overwrite: Replace an earlier export in ``output`` (never the working directory, the
            model's own file or directory, or a parent of them).
        push_to_hub: Upload the directory to this Hugging Face Hub repository.
        tokenizer: Tokenizer name or directory, when the model does not record one.
        threads: CPU threads for evaluation and latency (default: the runtime's choice).
        max_seq_length: Tokens per window (capped at the model's positions), at evaluation and
            in every use of the artifact (recorded in its manifest). Default, with ``doc_stride``:
            the windows the checkpoint's data module trained and validated with, else 384
            (:func:`eval_settings`).
        doc_stride: Overlap of consecutive windows (likewise; default 128, at most a quarter of
            the window unless given).
        eval_limit: Evaluate on the first ``eval_limit`` questions of ``eval_file`` only.
        squad_version: ``"2.0"`` (the artifact may answer ``""``) or ``"1.1"``; default: the
            checkpoint's data module, else 2.0.
        null_score_diff_threshold: The artifact's SQuAD 2.0 no-answer threshold in
            logit-difference units; default: the F1-best threshold of the checkpoint's last
            validation, else 0.
        model_name: The model card's title (default: built from the model's shape and base).
        log: Where progress lines go.

    Raises:
        ExportInputError: bad input, naming the argument.
        lit_distill.atomic_write.DiskFullError: no room for the export (one line, exit code 2).
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
    options = Int8Options(int8_scheme, calibration_file, calibration_windows, int8_budget, sensitivity_file)
    if not int8 and (calibration_file is not None or int8_budget is not None or sensitivity_file is not None):
        raise ExportInputError(
            "--calibration-file" if calibration_file is not None else "--int8-budget", "only with --int8"
        )
    if to == "onnx":
        require("onnx")
        require("onnxruntime")
    if eval_limit is not None and (
        isinstance(eval_limit, bool) or not isinstance(eval_limit, int) or eval_limit < 1
    ):
        raise ExportInputError("--eval-limit", f"{eval_limit!r}; give a whole number >= 1")
    if eval_limit is not None and eval_file is None:
        raise ExportInputError("--eval-limit", "only with --eval-file")
    out = _check_output(output, overwrite, model)
    source = load_source(model, tokenizer)
    length = _length_config(length_config, source)
    decoding, threshold_source, version_source = _decoding(source, squad_version, null_score_diff_threshold)
    settings, windows_source = _windows(source, max_seq_length, doc_stride)
    log(
        f"decoding: SQuAD {decoding.squad_version} ({version_source}), windows {settings.max_seq_length} / "
        f"stride {settings.doc_stride} ({windows_source})"
        + (
            f", no-answer threshold {decoding.null_score_diff_threshold:.4g} ({threshold_source})"
            if decoding.squad_version == "2.0"
            else ""
        )
    )
    data = (
        prepare_eval(eval_file, source.tokenizer, settings, limit=eval_limit)
        if eval_file is not None
        else None
    )
    inputs = prepare_int8(options, source.tokenizer, settings) if int8 else Int8Inputs(None, None)
    if threads is not None:
        torch.set_num_threads(threads)
    size = sum(p.numel() * p.element_size() for p in source.model.parameters())
    # written beside `out` and swapped in at the end: an error (a full disk) leaves an earlier export whole
    with replace_directory(out, size_hint=size) as work:
        manifest, fp32_metrics = _write_artifact(
            source, to, int8, (options, inputs), length, work, data, threads, log, decoding
        )
        manifest = dataclasses.replace(
            manifest,
            squad_version=decoding.squad_version,
            max_seq_length=settings.max_seq_length,
            doc_stride=settings.doc_stride,
            max_query_length=settings.max_query_length,
            n_best_size=decoding.n_best_size,
            max_answer_length=decoding.max_answer_length,
            null_score_diff_threshold=decoding.null_score_diff_threshold,
            threshold_source=threshold_source,
        )
        manifest.write(work)
        metrics = None
        if data is not None:
            artifact = load_artifact(work, threads=threads)
            metrics = evaluate(artifact.forward, data, decoding=manifest.decoding())
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
            name=model_name or model_title(source.model.config, manifest, source.recipe),
            num_parameters=sum(p.numel() for p in source.model.parameters()),
            recipe=source.recipe,
            shape=shape,
            metrics=metrics,
            eval_file=None if eval_file is None else Path(eval_file).name,
            fp32_metrics=fp32_metrics,
            threads=threads or torch.get_num_threads(),
            training_data=training_data(source.data),
            base_encoder=public_source(_base_encoder(source)),
            directory_name=out.name,
            eval_limit=eval_limit,
            segment_ids=source.model.config.type_vocab_size > 0,
        )
        card.save(str(work / "README.md"))
    log(f"wrote {out}")
    if push_to_hub:
        url = upload_to_hub(out, push_to_hub)
        log(f"pushed to {url}")
    extra = {"int8": json.loads((out / INT8_REPORT).read_text())} if int8 else {}
    return ExportResult(out, manifest, metrics, fp32_metrics, extra)


def _base_encoder(source: ExportSource) -> str:
    """The pre-trained encoder the model was converted from, as far as the model records it."""
    if source.model.config.source:
        return source.model.config.source
    for key in ("student", "teacher"):
        value = source.recipe.get(key)
        if isinstance(value, str) and value:
            return value
    return "(not recorded)"


def upload_to_hub(directory: str | Path, repo_id: str, private: bool = False) -> str:
    """Upload an exported directory to the Hugging Face Hub; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True, private=private)
    info = api.upload_folder(
        repo_id=repo_id, folder_path=str(directory), commit_message="Upload model exported by lit_distill"
    )
    return str(info)
