"""StructuredPruning arguments and the models it refuses (the runs are in tests/modules/test_structured_pruning_cli.py)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from lit_distill.callbacks.structured_pruning import StructuredPruning, _check_prunable
from lit_distill.models.loading import EXPORT_MANIFEST
from lit_distill.user_errors import UserInputError
from tests.models._tiny import tiny_model


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(target=0.0), r"target=0.0; allowed: a number in \(0, 1\]"),
        (dict(ffn_fraction=1.2), r"ffn_fraction=1.2; allowed: a number in \(0, 1\]"),
        (dict(head_fraction=-0.1), r"head_fraction=-0.1"),
        (dict(head_fraction=0.5, target=0.5), r"give either head_fraction / ffn_fraction or target"),
        (dict(), r"give either"),
        (
            dict(target=0.5, target_parts="layers"),
            r"target_parts must be one of 'heads', 'ffn', 'both', got 'layers'",
        ),
        (dict(target=0.5, epochs=-1), r"epochs=-1; allowed: an integer >= 0"),
        (dict(target=0.5, importance_batches=0), r"importance_batches=0"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(UserInputError, match=match):
        StructuredPruning(**kwargs)


def test_models_from_exported_artifacts_or_quantised_are_refused(tmp_path: Path) -> None:
    model = tiny_model(num_layers=1)
    _check_prunable(model)  # a plain model is fine
    exported = tmp_path / "exported"
    exported.mkdir()
    (exported / EXPORT_MANIFEST).write_text("{}")
    model.config.source = str(exported)
    with pytest.raises(UserInputError, match=r"a directory written by `lit_distill export`"):
        _check_prunable(model)
    quantised = tiny_model(num_layers=1)
    layer: Any = quantised.encoder.layers[0]
    layer.ffn_in = QuantisedLinear(32, 37)  # what a quantiser swaps in
    with pytest.raises(
        UserInputError, match=r"layer 0's ffn_in is a QuantisedLinear, not a plain torch.nn.Linear"
    ):
        _check_prunable(quantised)


class QuantisedLinear(torch.nn.Linear):
    """Stands for a quantised linear layer (a subclass or another module in place of nn.Linear)."""


def test_flops_are_counted_at_most_at_the_models_positions() -> None:
    from lit_distill.models.config import EncoderConfig

    config = EncoderConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=8,
        max_position_embeddings=64,
    )  # type: ignore[call-arg]
    assert StructuredPruning(target=0.5)._tokens(config) == 64  # default 384, capped
    assert StructuredPruning(target=0.5, seq_length=32)._tokens(config) == 32
    assert StructuredPruning(target=0.5, seq_length=512)._tokens(config) == 64


def test_a_schedule_without_an_epoch_after_its_last_step_warns() -> None:
    from lit_distill.callbacks.structured_pruning import _warn_short_schedule

    with pytest.warns(UserWarning, match=r"only 1 of its 3 pruning steps can run \(70.4% of the budget\)"):
        _warn_short_schedule(3, 1)
    with pytest.warns(UserWarning, match="its last pruning step comes after the last epoch"):
        _warn_short_schedule(3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_short_schedule(3, 4)
        _warn_short_schedule(3, None)
        _warn_short_schedule(3, -1)
