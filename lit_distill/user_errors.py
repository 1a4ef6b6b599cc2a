"""Errors caused by what the user gave, and how the command line reports them.

A validator raises :class:`UserInputError` (or :class:`MissingPathError`) with a
message that names the parameter or file, the bad value and what is allowed.
``python -m lit_distill`` catches such an error once, wherever it was raised and
however deeply jsonargparse or Lightning wrapped it, prints its message on one
line and exits with code 2. ``--debug`` on the command line, or
``LIT_DISTILL_DEBUG=1``, shows the traceback instead.

Example::

    from lit_distill.user_errors import UserInputError

    if not temperature > 0:
        raise UserInputError(f"temperature must be a finite number > 0, got {temperature!r}")
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

__all__ = [
    "DEBUG_ENV",
    "EXIT_USER_ERROR",
    "MissingPathError",
    "UserInputError",
    "debug_requested",
    "find_user_error",
    "report_user_error",
    "root_cause",
]

DEBUG_ENV = "LIT_DISTILL_DEBUG"
EXIT_USER_ERROR = 2


class UserInputError(ValueError):
    """Bad input from the user (a parameter, a path, a file's content); reported without a traceback."""


class MissingPathError(UserInputError, FileNotFoundError):
    """A path the user gave does not exist (also a ``FileNotFoundError``)."""


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from (explicitly or while handling), outermost first."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return seen


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of ``exc``'s chain (what jsonargparse's union errors wrap)."""
    return _chain(exc)[-1]


# FileNotFoundError: a data file, a model directory or a checkpoint the user named is missing.
# (A malformed SQuAD file, ``lit_distill.data.squad.SquadFormatError``, is a UserInputError.)
_USER_ERROR_TYPES: tuple[type[BaseException], ...] = (UserInputError, FileNotFoundError)


def find_user_error(exc: BaseException) -> BaseException | None:
    """The innermost user error in ``exc``'s chain, or ``None`` when it is not the user's input."""
    for link in reversed(_chain(exc)):
        if isinstance(link, _USER_ERROR_TYPES):
            return link
    return None


def debug_requested(args: Sequence[str]) -> tuple[bool, list[str]]:
    """Whether tracebacks are wanted (``--debug`` or ``LIT_DISTILL_DEBUG=1``), and ``args`` without ``--debug``."""
    rest = [a for a in args if a != "--debug"]
    env = os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")
    return env or len(rest) != len(args), rest


def report_user_error(error: BaseException, command: str) -> int:
    """Print ``error`` as one ``error:`` message on stderr; returns the exit code (2)."""
    message = str(error).strip() or type(error).__name__
    print(f"python -m lit_distill {command}: error: {message}", file=sys.stderr)
    print(f"(run with --debug or {DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
    return EXIT_USER_ERROR
