"""A tiny, safe arithmetic language for derived config values (``1 - alpha_ce``).

Only numbers, parameter names, ``+ - * / **``, parentheses, unary minus and the
functions ``min``, ``max``, ``round``, ``int``, ``float`` and ``layers`` are allowed;
nothing is ``eval``-ed. ``layers(n, total)`` returns ``n`` evenly spread layer indices of a
``total``-layer teacher (``layers(6, 12)`` = [0, 2, 4, 7, 9, 11], DistilBERT's choice), for a
``student_layers`` key driven by an ``n_layers`` parameter.

Every evaluation is bounded, so a spec cannot hang or exhaust the search process:
an expression has at most :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` levels
of nesting, no number (literal, intermediate or result) is larger than
:data:`MAX_MAGNITUDE` or not finite, ``round``'s digits are within
±:data:`MAX_ROUND_DIGITS` and ``layers`` counts at most :data:`MAX_LAYERS` layers.
Every failure is an :class:`ExpressionError` (a ``ValueError``) that quotes the expression.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from lit_distill.checks import UserInputError, is_number
from lit_distill.layer_maps import spread_layers

MAX_LENGTH = 500
"""Longest expression, in characters."""
MAX_DEPTH = 50
"""Deepest nesting of operations and calls (``1+1+…+1`` nests once per ``+``)."""
MAX_MAGNITUDE = 1e300
"""Largest absolute value of any number (``9**9**9`` is refused before it is computed)."""
MAX_ROUND_DIGITS = 100
"""``round(x, d)`` needs ``|d|`` ≤ this."""


class ExpressionError(UserInputError):
    """An expression is not allowed, or cannot be evaluated; the message quotes it."""


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def _round(x: float, digits: int | None = None) -> float:
    if digits is not None and abs(digits) > MAX_ROUND_DIGITS:
        raise ValueError(f"round(x, digits) needs |digits| <= {MAX_ROUND_DIGITS}, got {digits}")
    return round(x) if digits is None else round(x, digits)


_FUNCS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "round": _round,
    "int": int,
    "float": float,
    "layers": spread_layers,
}


def _checked(value: Any) -> Any:
    """``value`` if it is a finite real number within :data:`MAX_MAGNITUDE` (or a list of such)."""
    if isinstance(value, list):
        for v in value:
            _checked(v)
        return value
    if not is_number(value):
        raise ValueError(f"result {value!r} is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a number is not finite: {value}")
    if abs(value) > MAX_MAGNITUDE:  # exact for ints too
        raise ValueError(f"a number exceeds {MAX_MAGNITUDE:g} in magnitude")
    return value


def _power(base: Any, exponent: Any) -> Any:
    """``base ** exponent``, refused before it is computed when the result would be too large."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if (abs(base).bit_length() - 1) * exponent > 1000:  # 2**1000 > MAX_MAGNITUDE
            raise ValueError(f"{base} ** {exponent} exceeds {MAX_MAGNITUDE:g} in magnitude")
    elif abs(exponent) > MAX_MAGNITUDE**0.5 and abs(base) not in (0, 1):
        raise ValueError(f"exponent {exponent} is too large")
    return base**exponent


def _shown(text: str) -> str:
    """The expression as quoted in messages, shortened when long."""
    return repr(text) if len(text) <= 60 else repr(text[:57]) + "…"


def _parse(expression: str) -> ast.expr:
    if not isinstance(expression, str):
        raise ExpressionError(f"expected an expression string, got {expression!r}")
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(
            f"expression {_shown(expression)} has {len(expression)} characters; at most {MAX_LENGTH} are allowed"
        )
    try:
        return ast.parse(expression, mode="eval").body
    except SyntaxError as err:
        raise ExpressionError(f"cannot parse expression {_shown(expression)}: {err.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"expression {_shown(expression)} is nested too deeply") from None


def _walk(node: ast.expr, env: Mapping[str, float] | None, names: set[str], text: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ExpressionError(f"expression {_shown(text)} nests deeper than {MAX_DEPTH} levels")
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return _checked(node.value)
    if isinstance(node, ast.Name):
        names.add(node.id)
        return None if env is None else env[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _walk(node.operand, env, names, text, depth + 1)
        return None if env is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _walk(node.left, env, names, text, depth + 1)
        right = _walk(node.right, env, names, text, depth + 1)
        if env is None:
            return None
        if isinstance(node.op, ast.Pow):
            return _checked(_power(left, right))
        return _checked(_BINARY[type(node.op)](left, right))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and not node.keywords
    ):
        args = [_walk(a, env, names, text, depth + 1) for a in node.args]
        return None if env is None else _checked(_FUNCS[node.func.id](*args))
    raise ExpressionError(
        f"expression {_shown(text)}: {ast.unparse(node)!r} is not allowed; use numbers, parameter names, "
        f"+ - * / **, parentheses and {sorted(_FUNCS)}"
    )


def expression_names(expression: str) -> set[str]:
    """Names of the parameters an expression uses.

    Raises:
        ExpressionError: If the expression uses anything outside the small allowed language,
            or is longer or nested deeper than allowed.
    """
    names: set[str] = set()
    _walk(_parse(expression), None, names, expression, 0)
    return names


def evaluate(expression: str, env: Mapping[str, float]) -> Any:
    """Evaluate an expression with parameter values from ``env``.

    >>> evaluate("1 - alpha_ce", {"alpha_ce": 0.25})
    0.75

    Raises:
        ExpressionError: If the expression is not allowed or its value cannot be computed
            (division by zero, a number too large, a missing parameter, a bad function argument).
    """
    try:
        return _walk(_parse(expression), env, set(), expression, 0)
    except ExpressionError:
        raise
    except KeyError as err:
        raise ExpressionError(f"expression {_shown(expression)}: no value for parameter {err}") from None
    except ValueError as err:  # the bounds above, layers()
        raise ExpressionError(f"expression {_shown(expression)}: {err}") from None
    except (ArithmeticError, TypeError, RecursionError, MemoryError) as err:
        raise ExpressionError(f"expression {_shown(expression)}: {type(err).__name__}: {err}") from None
