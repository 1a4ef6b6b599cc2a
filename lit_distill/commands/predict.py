"""``python -m lit_distill predict``: official-format predictions of an exported model on a SQuAD file.

Writes ``predictions.json`` (question id -> answer, ``""`` for no answer) and, with
``--na-prob-file``, ``null_odds.json`` (question id -> no-answer probability), the files
the official ``evaluate-v2.0.py`` and ``python -m lit_distill squad-eval`` read. On the
file given to ``export --eval-file`` they score exactly what export reported (the same
windows, forward and decoding).

Example::

    python -m lit_distill predict deploy/student-int8 --data dev-v2.0.json \\
        --output predictions.json --na-prob-file null_odds.json
    python -m lit_distill squad-eval dev-v2.0.json predictions.json --na-prob-file null_odds.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from lit_distill.atomic_write import write_text
from lit_distill.commands.answer import add_artifact_options
from lit_distill.user_errors import UserInputError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m lit_distill predict``."""
    parser = argparse.ArgumentParser(
        prog="python -m lit_distill predict",
        description="Answer every question of a SQuAD-format file with an exported model and write "
        "official-format predictions (and no-answer probabilities) for squad-eval.",
        epilog="Without ARTIFACT, predict is Lightning's, on a checkpoint: python -m lit_distill predict "
        "--config CONFIG.yaml --ckpt_path CKPT (options: python -m lit_distill predict --config CONFIG.yaml --help).",
    )
    add_artifact_options(parser)
    parser.add_argument(
        "--data", required=True, metavar="FILE.json", help="SQuAD-format file (answers optional)"
    )
    parser.add_argument(
        "--output", required=True, metavar="predictions.json", help="where to write the answers"
    )
    parser.add_argument(
        "--na-prob-file",
        default=None,
        metavar="null_odds.json",
        help="also write the no-answer probabilities",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="N",
        help="answer the first N questions only (as export --eval-limit)",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="windows per forward call (default 16)")
    return parser


def _check_output(path: str, option: str, inputs: list[Path]) -> Path:
    """The output file, after checking that writing it loses nothing and can succeed."""
    from lit_distill.preflight import check_writable_dir

    target = Path(path).expanduser()
    if target.is_dir():
        raise UserInputError(f"{option} {path!r} is a directory; give a file name")
    if any(target.resolve() == p.resolve() for p in inputs):
        raise UserInputError(f"{option} {path!r} is one of the command's inputs; give another file name")
    if not target.parent.is_dir():
        raise UserInputError(
            f"{option} {path!r}: the directory {str(target.parent)!r} does not exist; create it first"
        )
    check_writable_dir(target.parent, f"{option} directory")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Write the predictions; returns 0 (bad input raises ``UserInputError``: one line, exit 2)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.limit is not None and args.limit < 1:
        raise UserInputError(f"--limit must be >= 1, got {args.limit}")
    if args.batch_size < 1:
        raise UserInputError(f"--batch-size must be >= 1, got {args.batch_size}")
    data_path = Path(args.data).expanduser()
    if not data_path.is_file():
        raise UserInputError(f"--data {args.data!r}: no such file")
    inputs = [data_path, *Path(args.artifact).expanduser().glob("*")]
    output = _check_output(args.output, "--output", inputs)
    na_file = _check_output(args.na_prob_file, "--na-prob-file", inputs) if args.na_prob_file else None
    if na_file is not None and na_file.resolve() == output.resolve():
        raise UserInputError("--na-prob-file and --output name the same file; give two file names")
    from lit_distill.inference import QuestionAnswerer
    from lit_distill.inference.questions import read_questions

    qa = QuestionAnswerer.from_artifact(
        args.artifact,
        threads=args.threads,
        batch_size=args.batch_size,
        null_score_diff_threshold=args.null_score_diff_threshold,
    )
    examples = read_questions(data_path, args.limit)
    preds = qa.predict_examples(examples, str(args.data))
    write_text(output, json.dumps(preds.answers, indent=2, ensure_ascii=False))  # atomic
    if na_file is not None:
        write_text(na_file, json.dumps(preds.na_probs, indent=2))
    empty = sum(1 for a in preds.answers.values() if not a)
    print(
        f"wrote {len(preds.answers)} predictions ({empty} no-answer) to {output}"
        + (f" and no-answer probabilities to {na_file}" if na_file else "")
    )
    return 0
