"""Model surgery: head and FFN-neuron pruning, layer selection (a student from teacher layers), dropout, parameter counts.

``prune_heads`` and ``prune_ffn`` change a model in place (like Hugging Face's old
``prune_heads``); ``select_layers`` returns a new model and leaves its input
untouched. Every function keeps
``model.config`` in step, so the result survives ``save`` -> ``from_pretrained``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import cast

import torch
from torch import nn

from lit_distill.checks import UserInputError, is_int, is_number
from lit_distill.layer_maps import check_layer_map
from lit_distill.models.config import EncoderConfig
from lit_distill.models.encoder import EncoderLayer
from lit_distill.models.qa_model import QAModel


def _set_config(model: QAModel, **changes: object) -> None:
    config = EncoderConfig.from_dict({**model.config.to_dict(), **changes})
    if config.heads_per_layer is not None and all(
        h == config.num_attention_heads for h in config.heads_per_layer
    ):
        config.heads_per_layer = None
    if config.intermediate_per_layer is not None and all(
        w == config.intermediate_size for w in config.intermediate_per_layer
    ):
        config.intermediate_per_layer = None
    model.config = config
    model.encoder.config = config


def _layers(model: QAModel) -> list[EncoderLayer]:
    return cast(list[EncoderLayer], list(model.encoder.layers))


def _check_layer(index: object, num_layers: int, what: str) -> int:
    if not is_int(index) or not 0 <= index < num_layers:
        raise UserInputError(f"{what}: layer {index!r} does not exist; allowed are 0..{num_layers - 1}")
    return index


def _prune_layer(layer: EncoderLayer, keep: list[int]) -> None:
    """Keep only heads ``keep`` (sorted) of one layer: Q/K/V rows and output-projection columns."""
    dh = layer.head_size
    inner = layer.num_heads * dh
    per_head = torch.cat([torch.arange(j * dh, (j + 1) * dh) for j in keep])  # (len(keep)*dh,)
    rows = torch.cat([part * inner + per_head for part in range(3)])  # Q, K, V blocks
    device = layer.qkv.weight.device
    rows, per_head = rows.to(device), per_head.to(device)

    qkv = nn.Linear(layer.qkv.in_features, rows.numel(), device=device, dtype=layer.qkv.weight.dtype)
    out = nn.Linear(
        per_head.numel(), layer.attn_out.out_features, device=device, dtype=layer.attn_out.weight.dtype
    )
    with torch.no_grad():
        qkv.weight.copy_(layer.qkv.weight[rows])
        qkv.bias.copy_(layer.qkv.bias[rows])
        out.weight.copy_(layer.attn_out.weight[:, per_head])
        out.bias.copy_(layer.attn_out.bias)
    qkv.weight.requires_grad_(layer.qkv.weight.requires_grad)
    qkv.bias.requires_grad_(layer.qkv.bias.requires_grad)
    out.weight.requires_grad_(layer.attn_out.weight.requires_grad)
    out.bias.requires_grad_(layer.attn_out.bias.requires_grad)
    layer.qkv, layer.attn_out, layer.num_heads = qkv, out, len(keep)


def prune_heads(model: QAModel, heads: Mapping[int, Sequence[int]]) -> QAModel:
    """Physically remove attention heads (in place).

    Head indices count the heads the layer has *now* (after any earlier pruning).
    The result computes exactly what the unpruned model computes with those
    heads' gates set to 0 (Michel et al. 2019).

    Args:
        model: The model to prune; changed in place.
        heads: ``{layer: [head, ...]}`` heads to remove.

    Returns:
        ``model``, for chaining.

    Raises:
        UserInputError: for a layer or head index out of range, or when all heads of a
            layer would go (drop the layer with :func:`select_layers` instead).

    Example::

        prune_heads(model, {0: [1, 3], 5: [0]})
        model.config.heads_per_layer  # [10, 12, 12, 12, 12, 11, ...]
    """
    layers = _layers(model)
    plan: dict[int, list[int]] = {}
    for layer_index, remove in heads.items():
        i = _check_layer(layer_index, len(layers), "prune_heads")
        count = layers[i].num_heads
        drop = set()
        for h in remove:
            if not is_int(h) or not 0 <= h < count:
                raise UserInputError(f"prune_heads: layer {i} has heads 0..{count - 1}; got head {h!r}")
            drop.add(h)
        keep = [h for h in range(count) if h not in drop]
        if not keep:
            raise UserInputError(
                f"prune_heads: removing all {count} heads of layer {i} is not allowed; a layer keeps at least "
                "one head (use select_layers to drop whole layers)"
            )
        plan[i] = keep
    for i, keep in plan.items():  # validate everything before changing anything
        if len(keep) < layers[i].num_heads:
            _prune_layer(layers[i], keep)
    _set_config(model, heads_per_layer=[layer.num_heads for layer in layers])
    return model


def _narrow_ffn(layer: EncoderLayer, keep: list[int]) -> None:
    """Keep only feed-forward neurons ``keep`` (sorted): rows of ``ffn_in`` (+ bias), columns of ``ffn_out``."""
    ffn_in, ffn_out = layer.ffn_in, layer.ffn_out
    index = torch.tensor(keep, dtype=torch.long, device=ffn_in.weight.device)  # (kept,)
    new_in = nn.Linear(ffn_in.in_features, len(keep), device=index.device, dtype=ffn_in.weight.dtype)
    new_out = nn.Linear(len(keep), ffn_out.out_features, device=index.device, dtype=ffn_out.weight.dtype)
    with torch.no_grad():
        new_in.weight.copy_(ffn_in.weight[index])  # (kept, H)
        new_in.bias.copy_(ffn_in.bias[index])
        new_out.weight.copy_(ffn_out.weight[:, index])  # (H, kept)
        new_out.bias.copy_(ffn_out.bias)
    for new, old in ((new_in, ffn_in), (new_out, ffn_out)):
        new.weight.requires_grad_(old.weight.requires_grad)
        new.bias.requires_grad_(old.bias.requires_grad)
    layer.ffn_in, layer.ffn_out = new_in, new_out


def prune_ffn(model: QAModel, neurons: Mapping[int, Sequence[int]]) -> QAModel:
    """Physically remove feed-forward neurons (in place).

    Neuron ``j`` of a layer is row ``j`` of its first feed-forward linear layer (and
    its bias) and column ``j`` of the second; both go. Indices count the neurons the
    layer has *now* (after any earlier pruning). The result computes exactly what
    the unpruned model computes with those neurons' activations multiplied by 0.

    Args:
        model: The model to prune; changed in place.
        neurons: ``{layer: [neuron, ...]}`` neurons to remove.

    Returns:
        ``model``, for chaining.

    Raises:
        UserInputError: naming the layer and the value, for a layer or neuron index out of
            range, or when every neuron of a layer would go.

    Example::

        prune_ffn(model, {0: [5, 17], 3: list(range(1000))})
        model.config.intermediate_per_layer  # [3070, 3072, 3072, 2072, ...]
    """
    layers = _layers(model)
    plan: dict[int, list[int]] = {}
    for layer_index, remove in neurons.items():
        i = _check_layer(layer_index, len(layers), "prune_ffn")
        count = layers[i].ffn_in.out_features
        drop = set()
        for j in remove:
            if not is_int(j) or not 0 <= j < count:
                raise UserInputError(f"prune_ffn: layer {i} has neurons 0..{count - 1}; got neuron {j!r}")
            drop.add(j)
        if len(drop) >= count:
            raise UserInputError(
                f"prune_ffn: removing all {count} feed-forward neurons of layer {i} is not allowed; a layer "
                "keeps at least one neuron (use select_layers to drop whole layers)"
            )
        plan[i] = [j for j in range(count) if j not in drop]
    for i, keep in plan.items():  # validate everything before changing anything
        if len(keep) < layers[i].ffn_in.out_features:
            _narrow_ffn(layers[i], keep)
    _set_config(model, intermediate_per_layer=[layer.ffn_in.out_features for layer in layers])
    return model


def select_layers(model: QAModel, layers: Sequence[int], parameter: str = "select_layers") -> QAModel:
    """A new model made of copies of the given layers (in the given order), embeddings and QA head.

    Args:
        model: Source model (not changed).
        layers: Layer indices, e.g. ``[0, 2, 4, 7, 9, 11]`` (DistilBERT's choice from BERT-base),
            checked by :func:`lit_distill.layer_maps.check_layer_map`.
        parameter: the name error messages give ``layers``.

    Raises:
        UserInputError: for an empty list, repeated or out-of-range indices.
    """
    source = _layers(model)
    indices = check_layer_map(layers, len(source), parameter)
    new = copy.deepcopy(model)
    new.encoder.layers = nn.ModuleList(copy.deepcopy(source[i]) for i in indices)
    _set_config(
        new,
        num_hidden_layers=len(indices),
        heads_per_layer=[source[i].num_heads for i in indices],
        intermediate_per_layer=[source[i].ffn_in.out_features for i in indices],
    )
    return new


def check_dropout_rate(name: str, rate: object) -> None:
    """Raise a ``UserInputError`` naming ``name`` unless ``rate`` is None or a number in [0, 1)."""
    if rate is not None and (not is_number(rate) or not 0 <= rate < 1):
        raise UserInputError(
            f"{name}={rate!r}: a dropout rate must be a number in [0, 1) (or null to keep it)"
        )


def set_dropout(model: QAModel, hidden: float | None = None, attention: float | None = None) -> QAModel:
    """Change a model's dropout rates in place (``None`` keeps a rate); returns the model.

    Args:
        model: The model to change.
        hidden: After the embeddings, the attention output and the feed-forward block
            (``hidden_dropout_prob``).
        attention: On the attention probabilities (``attention_probs_dropout_prob``).

    Raises:
        UserInputError: for a rate outside [0, 1).
    """
    check_dropout_rate("set_dropout: hidden", hidden)
    check_dropout_rate("set_dropout: attention", attention)
    if hidden is not None:
        model.encoder.embeddings.dropout.p = float(hidden)
        for layer in _layers(model):
            layer.dropout.p = float(hidden)
        _set_config(model, hidden_dropout_prob=float(hidden))
    if attention is not None:
        for layer in _layers(model):
            layer.attn_dropout_p = float(attention)
        _set_config(model, attention_probs_dropout_prob=float(attention))
    return model


def count_parameters(model: nn.Module, include_embeddings: bool = True) -> int:
    """Number of parameters; without embeddings leaves out the word, position and segment tables.

    The embedding LayerNorm and the QA head always count (as in Hugging Face's
    ``num_parameters(exclude_embeddings=True)``).
    """
    total = sum(p.numel() for p in model.parameters())
    if include_embeddings:
        return total
    tables = {id(m.weight): m.weight.numel() for m in model.modules() if isinstance(m, nn.Embedding)}
    return total - sum(tables.values())
