"""Forward-pass options: shapes, explicit vs SDPA path, head gates, skip layers, argument errors."""

from __future__ import annotations

import pytest
import torch

from ._tiny import make_batch, tiny_model


def test_output_shapes_and_fast_path_equals_explicit_path() -> None:
    model = tiny_model(heads_per_layer=[4, 2, 3], type_vocab_size=2)
    batch = make_batch()
    with torch.no_grad():
        fast = model(**batch)
        full = model(**batch, output_hidden_states=True, output_attention_scores=True)
    assert fast.start_logits.shape == fast.end_logits.shape == (3, 13)
    assert fast.hidden_states is None and fast.attention_scores is None
    assert len(full.hidden_states) == 4 and all(h.shape == (3, 13, 32) for h in full.hidden_states)
    assert [s.shape for s in full.attention_scores] == [(3, h, 13, 13) for h in (4, 2, 3)]
    torch.testing.assert_close(full.start_logits, fast.start_logits, atol=1e-6, rtol=0)


def test_head_gates_scale_heads_and_give_importance_gradients() -> None:
    model = tiny_model()
    batch = make_batch()
    with torch.no_grad():
        plain = model(**batch)
        ones = model(**batch, head_gates=[torch.ones(4), None, torch.ones(4)])
    torch.testing.assert_close(ones.start_logits, plain.start_logits, atol=0, rtol=0)
    gates = [torch.ones(4, requires_grad=True) for _ in range(3)]
    out = model(**batch, head_gates=gates)
    (out.start_logits.logsumexp(-1) + out.end_logits.logsumexp(-1)).sum().backward()
    for gate in gates:
        assert gate.grad is not None and gate.grad.shape == (4,) and gate.grad.abs().sum() > 0


def test_training_mode_uses_dropout_and_backpropagates() -> None:
    model = tiny_model(hidden_dropout_prob=0.2, attention_probs_dropout_prob=0.2).train()
    batch = make_batch()
    a, b = model(**batch), model(**batch)
    assert not torch.allclose(a.start_logits, b.start_logits)
    (a.start_logits.sum() + a.end_logits.sum()).backward()
    assert model.encoder.layers[0].qkv.weight.grad is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"skip_layers": [3]}, r"skip_layers entry 3: allowed are layer indices 0\.\.2"),
        ({"head_gates": [torch.ones(4)]}, "head_gates has 1 entries"),
        ({"head_gates": [torch.ones(4), torch.ones(3), None]}, r"head_gates\[1\] has shape \(3,\)"),
        ({"skip_layers": [0], "output_attention_scores": True}, "not defined for skipped layers"),
    ],
)
def test_invalid_forward_arguments(kwargs: dict[str, object], message: str) -> None:
    model = tiny_model()
    with pytest.raises(ValueError, match=message):
        model(**make_batch(), **kwargs)


def test_too_long_input_and_mask_shape() -> None:
    model = tiny_model()
    ids = torch.ones(1, 65, dtype=torch.long)
    with pytest.raises(ValueError, match=r"exceeds max_position_embeddings \(64\)"):
        model(ids, torch.ones_like(ids))
    with pytest.raises(ValueError, match="attention_mask shape"):
        model(ids[:, :5], torch.ones(1, 4, dtype=torch.long))
