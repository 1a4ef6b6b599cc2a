"""Tiny synthetic data and tiny random models shared by the module tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest

from lit_distill.data import SquadDataModule, SyntheticSquad
from lit_distill.models.config import EncoderConfig
from lit_distill.models.qa_model import QAModel

SEQ = 64


def tiny_config(vocab_size: int, layers: int = 2, hidden: int = 32, heads: int = 2) -> EncoderConfig:
    return EncoderConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=2 * hidden,
        max_position_embeddings=SEQ,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cache directory holding the synthetic data and its features (built once per session)."""
    path = tmp_path_factory.mktemp("data")
    make_datamodule(path).prepare_data()
    return path


def make_datamodule(cache_dir: Path, **overrides: Any) -> SquadDataModule:
    kwargs: dict[str, Any] = dict(
        source=SyntheticSquad(train_size=48, dev_size=12, search_size=6),
        max_seq_length=SEQ,
        doc_stride=32,
        batch_size=8,
        eval_batch_size=16,
        cache_dir=str(cache_dir),
    )
    kwargs.update(overrides)
    return SquadDataModule(**kwargs)


@pytest.fixture
def datamodule(data_dir: Path) -> Callable[..., SquadDataModule]:
    return lambda **kw: make_datamodule(data_dir, **kw)


@pytest.fixture(scope="session")
def teacher_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 4-layer teacher saved with the synthetic tokenizer (QAModel.save layout)."""
    import torch

    dm = make_datamodule(data_dir)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("teacher")
    QAModel(tiny_config(len(dm.tokenizer), layers=4)).save(path, tokenizer=dm.tokenizer)
    return path


def trainer(tmp_path: Path, **kwargs: Any) -> pl.Trainer:
    defaults: dict[str, Any] = dict(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )
    defaults.update(kwargs)
    return pl.Trainer(**defaults)
