"""Drop-and-Restore: length configurations, their one validator, token selection and restoring.

A *length configuration* gives, for every layer, how many tokens that layer
passes on to the next one (LAT, Kim & Cho 2021; Dynamic-TinyBERT, Guskin et
al. 2021). It is either a list of absolute token counts (``int``) or a list of
ratios of each sequence's real (unpadded) length (``float`` in (0, 1]). It must
be non-increasing. :func:`check_length_config` is the one validator: every place
where a configuration enters (a module's or callback's arguments, a command-line
flag, :meth:`~lit_distill.models.QAModel.forward`) calls it once; the encoder
trusts what it is given.

A layer keeps the tokens that received the most attention. Two rules
(:data:`TokenSelection`):

* ``"real_queries"`` (default): attention probabilities summed over heads and the
  *real* queries; [CLS] (position 0) is always kept; padding never takes a slot.
* ``"lat"``: LAT's rule in its SQuAD 1.1 runs: summed over heads and *all* query
  positions, padding included (LAT pads every input to a fixed length); [CLS] may be
  dropped; a layer keeps exactly its length in slots, padding filling those a short
  sequence cannot. ``"lat_keep_cls"`` is the same with [CLS] always kept (LAT's default).

The bookkeeping of the encoder's layer loop lives here too: :class:`KeptTokens`
(which original position every current row holds, and the latest vector of every
position), :func:`start_keeping`, :func:`drop_tokens` and :func:`restore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from lit_distill.checks import UserInputError, is_int, is_real

LengthConfig = list[int] | list[float]
"""A checked length configuration: all token counts or all ratios (see :func:`check_length_config`)."""

TokenSelection = Literal["real_queries", "lat", "lat_keep_cls"]
"""How a layer chooses the tokens it keeps (see the module docstring)."""

TOKEN_SELECTIONS: tuple[str, ...] = ("real_queries", "lat", "lat_keep_cls")


def check_token_selection(value: object, name: str = "token_selection") -> TokenSelection:
    """``value`` if it names a :data:`TokenSelection`, else a UserInputError listing the choices."""
    if value not in TOKEN_SELECTIONS:
        raise UserInputError(f"{name}={value!r}; allowed: {', '.join(TOKEN_SELECTIONS)}")
    return value  # type: ignore[return-value]


def is_token_counts(values: Sequence[int | float]) -> bool:
    """True when a configuration gives token counts: every entry is integral, and they are
    Python ints or at least one exceeds 1 (``[256.0, 192.0]`` is counts; ``[1.0, 0.8]`` and
    ``[1.0, 1.0]`` are ratios). YAML and command-line parsers may hand over ``256`` as ``256.0``
    (e.g. in a list that also holds ratio configurations), so the type alone cannot decide.
    """
    if not all(float(v).is_integer() for v in values):
        return False
    return all(isinstance(v, int) for v in values) or max(values) > 1


def check_length_config(
    config: object,
    num_layers: int | None = None,
    max_length: int | None = None,
    name: str = "length_config",
    limit_name: str = "the input length",
) -> LengthConfig:
    """Validate a length configuration and return it as a list of ints or a list of floats.

    Args:
        config: One entry per layer: token counts (integral values, ``256`` or ``256.0``)
            or ratios in (0, 1] of each sequence's real length, non-increasing.
        num_layers: The model's layer count, checked when given.
        max_length: The longest input (a data module's ``max_seq_length``, a benchmark's
            sequence length), checked against token counts when given.
        name: The parameter name used in error messages.
        limit_name: What ``max_length`` is, for error messages.

    Returns:
        The configuration as a list.

    Raises:
        UserInputError: naming ``name``, the bad value and what is allowed.
    """
    if isinstance(config, (str, bytes)) or not isinstance(config, Sequence):
        raise UserInputError(
            f"{name} must be a list of per-layer lengths (ints) or ratios (floats in (0, 1]), got {config!r}"
        )
    values = list(config)
    if not values:
        raise UserInputError(f"{name} is empty; give one length (or ratio) per layer")
    if num_layers is not None and len(values) != num_layers:
        raise UserInputError(
            f"{name}={values} has {len(values)} entries but the model has {num_layers} layers; "
            "give one length per layer"
        )
    for i, v in enumerate(values):
        if not is_real(v):
            raise UserInputError(f"{name}[{i}]={v!r}: allowed are ints (token counts) or floats (ratios)")
    out: LengthConfig
    if is_token_counts(values):
        out = [int(v) for v in values]
        for i, v in enumerate(out):
            if v < 1:
                bounds = ">= 1" if max_length is None else f"in [1, {max_length}]"
                raise UserInputError(
                    f"{name}[{i}]={v}: absolute lengths must be {bounds} (every layer keeps a token)"
                )
        if max_length is not None and max(out) > max_length:
            raise UserInputError(
                f"{name}={out} has lengths above {limit_name}={max_length}; absolute lengths must be "
                f"in [1, {max_length}] (<= {limit_name} {max_length}), or give ratios in (0, 1]"
            )
    elif any(isinstance(v, int) for v in values):
        raise UserInputError(
            f"{name}={values} mixes ints (token counts) and floats (ratios in (0, 1]); use one kind for all layers"
        )
    else:
        out = [float(v) for v in values]
        bad = next((i for i, v in enumerate(out) if not 0.0 < v <= 1.0), None)
        if bad is not None:
            raise UserInputError(
                f"{name}[{bad}]={out[bad]}: ratios must be in (0, 1]; "
                "give all ints for token counts, all floats for ratios"
            )
    for i in range(1, len(out)):
        if out[i] > out[i - 1]:
            raise UserInputError(
                f"{name}={out} increases at layer {i} ({out[i - 1]} -> {out[i]}); lengths must be "
                "non-increasing (a layer must not increase the length it is given)"
            )
    return out


def fit_to_width(length_config: LengthConfig, width: int) -> LengthConfig:
    """Clamp absolute lengths to a batch's padded width ``width``; ratios are returned unchanged.

    A batch padded to its longest feature can be narrower than the ``max_seq_length`` a
    length configuration was written for (e.g. ``[320, 256, ...]`` for 384 tokens); a
    count at or above the width keeps every token, as it would in a full-width batch.
    Clamping keeps the configuration non-increasing.
    """
    if length_config and all(is_int(v) for v in length_config):
        return [min(int(v), width) for v in length_config]
    return list(length_config)


def tokens_to_keep(length: int | float, real_lengths: Tensor) -> Tensor:
    """Per-sequence number of real tokens a layer keeps.

    Args:
        length: An absolute count (``int``) or a ratio of the real length (``float``).
        real_lengths: (B,) long, number of real tokens of each sequence.

    Returns:
        (B,) long, at least 1 and at most the real length.
    """
    if isinstance(length, int):
        counts = real_lengths.clamp(max=length)
    else:
        counts = torch.ceil(real_lengths.to(torch.float64) * length).to(torch.long)
    return counts.clamp(min=1)


def received_attention(probs: Tensor, queries: Tensor) -> Tensor:
    """Attention each key receives from ``queries``, summed over heads and those queries.

    Args:
        probs: (B, h, n, n) post-softmax attention probabilities (query, key); ``h`` may be a
            subset of a layer's heads (sums over head chunks add up).
        queries: (B, n) bool, the query rows that count (the real tokens, or every slot for LAT).

    Returns:
        (B, n) float, no gradient (selection is discrete).
    """
    rows = queries[:, None, None, :].to(probs.dtype)  # (B, 1, 1, n)
    return torch.matmul(rows, probs.detach()).sum(dim=(1, 2))  # (B, h, 1, n) -> (B, n)


def mark_significance(received: Tensor, valid: Tensor, keep_cls: bool = True) -> Tensor:
    """Significance from received attention: -inf for invalid tokens, +inf for [CLS] when kept.

    Args:
        received: (B, n) from :func:`received_attention`.
        valid: (B, n) bool, real (kept, non-padding) tokens.
        keep_cls: Mark index 0 (where [CLS] stays while it is kept) +inf.

    Returns:
        (B, n) float: -inf for invalid tokens (padding never wins, not even at index 0),
        +inf for [CLS] at index 0 when ``keep_cls`` and it is a real token.
    """
    received = received.clone()
    if keep_cls:
        received[:, 0] = float("inf")  # [CLS]
    return received.masked_fill(~valid, float("-inf"))


def significance(probs: Tensor, valid: Tensor) -> Tensor:
    """The default rule on one layer's probabilities: real queries, [CLS] kept.

    Args:
        probs: (B, h, n, n) post-softmax attention probabilities (query, key).
        valid: (B, n) bool, real (kept, non-padding) tokens.

    Returns:
        (B, n) float: -inf for invalid tokens, +inf for [CLS] at index 0 (when it is a real token).
    """
    return mark_significance(received_attention(probs, valid), valid)


def select_tokens(scores: Tensor, counts: Tensor, positions: Tensor, width: int = 0) -> tuple[Tensor, Tensor]:
    """Indices of the tokens to keep, in original order, and which slots are real.

    The output has ``max(max(counts), min(width, n))`` slots per sequence; a sequence that
    keeps fewer real tokens has its trailing slots marked invalid (they behave as padding).

    Args:
        scores: (B, n) significance; invalid tokens must be -inf.
        counts: (B,) long, real tokens to keep per sequence.
        positions: (B, n) long, original position of each current token.
        width: Least number of slots (LAT keeps exactly its length, padding included).

    Returns:
        ``(index, valid)``: (B, k) long indices into the current n tokens and (B, k) bool.
    """
    k = max(int(counts.max()), min(width, scores.shape[1]))
    order = scores.topk(k, dim=1).indices  # (B, k), most significant first
    rank = torch.arange(k, device=scores.device)
    valid = rank[None, :] < counts[:, None]  # (B, k)
    return in_original_order(order, valid, positions)


def in_original_order(order: Tensor, valid: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
    """Kept slots rearranged into original token order, every invalid slot after every valid one.

    Args:
        order: (B, k) indices into the current tokens, most significant first.
        valid: (B, k) bool, which of those slots hold a real kept token.
        positions: (B, n) long, original position of each current token.

    Returns:
        ``(index, valid)``: (B, k) indices and (B, k) bool, rearranged alike.
    """
    original = positions.gather(1, order)  # (B, k)
    # an offset above every original position puts the invalid slots last, whatever layer this is
    sort_key = original + (~valid).to(original.dtype) * (original.max() + 1)
    perm = sort_key.argsort(dim=1)
    return order.gather(1, perm), valid.gather(1, perm)


@dataclass
class KeptTokens:
    """Where the encoder's current rows come from, while tokens are being dropped.

    Attributes:
        positions: (B, n) long, original position of each current row; ``L`` (a scratch
            row of ``full``) for an invalid slot.
        valid: (B, n) bool, rows that hold a real, kept token (the attention's key mask).
        queries: (B, n) bool, rows whose attention counts for the next selection.
        padding: (B, n) bool, rows that hold one of the input's padding tokens.
        full: (B, L + 1, H), the latest vector of every position (dropped ones keep theirs).
    """

    positions: Tensor
    valid: Tensor
    queries: Tensor
    padding: Tensor
    full: Tensor


def start_keeping(x: Tensor, attention_mask: Tensor, selection: TokenSelection) -> KeptTokens:
    """The state before any token is dropped: ``x`` (B, L, H) embeddings, (B, L) mask."""
    batch, seq_length, hidden = x.shape
    valid = attention_mask.bool()
    return KeptTokens(
        positions=torch.arange(seq_length, device=x.device).expand(batch, seq_length),
        valid=valid,
        queries=valid if selection == "real_queries" else torch.ones_like(valid),
        padding=~valid,
        full=torch.cat([x, x.new_zeros(batch, 1, hidden)], dim=1),
    )


def drop_tokens(
    kept: KeptTokens,
    x: Tensor,
    context: Tensor,
    received: Tensor,
    length: int | float,
    real_lengths: Tensor,
    selection: TokenSelection,
) -> tuple[Tensor, Tensor, KeptTokens]:
    """Keep the most significant tokens of one layer.

    Args:
        kept: The state before this layer.
        x: (B, n, H) the layer's input rows.
        context: (B, n, h*dh) the layer's attention output before its projection.
        received: (B, n) attention each row received from ``kept.queries``.
        length: This layer's entry of the length configuration.
        real_lengths: (B,) long, real tokens of each input sequence.
        selection: The :data:`TokenSelection` rule.

    Returns:
        ``(x, context, kept)`` for the k kept slots: (B, k, H), (B, k, h*dh) and the new state.
    """
    seq_length = kept.full.shape[1] - 1
    full = write_rows(kept.full, kept.positions, x)  # tokens dropped now keep this vector
    counts = tokens_to_keep(length, real_lengths)  # (B,)
    scores = mark_significance(received, kept.valid, keep_cls=selection != "lat")
    width = length if selection != "real_queries" and isinstance(length, int) else 0
    index, valid = select_tokens(scores, counts, kept.positions, width)  # (B, k)
    padding = kept.padding.gather(1, index)  # (B, k) slots filled with the input's padding
    queries = valid if selection == "real_queries" else valid | padding
    positions = kept.positions.gather(1, index).masked_fill(~valid, seq_length)
    new = KeptTokens(positions=positions, valid=valid, queries=queries, padding=padding, full=full)
    return gather_rows(x, index), gather_rows(context, index), new


def restore(kept: KeptTokens, x: Tensor) -> Tensor:
    """(B, k, H) rows of the kept tokens -> (B, L, H), dropped tokens at their last vector."""
    return write_rows(kept.full, kept.positions, x)[:, : kept.full.shape[1] - 1]


def gather_rows(x: Tensor, index: Tensor) -> Tensor:
    """(B, n, D) rows at (B, k) row indices -> (B, k, D).

    Advanced indexing copies whole rows; ``gather`` with an index expanded to (B, k, D)
    reads one index per element, which is slower on CPU.
    """
    rows = torch.arange(x.shape[0], device=x.device)[:, None]  # (B, 1)
    return x[rows, index]


def write_rows(full: Tensor, positions: Tensor, x: Tensor) -> Tensor:
    """Copy of ``full`` (B, L + 1, H) with the rows of ``x`` (B, k, H) written at ``positions`` (B, k).

    Padding slots all point at the scratch row L, which is never read. A clone and a row
    write rather than ``scatter`` with an index expanded to every element (slower on CPU).
    """
    out = full.clone()
    out[torch.arange(full.shape[0], device=full.device)[:, None], positions] = x
    return out


def scatter_scores(scores: Tensor, kept: KeptTokens) -> Tensor:
    """(B, h, k, k) scores of kept tokens -> (B, h, L, L), zero where a token was dropped."""
    batch, heads, k, _ = scores.shape
    size = kept.full.shape[1]  # L + 1: invalid slots point at the scratch row/column L
    positions, valid = kept.positions, kept.valid
    keep = valid[:, None, :, None] & valid[:, None, None, :]  # (B, 1, k, k)
    scores = scores.masked_fill(~keep, 0.0)
    cols = positions[:, None, None, :].expand(batch, heads, k, k)
    wide = scores.new_zeros(batch, heads, k, size).scatter(3, cols, scores)  # (B, h, k, L + 1)
    rows = positions[:, None, :, None].expand(batch, heads, k, size)
    square = scores.new_zeros(batch, heads, size, size).scatter(2, rows, wide)
    return square[:, :, : size - 1, : size - 1]
