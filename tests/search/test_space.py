"""Search space: monotone-chain reparametrisation, decoding, overrides, expressions."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from lit_distill.search.expression import evaluate, expression_names
from lit_distill.search.space import (
    config_overrides,
    decode,
    decode_chain,
    encode_chain,
    optimizer_space,
    violated_linear_constraints,
)
from lit_distill.search.spec import MonotoneChain, parse_spec

from .helpers import spec_dict

CHAIN = MonotoneChain("lengths", "model.init_args.length_config", 6, "int", 16, 384)


def test_every_point_of_the_cube_decodes_to_a_valid_chain() -> None:
    rng = random.Random(0)
    corners = [[0.0] * 6, [1.0] * 6, [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]]
    for fractions in corners + [[rng.random() for _ in range(6)] for _ in range(2000)]:
        lengths = decode_chain(CHAIN, fractions)
        assert all(isinstance(v, int) for v in lengths)
        assert all(16 <= v <= 384 for v in lengths)
        assert all(a >= b for a, b in itertools.pairwise(lengths)), (fractions, lengths)
    assert decode_chain(CHAIN, [1.0] * 6) == [384] * 6
    assert decode_chain(CHAIN, [0.0] * 6) == [16] * 6


def test_every_valid_chain_is_reachable() -> None:
    rng = random.Random(1)
    for _ in range(500):
        chain = sorted((rng.randint(16, 384) for _ in range(6)), reverse=True)
        assert decode_chain(CHAIN, encode_chain(CHAIN, chain)) == chain
    double = MonotoneChain("r", "k", 3, "double", 0.2, 1.0)
    assert decode_chain(double, encode_chain(double, [0.9, 0.5, 0.5])) == pytest.approx([0.9, 0.5, 0.5])


def test_chain_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="needs 6 fractions, got 2"):
        decode_chain(CHAIN, [0.5, 0.5])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        decode_chain(CHAIN, [1.5] * 6)
    with pytest.raises(ValueError, match="not above the previous value"):
        encode_chain(CHAIN, [100, 200, 50, 40, 30, 20])


def test_space_decode_and_overrides(tmp_path: Path) -> None:
    raw = spec_dict(
        tmp_path,
        parameters=[
            {"name": "alpha_ce", "key": "model.alpha_ce", "type": "double", "bounds": {"min": 0, "max": 1}},
            {"name": "t", "key": "model.temperature", "type": "int", "grid": [1, 2, 4]},
            {
                "name": "act",
                "key": "model.act",
                "type": "categorical",
                "categorical_values": ["gelu", {"name": "relu"}],
            },
            {"name": "n_layers", "type": "int", "bounds": {"min": 1, "max": 4}},
        ],
        monotone_chains=[
            {"name": "lengths", "key": "model.length_config", "length": 3, "bounds": {"min": 8, "max": 64}}
        ],
        derived=[
            {"key": "model.alpha_squad", "expression": "1 - alpha_ce"},
            {"key": "model.student_layers", "expression": "layers(n_layers, 4)"},
        ],
        fixed={"trainer.max_steps": 3},
        linear_constraints=[
            {"type": "less_than", "threshold": 0.5, "terms": [{"name": "alpha_ce", "weight": 1}]},
        ],
    )
    spec = parse_spec(raw, tmp_path / "spec.yaml")
    space = {p.name: p for p in optimizer_space(spec)}
    assert space["t"].choices == (1, 2, 4) and space["act"].choices == ("gelu", "relu")
    assert [n for n in space if n.startswith("lengths")] == ["lengths.u0", "lengths.u1", "lengths.u2"]
    raw_values = {
        "n_layers": 2,
        "alpha_ce": 0.25,
        "t": 2,
        "act": "relu",
        "lengths.u0": 1.0,
        "lengths.u1": 0.5,
        "lengths.u2": 0.0,
    }
    assignment = decode(spec, raw_values)
    assert assignment == {"alpha_ce": 0.25, "t": 2, "act": "relu", "n_layers": 2, "lengths": [64, 36, 8]}
    overrides = config_overrides(spec, assignment)
    assert overrides == {
        "trainer.max_steps": 3,
        "model.alpha_ce": 0.25,
        "model.temperature": 2,
        "model.act": "relu",
        "model.length_config": [64, 36, 8],
        "model.alpha_squad": 0.75,
        "model.student_layers": [0, 3],
    }
    assert violated_linear_constraints(spec, assignment) == []
    assert violated_linear_constraints(spec, {**assignment, "alpha_ce": 0.75}) == [0]


def test_expressions_are_evaluated_without_eval() -> None:
    assert evaluate("1 - a", {"a": 0.25}) == 0.75
    assert evaluate("max(1, round(a * 10) / 2) ** 2", {"a": 0.5}) == 6.25
    assert expression_names("a * (b - 2)") == {"a", "b"}
    assert evaluate("layers(n, 12)", {"n": 6}) == [0, 2, 4, 7, 9, 11]  # DistilBERT's layers
    assert evaluate("layers(1, 4)", {}) == [0] and evaluate("layers(4, 4)", {}) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="1 <= n <= total"):
        evaluate("layers(5, 4)", {})
    for bad in ("a.__class__", "open('x')", "[1, 2]", "a if a else b", "lambda: 1"):
        with pytest.raises(ValueError, match=r"is not allowed|cannot parse"):
            expression_names(bad)
