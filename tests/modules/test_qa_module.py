"""QAModule through the Teacher: training, metrics, predictions, checkpoints, the loss protocol."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch

from lit_distill.callbacks.base import LossContributor, loss_contributors
from lit_distill.losses import span_cross_entropy
from lit_distill.models.surgery import prune_heads
from lit_distill.modules import Teacher
from tests.modules.conftest import SEQ, trainer

SMALL = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=SEQ,
)


class ConstantExtra(pl.Callback):
    """Test-only LossContributor: adds 3.0 and records the base loss it was given."""

    def __init__(self) -> None:
        self.base: list[float] = []
        self.seen_forward_model = False

    def extra_loss(
        self, trainer: pl.Trainer, pl_module: Any, batch: dict[str, torch.Tensor], outputs: Any
    ) -> torch.Tensor:
        base = span_cross_entropy(
            outputs.start_logits, outputs.end_logits, batch["start_positions"], batch["end_positions"]
        )
        self.base.append(float(base.detach()))
        again = pl_module.forward_model(batch, skip_layers=[0])  # the hook a LengthDrop-like callback uses
        self.seen_forward_model = again.start_logits.shape == outputs.start_logits.shape
        return torch.tensor(3.0)


class Silent(pl.Callback):
    """Has no extra_loss: must be ignored by the protocol."""


def test_protocol_recognises_only_callbacks_with_extra_loss(tmp_path: Path) -> None:
    t = trainer(tmp_path, callbacks=[ConstantExtra(), Silent()])
    assert isinstance(ConstantExtra(), LossContributor) and not isinstance(Silent(), LossContributor)
    assert [type(c) for c in loss_contributors(t)] == [ConstantExtra]


def test_teacher_trains_logs_namespaced_metrics_and_adds_extra_losses(
    tmp_path: Path, datamodule: Callable[..., Any]
) -> None:
    extra = ConstantExtra()
    module = Teacher(model_config=SMALL, learning_rate=1e-3)
    t = trainer(
        tmp_path, limit_train_batches=2, limit_val_batches=1, callbacks=[extra], num_sanity_val_steps=0
    )
    t.fit(module, datamodule=datamodule())
    metrics = t.callback_metrics
    for key in ("val/exact", "val/f1", "val/HasAns_f1", "val/NoAns_f1", "val/best_f1", "train/loss"):
        assert key in metrics, sorted(metrics)
    assert float(metrics["train/extra_ConstantExtra"]) == 3.0
    # the returned loss is the module's own loss plus the callback's contribution
    assert float(metrics["train/loss"]) == pytest.approx(extra.base[-1] + 3.0, rel=1e-5)
    assert extra.seen_forward_model
    # vocab_size came from the data module's tokenizer
    assert module.model.config.vocab_size == len(t.datamodule.tokenizer)


def test_test_and_predict_write_official_json(tmp_path: Path, datamodule: Callable[..., Any]) -> None:
    module = Teacher(model_config=SMALL, predictions_dir=str(tmp_path / "preds"))
    dm = datamodule()
    t = trainer(tmp_path)
    t.test(module, datamodule=dm)
    answers = json.loads((tmp_path / "preds" / "predictions.json").read_text())
    null_odds = json.loads((tmp_path / "preds" / "null_odds.json").read_text())
    question_ids = {e.id for e in dm.examples("test")}  # SquadExample.id: every question answered
    assert set(answers) == set(null_odds) and answers
    assert set(answers) == question_ids
    assert all(isinstance(a, str) for a in answers.values())
    assert all(0.0 <= p <= 1.0 for p in null_odds.values())
    assert "test/exact" in t.callback_metrics
    (tmp_path / "preds" / "predictions.json").unlink()
    t.predict(module, datamodule=dm, return_predictions=False)
    assert json.loads((tmp_path / "preds" / "predictions.json").read_text()) == answers


def test_length_config_is_used_at_evaluation(datamodule: Callable[..., Any], tmp_path: Path) -> None:
    dm = datamodule()
    dm.prepare_data()
    dm.setup("validate")
    batch = next(iter(dm.val_dataloader()))
    full = Teacher(model_config={**SMALL, "vocab_size": len(dm.tokenizer)})
    full.build_model("validate")
    short = Teacher(model_config={**SMALL, "vocab_size": len(dm.tokenizer)}, length_config=[0.5, 0.25])
    short.model = full.model
    short.eval()
    expected = full.model(
        batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], length_config=[0.5, 0.25]
    )
    got = short._eval_logits(batch)
    assert torch.allclose(got.start_logits, expected.start_logits)
    plain = full._eval_logits(batch)
    assert not torch.allclose(got.start_logits, plain.start_logits)


def test_absolute_lengths_longer_than_a_batch_keep_all_its_tokens(datamodule: Callable[..., Any]) -> None:
    """Batches are padded to their longest feature; a length written for max_seq_length still applies."""
    dm = datamodule(eval_batch_size=2)
    dm.prepare_data()
    dm.setup("validate")
    batch = min(dm.val_dataloader(), key=lambda b: b["input_ids"].shape[1])
    width = batch["input_ids"].shape[1]
    assert width < SEQ  # the case: narrower than max_seq_length
    module = Teacher(model_config={**SMALL, "vocab_size": len(dm.tokenizer)}, length_config=[SEQ, width - 4])
    module.build_model("validate")
    module.eval()
    got = module._eval_logits(batch)
    expected = module.model(
        batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], length_config=[width, width - 4]
    )
    assert torch.equal(got.start_logits, expected.start_logits)


def test_length_config_above_max_seq_length_is_an_error_before_evaluating(
    datamodule: Callable[..., Any], tmp_path: Path
) -> None:
    dm = datamodule()
    module = Teacher(model_config={**SMALL, "vocab_size": len(dm.tokenizer)}, length_config=[SEQ + 1, 8])
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, default_root_dir=tmp_path)
    with pytest.raises(
        ValueError, match=rf"length_config=\[{SEQ + 1}, 8\] has lengths above the data's max_seq_length={SEQ}"
    ):
        trainer.validate(module, datamodule=dm)


class PrunedTeacher(Teacher):
    """Prunes head 1 of layer 0 right after building (before the optimiser exists), as a pruning run does."""

    def build_model(self, stage: str) -> None:
        super().build_model(stage)
        prune_heads(self.model, {0: [1]})


def test_checkpoint_of_a_head_pruned_model_reloads_and_resumes(
    tmp_path: Path, datamodule: Callable[..., Any]
) -> None:
    dm = datamodule()
    module = PrunedTeacher(model_config=SMALL)
    t = trainer(tmp_path, max_steps=1, limit_val_batches=0)
    t.fit(module, datamodule=dm)
    assert module.model.config.heads_per_layer == [1, 2]
    ckpt = tmp_path / "pruned.ckpt"
    t.save_checkpoint(ckpt)
    # a plain Teacher (which would build 2 heads per layer) takes the checkpoint's shape
    loaded = Teacher.load_from_checkpoint(ckpt)
    assert loaded.model.config.heads_per_layer == [1, 2]
    for (name, a), (_, b) in zip(
        module.model.state_dict().items(), loaded.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    # fit --ckpt_path resumes into the pruned shape, optimiser state included
    resumed = Teacher(model_config=SMALL)
    t2 = trainer(tmp_path, max_steps=3, max_epochs=5, limit_val_batches=0)
    t2.fit(resumed, datamodule=dm, ckpt_path=str(ckpt))
    assert resumed.model.config.heads_per_layer == [1, 2] and t2.global_step == 3


def test_export_dir_holds_a_loadable_model_with_tokenizer(
    tmp_path: Path, datamodule: Callable[..., Any]
) -> None:
    from lit_distill.models import QAModel, load_tokenizer

    module = Teacher(model_config=SMALL, export_dir=str(tmp_path / "export"))
    t = trainer(tmp_path, max_steps=1, limit_val_batches=0)
    t.fit(module, datamodule=datamodule())
    back = QAModel.from_pretrained(tmp_path / "export")
    assert back.config == module.model.config
    assert len(load_tokenizer(tmp_path / "export")) == len(t.datamodule.tokenizer)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(), "exactly one of model"),
        (dict(model="x/y/missing.ckpt"), "model='x/y/missing.ckpt': no such file"),
        (dict(model_config=SMALL, learning_rate=0.0), "learning_rate must be a finite number > 0"),
        (
            dict(model_config=SMALL, warmup_ratio=1.5),
            r"warmup_ratio must be a finite number in \[0, 1\), got 1\.5",
        ),
        (dict(model_config=SMALL, warmup_steps=-1), "warmup_steps must be an integer >= 0"),
    ],
)
def test_bad_teacher_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        Teacher(**kwargs)


def test_model_with_a_smaller_vocabulary_than_the_data_fails_before_training(
    tmp_path: Path, datamodule: Callable[..., Any]
) -> None:
    module = Teacher(model_config={**SMALL, "vocab_size": 50})
    t = trainer(tmp_path, max_steps=1)
    with pytest.raises(ValueError, match="embedding table has 50 rows"):
        t.fit(module, datamodule=datamodule())
    assert t.global_step == 0


@pytest.mark.parametrize(("from_zero", "first_lr"), [(False, 1e-3 / 3), (True, 0.0)])
def test_warmup_from_zero_reaches_the_trainer(
    tmp_path: Path, datamodule: Callable[..., Any], from_zero: bool, first_lr: float
) -> None:
    module = Teacher(model_config=SMALL, learning_rate=1e-3, warmup_steps=2, warmup_from_zero=from_zero)
    seen: list[float] = []

    class Record(pl.Callback):
        def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
            seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    t = trainer(tmp_path, max_steps=3, limit_val_batches=0, callbacks=[Record()], num_sanity_val_steps=0)
    t.fit(module, datamodule=datamodule())
    assert seen[0] == pytest.approx(first_lr) and seen[2] == pytest.approx(1e-3)


class GradNorms(pl.Callback):
    """Largest per-tensor gradient norm after each optimiser step (gradients are zeroed only before the next)."""

    def __init__(self) -> None:
        self.largest: list[float] = []
        self.lrs: list[float] = []

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, idx: int
    ) -> None:
        norms = [p.grad.norm().item() for p in pl_module.parameters() if p.grad is not None]
        self.largest.append(max(norms))
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.mark.parametrize("clip", [None, 1e-4])
def test_tinybert_s_optimiser_options_constant_rate_and_per_tensor_clipping(
    tmp_path: Path, datamodule: Callable[..., Any], clip: float | None
) -> None:
    seen = GradNorms()
    module = Teacher(
        model_config=SMALL, learning_rate=1e-3, lr_schedule="constant", clip_grad_per_tensor=clip
    )
    t = trainer(
        tmp_path, limit_train_batches=3, limit_val_batches=0, callbacks=[seen], num_sanity_val_steps=0
    )
    t.fit(module, datamodule=datamodule())
    assert seen.lrs == [1e-3] * 3  # no warm-up, no decay
    if clip is None:
        assert min(seen.largest) > 1e-3  # the untouched gradients are far larger than the bound below
    else:
        assert max(seen.largest) <= clip * (1 + 1e-4)


def test_a_wrong_schedule_or_clip_is_one_user_error() -> None:
    from lit_distill.user_errors import UserInputError

    with pytest.raises(UserInputError, match="lr_schedule"):
        Teacher(model_config=SMALL, lr_schedule="cosine")  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match="clip_grad_per_tensor"):
        Teacher(model_config=SMALL, clip_grad_per_tensor=0.0)
