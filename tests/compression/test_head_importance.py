"""Head importance: accumulation of |grad|, per-layer normalisation, the batch loop."""

from __future__ import annotations

import pytest
import torch

from lit_distill.compression.head_importance import (
    accumulate_head_importance,
    compute_head_importance,
    make_head_gates,
    normalize_per_layer,
    token_head_gates,
)
from lit_distill.losses import span_cross_entropy
from tests.models._tiny import make_batch, tiny_model


def test_accumulate_sums_absolute_values() -> None:
    total = accumulate_head_importance(None, [torch.tensor([1.0, -2.0]), torch.tensor([-0.5])])
    total = accumulate_head_importance(total, [torch.tensor([-1.0, 1.0]), None])
    torch.testing.assert_close(total[0], torch.tensor([2.0, 3.0]))
    torch.testing.assert_close(total[1], torch.tensor([0.5]))


def test_accumulate_checks_shapes() -> None:
    with pytest.raises(ValueError, match="layer 0"):
        accumulate_head_importance([torch.zeros(2)], [torch.zeros(3)])
    with pytest.raises(ValueError, match="2 layers"):
        accumulate_head_importance([torch.zeros(2), torch.zeros(2)], [torch.zeros(2)])


def test_normalize_per_layer_unit_l2_norm() -> None:
    out = normalize_per_layer([torch.tensor([3.0, 4.0]), torch.tensor([0.0, 0.0, 0.0])])
    torch.testing.assert_close(out[0], torch.tensor([0.6, 0.8]))
    torch.testing.assert_close(out[1], torch.zeros(3))


def test_compute_importance_matches_analytic_gradient() -> None:
    # loss = sum_l sum_h w_lh * gate_lh * x  -> |dloss/dgate_lh| = |w_lh * x|, summed over batches
    weights = [torch.tensor([1.0, -3.0, 0.5]), torch.tensor([2.0, 0.0])]

    def loss_fn(batch: torch.Tensor, gates: list[torch.Tensor]) -> torch.Tensor:
        return sum((w * g).sum() * batch for w, g in zip(weights, gates, strict=True))  # type: ignore[return-value]

    batches = [torch.tensor(1.0), torch.tensor(-2.0), torch.tensor(10.0)]
    imp, used = compute_head_importance(
        loss_fn, batches, [3, 2], max_batches=2, normalize=False, estimator="batch_mean"
    )
    assert used == 2
    torch.testing.assert_close(imp[0], torch.tensor([3.0, 9.0, 1.5]))
    torch.testing.assert_close(imp[1], torch.tensor([6.0, 0.0]))
    normed, _ = compute_head_importance(loss_fn, batches, [3, 2], max_batches=2, estimator="batch_mean")
    torch.testing.assert_close(normed[1], torch.tensor([1.0, 0.0]))


def test_compute_importance_needs_batches() -> None:
    with pytest.raises(ValueError, match="yielded none"):
        compute_head_importance(lambda b, g: g[0].sum(), [], [2], max_batches=1, estimator="batch_mean")
    with pytest.raises(ValueError, match="importance_batches"):
        compute_head_importance(lambda b, g: g[0].sum(), [1], [2], max_batches=0)
    with pytest.raises(ValueError, match="per_token"):
        compute_head_importance(lambda b, g: torch.zeros(()), [1], [2], max_batches=1)
    with pytest.raises(ValueError, match="batch_mean"):
        compute_head_importance(lambda b, g: torch.zeros(()), [1], [2], 1, estimator="mean")  # type: ignore[arg-type]


def test_gates_are_ones_requiring_grad() -> None:
    gates = make_head_gates([2, 3])
    assert [g.shape[0] for g in gates] == [2, 3]
    assert all(g.requires_grad and bool((g == 1).all()) for g in gates)


