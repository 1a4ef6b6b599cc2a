"""The pure losses against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from lit_distill import losses

LN3 = math.log(3.0)
# KL([0.75, 0.25] || [0.5, 0.5]) = 0.75 ln 1.5 + 0.25 ln 0.5
KL_75_25 = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)


def t(*rows: list[float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def test_kl_matches_hand_value_at_t1() -> None:
    got = losses.distillation_kl(t([0.0, 0.0]), t([LN3, 0.0]), temperature=1.0)
    assert got.item() == pytest.approx(KL_75_25, rel=1e-5)


def test_kl_scales_by_t_squared() -> None:
    # teacher / 2 = [ln 3, 0] again, student uniform at any T: KL is the same, times T^2 = 4
    got = losses.distillation_kl(t([0.0, 0.0]), t([2 * LN3, 0.0]), temperature=2.0)
    assert got.item() == pytest.approx(4 * KL_75_25, rel=1e-5)


def test_kl_is_batch_mean_and_ignores_masked_positions() -> None:
    student = t([0.0, 0.0, 9.0], [1.0, 2.0, -4.0])
    teacher = t([LN3, 0.0, -7.0], [1.0, 2.0, 5.0])
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]])
    # row 1: KL_75_25; row 2: identical distributions -> 0
    got = losses.distillation_kl(student, teacher, temperature=1.0, mask=mask)
    assert got.item() == pytest.approx(KL_75_25 / 2, rel=1e-5)
    assert torch.isfinite(got)


def test_kl_gradient_reaches_student_only() -> None:
    student = t([0.0, 0.0]).requires_grad_()
    teacher = t([LN3, 0.0]).requires_grad_()
    losses.distillation_kl(student, teacher, 1.0).backward()
    assert student.grad is not None and teacher.grad is None
    # d KL / d s = softmax(s) - softmax(t) = [0.5 - 0.75, 0.5 - 0.25]
    assert torch.allclose(student.grad, t([-0.25, 0.25]), atol=1e-6)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_temperature_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        losses.distillation_kl(t([0.0]), t([0.0]), temperature=bad)
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        losses.soft_cross_entropy(t([0.0]), t([0.0]), temperature=bad)


def test_span_cross_entropy_hand_value_and_ignored_positions() -> None:
    start = t([LN3, 0.0, 0.0])  # p(gold=0) = 3/5
    end = t([LN3, 0.0, 0.0])  # p(gold=1) = 1/5
    got = losses.span_cross_entropy(start, end, torch.tensor([0]), torch.tensor([1]))
    assert got.item() == pytest.approx((-math.log(0.6) - math.log(0.2)) / 2, rel=1e-5)
    # a second example whose gold lies outside the window is ignored
    start2 = torch.cat([start, t([5.0, 1.0, 0.0])])
    end2 = torch.cat([end, t([5.0, 1.0, 0.0])])
    got2 = losses.span_cross_entropy(start2, end2, torch.tensor([0, 99]), torch.tensor([1, 99]))
    assert got2.item() == pytest.approx(got.item(), rel=1e-6)


def test_distilbert_span_loss_weights_terms() -> None:
    s = t([0.0, 0.0])
    teacher = t([LN3, 0.0])
    gold = torch.tensor([0])
    out = losses.distilbert_span_loss(
        s, s, teacher, teacher, gold, gold, temperature=1.0, alpha_ce=0.3, alpha_squad=0.7
    )
    assert out["loss_kd"].item() == pytest.approx(KL_75_25, rel=1e-5)
    assert out["loss_squad"].item() == pytest.approx(math.log(2), rel=1e-5)
    assert out["loss"].item() == pytest.approx(0.3 * KL_75_25 + 0.7 * math.log(2), rel=1e-5)
    kd_only = losses.distilbert_span_loss(
        s, s, teacher, teacher, None, None, temperature=1.0, alpha_squad=0.0
    )
    assert "loss_squad" not in kd_only
    with pytest.raises(ValueError, match="start_positions"):
        losses.distilbert_span_loss(s, s, teacher, teacher, None, None, alpha_squad=0.5)


def test_soft_cross_entropy_default_and_reference_reduction() -> None:
    s, teacher = t([0.0, 0.0]), t([LN3, 0.0])
    # -(0.75 ln 0.5 + 0.25 ln 0.5) = ln 2
    assert losses.soft_cross_entropy(s, teacher, 1.0).item() == pytest.approx(math.log(2), rel=1e-5)
    # the reference averages over all B * L = 2 elements and has no T^2
    assert losses.soft_cross_entropy(s, teacher, 1.0, reference=True).item() == pytest.approx(
        math.log(2) / 2, rel=1e-5
    )
    # T = 2 with the teacher doubled: same distributions, default multiplies by T^2
    assert losses.soft_cross_entropy(s, 2 * teacher, 2.0).item() == pytest.approx(4 * math.log(2), rel=1e-5)
    assert losses.soft_cross_entropy(s, 2 * teacher, 2.0, reference=True).item() == pytest.approx(
        math.log(2) / 2, rel=1e-5
    )


def test_soft_cross_entropy_masked_positions_take_no_mass() -> None:
    s, teacher = t([0.0, 0.0, 3.0]), t([LN3, 0.0, 8.0])
    mask = torch.tensor([[1, 1, 0]])
    assert losses.soft_cross_entropy(s, teacher, 1.0, mask).item() == pytest.approx(math.log(2), rel=1e-5)


def test_reference_soft_cross_entropy_keeps_padded_positions_in_the_softmax() -> None:
    # TinyBERT's soft CE: log_softmax / softmax over every position, padding included, mean over B * L
    s, teacher = t([0.0, 0.0, 3.0]), t([LN3, 0.0, 8.0])
    mask = torch.tensor([[1, 1, 0]])
    log_p_s = torch.log_softmax(s, dim=-1)
    p_t = torch.softmax(teacher, dim=-1)
    expected = float((-p_t * log_p_s).sum() / 3)
    assert losses.soft_cross_entropy(s, teacher, 1.0, mask, reference=True).item() == pytest.approx(
        expected, rel=1e-6
    )
    assert expected != pytest.approx(losses.soft_cross_entropy(s, teacher, 1.0, mask).item() / 3, rel=1e-3)


@pytest.mark.parametrize(
    ("student", "teacher", "hidden", "attention"),
    [
        (4, 12, [0, 3, 6, 9, 12], [2, 5, 8, 11]),
        (6, 12, [0, 2, 4, 6, 8, 10, 12], [1, 3, 5, 7, 9, 11]),
        (2, 2, [0, 1, 2], [0, 1]),
    ],
)
def test_tinybert_layer_map(student: int, teacher: int, hidden: list[int], attention: list[int]) -> None:
    assert losses.tinybert_layer_map(student, teacher) == (hidden, attention)


def test_tinybert_layer_map_rejects_non_divisors() -> None:
    with pytest.raises(ValueError, match=r"multiple of the student's \(5\).*\[1, 2, 3, 4, 6, 12\]"):
        losses.tinybert_layer_map(5, 12)


def test_hidden_state_mse_sums_layers() -> None:
    zeros = torch.zeros(1, 1, 2)
    target = torch.tensor([[[1.0, 3.0]]])  # MSE = (1 + 9) / 2 = 5
    assert losses.hidden_state_mse([zeros, zeros], [target, target]).item() == pytest.approx(10.0)
    with pytest.raises(ValueError, match="as many student as teacher hidden states"):
        losses.hidden_state_mse([zeros], [target, target])
    with pytest.raises(ValueError, match="differ in shape"):
        losses.hidden_state_mse([torch.zeros(1, 1, 3)], [target])


def test_attention_mse_zeroes_padded_keys_in_both() -> None:
    student = torch.tensor([[[[0.0, -50.0], [0.0, 7.0]]]])  # (1, 1, 2, 2)
    teacher = torch.tensor([[[[1.0, 100.0], [3.0, -9.0]]]])
    mask = torch.tensor([[1, 0]])
    # key column 1 is padding: zeroed in both -> errors 1, 0, 3, 0 -> (1 + 9) / 4
    assert losses.attention_mse([student], [teacher], mask).item() == pytest.approx(2.5)
    unmasked = ((student - teacher) ** 2).mean().item()
    assert losses.attention_mse([student], [teacher]).item() == pytest.approx(unmasked)


def test_cosine_hidden_loss() -> None:
    s = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])  # (1, 2, 2)
    teacher = torch.tensor([[[0.0, 1.0], [2.0, 0.0]]])  # orthogonal, then parallel
    assert losses.cosine_hidden_loss(s, teacher).item() == pytest.approx(0.5)
    assert losses.cosine_hidden_loss(s, teacher, torch.tensor([[1, 0]])).item() == pytest.approx(1.0)
    assert losses.cosine_hidden_loss(s, teacher, torch.tensor([[0, 1]])).item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same shape"):
        losses.cosine_hidden_loss(s, torch.zeros(1, 2, 3))
