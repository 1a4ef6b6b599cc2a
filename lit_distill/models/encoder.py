"""A compact BERT-family encoder (post-LayerNorm, as BERT and DistilBERT).

One file to read top to bottom: embeddings, one transformer layer split into
its attention half (:meth:`EncoderLayer.attend`) and its per-token half
(:meth:`EncoderLayer.transform`), and the layer loop that can skip layers
(LayerDrop), gate heads (Michel et al. 2019) and drop tokens between layers
(Drop-and-Restore, see :mod:`lit_distill.models.length`).

The fast path is ``torch.nn.functional.scaled_dot_product_attention``; the
explicit path (matmul + softmax) runs only in layers where pre-softmax
attention scores or attention probabilities (for token selection) are needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_distill.checks import UserInputError, is_int
from lit_distill.models.config import EncoderConfig
from lit_distill.models.length import (
    KeptTokens,
    LengthConfig,
    TokenSelection,
    drop_tokens,
    received_attention,
    restore,
    scatter_scores,
    start_keeping,
)

PROBS_CHUNK_BYTES = 4 * 2**20
"""Budget for the (B, heads, n, n) probabilities the explicit attention path holds at a time.

Token selection needs the attention each token receives, which SDPA does not return, so
those layers compute attention explicitly, a chunk of heads at a time: at batch 16 and
384 tokens one head's probabilities take 9 MiB, all twelve 108 MiB (twice that while the
softmax runs). Chunks that stay closer to the CPU's cache sizes also run faster
(``python -m benchmarks.encoder`` measures the whole forward); at least one head is always taken."""


def activation(name: str) -> nn.Module:
    """The feed-forward activation called ``name`` in Hugging Face configs."""
    if name == "gelu":
        return nn.GELU()
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return nn.GELU(approximate="tanh")
    if name == "relu":
        return nn.ReLU()
    raise ValueError(f"unsupported activation {name!r}; allowed: gelu, gelu_new, gelu_pytorch_tanh, relu")


def sinusoidal_positions(num_positions: int, dim: int) -> Tensor:
    """DistilBERT-style fixed position table: sin on even, cos on odd features."""
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (P, 1)
    freq = torch.pow(10000.0, -torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (ceil(D/2),)
    table = torch.zeros(num_positions, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table.to(torch.float32)


def additive_mask(valid: Tensor, dtype: torch.dtype) -> Tensor:
    """(B, n) bool -> (B, 1, 1, n) additive key mask (0 for real keys, dtype min for padding)."""
    bias = torch.zeros(valid.shape, dtype=dtype, device=valid.device)
    bias = bias.masked_fill(~valid, torch.finfo(dtype).min)
    return bias[:, None, None, :]


class Embeddings(nn.Module):
    """Word + position (+ segment) embeddings, LayerNorm, dropout."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        pad = config.pad_token_id if 0 <= config.pad_token_id < config.vocab_size else None
        self.word = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=pad)
        self.position = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type = (
            nn.Embedding(config.type_vocab_size, config.hidden_size) if config.type_vocab_size > 0 else None
        )
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None) -> Tensor:
        """(B, L) ids -> (B, L, H)."""
        seq_length = input_ids.shape[1]
        positions = torch.arange(seq_length, device=input_ids.device)
        x = self.word(input_ids) + self.position(positions)[None]  # (B, L, H)
        if self.token_type is not None:
            if token_type_ids is None:
                x = x + self.token_type.weight[0]
            else:
                x = x + self.token_type(token_type_ids)
        return self.dropout(self.norm(x))


@dataclass
class Attention:
    """What :meth:`EncoderLayer.attend` returns."""

    context: Tensor  # (B, n, h*dh), per-head outputs before the output projection
    scores: Tensor | None  # (B, h, n, n) pre-softmax, no mask added
    received: Tensor | None  # (B, n) attention each key receives from the counted queries, no gradient


