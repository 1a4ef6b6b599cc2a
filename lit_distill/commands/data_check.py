"""``python -m lit_distill data-check``: diagnose a SQuAD-format dataset with a tokenizer.

Prints JSON: counts (articles, questions, unanswerable, features, features per
example, truncated questions, misaligned answers) and ``answer_recall``, the
share of answerable questions whose gold answer survives the full path: gold
token positions → logits → post-processing → text, compared after the official
normalisation. A recall below 100 % shows answers lost to tokenisation
(answers that end inside a word piece, or spans longer than the answer limit).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from lit_distill.user_errors import UserInputError

__all__ = ["check_dataset", "load_tokenizer", "main"]


def load_tokenizer(name_or_path: str, lower_case: bool = True) -> Any:
    """A Hugging Face fast tokenizer from a name, a directory or a BERT ``vocab.txt`` file."""
    path = Path(name_or_path)
    if path.is_file():
        from lit_distill.models.loading import wordpiece_tokenizer

        return wordpiece_tokenizer(path, do_lower_case=lower_case)
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name_or_path, use_fast=True)
    except (OSError, ValueError) as exc:
        raise UserInputError(f"cannot load tokenizer {name_or_path!r}: {exc}") from exc
    if not tok.is_fast:
        raise UserInputError(f"tokenizer {name_or_path!r} has no fast (Rust) version; offsets need one")
    return tok


def _detect_version(path: Path) -> str:
    """``"2.0"`` if the file says so or has unanswerable questions, else ``"1.1"``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "2.0"  # the loader reports the real problem
    if not isinstance(data, dict):
        return "2.0"
    if str(data.get("version", "")).lstrip("v").startswith("2"):
        return "2.0"
    return "2.0" if '"is_impossible": true' in json.dumps(data) else "1.1"


def check_dataset(
    data_file: str,
    tokenizer: Any,
    max_seq_length: int = 384,
    doc_stride: int = 128,
    max_query_length: int = 64,
    version: str = "auto",
    on_misaligned: str = "skip",
    max_answer_length: int = 30,
) -> dict[str, Any]:
    """Counts and answer recall of one SQuAD-format file (see module docstring)."""
    from lit_distill.data.eval_set import EvalSet
    from lit_distill.data.features import FeatureSettings, build_features
    from lit_distill.data.squad import load_squad_json
    from lit_distill.metrics.postprocess import postprocess_predictions
    from lit_distill.metrics.squad import compute_exact

    resolved = _detect_version(Path(data_file)) if version == "auto" else version
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the counts below report what was skipped
        loaded = load_squad_json(data_file, resolved, on_misaligned)  # type: ignore[arg-type]
    examples = loaded.examples
    settings = FeatureSettings(max_seq_length, doc_stride, max_query_length)
    features = build_features(examples, tokenizer, settings)
    es = EvalSet.from_features(examples, features, resolved)

    # Gold positions as logits: a peak at the gold start/end token ([CLS] when not in the window).
    shape = (es.n_features, es.max_length)
    start = np.zeros(shape, dtype=np.float32)
    end = np.zeros(shape, dtype=np.float32)
    rows = np.arange(es.n_features)
    start[rows, features.start_positions] = 10.0
    end[rows, features.end_positions] = 10.0
    preds = postprocess_predictions(es, start, end, max_answer_length=max_answer_length)
    answerable = [e for e in examples if not e.is_impossible]
    recovered = sum(compute_exact(e.answer_texts[0], preds.answers.get(e.id, "")) for e in answerable)
    per_example = np.bincount(features.example_index, minlength=len(examples)) if examples else np.zeros(0)
    return {
        "data_file": str(data_file),
        "version": resolved,
        "tokenizer": getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__,
        "max_seq_length": max_seq_length,
        "doc_stride": doc_stride,
        "max_query_length": max_query_length,
        "articles": loaded.n_articles,
        "questions": len(examples),
        "answerable": len(answerable),
        "unanswerable": len(examples) - len(answerable),
        "features": len(features),
        "features_per_example": {
            "mean": float(per_example.mean()) if len(per_example) else 0.0,
            "max": int(per_example.max()) if len(per_example) else 0,
            "examples_with_several": int((per_example > 1).sum()),
        },
        "truncated_questions": features.n_truncated_questions,
        "misaligned_answers": loaded.report.n_misaligned,
        "dropped_questions": len(loaded.report.dropped_question_ids),
        "answer_recall": recovered / len(answerable) if answerable else None,
        "answers_recovered": recovered,
        "misaligned": [m.__dict__ for m in loaded.report.misaligned[:20]],
    }


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``data-check``."""
    parser = argparse.ArgumentParser(
        prog="python -m lit_distill data-check",
        description="Diagnose a SQuAD-format dataset: counts, truncation, misaligned answers and answer recall "
        "through the features -> post-processing path. Prints JSON.",
    )
    parser.add_argument("--data", required=True, help="SQuAD v1.1 or v2.0 JSON file")
    parser.add_argument(
        "--tokenizer",
        required=True,
        help="Hugging Face fast tokenizer name or directory, or a BERT vocab.txt file",
    )
    parser.add_argument("--max-seq-length", type=int, default=384)
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--max-query-length", type=int, default=64)
    parser.add_argument("--max-answer-length", type=int, default=30)
    parser.add_argument(
        "--version", choices=["auto", "1.1", "2.0"], default="auto", help="default: from the file"
    )
    parser.add_argument("--on-misaligned", choices=["skip", "fail"], default="skip")
    parser.add_argument(
        "--cased", action="store_true", help="with a vocab.txt: keep case (default lower-cases)"
    )
    parser.add_argument("--out-file", "-o", help="also write the JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``data-check``; returns 0 on success, 2 on bad input or bad usage (one message, no traceback)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("max_seq_length", "doc_stride", "max_query_length", "max_answer_length"):
        if getattr(args, name) < (0 if name == "doc_stride" else 1):
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    try:
        if not Path(args.data).is_file():  # before the (possibly slow, networked) tokenizer load
            raise FileNotFoundError(f"SQuAD file not found: {args.data}")
        tokenizer = load_tokenizer(args.tokenizer, lower_case=not args.cased)
        report = check_dataset(
            args.data,
            tokenizer,
            args.max_seq_length,
            args.doc_stride,
            args.max_query_length,
            args.version,
            args.on_misaligned,
            args.max_answer_length,
        )
    except (UserInputError, FileNotFoundError) as exc:  # SquadFormatError is a UserInputError
        print(f"data-check: error: {exc}", file=sys.stderr)
        return 2
    report["tokenizer"] = args.tokenizer
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out_file:
        Path(args.out_file).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
