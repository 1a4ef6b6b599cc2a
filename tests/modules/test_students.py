"""DistilBERT-style and TinyBERT-style students: building, teacher handling, cache, stages, bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from lit_distill.models.qa_model import QAModel
from lit_distill.modules import DistilBertStudent, TinyBertStudent
from lit_distill.user_errors import UserInputError
from tests.modules.conftest import tiny_config, trainer


def test_distilbert_student_from_teacher_layers_with_cached_logits(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    module = DistilBertStudent(teacher=str(teacher_dir), logit_cache_dir=str(cache), learning_rate=1e-3)
    t = trainer(tmp_path, limit_val_batches=1, num_sanity_val_steps=0)  # a whole epoch: the whole cache
    t.fit(module, datamodule=datamodule(batch_size=64))  # (few steps)
    original = QAModel.from_pretrained(teacher_dir)
    # student = teacher layers [0, 2] (every other layer); the teacher is frozen, in eval mode, unchanged
    assert module.model.config.num_hidden_layers == 2
    assert not module.teacher.training
    assert all(not p.requires_grad for p in module.teacher.parameters())
    for (name, a), b in zip(original.state_dict().items(), module.teacher.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert not any(k.startswith("teacher") for k in module.state_dict())  # not in the checkpoint
    for key in ("train/loss_kd", "train/loss_squad", "train/loss", "val/f1"):
        assert key in t.callback_metrics
    files = list(cache.glob("teacher-logits-*.pt"))
    assert len(files) == 1
    # cached logits equal the live teacher's on real tokens
    dm = datamodule()  # (the run's loader has finished its epoch)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    start, end = module.teacher_logits.lookup(
        batch["feature_index"], batch["input_ids"].size(1), torch.device("cpu")
    )
    live = module.teacher_forward(batch)
    real = batch["attention_mask"].bool()
    assert torch.allclose(start[real], live.start_logits[real], atol=1e-5)
    assert torch.allclose(end[real], live.end_logits[real], atol=1e-5)

    # a second run with the same teacher and data reuses the file (computing again would fail)
    def no_compute(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr("lit_distill.modules.student.compute_teacher_logits", no_compute)
    again = DistilBertStudent(teacher=str(teacher_dir), logit_cache_dir=str(cache))
    trainer(tmp_path, limit_train_batches=1, limit_val_batches=0).fit(again, datamodule=datamodule())
    assert again.teacher_logits is not None


def test_cache_and_live_teacher_give_the_same_loss(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    dm = datamodule(batch_size=64)  # (an epoch of few steps)
    cached = DistilBertStudent(teacher=str(teacher_dir), logit_cache_dir=str(tmp_path / "c"))
    trainer(tmp_path, limit_val_batches=0).fit(cached, datamodule=dm)  # an epoch: the cache is built up front
    assert cached.teacher_logits is not None and cached.teacher_logits.complete
    live = DistilBertStudent(teacher=str(teacher_dir), use_cache=False)
    live.model = cached.model
    fresh = datamodule()  # (the run's loader has finished its epoch)
    fresh.setup("fit")
    batch = next(iter(fresh.train_dataloader()))
    with torch.no_grad():
        a = cached.compute_loss(batch)[1]
        b = live.compute_loss(batch)[1]
    assert torch.allclose(a["loss"], b["loss"], atol=1e-5) and torch.allclose(
        a["loss_kd"], b["loss_kd"], atol=1e-5
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(temperature=0.0), "temperature must be a finite number > 0"),
        (dict(temperature=-2.0), "temperature must be a finite number > 0"),
        (dict(alpha_ce=-0.5), "alpha_ce must be a finite number >= 0"),
        (dict(alpha_ce=0.0, alpha_squad=0.0), "the loss weights sum to 0"),
        (dict(teacher="runs/none/teacher.ckpt"), "teacher='runs/none/teacher.ckpt': no such file"),
        (dict(student="./missing_student"), "student='./missing_student': no such file"),
        (dict(dropout=1.0), r"dropout=1.0: a dropout rate must be a number in \[0, 1\)"),
        (dict(attention_dropout=-0.1), r"attention_dropout=-0.1: a dropout rate must be"),
    ],
)
def test_bad_distilbert_arguments_fail_at_construction(
    kwargs: dict[str, Any], match: str, teacher_dir: Path
) -> None:
    with pytest.raises((UserInputError, FileNotFoundError), match=match):
        DistilBertStudent(**{"teacher": str(teacher_dir), **kwargs})


def test_student_dropout_options_set_the_students_rates_only(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    module = DistilBertStudent(teacher=str(teacher_dir), dropout=0.25, attention_dropout=0.05)
    trainer(tmp_path, max_steps=1, limit_val_batches=0).fit(module, datamodule=datamodule())
    student, teacher = module.model, module.teacher
    assert (student.config.hidden_dropout_prob, student.config.attention_probs_dropout_prob) == (0.25, 0.05)
    assert {layer.dropout.p for layer in student.encoder.layers} == {0.25}
    assert {layer.attn_dropout_p for layer in student.encoder.layers} == {0.05}
    assert student.encoder.embeddings.dropout.p == 0.25
    assert teacher.config.hidden_dropout_prob != 0.25  # the teacher keeps its own rates


def _fit_fails(module: Any, tmp_path: Path, dm: Any, match: str) -> None:
    t = trainer(tmp_path, max_steps=1)
    with pytest.raises(UserInputError, match=match):  # the user's configuration, not a bug: exit 2 on the CLI
        t.fit(module, datamodule=dm)
    assert t.global_step == 0


def test_layer_map_beyond_the_teacher_fails_before_training(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    module = DistilBertStudent(teacher=str(teacher_dir), student_layers=[0, 4])
    _fit_fails(module, tmp_path, datamodule(), r"references teacher layer 4, but the teacher has 4 layers")


def test_teacher_with_another_tokenizer_fails_before_training(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    from transformers import BertTokenizerFast

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *[f"w{i}" for i in range(40)]]))
    other = tmp_path / "other_teacher"
    QAModel.from_pretrained(teacher_dir).save(other, tokenizer=BertTokenizerFast(vocab_file=str(vocab)))
    _fit_fails(DistilBertStudent(teacher=str(other)), tmp_path, datamodule(), "use different tokenizers")


def test_student_with_another_vocabulary_fails_before_training(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    dm = datamodule()
    student = tmp_path / "student"
    QAModel(tiny_config(len(dm.tokenizer) + 7)).save(student)  # no tokenizer saved: caught by the vocab size
    _fit_fails(
        DistilBertStudent(teacher=str(teacher_dir), student=str(student)),
        tmp_path,
        dm,
        "the teacher's vocabulary has .* tokens but the student's has",
    )


def test_cosine_loss_needs_equal_widths(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    dm = datamodule()
    student = tmp_path / "narrow"
    QAModel(tiny_config(len(dm.tokenizer), hidden=16)).save(student, tokenizer=dm.tokenizer)
    module = DistilBertStudent(teacher=str(teacher_dir), student=str(student), alpha_cos=1.0)
    _fit_fails(module, tmp_path, dm, "teacher is 32 wide and the student 16")


class WeightsAtFitStart(Callback):
    """Keeps a copy of the student's weights as the first step will see them."""

    def __init__(self) -> None:
        self.state: dict[str, torch.Tensor] = {}

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.state = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}


