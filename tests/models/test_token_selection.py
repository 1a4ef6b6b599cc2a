"""Drop-and-Restore token selection: the default rule vs LAT's (issue 13, item 7)."""

from __future__ import annotations

import pytest
import torch

from lit_distill.models.length import check_token_selection, drop_tokens, start_keeping

from ._tiny import make_batch, tiny_model

# make_batch(): real lengths 13, 10, 7 of L = 13


def _kept_after_layer0(out: object, b: int) -> set[int]:
    """Positions whose final vector differs from the embedding output: kept by layer 0."""
    hidden = out.hidden_states  # type: ignore[attr-defined]
    return {t for t in range(13) if not torch.equal(hidden[-1][b, t], hidden[0][b, t])}


def test_lat_sums_attention_over_every_query_and_may_drop_cls() -> None:
    model = tiny_model()
    batch = make_batch()
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        plain = model(**batch, output_attention_scores=True)
        lat = model(**batch, length_config=[4, 3, 3], token_selection="lat", output_hidden_states=True)
        ours = model(**batch, length_config=[4, 3, 3], output_hidden_states=True)
    bias = (~real)[:, None, None, :].float() * torch.finfo(torch.float32).min
    probs = torch.softmax(plain.attention_scores[0] + bias, dim=-1)  # (B, h, L, L)
    from_all = probs.sum(dim=(1, 2)).masked_fill(~real, -1.0)  # every query row, padding included
    for b in range(3):
        expected = set(from_all[b].topk(4).indices.tolist())
        assert _kept_after_layer0(lat, b) == expected
    # the third sequence (7 real tokens, 6 padding) drops [CLS] under LAT's rule, never under ours
    assert 0 not in _kept_after_layer0(lat, 2)
    assert all(0 in _kept_after_layer0(ours, b) for b in range(3))
    assert _kept_after_layer0(lat, 2) != _kept_after_layer0(ours, 2)
    # LAT's rule keeping [CLS] marks it as always kept, the rest as LAT
    with torch.no_grad():
        keep_cls = model(
            **batch, length_config=[4, 3, 3], token_selection="lat_keep_cls", output_hidden_states=True
        )
    assert all(0 in _kept_after_layer0(keep_cls, b) for b in range(3))


def test_lat_keeps_its_length_in_slots_and_padding_queries_count() -> None:
    x = torch.arange(12, dtype=torch.float32).view(1, 6, 2)
    mask = torch.tensor([[1, 1, 1, 0, 0, 0]])
    received = torch.tensor([[0.1, 3.0, 2.0, 0.0, 0.0, 0.0]])
    real_lengths = mask.sum(dim=1)
    for selection, width, queries in (("real_queries", 3, [True] * 3), ("lat", 5, [True] * 5)):
        kept = start_keeping(x, mask, selection)  # type: ignore[arg-type]
        rows, _, new = drop_tokens(kept, x, x.clone(), received, 5, real_lengths, selection)  # type: ignore[arg-type]
        assert rows.shape == (1, width, 2)
        assert new.valid.tolist() == [[True] * 3 + [False] * (width - 3)]
        assert new.queries.tolist() == [queries]  # LAT: the kept padding slots are queries of the next layer
    # a length below the real length: LAT may drop [CLS] (lowest here), ours keeps it
    lat = drop_tokens(start_keeping(x, mask, "lat"), x, x, received, 2, real_lengths, "lat")[2]
    ours = drop_tokens(
        start_keeping(x, mask, "real_queries"), x, x, received, 2, real_lengths, "real_queries"
    )[2]
    assert lat.positions.tolist() == [[1, 2]] and ours.positions.tolist() == [[0, 1]]


def test_token_selection_choices_are_checked() -> None:
    with pytest.raises(ValueError, match="token_selection='LAT'; allowed: real_queries, lat, lat_keep_cls"):
        check_token_selection("LAT")
    with pytest.raises(ValueError, match="allowed: real_queries, lat"):
        tiny_model()(**make_batch(), length_config=[4, 3, 3], token_selection="all")  # type: ignore[arg-type]


def test_export_graph_refuses_lat_selection() -> None:
    from lit_distill.export.traceable import TraceableQA

    with pytest.raises(ValueError, match="token_selection='lat': the exported graph's Drop-and-Restore"):
        TraceableQA(tiny_model(), [4, 3, 3], token_selection="lat")


@pytest.mark.parametrize("need_scores", [True, False], ids=["explicit", "chunked"])
def test_lat_rules_select_from_the_probabilities_after_dropout_in_training(need_scores: bool) -> None:
    """LAT sums the attention probabilities that weight the values, after attention dropout;
    our default rule sums them before it. Both paths of the attention, same dropout draws."""
    from torch.nn import functional as F

    from lit_distill.models.length import received_attention

    model = tiny_model(attention_probs_dropout_prob=0.5).train()
    layer = model.encoder.layers[0]
    x = torch.randn(2, 9, layer.num_heads * layer.head_size)
    queries = torch.ones(2, 9, dtype=torch.bool)
    q, k, _ = layer.qkv(x).view(2, 9, 3, layer.num_heads, layer.head_size).permute(2, 0, 3, 1, 4).unbind(0)
    probs = torch.softmax(q @ k.transpose(-1, -2) / layer.head_size**0.5, dim=-1)  # (B, h, n, n)
    got = {}
    for after in (True, False):
        torch.manual_seed(7)
        got[after] = layer.attend(
            x, None, need_scores=need_scores, received_from=queries, received_after_dropout=after
        ).received
    torch.manual_seed(7)
    dropped = F.dropout(probs, 0.5, training=True)
    torch.testing.assert_close(got[True], received_attention(dropped, queries))
    torch.testing.assert_close(got[False], received_attention(probs, queries))
    assert not torch.allclose(got[True], got[False])  # the dropout really changed the ranking input
    layer.eval()  # no dropout at evaluation: the two are the same
    same = [
        layer.attend(x, None, received_from=queries, received_after_dropout=a).received for a in (True, False)
    ]
    torch.testing.assert_close(same[0], same[1])
