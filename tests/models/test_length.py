"""Drop-and-Restore: length configurations, token selection, restoring, training."""

from __future__ import annotations

import pytest
import torch

from lit_distill.models.length import (
    check_length_config,
    fit_to_width,
    select_tokens,
    significance,
    tokens_to_keep,
)

from ._tiny import make_batch, tiny_model

# make_batch(): real lengths 13, 10, 7 of L = 13


def test_full_length_configuration_equals_plain_encoder_on_real_tokens() -> None:
    model = tiny_model()
    batch = make_batch()
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        plain = model(**batch, length_config=None)
        for config in ([13, 13, 13], [1.0, 1.0, 1.0]):
            out = model(**batch, length_config=config)
            torch.testing.assert_close(out.start_logits[real], plain.start_logits[real], atol=1e-5, rtol=0)
            torch.testing.assert_close(out.end_logits[real], plain.end_logits[real], atol=1e-5, rtol=0)


def test_dropped_tokens_are_the_least_attended_and_restored_at_their_positions() -> None:
    model = tiny_model()
    batch = make_batch()
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        plain = model(**batch, output_attention_scores=True)
        out = model(**batch, length_config=[5, 3, 3], output_hidden_states=True)
    # expected selection at layer 0 from the plain model's layer-0 attention (same input)
    bias = (~real)[:, None, None, :].float() * torch.finfo(torch.float32).min
    probs = torch.softmax(plain.attention_scores[0] + bias, dim=-1)
    received = (probs * real[:, None, :, None]).sum(dim=(1, 2)).masked_fill(~real, -1.0)
    received[:, 0] = 1e9
    embeddings, first, last = out.hidden_states[0], out.hidden_states[1], out.hidden_states[-1]
    for b in range(3):
        kept = set(received[b].topk(5).indices.tolist())
        assert 0 in kept
        for t in range(13):
            if t not in kept:  # dropped after layer 0's attention: keeps the embedding output everywhere
                torch.testing.assert_close(last[b, t], embeddings[b, t], atol=0, rtol=0)
            else:  # went through layer 0's output
                assert not torch.allclose(first[b, t], embeddings[b, t])
    # [CLS] went through every layer; two kept tokens of layer 0 were dropped at layer 1
    assert not torch.allclose(last[:, 0], out.hidden_states[2][:, 0])
    changed = [(~torch.isclose(last[b], first[b]).all(-1)).sum().item() for b in range(3)]
    assert changed == [3, 3, 3]


def test_ratios_follow_each_sequence_real_length() -> None:
    real = torch.tensor([13, 10, 7])
    assert tokens_to_keep(0.5, real).tolist() == [7, 5, 4]
    assert tokens_to_keep(8, real).tolist() == [8, 8, 7]
    assert tokens_to_keep(0.01, real).tolist() == [1, 1, 1]
    model = tiny_model()
    batch = make_batch()
    with torch.no_grad():
        out = model(**batch, length_config=[0.5, 0.5, 0.5], output_hidden_states=True)
    updated = [
        (~torch.isclose(out.hidden_states[-1][b], out.hidden_states[0][b]).all(-1)).sum().item()
        for b in range(3)
    ]
    assert updated == [7, 5, 4]


def test_padding_never_replaces_real_tokens() -> None:
    # padding (index 4, 5) receives by far the most attention, yet real tokens are kept first
    probs = torch.full((1, 1, 6, 6), 0.01)
    probs[..., 4:] = 10.0
    valid = torch.tensor([[True, True, True, True, False, False]])
    scores = significance(probs, valid)
    assert scores[0, 0] == float("inf") and torch.isinf(scores[0, 4:]).all() and (scores[0, 4:] < 0).all()
    positions = torch.arange(6)[None]
    index, kept = select_tokens(scores, torch.tensor([4]), positions)
    assert index.tolist() == [[0, 1, 2, 3]] and kept.all()
    # left padding: index 0 is padding, so it is not treated as [CLS]
    left = significance(torch.rand(1, 1, 4, 4), torch.tensor([[False, True, True, True]]))
    assert left[0, 0] == float("-inf") and torch.isfinite(left[0, 1:]).all()
    # two sequences keeping 3 and 1 tokens: the second gets invalid slots last, never real ones marked kept
    probs = torch.rand(2, 2, 5, 5)
    valid = torch.tensor([[True] * 5, [True, True, True, False, False]])
    index, kept = select_tokens(
        significance(probs, valid), torch.tensor([3, 1]), torch.arange(5).expand(2, 5)
    )
    assert kept.tolist() == [[True, True, True], [True, False, False]]
    assert index[1, 0] == 0 and index[0].tolist() == sorted(index[0].tolist())


