"""Hugging Face wrapper of a lit_distill QA model (written next to the weights by ``lit_distill export``).

Loaded by ``AutoModelForQuestionAnswering.from_pretrained(DIR, trust_remote_code=True)``:
the encoder (per-layer head counts, Drop-and-Restore) lives in ``lit_distill_encoder.py``,
copied from lit_distill; the default length configuration is ``config.length_config``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import QuestionAnsweringModelOutput

from .lit_distill_config import EncoderConfig
from .lit_distill_encoder import Encoder
from .lit_distill_length import check_length_config


class LitDistillQAConfig(PretrainedConfig):
    """The lit_distill encoder's configuration plus a default length configuration."""

    model_type = "lit_distill_qa"

    def __init__(
        self,
        encoder: dict[str, Any] | None = None,
        length_config: list[int] | list[float] | None = None,
        **kwargs: Any,
    ) -> None:
        self.encoder = dict(encoder or {})
        self.length_config = None if length_config is None else list(length_config)
        shape = EncoderConfig.from_dict(self.encoder) if self.encoder else EncoderConfig()
        self.hidden_size = shape.hidden_size
        self.num_hidden_layers = shape.num_hidden_layers
        self.num_attention_heads = shape.num_attention_heads
        self.vocab_size = shape.vocab_size
        self.max_position_embeddings = shape.max_position_embeddings
        super().__init__(**kwargs)


class LitDistillForQuestionAnswering(PreTrainedModel):
    """Span head on the lit_distill encoder; the same weights and names as lit_distill's QAModel."""

    config_class = LitDistillQAConfig
    base_model_prefix = "lit_distill"
    main_input_name = "input_ids"

    def __init__(self, config: LitDistillQAConfig) -> None:
        super().__init__(config)
        self.encoder = Encoder(EncoderConfig.from_dict(config.encoder))
        self.qa_outputs = nn.Linear(self.encoder.config.hidden_size, 2)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Weights come from the checkpoint; nothing to initialise."""

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        length_config: list[int] | list[float] | None = None,
        **kwargs: Any,
    ) -> QuestionAnsweringModelOutput:
        """(B, L) inputs -> (B, L) start and end logits, with the configured Drop-and-Restore."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        lengths = self.config.length_config if length_config is None else length_config
        if lengths is not None:  # the encoder trusts its length configuration: check it here
            lengths = check_length_config(lengths, len(self.encoder.layers), int(input_ids.shape[-1]))
        out = self.encoder(input_ids, attention_mask, token_type_ids=token_type_ids, length_config=lengths)
        start, end = self.qa_outputs(out.last_hidden_state).unbind(dim=-1)  # (B, L) each
        return QuestionAnsweringModelOutput(start_logits=start.contiguous(), end_logits=end.contiguous())
