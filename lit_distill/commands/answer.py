"""``python -m lit_distill answer``: one question about one context, answered by an exported model.

Example::

    python -m lit_distill answer deploy/student-int8 \\
        --question "Where is the Eiffel Tower?" --context "The Eiffel Tower is in Paris."
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from lit_distill.user_errors import UserInputError

__all__ = ["build_parser", "main"]


def add_artifact_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that loads an exported directory shares."""
    parser.add_argument(
        "artifact", metavar="ARTIFACT", help="a directory written by `python -m lit_distill export`"
    )
    parser.add_argument(
        "--null-score-diff-threshold",
        type=float,
        default=None,
        metavar="T",
        help="SQuAD 2.0 no-answer threshold in logit-difference units (answer nothing when the [CLS] "
        "score beats the best span's by more than T); default: the one the artifact records",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default: the runtime's choice)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m lit_distill answer``."""
    parser = argparse.ArgumentParser(
        prog="python -m lit_distill answer",
        description="Answer one question about one context with an exported model (Hugging Face or ONNX, "
        "fp32 or INT8), with the windows, n-best decoding and no-answer threshold the artifact records.",
    )
    add_artifact_options(parser)
    parser.add_argument("--question", required=True, help="the question")
    context = parser.add_mutually_exclusive_group(required=True)
    context.add_argument("--context", help="the text to find the answer in")
    context.add_argument("--context-file", metavar="FILE", help="read the context from this UTF-8 text file")
    parser.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    return parser


def read_context(path: str) -> str:
    """The text of ``--context-file``.

    Raises:
        UserInputError: missing, unreadable or not UTF-8.
    """
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise UserInputError(f"--context-file {path!r}: no such file") from err
    except UnicodeDecodeError as err:
        raise UserInputError(
            f"--context-file {path!r}: not UTF-8 text ({err.reason} at byte {err.start})"
        ) from err
    except OSError as err:
        raise UserInputError(f"--context-file {path!r}: cannot be read ({err.strerror})") from err


def main(argv: Sequence[str] | None = None) -> int:
    """Print the answer; returns 0 (bad input raises ``UserInputError``: one line, exit 2)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    context = args.context if args.context is not None else read_context(args.context_file)
    from lit_distill.inference import QuestionAnswerer

    qa = QuestionAnswerer.from_artifact(
        args.artifact, threads=args.threads, null_score_diff_threshold=args.null_score_diff_threshold
    )
    answer = qa.answer(args.question, context)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    elif answer.no_answer:
        print(
            f"no answer (the [CLS] score beats the best span's by {answer.null_score_diff:.3f}, above the "
            f"threshold {qa.decoding.null_score_diff_threshold:.3f})"
        )
    else:
        print(f"{answer.text}\t(score {answer.score:.3f}, characters {answer.start}-{answer.end})")
    return 0