def test_length_drop_trains_with_gradients() -> None:
    model = tiny_model(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1).train()
    batch = make_batch()
    out = model(
        **batch, length_config=[0.8, 0.6, 0.5], output_hidden_states=True, output_attention_scores=True
    )
    assert all(s.shape == (3, 4, 13, 13) for s in out.attention_scores)
    assert (out.attention_scores[2][0, :, 0, :] == 0).sum() > 0  # dropped columns are zeroed
    (out.start_logits.logsumexp(-1) + out.end_logits.logsumexp(-1)).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.encoder.layers[2].ffn_in.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([5, 6, 4], r"increases at layer 1 \(5 -> 6\); lengths must be non-increasing"),
        ([14, 13, 13], r"absolute lengths must be in \[1, 13\]"),
        ([3, 2, 0], r"length_config\[2\]=0: absolute lengths must be in \[1, 13\]"),
        ([1.2, 1.0, 1.0], r"ratios must be in \(0, 1\]"),
        ([0.5, 0.5, 0.0], r"ratios must be in \(0, 1\]"),
        ([5, 0.5, 0.5], "mixes ints"),
        ([5, 5], "has 2 entries but the model has 3 layers"),
        ("555", "must be a list"),
        ([True, 1, 1], r"length_config\[0\]=True"),
    ],
)
def test_invalid_length_configurations(config: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_length_config(config, num_layers=3, max_length=13)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        tiny_model()(**make_batch(), length_config=config)  # type: ignore[arg-type]


def test_length_config_with_skipped_layers() -> None:
    """LengthDrop samples sub-networks with both; a skipped layer neither computes nor drops tokens."""
    model = tiny_model().train()
    batch = make_batch()
    out = model(**batch, length_config=[8, 6, 4], skip_layers=[1], output_hidden_states=True)
    torch.testing.assert_close(out.hidden_states[2], out.hidden_states[1], atol=0, rtol=0)
    out.start_logits.sum().backward()
    assert model.encoder.layers[1].qkv.weight.grad is None
    assert model.encoder.layers[2].qkv.weight.grad is not None
    with torch.no_grad():
        model.eval()
        kept = model(**batch, length_config=[8, 6, 4], skip_layers=[1], output_hidden_states=True)
    changed = [
        (~torch.isclose(kept.hidden_states[-1][b], kept.hidden_states[0][b]).all(-1)).sum().item()
        for b in range(3)
    ]
    assert changed == [8, 8, 7]  # layer 0 kept 8 (or all 7 real tokens); the skipped layer dropped nothing


def test_selection_attention_in_head_chunks_equals_all_heads_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunking the explicit attention by heads (to bound memory) changes neither outputs nor gradients."""
    from lit_distill.models import encoder

    batch = make_batch()

    def run(chunk_bytes: int) -> tuple[torch.Tensor, ...]:
        monkeypatch.setattr(encoder, "PROBS_CHUNK_BYTES", chunk_bytes)
        model = tiny_model(
            heads=4, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, qa_dropout_prob=0.0
        ).train()
        out = model(**batch, length_config=[9, 6, 4])
        (out.start_logits.sum() + 2 * out.end_logits.sum()).backward()
        grad = model.encoder.layers[0].qkv.weight.grad
        assert grad is not None
        return out.start_logits.detach(), out.end_logits.detach(), grad

    whole = run(2**40)  # every head in one chunk
    per_head = run(1)  # one head per chunk
    for a, b in zip(whole, per_head, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # the path that also returns pre-softmax scores (TinyBERT losses) selects the same tokens
    model = tiny_model(heads=4)
    with torch.no_grad():
        plain = model(**batch, length_config=[9, 6, 4])
        with_scores = model(**batch, length_config=[9, 6, 4], output_attention_scores=True)
    torch.testing.assert_close(plain.start_logits, with_scores.start_logits, atol=1e-5, rtol=0)


def test_fit_to_width_clamps_absolute_lengths_only() -> None:
    assert fit_to_width([320, 256, 96], 200) == [200, 200, 96]  # still non-increasing
    assert fit_to_width([32, 16], 64) == [32, 16]
    assert fit_to_width([0.9, 0.5], 10) == [0.9, 0.5]  # ratios follow each sequence anyway
    check_length_config(fit_to_width([320, 256, 96], 200), 3, 200)
