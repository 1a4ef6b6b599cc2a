"""The derived-value expression language is bounded: no hang, no bare RecursionError/MemoryError (#14.7)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from lit_distill.commands.search import main
from lit_distill.search.expression import MAX_DEPTH, MAX_LENGTH, ExpressionError, evaluate, expression_names

from .helpers import ROOT, spec_dict, write_spec


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("9**9**9", "exceeds 1e\\+300 in magnitude"),
        ("hidden ** 10**6", "exceeds 1e\\+300 in magnitude"),
        ("(2**500) ** 2", "exceeds 1e\\+300 in magnitude"),
        ("2.0 ** 5000", "OverflowError"),
        ("round(hidden, -10**18)", "needs |digits| <= 100"),
        ("layers(2, 10**12)", "total <= 10000"),
        ("(-8) ** 0.5", "is not a real number"),
        ("1 / (hidden - hidden)", "ZeroDivisionError"),
        ("-" * 400 + "1", f"nests deeper than {MAX_DEPTH} levels"),
        ("+".join(["1"] * 200), f"nests deeper than {MAX_DEPTH} levels"),
        ("(" * 210 + "1" + ")" * 210, "cannot parse .*: too many nested parentheses"),
        ("1+" * 2000 + "1", f"at most {MAX_LENGTH} are allowed"),
        ("min()", "TypeError"),
    ],
)
def test_bad_expressions_fail_fast_with_a_message(expression: str, message: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ExpressionError, match=message):
        expression_names(expression)
        evaluate(expression, {"hidden": 4})
    assert time.perf_counter() - start < 1.0


def test_bounded_expressions_still_compute() -> None:
    assert evaluate("2 ** 996", {}) == 2**996
    assert evaluate("1 ** (10 ** 300)", {}) == 1
    assert evaluate("round(a, 2)", {"a": 0.256}) == 0.26
    assert evaluate("+".join(["1"] * 40), {}) == 40


@pytest.mark.parametrize(
    "expression", ["9**9**9", "-" * 400 + "hidden", "+".join(["hidden"] * 90), "1+" * 300 + "1"]
)
def test_search_check_names_the_entry_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], expression: str
) -> None:
    raw = spec_dict(tmp_path)
    raw["derived"] = [{"key": "model.other", "expression": expression}]
    path = write_spec(tmp_path, raw)
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"search spec {path}: derived[0].expression" in err and "Traceback" not in err


def test_search_check_of_a_huge_power_returns_promptly_through_the_command_line(tmp_path: Path) -> None:
    raw = spec_dict(tmp_path)
    raw["derived"] = [{"key": "model.other", "expression": "9**9**9"}]
    path = write_spec(tmp_path, raw)
    done = subprocess.run(
        [sys.executable, "-m", "lit_distill", "search", "check", "--config", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,  # the unbounded language never returned
    )
    assert done.returncode == 2, done.stderr
    assert "derived[0].expression" in done.stderr and "exceeds 1e+300" in done.stderr
    assert "Traceback" not in done.stderr
