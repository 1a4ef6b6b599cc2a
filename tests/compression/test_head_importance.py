"""Head importance: accumulation of |grad|, per-layer normalisation, the batch loop."""

from __future__ import annotations

import pytest
import torch

from lit_distill.compression.head_importance import (
    accumulate_head_importance,
    compute_head_importance,
    make_head_gates,
    normalize_per_layer,
    span_cross_entropy,
)


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
    imp, used = compute_head_importance(loss_fn, batches, [3, 2], max_batches=2, normalize=False)
    assert used == 2
    torch.testing.assert_close(imp[0], torch.tensor([3.0, 9.0, 1.5]))
    torch.testing.assert_close(imp[1], torch.tensor([6.0, 0.0]))
    normed, _ = compute_head_importance(loss_fn, batches, [3, 2], max_batches=2)
    torch.testing.assert_close(normed[1], torch.tensor([1.0, 0.0]))


def test_compute_importance_needs_batches() -> None:
    with pytest.raises(ValueError, match="yielded none"):
        compute_head_importance(lambda b, g: g[0].sum(), [], [2], max_batches=1)
    with pytest.raises(ValueError, match="importance_batches"):
        compute_head_importance(lambda b, g: g[0].sum(), [1], [2], max_batches=0)


def test_gates_are_ones_requiring_grad() -> None:
    gates = make_head_gates([2, 3])
    assert [g.shape[0] for g in gates] == [2, 3]
    assert all(g.requires_grad and bool((g == 1).all()) for g in gates)


def test_span_cross_entropy_ignores_out_of_range_positions() -> None:
    logits = torch.zeros(2, 4)
    start = torch.tensor([1, 9])  # the second is outside the window
    loss = span_cross_entropy(logits, logits, start, start)
    torch.testing.assert_close(loss, torch.log(torch.tensor(4.0)))
