"""The in-place distillation loss: direction, gradient path, edge cases."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from lit_distill.compression.inplace_kd import span_kl_full_to_sub
from lit_distill.losses import distillation_kl


def kl_full_to_sub(full: Tensor, sub: Tensor) -> Tensor:
    """KL(full || sub): the one KL of losses.py with the full model as the teacher, T = 1."""
    return distillation_kl(sub, full, temperature=1.0)


def test_matches_explicit_kl_full_to_sub() -> None:
    torch.manual_seed(0)
    full, sub = torch.randn(3, 7), torch.randn(3, 7)
    p, q = full.softmax(-1), sub.softmax(-1)
    expected = (p * (p.log() - q.log())).sum(-1).mean()
    torch.testing.assert_close(kl_full_to_sub(full, sub), expected)
    # the other direction (what LAT's reference code computes) is a different number
    reverse = (q * (q.log() - p.log())).sum(-1).mean()
    assert not torch.allclose(expected, reverse)


def test_gradient_flows_only_into_the_sub_network() -> None:
    full = torch.randn(2, 5, requires_grad=True)
    sub = torch.randn(2, 5, requires_grad=True)
    kl_full_to_sub(full, sub).backward()
    assert full.grad is None
    assert sub.grad is not None and sub.grad.abs().sum() > 0
    # d KL(p || softmax(s)) / ds = (q - p) / B
    expected = (sub.softmax(-1) - full.softmax(-1)).detach() / 2
    torch.testing.assert_close(sub.grad, expected)


def test_zero_for_identical_logits_and_finite_with_masked_positions() -> None:
    x = torch.randn(2, 6)
    assert kl_full_to_sub(x, x.clone()).abs() < 1e-6
    full = torch.tensor([[2.0, 1.0, float("-inf")]])
    sub = torch.tensor([[1.0, 1.0, 0.5]])
    value = kl_full_to_sub(full, sub)
    assert torch.isfinite(value) and value > 0


def test_span_loss_is_mean_of_start_and_end() -> None:
    torch.manual_seed(1)
    fs, fe, ss, se = (torch.randn(2, 4) for _ in range(4))
    expected = 0.5 * (kl_full_to_sub(fs, ss) + kl_full_to_sub(fe, se))
    torch.testing.assert_close(span_kl_full_to_sub(fs, fe, ss, se), expected)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="same shape"):
        kl_full_to_sub(torch.zeros(2, 4), torch.zeros(2, 5))
