"""Budget arithmetic: unit costs against the FLOP counter and the parameters, targets, fractions, schedule."""

from __future__ import annotations

import pytest
import torch

from lit_distill.compression.structured_budget import (
    budget_for_fractions,
    budget_for_target,
    encoder_cost,
    schedule_share,
    unit_costs,
)
from lit_distill.models import EncoderConfig, QAModel
from lit_distill.models.flops import forward_flops

CONFIG = EncoderConfig(
    vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=40,
    max_position_embeddings=64,
)  # fmt: skip


def test_encoder_cost_equals_the_flop_counter_and_the_layer_parameters() -> None:
    narrow = EncoderConfig.from_dict(
        {**CONFIG.to_dict(), "heads_per_layer": [4, 1], "intermediate_per_layer": [7, 40]}
    )
    for config in (CONFIG, narrow):
        span_head = 2 * 50 * 32 * 2
        assert encoder_cost(config, "flops", 50) == forward_flops(config, 50) - span_head
        torch.manual_seed(0)
        layers = QAModel(config).encoder.layers
        assert encoder_cost(config, "parameters", 50) == sum(p.numel() for p in layers.parameters())
    head, neuron = unit_costs(CONFIG, "flops", 50)
    assert encoder_cost(CONFIG, "flops", 50) - encoder_cost(narrow, "flops", 50) == 3 * head + 33 * neuron


@pytest.mark.parametrize("parts", ["heads", "ffn", "both"])
@pytest.mark.parametrize("metric", ["flops", "parameters"])
def test_a_target_is_met_by_the_fewest_units(parts: str, metric: str) -> None:
    # 8 tokens: short enough for the feed-forward blocks to hold a third of this tiny model's FLOPs
    budget = budget_for_target(CONFIG, 0.3, metric, parts, "global", 8)  # type: ignore[arg-type]
    assert isinstance(budget.heads, int) and isinstance(budget.neurons, int)
    head, neuron = unit_costs(CONFIG, metric, 8)  # type: ignore[arg-type]
    removed = budget.heads * head + budget.neurons * neuron
    total = encoder_cost(CONFIG, metric, 8)  # type: ignore[arg-type]
    assert removed >= 0.3 * total  # enough ...
    last = neuron if budget.neurons else head
    assert removed - last < 0.3 * total  # ... and one unit fewer would not be
    assert (budget.heads > 0) == (parts != "ffn") and (budget.neurons > 0) == (parts != "heads")


def test_per_layer_target_and_fractions() -> None:
    narrow = EncoderConfig.from_dict({**CONFIG.to_dict(), "intermediate_per_layer": [40, 20]})
    budget = budget_for_target(narrow, 0.2, "flops", "ffn", "per_layer", 8)
    assert budget.heads == [0, 0] and isinstance(budget.neurons, list)
    head, neuron = unit_costs(narrow, "flops", 8)
    for layer, width in enumerate([40, 20]):  # each layer loses just enough neurons for 20 % of its own FLOPs
        cost, k = 4 * head + width * neuron, budget.neurons[layer]
        assert k * neuron >= 0.2 * cost > (k - 1) * neuron
    fractions = budget_for_fractions([4, 4], [40, 20], 0.5, None, "per_layer")
    assert (fractions.heads, fractions.neurons) == ([2, 2], [0, 0])
    assert budget_for_fractions([4, 4], [40, 20], None, 0.25, "global").neurons == 15


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: budget_for_target(CONFIG, 0.0, "flops", "both", "global", 64),
            r"target=0.0: a fraction must be",
        ),
        (lambda: budget_for_target(CONFIG, 1.5, "flops", "both", "global", 64), r"target=1.5"),
        (lambda: budget_for_target(CONFIG, 1.0, "flops", "both", "global", 64), r"at most 0\.\d+ can go"),
        (
            lambda: budget_for_target(CONFIG, 0.8, "flops", "heads", "per_layer", 64),
            r"layer 0's encoder FLOPs",
        ),
        (lambda: budget_for_fractions([4, 2], [40, 40], 0.8, None, "per_layer"), r"layer 1 has 2 heads"),
        (lambda: budget_for_fractions([4, 2], [40, 40], None, 1, "global"), r"pruning 80 of 80 neurons"),
    ],
)
def test_impossible_budgets_are_errors_naming_what_is_wrong(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


def test_cubic_schedule() -> None:
    assert [schedule_share(k, 2) for k in (1, 2)] == [0.875, 1.0]
    assert schedule_share(1, 1) == 1.0
    with pytest.raises(ValueError):
        schedule_share(0, 3)
