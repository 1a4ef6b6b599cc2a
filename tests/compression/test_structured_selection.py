"""Unit (head / neuron) selection: least important first, seeded random, counts checked."""

from __future__ import annotations

import pytest
import torch

from lit_distill.compression.structured_selection import (
    select_by_importance,
    select_randomly,
    validate_unit_map,
)


def test_importance_takes_the_least_important_per_layer_or_over_the_model() -> None:
    scores = [torch.tensor([0.5, 0.1, 0.9]), torch.tensor([0.2, 0.05])]
    assert select_by_importance(scores, counts=[2, 0]) == {0: [0, 1]}
    # over the model: 0.05 (layer 1) would be next after 0.1, but layer 1 must keep one unit
    assert select_by_importance(scores, total=3) == {0: [0, 1], 1: [1]}


def test_random_choice_is_seeded_and_respects_counts() -> None:
    a = select_randomly([10, 10, 3], seed=7, total=12)
    assert a == select_randomly([10, 10, 3], seed=7, total=12)
    assert a != select_randomly([10, 10, 3], seed=8, total=12)
    assert sum(map(len, a.values())) == 12 and all(len(a.get(i, [])) < n for i, n in enumerate([10, 10, 3]))
    per_layer = select_randomly([10, 10, 3], seed=1, counts=[3, 0, 2])
    assert [len(per_layer.get(i, [])) for i in range(3)] == [3, 0, 2]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(counts=[3, 0]), r"layer 0 has 3 neurons; pruning 3 is not possible \(allowed: 0..2"),
        (dict(total=4), r"pruning 4 of the model's 5 neurons is not possible: at most 3 can go"),
        (dict(), r"exactly one of"),
    ],
)
def test_impossible_counts_name_the_layer_or_the_limit(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        select_randomly([3, 2], seed=0, **kwargs)  # type: ignore[arg-type]


def test_validate_unit_map_refuses_emptying_a_layer() -> None:
    with pytest.raises(ValueError, match=r"layer 1: pruning all 2 of its heads would leave none"):
        validate_unit_map({1: [0, 1]}, [3, 2], unit="head")
    with pytest.raises(ValueError, match=r"layer 0: neurons \[5\] do not exist"):
        validate_unit_map({0: [5]}, [3, 2])