class EncoderLayer(nn.Module):
    """One post-LayerNorm transformer layer with ``num_heads`` heads of size ``head_size``.

    The feed-forward block has ``intermediate_size`` neurons (``config.intermediate_size``
    when not given; fewer after FFN pruning).

    Q, K and V share one fused projection ``qkv`` whose output rows are
    ordered [Q heads, K heads, V heads], each head ``head_size`` rows.
    """

    def __init__(self, config: EncoderConfig, num_heads: int, intermediate_size: int | None = None) -> None:
        super().__init__()
        width = config.intermediate_size if intermediate_size is None else intermediate_size
        self.num_heads = num_heads
        self.head_size = config.attention_head_size
        inner = num_heads * self.head_size
        self.qkv = nn.Linear(config.hidden_size, 3 * inner)
        self.attn_out = nn.Linear(inner, config.hidden_size)
        self.attn_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.ffn_in = nn.Linear(config.hidden_size, width)
        self.act = activation(config.hidden_act)
        self.ffn_out = nn.Linear(width, config.hidden_size)
        self.ffn_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.attn_dropout_p = config.attention_probs_dropout_prob

    def attend(
        self,
        x: Tensor,
        valid: Tensor | None,
        gate: Tensor | None = None,
        need_scores: bool = False,
        received_from: Tensor | None = None,
        received_after_dropout: bool = False,
    ) -> Attention:
        """Multi-head self-attention up to (not including) the output projection.

        Args:
            x: (B, n, H) layer input.
            valid: (B, n) bool, keys that may be attended (real, kept tokens); None when
                every key may be (no padding: no mask, as Hugging Face does).
            gate: (h,) multiplier of each head's output, or None.
            need_scores: Return pre-softmax scores (explicit path).
            received_from: (B, n) bool query rows: return the attention each token receives,
                summed over heads and these queries (explicit path, a chunk of heads at a time).
            received_after_dropout: Sum the received attention from the probabilities after
                attention dropout (the ones that weight the values), as LAT does in training;
                otherwise from those before it. The same at evaluation (no dropout).
        """
        batch, n, _ = x.shape
        q, k, v = (
            self.qkv(x).view(batch, n, 3, self.num_heads, self.head_size).permute(2, 0, 3, 1, 4).unbind(0)
        )  # each (B, h, n, dh)
        dropout_p = self.attn_dropout_p if self.training else 0.0
        mask_bias = None if valid is None else additive_mask(valid, q.dtype)  # (B, 1, 1, n)
        queries = received_from  # (B, n), when the received attention is needed
        scores = received = None
        if need_scores:
            scores = torch.matmul(q * (1.0 / math.sqrt(self.head_size)), k.transpose(-1, -2))  # (B, h, n, n)
            probs = torch.softmax(scores if mask_bias is None else scores + mask_bias, dim=-1)
            dropped = F.dropout(probs, dropout_p, self.training)
            if queries is not None:
                received = received_attention(dropped if received_after_dropout else probs, queries)
            context = torch.matmul(dropped, v).transpose(1, 2)
        elif queries is not None:
            context, received = self._attend_in_chunks(
                q, k, v, mask_bias, queries, dropout_p, received_after_dropout
            )
        else:
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask_bias, dropout_p=dropout_p)
            context = context.transpose(1, 2)  # (B, n, h, dh)
        if gate is not None:
            context = context * gate.to(context.dtype)[None, None, :, None]
        context = context.reshape(batch, n, self.num_heads * self.head_size)
        return Attention(context, scores, received)

    def _attend_in_chunks(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        mask_bias: Tensor | None,
        queries: Tensor,
        dropout_p: float,
        received_after_dropout: bool,
    ) -> tuple[Tensor, Tensor]:
        """Explicit attention over chunks of heads: ((B, n, h, dh) context, (B, n) received attention)."""
        batch, heads, n, _ = q.shape
        step = max(1, min(heads, PROBS_CHUNK_BYTES // max(1, batch * n * n * q.element_size())))
        received = q.new_zeros(batch, n)
        contexts = []
        for start in range(0, heads, step):
            part = slice(start, start + step)
            logits = torch.matmul(
                q[:, part] * (1.0 / math.sqrt(self.head_size)), k[:, part].transpose(-1, -2)
            )
            if mask_bias is not None:
                logits.add_(mask_bias)  # (B, c, n, n); in place: the raw scores are not needed
            probs = torch.softmax(logits, dim=-1)
            dropped = F.dropout(probs, dropout_p, self.training)
            received += received_attention(dropped if received_after_dropout else probs, queries)
            context = torch.matmul(dropped, v[:, part])  # (B, c, n, dh)
            contexts.append(context.transpose(1, 2))
        return torch.cat(contexts, dim=2), received  # (B, n, h, dh), (B, n)

    def attention_output(self, x: Tensor, context: Tensor) -> Tensor:
        """Output projection, residual + LayerNorm: (B, n, H), (B, n, h*dh) -> (B, n, H)."""
        return self.attn_norm(x + self.dropout(self.attn_out(context)))

    def feed_forward(self, x: Tensor) -> Tensor:
        """Feed-forward block, residual + LayerNorm: (B, n, H) -> (B, n, H)."""
        return self.ffn_norm(x + self.dropout(self.ffn_out(self.act(self.ffn_in(x)))))

    def transform(self, x: Tensor, context: Tensor) -> Tensor:
        """The per-token half of the layer: :meth:`attention_output`, then :meth:`feed_forward`.

        Args:
            x: (B, n, H) layer input (only the tokens being kept).
            context: (B, n, h*dh) matching rows of :attr:`Attention.context`.

        Returns:
            (B, n, H) layer output.
        """
        return self.feed_forward(self.attention_output(x, context))

    def forward(self, x: Tensor, valid: Tensor | None, gate: Tensor | None = None) -> Tensor:
        """Plain layer: (B, n, H) -> (B, n, H)."""
        return self.transform(x, self.attend(x, valid, gate).context)


@dataclass
class EncoderOutput:
    """Last hidden state plus optional per-layer outputs."""

    last_hidden_state: Tensor  # (B, L, H), dropped tokens restored at their positions
    hidden_states: tuple[Tensor, ...] | None  # num_layers + 1 tensors (B, L, H)
    attention_scores: tuple[Tensor, ...] | None  # num_layers tensors (B, h_l, L, L)


class Encoder(nn.Module):
    """Embeddings and a stack of :class:`EncoderLayer` with per-layer head counts and FFN widths."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.layers = nn.ModuleList(
            EncoderLayer(config, h, width)
            for h, width in zip(config.layer_heads, config.layer_intermediate_sizes, strict=True)
        )

    def _check_arguments(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        skip_layers: Sequence[int] | None,
        head_gates: Sequence[Tensor | None] | None,
    ) -> set[int]:
        num_layers = len(self.layers)
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be (batch, seq_length), got shape {tuple(input_ids.shape)}")
        if attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"attention_mask shape {tuple(attention_mask.shape)} must equal input_ids shape "
                f"{tuple(input_ids.shape)}"
            )
        if input_ids.shape[1] > self.config.max_position_embeddings:
            raise UserInputError(
                f"sequence length {input_ids.shape[1]} exceeds max_position_embeddings "
                f"({self.config.max_position_embeddings})"
            )
        skip = set()
        for i in skip_layers or ():
            if not is_int(i) or not 0 <= i < num_layers:
                raise ValueError(f"skip_layers entry {i!r}: allowed are layer indices 0..{num_layers - 1}")
            skip.add(i)
        if head_gates is not None:
            if len(head_gates) != num_layers:
                raise ValueError(
                    f"head_gates has {len(head_gates)} entries; give one (heads_l,) tensor (or None) "
                    f"for each of the {num_layers} layers"
                )
            for i, (gate, layer) in enumerate(zip(head_gates, self.layers, strict=True)):
                if gate is not None and tuple(gate.shape) != (layer.num_heads,):
                    raise ValueError(
                        f"head_gates[{i}] has shape {tuple(gate.shape)}; layer {i} has "
                        f"{layer.num_heads} heads, so the shape must be ({layer.num_heads},)"
                    )
        return skip

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        token_type_ids: Tensor | None = None,
        length_config: LengthConfig | None = None,
        skip_layers: Sequence[int] | None = None,
        head_gates: Sequence[Tensor | None] | None = None,
        output_hidden_states: bool = False,
        output_attention_scores: bool = False,
        token_selection: TokenSelection = "real_queries",
    ) -> EncoderOutput:
        """Encode a batch; see :meth:`lit_distill.models.QAModel.forward` for the arguments.

        ``length_config`` is trusted: :meth:`~lit_distill.models.QAModel.forward` checks it.
        """
        skip = self._check_arguments(input_ids, attention_mask, skip_layers, head_gates)
        if output_attention_scores and skip:
            raise ValueError(
                "output_attention_scores is not defined for skipped layers; "
                "use skip_layers=None when asking for attention scores"
            )
        valid = attention_mask.bool()  # (B, n), n shrinks when tokens are dropped
        real_lengths = valid.sum(dim=1)  # (B,)
        padded = not bool(valid.all())  # without padding, attention runs unmasked (faster)
        if length_config is not None and bool((real_lengths == 0).any()):
            raise ValueError(
                "attention_mask has a row without real tokens; Drop-and-Restore needs at least [CLS]"
            )
        queries = None  # (B, n) query rows whose attention selects the kept tokens
        if length_config is not None:
            queries = valid if token_selection == "real_queries" else torch.ones_like(valid)

        x = self.embeddings(input_ids, token_type_ids)  # (B, L, H)
        hidden: list[Tensor] = [x]
        scores_out: list[Tensor] = []
        kept: KeptTokens | None = None  # set once tokens are dropped (models/length.py)

        layers = cast(list[EncoderLayer], list(self.layers))
        for i, layer in enumerate(layers):
            if i in skip:
                hidden.append(hidden[-1])
                continue
            gate = head_gates[i] if head_gates is not None else None
            att = layer.attend(
                x,
                valid if padded else None,
                gate,
                need_scores=output_attention_scores,
                received_from=queries,
                received_after_dropout=token_selection != "real_queries",  # LAT's rules, as LAT
            )
            if att.scores is not None:
                scores_out.append(att.scores if kept is None else scatter_scores(att.scores, kept))
            context, received = att.context, att.received
            del att  # the (B, h, n, n) scores are not needed past this point
            if length_config is not None and received is not None:
                if kept is None:
                    kept = start_keeping(x, attention_mask, token_selection)
                x, context, kept = drop_tokens(
                    kept, x, context, received, length_config[i], real_lengths, token_selection
                )
                valid, queries = kept.valid, kept.queries
                padded = not bool(valid.all())
            x = layer.attention_output(x, context)
            del context  # (B, n, h*dh): not needed by the feed-forward block
            x = layer.feed_forward(x)
            if output_hidden_states:
                hidden.append(x if kept is None else restore(kept, x))

        return EncoderOutput(
            last_hidden_state=x if kept is None else restore(kept, x),
            hidden_states=tuple(hidden) if output_hidden_states else None,
            attention_scores=tuple(scores_out) if output_attention_scores else None,
        )
