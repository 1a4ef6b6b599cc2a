"""Tiny random models, Hugging Face checkpoints and batches for the model tests."""

from __future__ import annotations

import torch
from transformers import (
    BertConfig,
    BertForQuestionAnswering,
    BertModel,
    DistilBertConfig,
    DistilBertForQuestionAnswering,
    DistilBertModel,
)

from lit_distill.models import EncoderConfig, QAModel

VOCAB = 97


def tiny_bert_config(**kw: object) -> BertConfig:
    args: dict[str, object] = dict(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        attn_implementation="sdpa",
    )
    args.update(kw)
    return BertConfig(**args)


def tiny_distilbert_config(**kw: object) -> DistilBertConfig:
    args: dict[str, object] = dict(
        vocab_size=VOCAB, dim=32, n_layers=3, n_heads=4, hidden_dim=37, max_position_embeddings=64
    )
    args.update(kw)
    return DistilBertConfig(**args)


HF_CLASSES = {
    "BertForQuestionAnswering": (BertForQuestionAnswering, tiny_bert_config),
    "BertModel": (BertModel, tiny_bert_config),
    "DistilBertForQuestionAnswering": (DistilBertForQuestionAnswering, tiny_distilbert_config),
    "DistilBertModel": (DistilBertModel, tiny_distilbert_config),
}


def make_batch(batch: int = 3, length: int = 13, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random ids with [CLS]=2 first, ragged padding, two segments."""
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, VOCAB, (batch, length), generator=g)
    input_ids[:, 0] = 2
    attention_mask = torch.ones(batch, length, dtype=torch.long)
    for b in range(1, batch):
        attention_mask[b, length - 3 * b :] = 0
    input_ids[attention_mask == 0] = 0
    token_type_ids = torch.zeros(batch, length, dtype=torch.long)
    token_type_ids[:, length // 3 :] = 1
    token_type_ids[attention_mask == 0] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}


def tiny_model(num_layers: int = 3, heads: int = 4, seed: int = 0, **kw: object) -> QAModel:
    """A random-init QAModel in eval mode."""
    torch.manual_seed(seed)
    config = EncoderConfig(
        vocab_size=VOCAB,
        hidden_size=8 * heads,
        num_hidden_layers=num_layers,
        num_attention_heads=heads,
        intermediate_size=37,
        max_position_embeddings=64,
        **kw,  # type: ignore[arg-type]
    )
    return QAModel(config).eval()