def test_tinybert_intermediate_then_prediction(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    dm = datamodule()
    ckpt_dir = tmp_path / "id"
    idm = TinyBertStudent(teacher=str(teacher_dir), stage="intermediate", learning_rate=1e-3)
    t = trainer(
        tmp_path,
        limit_train_batches=2,
        limit_val_batches=0,
        enable_checkpointing=True,
        callbacks=[ModelCheckpoint(dirpath=ckpt_dir, save_last=True)],
    )
    t.fit(idm, datamodule=dm)
    for key in ("train/loss_embedding", "train/loss_hidden", "train/loss_attention"):
        assert float(t.callback_metrics[key]) > 0
    assert idm.projection is not None and (idm.projection.in_features, idm.projection.out_features) == (
        32,
        32,
    )
    assert all(not p.requires_grad for p in idm.model.qa_outputs.parameters())  # no ID loss reaches the head
    ckpt = torch.load(ckpt_dir / "last.ckpt", weights_only=False)
    assert ckpt["lit_distill"]["stage"] == "intermediate" and "projection.weight" in ckpt["state_dict"]

    pd = TinyBertStudent(
        teacher=str(teacher_dir),
        stage="prediction",
        student=str(ckpt_dir / "last.ckpt"),
        logit_cache_dir=str(tmp_path / "c"),
    )
    at_start = WeightsAtFitStart()
    t2 = trainer(tmp_path, limit_train_batches=2, limit_val_batches=0, callbacks=[at_start])
    t2.fit(pd, datamodule=dm)
    assert "train/loss_soft" in t2.callback_metrics and pd.projection is None
    # PD started from the ID weights: every tensor of the student before its first step is the
    # ID checkpoint's (not the teacher's layers, not a fresh init)
    assert pd.model.config == idm.model.config
    id_weights = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    assert at_start.state and set(at_start.state) == set(id_weights)
    for name, value in at_start.state.items():
        assert torch.equal(value, id_weights[name]), name


def test_prediction_stage_needs_an_intermediate_checkpoint(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    with pytest.raises(UserInputError, match="starts from the intermediate-distillation"):
        TinyBertStudent(teacher=str(teacher_dir), stage="prediction")
    wrong = TinyBertStudent(teacher=str(teacher_dir), stage="prediction", student=str(teacher_dir))
    _fit_fails(
        wrong,
        tmp_path,
        datamodule(),
        "needs student to be the checkpoint of an intermediate-distillation run",
    )
    with pytest.raises(
        UserInputError, match="stage must be one of 'intermediate', 'prediction', got 'final'"
    ):
        TinyBertStudent(teacher=str(teacher_dir), stage="final")  # type: ignore[arg-type]


def test_tinybert_layer_count_must_divide_the_teachers(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    module = TinyBertStudent(teacher=str(teacher_dir), student_layers=[0, 1, 2])
    _fit_fails(module, tmp_path, datamodule(), r"multiple of the student's \(3\)")


def test_tinybert_attention_needs_equal_head_counts(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    dm = datamodule()
    student = tmp_path / "four_heads"
    QAModel(tiny_config(len(dm.tokenizer), heads=4)).save(student, tokenizer=dm.tokenizer)
    module = TinyBertStudent(teacher=str(teacher_dir), student=str(student))
    _fit_fails(module, tmp_path, dm, "head counts must be equal")


def test_a_short_run_computes_only_its_batches_and_a_full_run_completes_the_cache(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``limit_train_batches`` 2 computes 2 batches' rows (not the whole set); a later full run computes the rest."""
    import lit_distill.modules.student as student_module
    from lit_distill.modules.teacher_cache import TeacherLogits

    computed: list[int] = []
    real = student_module.compute_teacher_logits

    def counting(*args: Any, **kwargs: Any) -> Any:
        index, start, end = real(*args, **kwargs)
        computed.append(int(index.numel()))
        return index, start, end

    monkeypatch.setattr(student_module, "compute_teacher_logits", counting)
    cache = tmp_path / "cache"
    short = DistilBertStudent(teacher=str(teacher_dir), logit_cache_dir=str(cache), learning_rate=1e-3)
    dm = datamodule()
    trainer(tmp_path, limit_train_batches=2, limit_val_batches=0).fit(short, datamodule=dm)
    assert computed == []  # no up-front pass over the whole training set
    (file,) = cache.glob("teacher-logits-*.pt")
    partial = TeacherLogits.load(file)
    total = partial.filled.numel()
    assert total == len(dm.train_dataloader().dataset) and total > 2 * 8
    assert int(partial.filled.sum()) == 2 * 8  # the rows of the two batches trained on
    assert not partial.complete

    full = DistilBertStudent(teacher=str(teacher_dir), logit_cache_dir=str(cache), learning_rate=1e-3)
    trainer(tmp_path, limit_val_batches=0).fit(full, datamodule=datamodule(batch_size=64))
    assert computed == [total - 2 * 8]  # only the missing rows, never the partial table as complete
    assert TeacherLogits.load(file).complete and full.teacher_logits is not None
    # the rows computed in training equal the up-front pass on real tokens
    fresh = datamodule()
    fresh.setup("fit")
    batch = next(iter(fresh.train_dataloader()))
    start, _ = full.teacher_logits.lookup(
        batch["feature_index"], batch["input_ids"].size(1), torch.device("cpu")
    )
    live = full.teacher_forward(batch)
    real_tokens = batch["attention_mask"].bool()
    assert torch.allclose(start[real_tokens], live.start_logits[real_tokens], atol=1e-5)
