"""``prune_ffn``: physical removal of feed-forward neurons equals gating them to zero."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from lit_distill.models import QAModel
from lit_distill.models.surgery import prune_ffn, prune_heads, select_layers

from ._tiny import make_batch, tiny_model


def gated_logits(model: QAModel, neurons: Mapping[int, Sequence[int]], batch: dict[str, Tensor]) -> Tensor:
    """Start logits with the given neurons' activations multiplied by 0 (a hook on each ffn_out)."""
    handles = []
    for i, remove in neurons.items():
        layer = model.encoder.layers[i]
        mask = torch.ones(layer.ffn_out.in_features)
        mask[list(remove)] = 0.0

        def hook(_: nn.Module, args: tuple[Tensor, ...], mask: Tensor = mask) -> tuple[Tensor, ...]:
            return (args[0] * mask, *args[1:])

        handles.append(layer.ffn_out.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            return model(**batch).start_logits
    finally:
        for handle in handles:
            handle.remove()


def test_pruned_ffn_equals_gated_model_and_survives_save_load(tmp_path: Path) -> None:
    model = tiny_model(num_layers=3)
    neurons = {0: [0, 5, 36], 2: list(range(1, 37))}  # layer 2 keeps neuron 0 only
    batch = make_batch()
    expected = gated_logits(model, neurons, batch)
    with torch.no_grad():
        assert not torch.allclose(model(**batch).start_logits, expected, atol=1e-4)  # the gating matters
    prune_ffn(model, neurons)
    assert model.config.intermediate_per_layer == [34, 37, 1]
    assert model.encoder.layers[2].ffn_out.weight.shape == (32, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(**batch).start_logits, expected, atol=1e-5, rtol=0)
    prune_heads(model, {1: [0, 2]})  # both kinds of pruning together survive save/load
    loaded = QAModel.from_pretrained(model.save(tmp_path / "m")).eval()
    assert (loaded.config.heads_per_layer, loaded.config.intermediate_per_layer) == ([4, 2, 4], [34, 37, 1])
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(**batch).start_logits, model(**batch).start_logits, atol=1e-6, rtol=0
        )
    # a second pruning counts the neurons the layer has now; a student keeps its layers' widths
    prune_ffn(model, {0: [33]})
    assert model.config.intermediate_per_layer == [33, 37, 1]
    assert select_layers(model, [2, 0]).config.intermediate_per_layer == [1, 33]


def _loss_and_grads(model: QAModel, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    model.zero_grad()
    out = model(**batch)
    (out.start_logits.logsumexp(-1).sum() - out.end_logits[:, 1].sum()).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_pruned_ffn_trains_like_the_gated_model_on_the_kept_neurons() -> None:
    """The gradients of the pruned model are the gated model's, restricted to the kept neurons."""
    torch.manual_seed(0)
    original = tiny_model(num_layers=2).eval()  # no dropout: the two forward passes must agree
    removed = [3, 4, 20]
    kept = [j for j in range(37) if j not in removed]
    batch = make_batch()

    gated = QAModel(original.config)
    gated.load_state_dict(original.state_dict())
    gated.eval()
    mask = torch.ones(37)
    mask[removed] = 0.0
    handle = gated.encoder.layers[1].ffn_out.register_forward_pre_hook(lambda _, args: (args[0] * mask,))
    try:
        expected = _loss_and_grads(gated, batch)
    finally:
        handle.remove()

    pruned = prune_ffn(original, {1: removed})
    grads = _loss_and_grads(pruned, batch)
    assert set(grads) == {n for n, p in pruned.named_parameters() if p.requires_grad}  # every weight learns
    layer = "encoder.layers.1"
    for name, grad in grads.items():
        want = expected[name]
        if name.startswith(f"{layer}.ffn_in."):
            want = want[kept]  # (kept, H) rows of the input projection, (kept,) of its bias
        elif name == f"{layer}.ffn_out.weight":
            want = want[:, kept]  # (H, kept) columns of the output projection
        torch.testing.assert_close(grad, want, atol=1e-5, rtol=1e-4, msg=name)
    # the pruned tensors are the module's parameters, not views of the old ones: a step moves them
    before = pruned.encoder.layers[1].ffn_in.weight.detach().clone()
    torch.optim.SGD(pruned.parameters(), lr=0.1).step()
    assert not torch.equal(pruned.encoder.layers[1].ffn_in.weight, before)
    assert pruned.encoder.layers[1].ffn_in.weight.shape == (34, 32)


@pytest.mark.parametrize(
    ("neurons", "match"),
    [
        ({3: [0]}, r"prune_ffn: layer 3 does not exist; allowed are 0..2"),
        ({1: [37]}, r"prune_ffn: layer 1 has neurons 0..36; got neuron 37"),
        ({0: [-1]}, r"layer 0 has neurons 0..36; got neuron -1"),
        ({2: list(range(37))}, r"removing all 37 feed-forward neurons of layer 2 is not allowed"),
    ],
)
def test_bad_neuron_maps_are_refused_without_changing_the_model(
    neurons: dict[int, list[int]], match: str
) -> None:
    model = tiny_model(num_layers=3)
    with pytest.raises(ValueError, match=match):
        prune_ffn(model, {0: [1], **neurons})
    assert model.config.intermediate_per_layer is None
    assert model.encoder.layers[0].ffn_in.out_features == 37
