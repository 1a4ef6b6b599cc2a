"""``python -m lit_distill export``: ship a model as a Hugging Face directory or an ONNX graph.

Example::

    python -m lit_distill export runs/student.ckpt --to onnx --int8 \\
        --length-config "[315,251,242,159,142,33]" --eval-file dev-v1.1.json --output deploy/student
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lit_distill.export.calibration import DEFAULT_CALIBRATION_WINDOWS
from lit_distill.export.quantize import DEFAULT_INT8_SCHEME, INT8_SCHEMES

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m lit_distill export``."""
    parser = argparse.ArgumentParser(
        prog="python -m lit_distill export",
        description="Export a model to a Hugging Face directory (AutoModelForQuestionAnswering) or an ONNX "
        "graph (ONNX Runtime, optionally INT8), evaluate the artifact itself and write its model card. The "
        "directory records how to turn its logits into answers (windows, SQuAD version, no-answer threshold) "
        "for `answer`, `predict`, `serve` and lit_distill.inference.QuestionAnswerer.",
    )
    parser.add_argument(
        "model", metavar="MODEL", help="a .ckpt written by a lit_distill module or a QAModel.save directory"
    )
    parser.add_argument("--to", required=True, choices=["hf", "onnx"], help="target format")
    parser.add_argument(
        "--output", required=True, metavar="DIR", help="directory to write (must be new or empty)"
    )
    parser.add_argument(
        "--int8", action="store_true", help="dynamic INT8 linear layers (ONNX Runtime; --to onnx)"
    )
    parser.add_argument(
        "--int8-scheme",
        default=None,
        metavar="NAME",
        help="how --int8 quantises the weights: "
        + "; ".join(f"{k}: {v.description}" for k, v in INT8_SCHEMES.items())
        + f" (default {DEFAULT_INT8_SCHEME}; docs/deploy.md compares them)",
    )
    parser.add_argument(
        "--calibration-file",
        default=None,
        metavar="SQUAD.json",
        help="training text whose windows calibrate a static --int8-scheme (static-minmax, static-percentile, "
        "static-entropy); not the evaluation file",
    )
    parser.add_argument(
        "--calibration-windows",
        type=int,
        default=DEFAULT_CALIBRATION_WINDOWS,
        metavar="N",
        help=f"windows of --calibration-file to calibrate on (default {DEFAULT_CALIBRATION_WINDOWS})",
    )
    parser.add_argument(
        "--int8-budget",
        type=float,
        default=None,
        metavar="F1",
        help="keep the most INT8-sensitive groups (each layer's attention / feed-forward products, the QA head) "
        "in fp32 until INT8 loses at most this many F1 points against fp32 on --sensitivity-file",
    )
    parser.add_argument(
        "--sensitivity-file",
        default=None,
        metavar="SQUAD.json",
        help="the split --int8-budget is measured on (default --calibration-file); not the evaluation file",
    )
    parser.add_argument(
        "--length-config",
        default=None,
        metavar="LIST",
        help='Drop-and-Restore lengths built into the artifact, e.g. "[315,251,242,159,142,33]" or ratios',
    )
    parser.add_argument(
        "--eval-file",
        default=None,
        metavar="SQUAD.json",
        help="evaluate the artifact itself on this file (EM / F1 / HasAns / NoAns and latency in the model card); "
        "`predict` on the same file scores the same",
    )
    parser.add_argument(
        "--eval-limit",
        type=int,
        default=None,
        metavar="N",
        help="evaluate on the first N questions of --eval-file only (as `predict --limit N`)",
    )
    parser.add_argument(
        "--squad-version",
        default=None,
        choices=["1.1", "2.0"],
        help="2.0: the artifact may answer nothing; 1.1: always a span (default: the checkpoint's data module, else 2.0)",
    )
    parser.add_argument(
        "--null-score-diff-threshold",
        type=float,
        default=None,
        metavar="T",
        help="SQuAD 2.0 no-answer threshold in logit-difference units (answer nothing when the [CLS] score beats "
        "the best span's by more than T; the official best_f1_thresh p is log(p/(1-p)) here); default: the "
        "F1-best threshold of the checkpoint's last validation, else 0",
    )
    parser.add_argument(
        "--model-name",
        default=None,
        help="the model card's title (default: built from the model's shape and base)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier export in --output (written beside it and swapped in at the end; never "
        "the model's own directory, the working directory or a parent of them)",
    )
    parser.add_argument(
        "--push-to-hub", default=None, metavar="REPO_ID", help="upload the directory to the Hub"
    )
    parser.add_argument(
        "--tokenizer", default=None, help="tokenizer name or directory (default: the model's own)"
    )
    parser.add_argument(
        "--max-seq-length",
        type=int,
        default=None,
        help="window in tokens, at evaluation and in every use of the artifact (default: with --doc-stride, "
        "the checkpoint's data module's windows, else 384)",
    )
    parser.add_argument(
        "--doc-stride",
        type=int,
        default=None,
        help="overlap of consecutive windows, likewise (default: the checkpoint's, else 128 or a quarter "
        "of the window, whichever is smaller)",
    )
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for evaluation and latency")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad input)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    for given, option in (
        (args.int8_scheme is not None, "--int8-scheme"),
        (args.calibration_file is not None, "--calibration-file"),
        (args.int8_budget is not None, "--int8-budget"),
        (args.sensitivity_file is not None, "--sensitivity-file"),
    ):
        if given and not args.int8:
            print(f"error: {option}: only with --int8", file=sys.stderr)
            return 2
    if args.threads is not None and args.threads < 1:
        print(f"error: --threads must be >= 1, got {args.threads}", file=sys.stderr)
        return 2
    from lit_distill.export.api import export_model
    from lit_distill.export.errors import ExportInputError

    try:
        export_model(
            args.model,
            args.to,
            args.output,
            int8=args.int8,
            int8_scheme=args.int8_scheme or DEFAULT_INT8_SCHEME,
            calibration_file=args.calibration_file,
            calibration_windows=args.calibration_windows,
            int8_budget=args.int8_budget,
            sensitivity_file=args.sensitivity_file,
            length_config=args.length_config,
            eval_file=args.eval_file,
            overwrite=args.overwrite,
            push_to_hub=args.push_to_hub,
            tokenizer=args.tokenizer,
            threads=args.threads,
            max_seq_length=args.max_seq_length,
            doc_stride=args.doc_stride,
            eval_limit=args.eval_limit,
            squad_version=args.squad_version,
            null_score_diff_threshold=args.null_score_diff_threshold,
            model_name=args.model_name,
        )
    except (ExportInputError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
