"""The small checks of one argument value that many constructors share, and the error they raise (torch-free).

Each check returns the value when it is allowed and otherwise raises
:class:`UserInputError` (or the ``error`` a caller names) with one message that
names the parameter, the bad value and what is allowed. ``True`` and ``False``
are never numbers here, although Python's ``bool`` is a subclass of ``int``.

:class:`UserInputError` is defined here, not in :mod:`lit_distill.user_errors`
(which re-exports it and turns it into one message and exit code 2), because the
export copies this module, with the encoder modules that import it, into Hugging
Face custom-code directories: it imports nothing of the package, not even in its
examples::

    >>> positive_int("n_best_size", 20)
    20
    >>> fraction("warmup_ratio", 1.5, high_open=True)
    Traceback (most recent call last):
    UserInputError: warmup_ratio must be a finite number in [0, 1), got 1.5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeGuard, TypeVar

__all__ = [
    "UserInputError",
    "finite_number",
    "fraction",
    "is_int",
    "is_number",
    "is_real",
    "non_negative_int",
    "one_of",
    "positive_int",
]

T = TypeVar("T")


class UserInputError(ValueError):
    """Bad input from the user (a parameter, a path, a file's content); reported without a traceback.

    ``python -m lit_distill`` prints its message as one line and exits with code 2
    (:mod:`lit_distill.user_errors`). A ``ValueError`` that is not a ``UserInputError``
    is a bug of the package.
    """


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an ``int`` and not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is an ``int`` or ``float`` (inf and nan included) and not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """Whether ``value`` is a finite ``int`` or ``float`` and not a ``bool``."""
    return is_number(value) and math.isfinite(value)  # type: ignore[arg-type]


def positive_int(
    name: str, value: T, *, optional: bool = False, error: type[ValueError] = UserInputError
) -> T:
    """``value`` if it is an integer >= 1 (or None when ``optional``).

    Raises:
        error: ``"{name} must be a positive integer, got {value!r}"`` (``"... or null"`` when optional).
    """
    return _int_at_least(name, value, 1, "a positive integer", optional, error)


def non_negative_int(
    name: str, value: T, *, optional: bool = False, error: type[ValueError] = UserInputError
) -> T:
    """``value`` if it is an integer >= 0 (or None when ``optional``).

    Raises:
        error: ``"{name} must be an integer >= 0, got {value!r}"`` (``"... or null"`` when optional).
    """
    return _int_at_least(name, value, 0, "an integer >= 0", optional, error)


def _int_at_least(name: str, value: T, low: int, words: str, optional: bool, error: type[ValueError]) -> T:
    """``value`` if it is an integer >= ``low`` (or None when ``optional``); ``words`` says what is allowed."""
    if not (optional and value is None) and (not is_int(value) or value < low):  # type: ignore[operator]
        raise error(f"{name} must be {words}{_or_null(optional)}, got {value!r}")
    return value


def finite_number(
    name: str,
    value: T,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    optional: bool = False,
    error: type[ValueError] = UserInputError,
) -> T:
    """``value`` if it is a finite real number within the given bounds (or None when ``optional``).

    Args:
        name: what the message calls the value.
        value: the value to check.
        low: the smallest allowed value (None: no lower bound).
        high: the largest allowed value (None: no upper bound).
        low_open: exclude ``low`` itself.
        high_open: exclude ``high`` itself.
        optional: None is allowed too.
        error: the exception type to raise (default :class:`UserInputError`).

    Raises:
        error: ``"{name} must be a finite number > 0, got {value!r}"`` (the bound as given:
            ``>= 0``, ``< 1``, or an interval such as ``in (0, 1]`` when both are given;
            ``"... or null"`` when optional).
    """
    if optional and value is None:
        return value
    ok = is_real(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low  # type: ignore[operator]
    if ok and high is not None:
        ok = value < high if high_open else value <= high  # type: ignore[operator]
    if not ok:
        bounds = _bounds(low, high, low_open, high_open) + _or_null(optional)
        raise error(f"{name} must be a finite number{bounds}, got {value!r}")
    return value


def fraction(
    name: str,
    value: T,
    *,
    low_open: bool = False,
    high_open: bool = False,
    optional: bool = False,
    error: type[ValueError] = UserInputError,
) -> T:
    """``value`` if it is a finite number in [0, 1], either end excluded on request (or None when ``optional``).

    Raises:
        error: ``"{name} must be a finite number in [0, 1), got {value!r}"`` (the interval as asked).
    """
    return finite_number(
        name, value, low=0, high=1, low_open=low_open, high_open=high_open, optional=optional, error=error
    )


def one_of(name: str, value: T, allowed: Sequence[T], *, error: type[ValueError] = UserInputError) -> T:
    """``value`` if it is one of ``allowed``.

    Raises:
        error: ``"{name} must be one of 'a', 'b', got 'c'"``.
    """
    if value not in allowed:
        raise error(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def _or_null(optional: bool) -> str:
    return " or null" if optional else ""


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """`` > 0``, `` <= 1``, `` in [0, 1)`` or ``""`` for the message of :func:`finite_number`."""
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""
