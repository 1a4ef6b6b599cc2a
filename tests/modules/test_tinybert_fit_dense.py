"""TinyBERT's fit_dense: kept by the conversion and used as the ID projection when the widths match."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from transformers import BertConfig, BertForPreTraining

from lit_distill.models.convert import encoder_config_from_hf, fit_dense_from_hf, state_dict_from_hf
from lit_distill.modules import TinyBertStudent
from tests.modules.conftest import SEQ, trainer


def _general_tinybert(directory: Path, tokenizer: Any, student_width: int, teacher_width: int) -> dict:
    """A general-TinyBERT-style directory: BERT layout, no model_type, a top-level fit_dense."""
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=student_width,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * student_width,
        max_position_embeddings=SEQ,
    )
    torch.manual_seed(0)
    state = dict(BertForPreTraining(config).state_dict())
    fit_dense = {"weight": torch.randn(teacher_width, student_width), "bias": torch.randn(teacher_width)}
    state.update({f"fit_dense.{k}": v for k, v in fit_dense.items()})
    directory.mkdir()
    torch.save(state, directory / "pytorch_model.bin")
    raw = {k: v for k, v in config.to_dict().items() if k in BertConfig().to_dict()}
    raw.pop("model_type", None)
    (directory / "config.json").write_text(json.dumps(raw))
    tokenizer.save_pretrained(str(directory))
    return fit_dense


class _Projection(pl.Callback):
    """The ID projection as training starts (after setup, before any step)."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self.weight = pl_module.projection.weight.detach().clone()
        self.bias = pl_module.projection.bias.detach().clone()


def test_conversion_keeps_fit_dense(tmp_path: Path, datamodule: Callable[..., Any]) -> None:
    fit_dense = _general_tinybert(tmp_path / "general", datamodule().tokenizer, 16, 32)
    hf_state = torch.load(tmp_path / "general" / "pytorch_model.bin", weights_only=True)
    raw = json.loads((tmp_path / "general" / "config.json").read_text())
    _, _, report = state_dict_from_hf(hf_state, encoder_config_from_hf(raw))
    assert report.fit_dense.keys() == {"weight", "bias"}
    torch.testing.assert_close(report.fit_dense["weight"], fit_dense["weight"])
    with pytest.raises(ValueError, match="fit_dense must have"):
        fit_dense_from_hf({"fit_dense.weight": torch.zeros(4, 2)})


def test_id_projection_starts_from_fit_dense_when_widths_match(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    dm = datamodule()
    fit_dense = _general_tinybert(tmp_path / "general", dm.tokenizer, 16, 32)  # the teacher is 32 wide
    module = TinyBertStudent(teacher=str(teacher_dir), student=str(tmp_path / "general"))
    spy = _Projection()
    trainer(tmp_path, limit_train_batches=1, limit_val_batches=0, callbacks=[spy]).fit(module, datamodule=dm)
    torch.testing.assert_close(spy.weight, fit_dense["weight"])
    torch.testing.assert_close(spy.bias, fit_dense["bias"])
    assert module.projection is not None and module.projection.weight.requires_grad  # fine-tuned, as TinyBERT


def test_fit_dense_of_another_width_is_not_used(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    dm = datamodule()
    _general_tinybert(tmp_path / "general", dm.tokenizer, 16, 48)  # made for a 48-wide teacher
    module = TinyBertStudent(teacher=str(teacher_dir), student=str(tmp_path / "general"))
    spy = _Projection()
    with pytest.warns(UserWarning, match="fit_dense maps 16 -> 48"):
        trainer(tmp_path, limit_train_batches=1, limit_val_batches=0, callbacks=[spy]).fit(
            module, datamodule=dm
        )
    assert spy.weight.shape == (32, 16) and float(spy.bias.abs().sum()) == 0.0  # the random init
