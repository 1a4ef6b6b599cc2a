"""Head pruning, layer selection, student initialisation and parameter counts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lit_distill.layer_maps import every_other_layer
from lit_distill.models import QAModel
from lit_distill.models.surgery import (
    count_parameters,
    prune_heads,
    select_layers,
    set_dropout,
)

from ._tiny import make_batch, tiny_model


def _gates(model: QAModel, removed: dict[int, list[int]]) -> list[torch.Tensor | None]:
    gates: list[torch.Tensor | None] = []
    for i, layer in enumerate(model.encoder.layers):
        gate = torch.ones(layer.num_heads)
        gate[removed.get(i, [])] = 0.0
        gates.append(gate)
    return gates


def test_pruned_model_equals_gated_model_and_survives_save_load(tmp_path: Path) -> None:
    model = tiny_model()
    batch = make_batch()
    removed = {0: [1, 3], 2: [0, 1, 2]}
    with torch.no_grad():
        gated = model(**batch, head_gates=_gates(model, removed), output_hidden_states=True)
        plain = model(**batch)
    before = count_parameters(model)
    prune_heads(model, removed)
    assert model.config.heads_per_layer == [2, 4, 1]
    assert [layer.num_heads for layer in model.encoder.layers] == [2, 4, 1]
    assert model.encoder.layers[0].qkv.weight.shape == (3 * 2 * 8, 32)
    assert model.encoder.layers[2].attn_out.weight.shape == (32, 8)
    assert count_parameters(model) == before - 5 * (
        4 * 8 * 32 + 3 * 8
    )  # 5 heads: Q/K/V rows+biases, out cols
    with torch.no_grad():
        pruned = model(**batch, output_hidden_states=True, output_attention_scores=True)
    torch.testing.assert_close(pruned.start_logits, gated.start_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(pruned.hidden_states[-1], gated.hidden_states[-1], atol=1e-5, rtol=0)
    assert not torch.allclose(pruned.start_logits, plain.start_logits, atol=1e-4)  # the heads mattered
    assert [s.shape[1] for s in pruned.attention_scores] == [2, 4, 1]

    model.save(tmp_path / "pruned")
    loaded = QAModel.from_pretrained(tmp_path / "pruned").eval()
    assert loaded.config.heads_per_layer == [2, 4, 1]
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).end_logits, pruned.end_logits, atol=1e-6, rtol=0)

    # indices refer to the heads a layer has now: prune again, then all remaining heads of layer 0
    prune_heads(model, {1: [3]})
    assert model.config.heads_per_layer == [2, 3, 1]
    with pytest.raises(ValueError, match="removing all 2 heads of layer 0 is not allowed"):
        prune_heads(model, {0: [0, 1]})


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({3: [0]}, r"layer 3 does not exist; allowed are 0\.\.2"),
        ({1: [4]}, r"layer 1 has heads 0\.\.3; got head 4"),
    ],
)
def test_prune_heads_rejects_bad_indices_without_changing_the_model(
    plan: dict[int, list[int]], message: str
) -> None:
    model = tiny_model()
    with pytest.raises(ValueError, match=message):
        prune_heads(model, {0: [0], **plan})
    assert model.config.heads_per_layer is None and model.encoder.layers[0].num_heads == 4


def test_select_layers_equals_skipping_the_others_and_round_trips(tmp_path: Path) -> None:
    model = tiny_model(num_layers=4)
    prune_heads(model, {2: [0]})
    batch = make_batch()
    student = select_layers(model, [0, 2, 3])
    assert student.config.num_hidden_layers == 3 and student.config.heads_per_layer == [4, 3, 4]
    assert model.num_layers == 4  # the source is untouched
    with torch.no_grad():
        skipped = model(**batch, skip_layers=[1], output_hidden_states=True)
        selected = student(**batch)
    torch.testing.assert_close(selected.start_logits, skipped.start_logits, atol=1e-6, rtol=0)
    assert len(skipped.hidden_states) == 5
    torch.testing.assert_close(skipped.hidden_states[2], skipped.hidden_states[1], atol=0, rtol=0)
    student.save(tmp_path / "s")
    with torch.no_grad():
        torch.testing.assert_close(
            QAModel.from_pretrained(tmp_path / "s").eval()(**batch).start_logits,
            selected.start_logits,
            atol=0,
            rtol=0,
        )
    with pytest.raises(ValueError, match="repeated layer indices"):
        select_layers(model, [0, 0])
    with pytest.raises(ValueError, match=r"allowed are 0\.\.3"):
        select_layers(model, [4])


def test_select_layers_on_the_default_map_copies_every_other_teacher_layer() -> None:
    teacher = tiny_model(num_layers=4)
    student = select_layers(teacher, every_other_layer(teacher.num_layers))
    assert student.num_layers == 2
    torch.testing.assert_close(student.encoder.layers[1].qkv.weight, teacher.encoder.layers[2].qkv.weight)
    student.encoder.layers[1].qkv.weight.data.add_(1.0)  # a copy, not shared
    assert not torch.equal(student.encoder.layers[1].qkv.weight, teacher.encoder.layers[2].qkv.weight)
    assert every_other_layer(12) == [0, 2, 4, 6, 8, 10]
    assert select_layers(teacher, [0, 1, 3]).num_layers == 3


def test_count_parameters_with_and_without_embeddings() -> None:
    model = tiny_model()
    embeddings = (97 + 64 + 2) * 32
    per_layer = (32 * 96 + 96) + (32 * 32 + 32) + 2 * 64 + (32 * 37 + 37) + (37 * 32 + 32)
    expected = embeddings + 2 * 32 + 3 * per_layer + (32 * 2 + 2)
    assert count_parameters(model) == expected
    assert count_parameters(model, include_embeddings=False) == expected - embeddings


def test_set_dropout_changes_the_rates_and_survives_save_load(tmp_path: Path) -> None:
    model = tiny_model()
    set_dropout(model, hidden=0.3)
    assert model.encoder.embeddings.dropout.p == 0.3
    assert all(layer.dropout.p == 0.3 and layer.attn_dropout_p == 0.1 for layer in model.encoder.layers)
    set_dropout(model, attention=0.0)
    assert all(layer.attn_dropout_p == 0.0 for layer in model.encoder.layers)
    model.save(tmp_path / "m")
    loaded = QAModel.from_pretrained(tmp_path / "m")
    assert (loaded.config.hidden_dropout_prob, loaded.config.attention_probs_dropout_prob) == (0.3, 0.0)
    assert all(layer.dropout.p == 0.3 and layer.attn_dropout_p == 0.0 for layer in loaded.encoder.layers)
    with pytest.raises(
        ValueError, match=r"set_dropout: hidden=1.5: a dropout rate must be a number in \[0, 1\)"
    ):
        set_dropout(model, hidden=1.5)
