"""The shared argument checks: what each accepts, what it rejects and the message it gives."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from lit_distill.checks import (
    finite_number,
    fraction,
    is_int,
    is_number,
    is_real,
    non_negative_int,
    one_of,
    positive_int,
)
from lit_distill.user_errors import UserInputError


def test_predicates_reject_bools() -> None:
    assert is_int(3) and not is_int(True) and not is_int(3.0)
    assert is_number(2.5) and is_number(math.inf) and not is_number(False) and not is_number("1")
    assert is_real(2.5) and not is_real(math.nan) and not is_real(math.inf) and not is_real(True)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: positive_int("n", 0), "n must be a positive integer, got 0"),
        (lambda: positive_int("n", True), "n must be a positive integer, got True"),
        (lambda: positive_int("n", 2.0), "n must be a positive integer, got 2.0"),
        (lambda: positive_int("n", None, optional=False), "n must be a positive integer, got None"),
        (lambda: positive_int("n", 0, optional=True), "n must be a positive integer or null, got 0"),
        (lambda: non_negative_int("k", -1), "k must be an integer >= 0, got -1"),
        (
            lambda: finite_number("lr", 0.0, low=0.0, low_open=True),
            "lr must be a finite number > 0.0, got 0.0",
        ),
        (lambda: finite_number("w", math.nan, low=0), "w must be a finite number >= 0, got nan"),
        (lambda: finite_number("w", math.inf, low=0), "w must be a finite number >= 0, got inf"),
        (lambda: finite_number("t", 5, high=4), "t must be a finite number <= 4, got 5"),
        (lambda: fraction("p", 1.0, high_open=True), "p must be a finite number in [0, 1), got 1.0"),
        (lambda: fraction("r", 0.0, low_open=True), "r must be a finite number in (0, 1], got 0.0"),
        (lambda: fraction("p", 2, optional=True), "p must be a finite number in [0, 1] or null, got 2"),
        (lambda: one_of("mode", "x", ("a", "b")), "mode must be one of 'a', 'b', got 'x'"),
    ],
)
def test_rejections_name_the_value_and_what_is_allowed(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call()


def test_accepted_values_come_back_unchanged() -> None:
    assert positive_int("n", 1) == 1
    assert positive_int("n", None, optional=True) is None
    assert non_negative_int("k", 0) == 0
    assert finite_number("x", -3.5) == -3.5
    assert fraction("p", 1) == 1 and fraction("p", 0.0) == 0.0
    assert fraction("p", None, optional=True) is None
    assert one_of("mode", "b", ("a", "b")) == "b"


def test_error_type_is_the_callers() -> None:
    with pytest.raises(UserInputError, match="alpha must be a finite number >= 0"):
        finite_number("alpha", -1, low=0, error=UserInputError)
