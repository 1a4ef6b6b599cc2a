"""Choosing heads to prune: importance order, seeded random, never a whole layer."""

from __future__ import annotations

import pytest
import torch

from lit_distill.compression.head_selection import (
    count_to_prune,
    select_heads_by_importance,
    select_heads_randomly,
    validate_head_map,
)


def test_importance_per_layer_takes_the_lowest() -> None:
    imp = [torch.tensor([0.9, 0.1, 0.5, 0.3]), torch.tensor([0.2, 0.8, 0.7, 0.6])]
    assert select_heads_by_importance(imp, heads_per_layer=2) == {0: [1, 3], 1: [0, 3]}
    assert select_heads_by_importance(imp, heads_per_layer=[0, 1]) == {1: [0]}


def test_importance_global_amount_never_empties_a_layer() -> None:
    # layer 0 is all unimportant; a global cut must still leave it one head
    imp = [torch.tensor([0.01, 0.02, 0.03]), torch.tensor([0.5, 0.6, 0.7])]
    head_map = select_heads_by_importance(imp, amount=3)
    assert head_map == {0: [0, 1], 1: [0]}
    assert select_heads_by_importance(imp, amount=0.5) == head_map  # round(0.5 * 6) = 3


def test_pruned_layers_with_different_head_counts() -> None:
    imp = [torch.tensor([0.3, 0.1]), torch.tensor([0.5, 0.4, 0.2, 0.9, 0.8])]
    assert select_heads_by_importance(imp, amount=2) == {0: [1], 1: [2]}


def test_random_is_seeded_and_reproducible() -> None:
    sizes = [12] * 6
    a = select_heads_randomly(sizes, seed=7, amount=1 / 3)
    b = select_heads_randomly(sizes, seed=7, amount=1 / 3)
    c = select_heads_randomly(sizes, seed=8, amount=1 / 3)
    assert a == b and a != c
    assert sum(len(v) for v in a.values()) == 24
    assert all(len(v) < 12 for v in a.values())
    per_layer = select_heads_randomly(sizes, seed=3, heads_per_layer=4)
    assert sorted(per_layer) == list(range(6)) and all(len(v) == 4 for v in per_layer.values())


def test_random_global_amount_near_the_limit_keeps_one_head_per_layer() -> None:
    sizes = [2, 3, 4]
    head_map = select_heads_randomly(sizes, seed=0, amount=6)
    assert {layer: len(h) for layer, h in head_map.items()} == {0: 1, 1: 2, 2: 3}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"heads_per_layer": 4}, "layer 0 has 4 heads, pruning 4 would leave none"),
        ({"heads_per_layer": [1, 1, 1]}, "3 entries but the model has 2 layers"),
        ({"heads_per_layer": [-1, 0]}, "layer 0 has a negative count"),
        ({"amount": 7}, "at most 6 can go"),
        ({"amount": 1.0}, "must be < 1"),
        ({"amount": 0}, "amount must be"),
        ({"amount": 1, "heads_per_layer": 1}, "exactly one of"),
        ({}, "exactly one of"),
    ],
)
def test_bad_requests_are_errors(kwargs: dict[str, object], match: str) -> None:
    imp = [torch.rand(4), torch.rand(4)]
    with pytest.raises(ValueError, match=match):
        select_heads_by_importance(imp, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=match):
        select_heads_randomly([4, 4], 0, **kwargs)  # type: ignore[arg-type]


def test_validate_head_map_names_the_layer() -> None:
    assert validate_head_map({"1": [3, 0]}, [4, 4]) == {1: [0, 3]}  # type: ignore[dict-item]
    assert validate_head_map({0: []}, [4]) == {}
    with pytest.raises(ValueError, match="layer 1: pruning 4 of its 4 heads"):
        validate_head_map({1: [0, 1, 2, 3]}, [4, 4])
    with pytest.raises(ValueError, match=r"layer 0: heads \[5\] do not exist"):
        validate_head_map({0: [5]}, [4, 4])
    with pytest.raises(ValueError, match=r"layer 2, but the model has layers 0\.\.1"):
        validate_head_map({2: [0]}, [4, 4])
    with pytest.raises(ValueError, match="duplicates"):
        validate_head_map({0: [1, 1]}, [4])


def test_count_to_prune_a_third_of_bert_base() -> None:
    assert count_to_prune(1 / 3, [12] * 12) == 48
    assert count_to_prune(5, [12] * 12) == 5
