"""A tiny, safe arithmetic language for derived config values (``1 - alpha_ce``).

Only numbers, parameter names, ``+ - * / **``, parentheses, unary minus and the
functions ``min``, ``max``, ``round``, ``int``, ``float`` and ``layers`` are allowed;
nothing is ``eval``-ed. ``layers(n, total)`` returns ``n`` evenly spread layer indices of a
``total``-layer teacher (``layers(6, 12)`` = [0, 2, 4, 7, 9, 11], DistilBERT's choice), for a
``student_layers`` key driven by an ``n_layers`` parameter.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def spread_layers(n: float, total: float) -> list[int]:
    """``n`` evenly spread indices in ``range(total)``, first and last included (``[0]`` for n = 1).

    Raises:
        ValueError: Unless 1 ≤ n ≤ total are integers.
    """
    if n != int(n) or total != int(total) or not 1 <= n <= total:
        raise ValueError(f"layers(n, total) needs integers 1 <= n <= total, got n={n}, total={total}")
    n, total = int(n), int(total)
    if n == 1:
        return [0]
    return [round(i * (total - 1) / (n - 1)) for i in range(n)]


_FUNCS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "round": round,
    "int": int,
    "float": float,
    "layers": spread_layers,
}


def _parse(expression: str) -> ast.expr:
    try:
        return ast.parse(expression, mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"cannot parse expression {expression!r}: {err.msg}") from None


def _walk(node: ast.expr, env: Mapping[str, float] | None, names: set[str], text: str) -> Any:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, ast.Name):
        names.add(node.id)
        return None if env is None else env[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _walk(node.operand, env, names, text)
        return None if env is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _walk(node.left, env, names, text)
        right = _walk(node.right, env, names, text)
        return None if env is None else _BINARY[type(node.op)](left, right)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and not node.keywords
    ):
        args = [_walk(a, env, names, text) for a in node.args]
        return None if env is None else _FUNCS[node.func.id](*args)
    raise ValueError(
        f"expression {text!r}: {ast.unparse(node)!r} is not allowed; use numbers, parameter names, "
        f"+ - * / **, parentheses and {sorted(_FUNCS)}"
    )


def expression_names(expression: str) -> set[str]:
    """Names of the parameters an expression uses.

    Raises:
        ValueError: If the expression uses anything outside the small allowed language.
    """
    names: set[str] = set()
    _walk(_parse(expression), None, names, expression)
    return names


def evaluate(expression: str, env: Mapping[str, float]) -> Any:
    """Evaluate an expression with parameter values from ``env``.

    >>> evaluate("1 - alpha_ce", {"alpha_ce": 0.25})
    0.75
    """
    return _walk(_parse(expression), env, set(), expression)  # type: ignore[no-any-return]
