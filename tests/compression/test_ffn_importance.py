"""Feed-forward neuron importance: a hand-computed example, an independent formula on a real model,
and head scores unchanged by the neuron gates."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor, nn

from lit_distill.compression.head_importance import compute_head_importance, compute_importance
from lit_distill.losses import span_cross_entropy
from tests.models._tiny import make_batch, tiny_model


class Toy(nn.Module):
    """Two 'heads' of width 1 (attn_out) and a 3-neuron feed-forward output (ffn_out), no bias."""

    def __init__(self) -> None:
        super().__init__()
        self.attn_out = nn.Linear(2, 1, bias=False)
        self.ffn_out = nn.Linear(3, 1, bias=False)
        with torch.no_grad():
            self.attn_out.weight.copy_(torch.tensor([[1.0, 1.0]]))
            self.ffn_out.weight.copy_(torch.tensor([[1.0, -2.0, 0.5]]))

    def loss(self, batch: dict[str, Tensor], head_gates: list[Tensor] | None) -> Tensor:
        context = batch["context"]  # (B, n, 2)
        if head_gates is not None:
            context = context * head_gates[0]
        return self.attn_out(context).sum() + self.ffn_out(batch["a"]).sum()


# a: (B=1, n=2, I=3). dL/dgate[t, j] = w_j * a[t, j]:
#   token 0: [1*1, -2*2, 0.5*-1] = [1, -4, -0.5];  token 1: [3, 2, 1]
# the second batch is the first times -2: its gradients are -2 times the first's.
A = torch.tensor([[[1.0, 2.0, -1.0], [3.0, -1.0, 2.0]]])
BATCHES = [{"context": torch.ones(1, 2, 2), "a": A}, {"context": torch.ones(1, 2, 2), "a": -2 * A}]
HAND = {
    "per_token": [3 * 4.0, 3 * 6.0, 3 * 1.5],  # (|1|+|3|, |-4|+|2|, |-0.5|+|1|) x (1 + 2)
    "batch_mean": [3 * 4.0, 3 * 2.0, 3 * 0.5],  # (|1+3|, |-4+2|, |-0.5+1|) x (1 + 2)
}


@pytest.mark.parametrize("estimator", ["per_token", "batch_mean"])
def test_neuron_importance_equals_the_hand_computed_gradient(estimator: Any) -> None:
    toy = Toy()
    result = compute_importance(
        toy.loss,
        BATCHES,
        [2],
        max_batches=None,
        normalize=False,
        estimator=estimator,
        projections=[toy.attn_out],
        ffn_projections=[toy.ffn_out],
    )
    assert result.batches == 2 and result.neurons is not None
    torch.testing.assert_close(result.neurons[0], torch.tensor(HAND[estimator]))
    normed = compute_importance(
        toy.loss,
        BATCHES,
        [2],
        None,
        estimator=estimator,
        projections=[toy.attn_out],
        ffn_projections=[toy.ffn_out],
    )
    assert normed.neurons is not None
    hand = torch.tensor(HAND[estimator])
    torch.testing.assert_close(normed.neurons[0], hand / hand.norm())


def _loss_fn(model: Any) -> Any:
    def loss_fn(batch: dict[str, Tensor], gates: list[Tensor] | None) -> Tensor:
        inputs = {k: v for k, v in batch.items() if not k.endswith("_positions")}
        out = model(**inputs, head_gates=gates)
        return span_cross_entropy(
            out.start_logits, out.end_logits, batch["start_positions"], batch["end_positions"]
        )

    return loss_fn


def _batches() -> list[dict[str, Tensor]]:
    out = []
    for seed in range(2):
        batch = make_batch(batch=3, length=11, seed=seed)
        batch["start_positions"] = torch.tensor([1, 2, 3])
        batch["end_positions"] = torch.tensor([2, 4, 3])
        out.append(batch)
    return out


def test_real_model_per_token_scores_equal_activation_times_its_gradient() -> None:
    model = tiny_model(num_layers=2)
    layers = list(model.encoder.layers)
    result = compute_importance(
        _loss_fn(model),
        _batches(),
        [4, 4],
        None,
        normalize=False,
        projections=[layer.attn_out for layer in layers],
        ffn_projections=[layer.ffn_out for layer in layers],
    )
    # independent formula: sum over examples and tokens of |a * dL/da|, a = ffn_out's input
    expected = [torch.zeros(37), torch.zeros(37)]
    for batch in _batches():
        acts, loss = _activations_and_loss(model, batch)
        grads = torch.autograd.grad(loss, acts)
        for i, (a, g) in enumerate(zip(acts, grads, strict=True)):
            expected[i] += (a * g).abs().sum(dim=(0, 1))
    assert result.neurons is not None
    for got, want in zip(result.neurons, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
        assert bool((want > 0).all())


def _activations_and_loss(model: Any, batch: dict[str, Tensor]) -> tuple[list[Tensor], Tensor]:
    """Each layer's ffn_out input (B, n, I) and the loss of one plain forward pass."""
    acts: list[Tensor] = []

    def keep(_: nn.Module, args: tuple[Tensor, ...]) -> None:
        acts.append(args[0])

    handles = [layer.ffn_out.register_forward_pre_hook(keep) for layer in model.encoder.layers]
    try:
        loss = _loss_fn(model)(batch, None)
    finally:
        for handle in handles:
            handle.remove()
    return acts, loss


@pytest.mark.parametrize("estimator", ["per_token", "batch_mean"])
def test_head_scores_are_bit_identical_with_the_neuron_gates(estimator: Any) -> None:
    model = tiny_model(num_layers=2)
    layers = list(model.encoder.layers)
    kw: dict[str, Any] = dict(estimator=estimator, projections=[layer.attn_out for layer in layers])
    heads, _ = compute_head_importance(_loss_fn(model), _batches(), [4, 4], None, **kw)
    both = compute_importance(
        _loss_fn(model), _batches(), [4, 4], None, ffn_projections=[layer.ffn_out for layer in layers], **kw
    )
    assert both.neurons is not None and [t.shape for t in both.neurons] == [(37,), (37,)]
    for a, b in zip(heads, both.heads, strict=True):
        assert torch.equal(a, b)
