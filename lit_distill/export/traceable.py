"""A forward pass of :class:`~lit_distill.models.qa_model.QAModel` that ``torch.onnx.export`` can trace.

The project's encoder chooses its path in Python from the data (no mask when no
token is padding, the number of kept tokens read with ``int(...)``); an exported
graph must decide the same things inside the graph, for every batch and length.
:class:`TraceableQA` reuses the model's own modules and the pure functions of
:mod:`lit_distill.models.length`, and differs from ``QAModel.forward`` only where
tracing needs it:

- the attention mask is always applied (a row of zeros when nothing is padding,
  the same numbers);
- with a length configuration, Drop-and-Restore runs in the graph: the number of
  tokens a layer keeps is computed from each sequence's real length by
  :func:`~lit_distill.models.length.tokens_to_keep`, so ratios keep working for
  any input length and padding, and absolute counts larger than a sequence keep
  all of its tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_distill.models.encoder import EncoderLayer, additive_mask
from lit_distill.models.length import (
    gather_rows,
    in_original_order,
    mark_significance,
    received_attention,
    tokens_to_keep,
    write_rows,
)
from lit_distill.models.qa_model import QAModel
from lit_distill.user_errors import UserInputError

__all__ = ["TraceableQA"]


def _attention(
    layer: EncoderLayer, x: Tensor, mask_bias: Tensor, queries: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """Masked self-attention of ``layer`` up to its output projection.

    Args:
        layer: The model's layer (its ``qkv`` weights and head shape are used).
        x: (B, n, H) layer input.
        mask_bias: (B, 1, 1, n) additive key mask.
        queries: (B, n) bool real queries when the received attention is needed, else None.

    Returns:
        ``(context, received)``: (B, n, h*dh) and (B, n) or None.
    """
    batch, n, _ = x.shape
    heads, size = layer.num_heads, layer.head_size
    q, k, v = layer.qkv(x).view(batch, n, 3, heads, size).permute(2, 0, 3, 1, 4).unbind(0)  # (B, h, n, dh)
    if queries is None:
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask_bias)  # (B, h, n, dh)
        return context.transpose(1, 2).reshape(batch, n, heads * size), None
    scores = torch.matmul(q * (1.0 / math.sqrt(size)), k.transpose(-1, -2)) + mask_bias  # (B, h, n, n)
    probs = torch.softmax(scores, dim=-1)
    received = received_attention(probs, queries)  # (B, n)
    context = torch.matmul(probs, v).transpose(1, 2).reshape(batch, n, heads * size)
    return context, received


def _select(significance: Tensor, counts: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`~lit_distill.models.length.select_tokens` with the kept width as a graph value.

    Sorting every token (instead of ``topk`` with a Python ``int``) keeps the number of
    kept tokens, ``max(counts)``, a tensor, so the traced graph works for any input.

    Returns:
        ``(index, valid)``: (B, k) indices into the current tokens (original order) and (B, k) bool.
    """
    k = counts.max()  # () long, tokens kept by the longest sequence
    order = torch.argsort(significance, dim=1, descending=True)
    order = order.narrow(1, 0, k)  # type: ignore[call-overload]  # (B, k); a tensor length stays in the graph
    rank = torch.arange(order.shape[1], device=order.device)
    valid = rank[None, :] < counts[:, None]  # (B, k)
    return in_original_order(order, valid, positions)


class TraceableQA(nn.Module):
    """``(input_ids, attention_mask, token_type_ids) -> (start_logits, end_logits)`` for export.

    Args:
        model: The model to export (its modules are shared, not copied).
        length_config: Per-layer token counts (ints) or ratios of each sequence's real
            length (floats in (0, 1]), or None for the full-length model.
        token_selection: Only ``"real_queries"`` (see :mod:`lit_distill.models.length`);
            LAT's rules are refused with a UserInputError.
    """

    def __init__(
        self,
        model: QAModel,
        length_config: Sequence[int] | Sequence[float] | None = None,
        token_selection: str = "real_queries",
    ) -> None:
        if token_selection != "real_queries":
            raise UserInputError(
                f"token_selection={token_selection!r}: the exported graph's Drop-and-Restore implements the "
                "default 'real_queries' rule only; export with it (LAT's rule runs in PyTorch only)"
            )
        super().__init__()
        self.model = model
        self.length_config = None if length_config is None else list(length_config)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor
    ) -> tuple[Tensor, Tensor]:
        """(B, L) ids, mask and segment ids -> (B, L) start and (B, L) end logits."""
        encoder = self.model.encoder
        batch, seq_length = input_ids.shape
        valid = attention_mask.bool()  # (B, n)
        real_lengths = valid.sum(dim=1)  # (B,)
        x = encoder.embeddings(input_ids, token_type_ids)  # (B, L, H)
        positions = torch.arange(seq_length, device=x.device).expand(batch, seq_length)  # (B, n)
        full = torch.cat([x, x.new_zeros(batch, 1, x.shape[-1])], dim=1)  # (B, L + 1, H)
        for i, layer in enumerate(encoder.layers):
            assert isinstance(layer, EncoderLayer)
            mask_bias = additive_mask(valid, x.dtype)  # (B, 1, 1, n)
            length = None if self.length_config is None else self.length_config[i]
            context, received = _attention(layer, x, mask_bias, None if length is None else valid)
            if length is not None and received is not None:
                full = write_rows(full, positions, x)  # tokens dropped now keep this vector
                counts = tokens_to_keep(length, real_lengths)  # (B,)
                index, valid = _select(mark_significance(received, valid), counts, positions)  # (B, k)
                positions = positions.gather(1, index).masked_fill(~valid, seq_length)
                x = gather_rows(x, index)
                context = gather_rows(context, index)
            x = layer.feed_forward(layer.attention_output(x, context))
        if self.length_config is not None:
            x = write_rows(full, positions, x)[:, :seq_length]  # (B, L, H) dropped tokens restored
        logits = self.model.qa_outputs(x)  # (B, L, 2)
        return logits[..., 0], logits[..., 1]