def test_span_cross_entropy_ignores_out_of_range_positions() -> None:
    logits = torch.zeros(2, 4)
    start = torch.tensor([1, 9])  # the second is outside the window
    loss = span_cross_entropy(logits, logits, start, start)
    torch.testing.assert_close(loss, torch.log(torch.tensor(4.0)))


def test_per_token_estimator_takes_abs_per_example_and_token() -> None:
    # one "layer": a projection of a (B, n, 2 heads · 1 dim) input; the loss weights tokens
    # with opposite signs, so the per-batch gradient cancels and the per-token one does not
    proj = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        proj.weight.copy_(torch.tensor([[1.0, 1.0]]))
    x = torch.tensor([[[1.0, 2.0], [-1.0, 3.0]]])  # (B=1, n=2, h=2)
    sign = torch.tensor([[1.0, 1.0]])  # (B, n)

    def loss_fn(batch: torch.Tensor, gates: list[torch.Tensor] | None) -> torch.Tensor:
        ctx = batch if gates is None else batch * gates[0][None, None, :]
        return (proj(ctx).squeeze(-1) * sign).sum()

    per_token, _ = compute_head_importance(loss_fn, [x], [2], 1, normalize=False, projections=[proj])
    batch_mean, _ = compute_head_importance(
        loss_fn, [x], [2], 1, normalize=False, estimator="batch_mean", projections=[proj]
    )
    # head 0: token gradients 1·1 and 1·(−1) → per token |1| + |−1| = 2, per batch |1 − 1| = 0
    torch.testing.assert_close(per_token[0], torch.tensor([2.0, 5.0]))
    torch.testing.assert_close(batch_mean[0], torch.tensor([0.0, 5.0]))


def test_token_gates_sum_to_the_head_gate_gradient_on_a_real_model() -> None:
    model = tiny_model(num_layers=2, heads=4)
    batch = make_batch(batch=3, length=9, seed=1)
    start = torch.tensor([1, 2, 3])

    def loss(gates: list[torch.Tensor] | None) -> torch.Tensor:
        out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], head_gates=gates)
        return span_cross_entropy(out.start_logits, out.end_logits, start, start + 1)

    head_gates = make_head_gates([4, 4])
    expected = torch.autograd.grad(loss(head_gates), head_gates)
    projections = [layer.attn_out for layer in model.encoder.layers]
    with token_head_gates(projections, [4, 4]) as gates:
        value = loss(None)
    grads = torch.autograd.grad(value, [g for g in gates if g is not None])
    for token_grad, head_grad in zip(grads, expected, strict=True):
        assert token_grad.shape == (3, 9, 4, 1)
        torch.testing.assert_close(token_grad.sum(dim=(0, 1)).flatten(), head_grad)  # signed sums agree
        # |.| per token first can only be larger
        assert bool((token_grad.abs().sum(dim=(0, 1)).flatten() >= head_grad.abs() - 1e-6).all())
    assert all(not p._forward_pre_hooks for p in projections)  # hooks removed on exit


def test_the_two_estimators_rank_heads_differently_on_a_16_example_batch() -> None:
    model = tiny_model(num_layers=2, heads=4, seed=3)
    batch = make_batch(batch=16, length=48, seed=2)
    gen = torch.Generator().manual_seed(0)
    start = torch.randint(0, 4, (16,), generator=gen)

    def loss_fn(b: dict[str, torch.Tensor], gates: list[torch.Tensor] | None) -> torch.Tensor:
        out = model(b["input_ids"], b["attention_mask"], b["token_type_ids"], head_gates=gates)
        return span_cross_entropy(out.start_logits, out.end_logits, start, start)

    projections = [layer.attn_out for layer in model.encoder.layers]
    ranks = {
        name: [
            imp.argsort().tolist()
            for imp in compute_head_importance(
                loss_fn, [batch], [4, 4], 1, estimator=name, projections=projections
            )[0]
        ]
        for name in ("per_token", "batch_mean")
    }
    assert ranks["per_token"] != ranks["batch_mean"]
