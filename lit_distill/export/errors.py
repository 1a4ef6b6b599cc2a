"""The error :mod:`lit_distill.export` raises for bad user input, and the optional-dependency check."""

from __future__ import annotations

import importlib
from types import ModuleType

from lit_distill.user_errors import UserInputError

__all__ = ["ExportInputError", "MissingExtraError", "require"]

EXTRA_HINT = 'pip install "lit_distill[export]"'


class ExportInputError(UserInputError):
    """Bad input to ``export`` (the CLI prints the message and exits with code 2).

    Args:
        argument: The argument at fault, as the command line spells it (``--output``, ``MODEL``).
        message: What is wrong and what is allowed.
    """

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument


class MissingExtraError(UserInputError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(module: str) -> ModuleType:
    """Import ``module`` from the ``export`` extra, or fail with the install command.

    Raises:
        MissingExtraError: naming the module and the extra (also an ``ImportError``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(
            f"{module} is not installed; the export commands need the export extra: {EXTRA_HINT}"
        ) from err
