"""AdamW parameter groups and the linear warm-up/decay schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lit_distill.modules.optim import (
    build_optimizer,
    clip_each_tensor,
    linear_warmup_decay,
    parameter_groups,
    resolve_warmup_steps,
)


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.lin = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)
        self.frozen = nn.Linear(4, 2)
        self.frozen.requires_grad_(False)


def test_biases_and_layernorm_get_no_decay_and_frozen_are_left_out() -> None:
    m = Tiny()
    decay, no_decay = parameter_groups([m], weight_decay=0.01)
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    ids = lambda g: {id(p) for p in g["params"]}  # noqa: E731
    assert ids(decay) == {id(m.emb.weight), id(m.lin.weight)}
    assert ids(no_decay) == {id(m.lin.bias), id(m.norm.weight), id(m.norm.bias)}


def test_schedule_warms_up_then_decays_to_zero() -> None:
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = linear_warmup_decay(opt, warmup_steps=3, total_steps=7)
    lrs = []
    for _ in range(7):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.25])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0)


@pytest.mark.parametrize(("warm", "total"), [(3, 7), (1, 5), (30, 302), (0, 4)])
def test_warmup_from_zero_is_transformers_schedule(warm: int, total: int) -> None:
    from transformers import get_linear_schedule_with_warmup

    ours_p, theirs_p = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
    ours_opt, theirs_opt = torch.optim.SGD([ours_p], lr=1.0), torch.optim.SGD([theirs_p], lr=1.0)
    ours = linear_warmup_decay(ours_opt, warmup_steps=warm, total_steps=total, from_zero=True)
    theirs = get_linear_schedule_with_warmup(theirs_opt, warm, total)
    for _ in range(total + 1):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr())
        ours_opt.step(), theirs_opt.step()
        ours.step(), theirs.step()


def test_warmup_steps_win_over_ratio() -> None:
    assert resolve_warmup_steps(5, 0.5, 100) == 5
    assert resolve_warmup_steps(0, 0.1, 100) == 10
    assert resolve_warmup_steps(500, 0.0, 100) == 100


def test_the_reference_schedule_rounds_the_warmup_share_up_as_the_trainer_does() -> None:
    import math
    from types import SimpleNamespace

    from transformers import TrainingArguments

    for ratio, total in ((0.1, 302), (0.1, 7), (0.06, 1000), (0.33, 10)):
        # the Trainer's own count (building TrainingArguments needs accelerate; the method does not)
        want = TrainingArguments.get_warmup_steps(SimpleNamespace(warmup_steps=ratio), total)  # type: ignore[arg-type]
        assert resolve_warmup_steps(0, ratio, total, round_up=True) == want == math.ceil(ratio * total)
    assert resolve_warmup_steps(0, 0.1, 302) == 30  # the default rounds to the nearest step
    _, schedule = build_optimizer(
        [nn.Linear(2, 2)],
        learning_rate=1.0,
        weight_decay=0.0,
        adam_epsilon=1e-8,
        warmup_steps=0,
        warmup_ratio=0.1,
        total_steps=302,
        warmup_from_zero=True,
    )
    lrs = []
    for _ in range(32):
        lrs.append(schedule.get_last_lr()[0])
        schedule.optimizer.step()
        schedule.step()
    assert lrs[0] == 0.0 and lrs[30] == pytest.approx(30 / 31) and lrs[31] == pytest.approx(1.0)


def test_everything_frozen_is_an_error() -> None:
    m = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to train"):
        build_optimizer(
            [m],
            learning_rate=1e-3,
            weight_decay=0.0,
            adam_epsilon=1e-8,
            warmup_steps=0,
            warmup_ratio=0.0,
            total_steps=5,
        )


def test_the_constant_schedule_keeps_the_peak_rate_and_ignores_the_warmup() -> None:
    """TinyBERT's intermediate-layer stage: BertAdam with schedule none, no warm-up, no decay."""
    _, schedule = build_optimizer(
        [nn.Linear(2, 2)],
        learning_rate=5e-5,
        weight_decay=0.0,
        adam_epsilon=1e-6,
        warmup_steps=0,
        warmup_ratio=0.1,
        total_steps=10,
        schedule="constant",
    )
    lrs = []
    for _ in range(12):  # also past the step count the linear schedule ends at
        lrs.append(schedule.get_last_lr()[0])
        schedule.optimizer.step()
        schedule.step()
    assert lrs == [5e-5] * 12


def test_per_tensor_clipping_bounds_each_gradient_on_its_own() -> None:
    """BertAdam clips each tensor at ``max_grad_norm``; a global clip would shrink the small one too."""
    big, small, none = (
        nn.Parameter(torch.zeros(4)),
        nn.Parameter(torch.zeros(2)),
        nn.Parameter(torch.zeros(1)),
    )
    big.grad = torch.tensor([3.0, 0.0, 4.0, 0.0])  # norm 5
    small.grad = torch.tensor([0.3, 0.4])  # norm 0.5
    clip_each_tensor([big, small, none], 1.0)
    assert big.grad.norm().item() == pytest.approx(1.0)
    assert torch.allclose(big.grad, torch.tensor([0.6, 0.0, 0.8, 0.0]), atol=1e-6)  # direction kept
    assert torch.equal(small.grad, torch.tensor([0.3, 0.4]))  # under the bound: untouched
    assert none.grad is None
