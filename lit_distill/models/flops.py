"""Forward-pass FLOPs of the encoder, per-layer lengths, head counts and FFN widths included."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lit_distill.checks import UserInputError
from lit_distill.models.config import EncoderConfig
from lit_distill.models.length import LengthConfig, check_length_config, tokens_to_keep


def layer_flops(
    config: EncoderConfig, heads: int, n_in: int, n_out: int, intermediate_size: int | None = None
) -> int:
    """FLOPs of one layer that receives ``n_in`` tokens and passes ``n_out`` on.

    ``intermediate_size`` is the layer's feed-forward width (``config.intermediate_size``
    when not given).

    Attention (Q/K/V projections, scores, weighted sum) runs over the ``n_in``
    tokens; with Drop-and-Restore the kept ``n_out`` tokens are selected right
    after attention, so the output projection and the feed-forward block run on
    ``n_out`` tokens.
    """
    hidden, inner = config.hidden_size, heads * config.attention_head_size
    qkv = 2 * n_in * hidden * 3 * inner
    attention = 2 * 2 * n_in * n_in * inner  # QK^T and probs @ V
    out = 2 * n_out * inner * hidden
    width = config.intermediate_size if intermediate_size is None else intermediate_size
    ffn = 2 * 2 * n_out * hidden * width
    return qkv + attention + out + ffn


def forward_flops(
    config: EncoderConfig,
    seq_length: int,
    length_config: Sequence[int] | Sequence[float] | None = None,
    skip_layers: Sequence[int] | None = None,
) -> int:
    """FLOPs of one sequence's forward pass (matrix multiplications, 2 per multiply-add).

    Element-wise work (softmax, LayerNorm, GELU, residual adds, token selection)
    and embedding look-ups are not counted; they are a few percent of the total.

    Args:
        config: Model shape (per-layer head counts and FFN widths included).
        seq_length: Number of real tokens of the sequence.
        length_config: Per-layer lengths as in ``QAModel.forward`` (absolute counts are
            capped at ``seq_length``, ratios are of ``seq_length``), or None.
        skip_layers: Layers that are skipped (they cost nothing).

    Returns:
        FLOPs as an integer.

    Raises:
        UserInputError: for an invalid ``seq_length`` or length configuration.
    """
    if (
        isinstance(seq_length, bool)
        or not isinstance(seq_length, int)
        or not 1 <= seq_length <= config.max_position_embeddings
    ):
        raise UserInputError(
            f"seq_length={seq_length!r}; allowed: an integer in [1, {config.max_position_embeddings}]"
        )
    lengths: LengthConfig | None = None
    if length_config is not None:
        lengths = check_length_config(length_config, config.num_hidden_layers, config.max_position_embeddings)
    skip = set(skip_layers or ())
    real = torch.tensor([seq_length])
    n = seq_length
    total = 0
    widths = config.layer_intermediate_sizes
    for i, heads in enumerate(config.layer_heads):
        if i in skip:
            continue
        n_out = n if lengths is None else int(tokens_to_keep(lengths[i], real).item())
        n_out = min(n_out, n)
        total += layer_flops(config, heads, n, n_out, widths[i])
        n = n_out
    return total + 2 * seq_length * config.hidden_size * 2  # span head on every (restored) position
