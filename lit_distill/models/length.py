"""Drop-and-Restore maths: length configurations and token selection (pure functions).

A *length configuration* gives, for every layer, how many tokens that layer
passes on to the next one (LAT, Kim & Cho 2021; Dynamic-TinyBERT, Guskin et
al. 2021). It is either a list of absolute token counts (``int``) or a list of
ratios of each sequence's real (unpadded) length (``float`` in (0, 1]). It must
be non-increasing. A layer keeps the tokens that received the most attention
(attention probabilities summed over heads and real queries); [CLS] (position
0) is always kept and padding never takes the place of a real token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

LengthConfig = Sequence[int] | Sequence[float]


def validate_length_config(
    length_config: LengthConfig, num_layers: int, seq_length: int
) -> list[int | float]:
    """Check a length configuration and return it as a list.

    Args:
        length_config: One entry per layer: all ``int`` (absolute counts in
            ``[1, seq_length]``) or all ``float`` (ratios in ``(0, 1]``), non-increasing.
        num_layers: Number of encoder layers.
        seq_length: Padded input length L.

    Returns:
        The configuration as a list.

    Raises:
        ValueError: naming the bad entry and what is allowed.
    """
    if isinstance(length_config, (str, bytes)) or not isinstance(length_config, Sequence):
        raise ValueError(
            f"length_config must be a list of {num_layers} per-layer lengths (ints) or ratios "
            f"(floats in (0, 1]), got {length_config!r}"
        )
    values = list(length_config)
    if len(values) != num_layers:
        raise ValueError(
            f"length_config has {len(values)} entries but the model has {num_layers} layers; "
            "give one length per layer"
        )
    kinds = set()
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"length_config[{i}]={v!r}: allowed are ints (token counts) or floats (ratios)")
        kinds.add(isinstance(v, int))
    if len(kinds) > 1:
        raise ValueError(
            f"length_config={values} mixes ints (token counts) and floats (ratios); use one kind for all layers"
        )
    absolute = kinds == {True}
    for i, v in enumerate(values):
        if absolute and not 1 <= v <= seq_length:
            raise ValueError(
                f"length_config[{i}]={v}: absolute lengths must be in [1, {seq_length}] "
                f"(the input sequence length)"
            )
        if not absolute and not (0.0 < v <= 1.0 and math.isfinite(v)):
            raise ValueError(f"length_config[{i}]={v}: ratios must be in (0, 1]")
        if i > 0 and v > values[i - 1]:
            raise ValueError(
                f"length_config={values} increases at layer {i} ({values[i - 1]} -> {v}); "
                "lengths must be non-increasing"
            )
    return values


def fit_to_width(length_config: LengthConfig, width: int) -> list[int | float]:
    """Clamp absolute lengths to a batch's padded width ``width``; ratios are returned unchanged.

    A batch padded to its longest feature can be narrower than the ``max_seq_length`` a
    length configuration was written for (e.g. ``[320, 256, ...]`` for 384 tokens); a
    count at or above the width keeps every token, as it would in a full-width batch.
    Clamping keeps the configuration non-increasing.
    """
    values = list(length_config)
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return [min(int(v), width) for v in values]
    return values


def tokens_to_keep(length: int | float, real_lengths: Tensor) -> Tensor:
    """Per-sequence number of tokens a layer keeps.

    Args:
        length: An absolute count (``int``) or a ratio of the real length (``float``).
        real_lengths: (B,) long, number of real tokens of each sequence.

    Returns:
        (B,) long, at least 1 ([CLS]) and at most the real length.
    """
    if isinstance(length, int):
        counts = real_lengths.clamp(max=length)
    else:
        counts = torch.ceil(real_lengths.to(torch.float64) * length).to(torch.long)
    return counts.clamp(min=1)


def received_attention(probs: Tensor, valid: Tensor) -> Tensor:
    """Attention each key receives from the real queries, summed over heads and queries.

    Args:
        probs: (B, h, n, n) post-softmax attention probabilities (query, key); ``h`` may be a
            subset of a layer's heads (sums over head chunks add up).
        valid: (B, n) bool, real (kept, non-padding) tokens.

    Returns:
        (B, n) float, no gradient (selection is discrete).
    """
    queries = valid[:, None, None, :].to(probs.dtype)  # (B, 1, 1, n)
    return torch.matmul(queries, probs.detach()).sum(dim=(1, 2))  # (B, h, 1, n) -> (B, n)


def mark_significance(received: Tensor, valid: Tensor) -> Tensor:
    """Significance from received attention: +inf for [CLS] at index 0, -inf for invalid tokens.

    Args:
        received: (B, n) from :func:`received_attention`.
        valid: (B, n) bool, real (kept, non-padding) tokens.

    Returns:
        (B, n) float: -inf for invalid tokens (padding never wins, not even at index 0),
        +inf for [CLS] at index 0 when it is a real token.
    """
    received = received.clone()
    received[:, 0] = float("inf")  # [CLS]
    return received.masked_fill(~valid, float("-inf"))


def significance(probs: Tensor, valid: Tensor) -> Tensor:
    """Attention each token receives, summed over heads and real queries, marked for selection.

    Args:
        probs: (B, h, n, n) post-softmax attention probabilities (query, key).
        valid: (B, n) bool, real (kept, non-padding) tokens.

    Returns:
        (B, n) float: -inf for invalid tokens, +inf for [CLS] at index 0 (when it is a real token).
    """
    return mark_significance(received_attention(probs, valid), valid)


def select_tokens(scores: Tensor, counts: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
    """Indices of the tokens to keep, in original order, and which slots are real.

    The output has ``max(counts)`` slots per sequence; a sequence that keeps
    fewer tokens has its trailing slots marked invalid (they behave as padding).

    Args:
        scores: (B, n) significance; invalid tokens must be -inf.
        counts: (B,) long, tokens to keep per sequence.
        positions: (B, n) long, original position of each current token.

    Returns:
        ``(index, valid)``: (B, k) long indices into the current n tokens and
        (B, k) bool.
    """
    k = int(counts.max())
    order = scores.topk(k, dim=1).indices  # (B, k), most significant first
    rank = torch.arange(k, device=scores.device)
    valid = rank[None, :] < counts[:, None]  # (B, k)
    original = positions.gather(1, order)  # (B, k)
    sort_key = original + (~valid).to(original.dtype) * (original.max() + 1)  # invalid slots last
    perm = sort_key.argsort(dim=1)
    return order.gather(1, perm), valid.gather(1, perm)
