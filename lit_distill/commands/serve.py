"""``python -m lit_distill serve``: an HTTP server for an exported model (LitServe, dynamic batching).

Example::

    pip install -e ".[serve]"
    python -m lit_distill serve deploy/student-int8 --port 8000
    curl -s http://127.0.0.1:8000/predict -H 'Content-Type: application/json' \\
        -d '{"question": "Where is the Eiffel Tower?", "context": "The Eiffel Tower is in Paris."}'

See docs/serve.md for the request and answer format, the limits and the load test.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lit_distill.commands.answer import add_artifact_options
from lit_distill.inference.request_checks import ServeLimits

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m lit_distill serve``."""
    defaults = ServeLimits()
    parser = argparse.ArgumentParser(
        prog="python -m lit_distill serve",
        description="Serve an exported model over HTTP (POST /predict, GET /health) with LitServe's "
        'dynamic batching; needs the serve extra (pip install -e ".[serve]").',
    )
    add_artifact_options(parser)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="127.0.0.1 (default: this machine only), 0.0.0.0 or :: (all interfaces)",
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="1024-65535, or 0 for a free port (printed); default 8000"
    )
    parser.add_argument(
        "--max-batch-size",
        type=int,
        default=16,
        help="requests gathered into one model call (default 16; 1: no batching)",
    )
    parser.add_argument(
        "--batch-timeout",
        type=float,
        default=0.005,
        help="seconds to wait for a batch to fill (default 0.005)",
    )
    parser.add_argument(
        "--windows-per-forward",
        type=int,
        default=4,
        help="windows (sorted by length) per forward call inside a batch (default 4)",
    )
    parser.add_argument("--workers", type=int, default=1, help="model worker processes (default 1)")
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=defaults.max_body_bytes,
        help=f"largest request body (default {defaults.max_body_bytes:,})",
    )
    parser.add_argument(
        "--max-context-chars",
        type=int,
        default=defaults.max_context_chars,
        help=f"longest context in characters (default {defaults.max_context_chars:,})",
    )
    parser.add_argument(
        "--max-question-chars",
        type=int,
        default=defaults.max_question_chars,
        help=f"longest question in characters (default {defaults.max_question_chars:,})",
    )
    parser.add_argument(
        "--max-pairs",
        type=int,
        default=defaults.max_pairs,
        help=f"most pairs in one request (default {defaults.max_pairs})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=defaults.timeout_s,
        help=f"seconds a request may take to arrive, and to wait for the model (default {defaults.timeout_s:g})",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="server log level",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM / Ctrl+C; returns 0 (bad options raise ``UserInputError``: one line, exit 2)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    from lit_distill.inference.serving import ServeOptions, build_server, check_address, run_server

    check_address(args.host, args.port)
    limits = ServeLimits(
        max_body_bytes=args.max_body_bytes,
        max_context_chars=args.max_context_chars,
        max_question_chars=args.max_question_chars,
        max_pairs=args.max_pairs,
        timeout_s=args.timeout,
    )
    options = ServeOptions(
        artifact=args.artifact,
        threads=args.threads,
        null_score_diff_threshold=args.null_score_diff_threshold,
        max_batch_size=args.max_batch_size,
        batch_timeout=args.batch_timeout,
        windows_per_forward=args.windows_per_forward,
        workers=args.workers,
    )
    server = build_server(options, limits)
    run_server(server, args.host, args.port, log_level=args.log_level)
    return 0
