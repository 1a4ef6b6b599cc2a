"""LengthDrop sampling: bounds, monotone lengths, the smallest sub-network, reproducibility."""

from __future__ import annotations

import math
import random

import pytest

from lit_distill.compression.length_sampling import (
    sample_layer_skips,
    sample_length_config,
    sample_sandwich,
    smallest_length_config,
)


def test_smallest_keeps_ceil_08_of_previous() -> None:
    lengths = smallest_length_config(384, 6, bound=0.2)
    prev = 384
    for length in lengths:
        assert length == math.ceil(prev * 0.8)
        prev = length
    assert lengths == (308, 247, 198, 159, 128, 103)


def test_smallest_respects_min_length_and_short_inputs() -> None:
    # 3 tokens, 10 layers: ceil shrinks to 2 and then stays at min_length=2
    assert smallest_length_config(3, 10, bound=0.5) == (2,) * 10
    # a 1-token input (only [CLS]) can never go below 1 token
    assert smallest_length_config(1, 4) == (1, 1, 1, 1)


def test_skipped_layers_keep_previous_length() -> None:
    lengths = smallest_length_config(100, 4, bound=0.2, skip_layers=(1, 2))
    assert lengths == (80, 80, 80, 64)


@pytest.mark.parametrize("seed", range(20))
def test_random_lengths_within_bounds_and_non_increasing(seed: int) -> None:
    rng = random.Random(seed)
    seq, bound = 128, 0.3
    lengths = sample_length_config(seq, 8, rng, bound=bound)
    prev = seq
    for length in lengths:
        assert max(math.ceil(prev * (1 - bound)), 2) <= length <= prev
        prev = length
    # never below the smallest sub-network's length at the same layer
    smallest = smallest_length_config(seq, 8, bound=bound)
    assert all(r >= s for r, s in zip(lengths, smallest, strict=True))


def test_random_lengths_hit_both_ends_of_the_interval() -> None:
    rng = random.Random(0)
    firsts = {sample_length_config(10, 1, rng, bound=0.2)[0] for _ in range(200)}
    assert firsts == {8, 9, 10}


def test_sampling_is_reproducible_with_a_seed() -> None:
    a = sample_sandwich(384, 6, random.Random(123), num_sandwich=3)
    b = sample_sandwich(384, 6, random.Random(123), num_sandwich=3)
    c = sample_sandwich(384, 6, random.Random(124), num_sandwich=3)
    assert a == b
    assert a != c


def test_sandwich_smallest_first_then_random() -> None:
    subnets = sample_sandwich(64, 4, random.Random(0), num_sandwich=2, layer_dropout_prob=None)
    assert len(subnets) == 3
    assert subnets[0].smallest and not any(s.smallest for s in subnets[1:])
    assert subnets[0].length_config == smallest_length_config(64, 4)
    assert all(s.skip_layers == () for s in subnets)


def test_layer_dropout_prob_statistics_and_never_all_layers() -> None:
    rng = random.Random(0)
    draws = [sample_layer_skips(4, rng, layer_dropout_prob=0.5) for _ in range(2000)]
    rate = sum(len(d) for d in draws) / (4 * 2000)
    assert 0.40 < rate < 0.50  # slightly under 0.5: the all-skipped draws keep one layer
    assert all(len(d) < 4 for d in draws)
    assert all(list(d) == sorted(d) for d in draws)


def test_layer_dropout_zero_skips_nothing() -> None:
    rng = random.Random(0)
    assert all(sample_layer_skips(6, rng, layer_dropout_prob=0.0) == () for _ in range(50))


def test_layer_dropout_bound_drops_trailing_layers() -> None:
    rng = random.Random(0)
    assert sample_layer_skips(6, rng, layer_dropout_prob=None, layer_dropout_bound=2, smallest=True) == (4, 5)
    seen = {sample_layer_skips(6, rng, layer_dropout_prob=None, layer_dropout_bound=2) for _ in range(100)}
    assert seen == {(), (5,), (4, 5)}
    # the bound never removes every layer
    assert sample_layer_skips(3, rng, None, layer_dropout_bound=9, smallest=True) == (1, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seq_length": 0}, "seq_length"),
        ({"num_layers": 0}, "num_layers"),
        ({"bound": 1.0}, "length_drop_ratio_bound"),
        ({"min_length": 0}, "min_length"),
    ],
)
def test_invalid_arguments_name_the_parameter(kwargs: dict[str, float], match: str) -> None:
    args = {"seq_length": 10, "num_layers": 2, "bound": 0.2, "min_length": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        smallest_length_config(**args)  # type: ignore[arg-type]


def test_invalid_layer_dropout_prob() -> None:
    with pytest.raises(ValueError, match="layer_dropout_prob"):
        sample_layer_skips(4, random.Random(0), layer_dropout_prob=1.0)
    with pytest.raises(ValueError, match="num_sandwich"):
        sample_sandwich(10, 2, random.Random(0), num_sandwich=-1)
