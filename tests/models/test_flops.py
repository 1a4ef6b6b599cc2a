"""FLOP counting."""

from __future__ import annotations

import pytest

from lit_distill.models import EncoderConfig
from lit_distill.models.flops import forward_flops, layer_flops

BASE = EncoderConfig()  # BERT-base shape


def test_bert_base_full_length_matches_the_textbook_count() -> None:
    n, h, i = 384, 768, 3072
    per_layer = 2 * n * h * 4 * h + 2 * 2 * n * n * h + 2 * 2 * n * h * i
    assert forward_flops(BASE, 384) == 12 * per_layer + 2 * n * h * 2
    assert 70e9 < forward_flops(BASE, 384) < 72e9


def test_length_config_heads_and_skipped_layers_reduce_flops() -> None:
    small = EncoderConfig(num_hidden_layers=2, heads_per_layer=[12, 6])
    full = forward_flops(small, 100)
    assert full == layer_flops(small, 12, 100, 100) + layer_flops(small, 6, 100, 100) + 2 * 100 * 768 * 2
    dropped = forward_flops(small, 100, [50, 20])
    assert dropped == layer_flops(small, 12, 100, 50) + layer_flops(small, 6, 50, 20) + 2 * 100 * 768 * 2
    assert forward_flops(small, 100, [0.5, 0.2]) == dropped
    assert (
        forward_flops(small, 40, [50, 20])
        == layer_flops(small, 12, 40, 40) + layer_flops(small, 6, 40, 20) + 2 * 40 * 768 * 2
    )
    assert forward_flops(small, 100, skip_layers=[1]) == layer_flops(small, 12, 100, 100) + 2 * 100 * 768 * 2


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match=r"seq_length=0; allowed: an integer in \[1, 512\]"):
        forward_flops(BASE, 0)
    with pytest.raises(ValueError, match="non-increasing"):
        forward_flops(EncoderConfig(num_hidden_layers=2), 10, [3, 4])
