"""validate/test of a trained checkpoint does not warn about the encoder's random QA head (#29 item 9)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lit_distill.modules import Teacher
from lit_distill.modules.load_messages import held_log_records, release
from tests.modules.conftest import SEQ, trainer

RANDOM_HEAD = "initialised randomly"


@pytest.fixture
def encoder_dir(tmp_path: Path, datamodule: Callable[..., Any]) -> Path:
    """A Hugging Face ``BertModel`` directory: an encoder without a QA head, as bert-base-uncased."""
    import torch
    from transformers import BertConfig, BertModel

    dm = datamodule()
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(dm.tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=SEQ,
    )
    path = tmp_path / "encoder"
    BertModel(config).save_pretrained(str(path))
    dm.tokenizer.save_pretrained(str(path))
    return path


def test_held_records_are_dropped_or_released(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("tests.held")
    with caplog.at_level(logging.WARNING), held_log_records(log) as held:
        log.warning("kept back")
    assert [r.getMessage() for r in held] == ["kept back"] and "kept back" not in caplog.text
    with caplog.at_level(logging.WARNING):
        release(held)
    assert "kept back" in caplog.text


def test_validate_with_a_checkpoint_does_not_warn_of_a_random_qa_head(
    tmp_path: Path, datamodule: Callable[..., Any], encoder_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lit_distill"):
        fit = trainer(tmp_path, max_steps=1, limit_val_batches=0)
        fit.fit(Teacher(model=str(encoder_dir), learning_rate=1e-3), datamodule=datamodule())
    assert RANDOM_HEAD in caplog.text  # a fresh fit starts from the random head: said once
    ckpt = tmp_path / "trained.ckpt"
    fit.save_checkpoint(ckpt)

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lit_distill"):
        trainer(tmp_path, limit_val_batches=1).validate(
            Teacher(model=str(encoder_dir)), datamodule=datamodule(), ckpt_path=str(ckpt), verbose=False
        )
    assert RANDOM_HEAD not in caplog.text  # the checkpoint's trained head replaced it

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lit_distill"):  # no checkpoint: the warning is true
        trainer(tmp_path, limit_val_batches=1).validate(
            Teacher(model=str(encoder_dir)), datamodule=datamodule(), verbose=False
        )
    assert RANDOM_HEAD in caplog.text
