"""``EncoderConfig``: everything needed to rebuild an encoder, pruned or shortened ones included."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lit_distill.checks import UserInputError, is_int

Layout = Literal["bert", "distilbert"]
Activation = Literal["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"]

LAYOUTS: tuple[str, ...] = ("bert", "distilbert")
ACTIVATIONS: tuple[str, ...] = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")


@dataclass
class EncoderConfig:
    """Shape and behaviour of a BERT-family encoder with a span (QA) head.

    The names follow Hugging Face's ``BertConfig`` where a counterpart exists.
    A pruned model records its per-layer head counts in ``heads_per_layer`` and its
    per-layer feed-forward widths in ``intermediate_per_layer``; a shortened model simply has a smaller ``num_hidden_layers``. The config is
    saved as JSON next to the weights (:meth:`to_json_file`,
    :meth:`from_json_file`).

    Args:
        vocab_size: Number of WordPiece ids.
        hidden_size: Model width H.
        num_hidden_layers: Number of transformer layers.
        num_attention_heads: Heads of the unpruned model; fixes the head size
            ``hidden_size // num_attention_heads``.
        heads_per_layer: Heads kept in each layer (after pruning). ``None`` means
            ``num_attention_heads`` everywhere.
        intermediate_size: Width of the feed-forward block of the unpruned model (the
            largest a layer may have).
        intermediate_per_layer: Feed-forward width (neurons kept) of each layer after FFN
            pruning. ``None`` means ``intermediate_size`` everywhere.
        hidden_act: Feed-forward activation (one of ``ACTIVATIONS``).
        max_position_embeddings: Longest supported sequence.
        type_vocab_size: Number of segment ids; 0 for DistilBERT (no segment embeddings).
        layer_norm_eps: LayerNorm epsilon.
        hidden_dropout_prob: Dropout after embeddings, attention output and feed-forward.
        attention_probs_dropout_prob: Dropout on attention probabilities.
        qa_dropout_prob: Dropout before the span head (DistilBERT's ``qa_dropout``; BERT has none).
        initializer_range: Standard deviation of the random initialisation.
        pad_token_id: Row of the word embeddings zeroed at random initialisation.
        layout: ``"bert"`` or ``"distilbert"``: which Hugging Face naming the weights came from.
        sinusoidal_position_embeddings: DistilBERT's fixed sinusoidal positions (random init only).
        source: Name or directory the model was converted from (used to find its tokenizer).
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    heads_per_layer: list[int] | None = None
    intermediate_size: int = 3072
    intermediate_per_layer: list[int] | None = None
    hidden_act: Activation = "gelu"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    qa_dropout_prob: float = 0.0
    initializer_range: float = 0.02
    pad_token_id: int = 0
    layout: Layout = "bert"
    sinusoidal_position_embeddings: bool = False
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
        ):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise UserInputError(f"EncoderConfig.{name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_attention_heads != 0:
            raise UserInputError(
                f"EncoderConfig.hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.type_vocab_size < 0:
            raise UserInputError(f"EncoderConfig.type_vocab_size must be >= 0, got {self.type_vocab_size}")
        if self.hidden_act not in ACTIVATIONS:
            raise UserInputError(
                f"EncoderConfig.hidden_act={self.hidden_act!r}; allowed: {', '.join(ACTIVATIONS)}"
            )
        if self.layout not in LAYOUTS:
            raise UserInputError(f"EncoderConfig.layout={self.layout!r}; allowed: {', '.join(LAYOUTS)}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "qa_dropout_prob"):
            p = getattr(self, name)
            if not 0.0 <= p < 1.0:
                raise UserInputError(f"EncoderConfig.{name} must be in [0, 1), got {p!r}")
        if self.heads_per_layer is not None:
            heads = list(self.heads_per_layer)
            if len(heads) != self.num_hidden_layers:
                raise UserInputError(
                    f"EncoderConfig.heads_per_layer has {len(heads)} entries but num_hidden_layers is "
                    f"{self.num_hidden_layers}; give one head count per layer"
                )
            for i, h in enumerate(heads):
                if not is_int(h) or not 1 <= h <= self.num_attention_heads:
                    raise UserInputError(
                        f"EncoderConfig.heads_per_layer[{i}]={h!r}; allowed: an integer in "
                        f"[1, {self.num_attention_heads}] (a layer keeps at least one head)"
                    )
            self.heads_per_layer = heads
        if self.intermediate_per_layer is not None:
            sizes = list(self.intermediate_per_layer)
            if len(sizes) != self.num_hidden_layers:
                raise UserInputError(
                    f"EncoderConfig.intermediate_per_layer has {len(sizes)} entries but num_hidden_layers is "
                    f"{self.num_hidden_layers}; give one feed-forward width per layer"
                )
            for i, size in enumerate(sizes):
                if (
                    isinstance(size, bool)
                    or not isinstance(size, int)
                    or not 1 <= size <= self.intermediate_size
                ):
                    raise UserInputError(
                        f"EncoderConfig.intermediate_per_layer[{i}]={size!r}; allowed: an integer in "
                        f"[1, {self.intermediate_size}] (a layer keeps at least one feed-forward neuron)"
                    )
            self.intermediate_per_layer = sizes

    @property
    def attention_head_size(self) -> int:
        """Width of one attention head (fixed by the unpruned head count)."""
        return self.hidden_size // self.num_attention_heads

    @property
    def layer_heads(self) -> list[int]:
        """Number of heads in each layer (``heads_per_layer`` or the unpruned count)."""
        if self.heads_per_layer is None:
            return [self.num_attention_heads] * self.num_hidden_layers
        return list(self.heads_per_layer)

    @property
    def layer_intermediate_sizes(self) -> list[int]:
        """Feed-forward width of each layer (``intermediate_per_layer`` or ``intermediate_size``)."""
        if self.intermediate_per_layer is None:
            return [self.intermediate_size] * self.num_hidden_layers
        return list(self.intermediate_per_layer)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dictionary of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderConfig:
        """Build from :meth:`to_dict` output; unknown keys are an error naming the allowed ones."""
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise UserInputError(f"unknown EncoderConfig keys {unknown}; allowed: {sorted(allowed)}")
        return cls(**data)

    def to_json_file(self, path: str | Path) -> None:
        """Write the config as indented JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def from_json_file(cls, path: str | Path) -> EncoderConfig:
        """Read a config written by :meth:`to_json_file`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise UserInputError(f"{path}: not valid JSON ({err})") from err
        if not isinstance(data, dict):
            raise UserInputError(f"{path}: expected a JSON object, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as err:
            raise UserInputError(f"{path}: {err}") from err
