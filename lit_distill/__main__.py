"""``python -m lit_distill``: the project's own commands, else LightningCLI.

Lightning's subcommands (``fit``, ``validate``, ``test``, ``predict``) go to
:class:`lit_distill.cli.LitDistillCLI`. The project's own commands
(:data:`lit_distill.commands.PROJECT_COMMANDS`) are dispatched first, each to the
``main(argv) -> int`` of its module, so that each keeps its own argument parser
and ``--help``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from lit_distill.commands import PROJECT_COMMANDS, is_artifact_predict

LIGHTNING_COMMANDS: dict[str, str] = {
    "fit": "train a teacher or a student (LightningCLI)",
    "validate": "evaluate a checkpoint on the validation split (LightningCLI)",
    "test": "evaluate on the test split and write predictions.json (LightningCLI)",
    "predict": "write official-format predictions.json and null_odds.json of a checkpoint (LightningCLI)",
}


def _usage() -> str:
    from lit_distill import __version__

    width = max(len(n) for n in [*LIGHTNING_COMMANDS, *PROJECT_COMMANDS])
    lines = [
        f"lit_distill {__version__}: distil BERT question-answering models with PyTorch Lightning",
        "",
        "usage: python -m lit_distill COMMAND [options]   (COMMAND --help for its options)",
        "",
        "commands:",
    ]
    lines += [f"  {n:<{width}}  {h}" for n, h in LIGHTNING_COMMANDS.items()]
    lines += [f"  {n:<{width}}  {h}" for n, (_, h) in PROJECT_COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch one command line; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if args[0] == "--version":
        from lit_distill import __version__

        print(__version__)
        return 0
    command = args[0]
    if command in LIGHTNING_COMMANDS or command in PROJECT_COMMANDS:
        return _run_command(command, args[1:])
    valid = ", ".join([*LIGHTNING_COMMANDS, *PROJECT_COMMANDS])
    print(f"error: unknown command {command!r}; valid commands: {valid}", file=sys.stderr)
    print("run `python -m lit_distill --help` for a one-line description of each", file=sys.stderr)
    return 2


def _run_command(command: str, args: list[str]) -> int:
    """Run one command; an error caused by the user's input is one message and exit code 2."""
    from lit_distill.user_errors import DEBUG_ENV, debug_requested, find_user_error, report_user_error

    debug, rest = debug_requested(args)
    if debug:  # DDP ranks and search trials are new processes: they inherit the environment
        os.environ[DEBUG_ENV] = "1"
    try:
        if command in LIGHTNING_COMMANDS and not is_artifact_predict(command, rest):
            return _run_lightning(command, rest)
        module_name, _ = PROJECT_COMMANDS[command]
        module = importlib.import_module(module_name)
        return int(module.main(rest) or 0)
    except Exception as exc:
        error = find_user_error(exc)
        if error is None or debug:
            raise
        return report_user_error(error, command)


def _run_lightning(command: str, args: list[str]) -> int:
    """Run a LightningCLI subcommand; a run stopped by SIGTERM says so in one line and exits with 143."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from lit_distill.cli import LitDistillCLI

    sys.argv = ["python -m lit_distill", command, *args]  # LightningCLI reads sys.argv
    try:
        LitDistillCLI()
    except SIGTERMException as exc:  # a SystemExit with code 0: a preempted job must not look finished
        from lit_distill.callbacks.preemption import EXIT_SIGTERM, sigterm_message

        print(sigterm_message(exc, command, args), file=sys.stderr)
        return EXIT_SIGTERM
    return 0


if __name__ == "__main__":
    sys.exit(main())
