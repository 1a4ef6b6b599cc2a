"""HeadPruning on a tiny real QAModel: shapes, strategies, logs, errors, checkpoint round trip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from toy_qa import GradRecorder, TinyQAModule, toy_loader
from toy_qa import quiet_trainer as _trainer

from lit_distill.callbacks.head_pruning import HeadPruning, parse_when
from lit_distill.models.surgery import count_parameters
from lit_distill.user_errors import UserInputError
from tests.modules.conftest import data_dir, datamodule, teacher_dir
from tests.modules.conftest import trainer as module_trainer

__all__ = ["data_dir", "datamodule", "teacher_dir"]  # the modules' fixtures, used here too


def _heads(module: TinyQAModule) -> list[int]:
    return list(module.model.config.layer_heads)  # type: ignore[attr-defined]


def test_random_pruning_at_fit_start_shrinks_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cb = HeadPruning(strategy="random", amount=1 / 3, seed=4)
    module = TinyQAModule(layers=3, heads=4)
    recorder = GradRecorder()
    _trainer([cb, recorder], tmp_path).fit(module, toy_loader())
    assert sum(_heads(module)) == 12 - 4
    assert cb.head_map is not None and sum(len(v) for v in cb.head_map.values()) == 4
    assert cb.num_parameters["after"] < cb.num_parameters["before"]
    assert cb.num_parameters["after"] == count_parameters(module.model)
    # pruned before the optimiser was built: the optimiser trains the pruned weights
    head_size = module.model.config.attention_head_size  # type: ignore[attr-defined]
    for layer, heads in enumerate(_heads(module)):
        grad = recorder.grads[0][f"model.encoder.layers.{layer}.attn_out.weight"]
        assert grad.shape[1] == heads * head_size
    # same seed, same head map
    again = HeadPruning(strategy="random", amount=1 / 3, seed=4)
    _trainer([again], tmp_path, max_steps=1).fit(TinyQAModule(layers=3, heads=4), toy_loader())
    assert again.head_map == cb.head_map


def test_importance_pruning_removes_the_least_important_heads(tmp_path: Path) -> None:
    cb = HeadPruning(strategy="importance", heads_per_layer=1, importance_batches=2)
    module = TinyQAModule(layers=2, heads=4)
    _trainer([cb], tmp_path, max_steps=1).fit(module, toy_loader())
    assert _heads(module) == [3, 3]
    assert cb.importance is not None and [t.numel() for t in cb.importance] == [4, 4]
    for layer, heads in (cb.head_map or {}).items():
        scores = cb.importance[layer]
        assert scores[heads[0]] == scores.min()
        torch.testing.assert_close(scores.norm(), torch.tensor(1.0))


def test_importance_defaults_to_the_per_token_estimator_over_all_batches_when_asked(tmp_path: Path) -> None:
    from lit_distill.compression.head_importance import compute_head_importance
    from lit_distill.losses import span_cross_entropy

    cb = HeadPruning(strategy="importance", heads_per_layer=1, importance_batches=None)
    assert cb.importance_estimator == "per_token"
    module = TinyQAModule(layers=2, heads=4)
    module.setup("fit")
    model: Any = module.model
    batches = list(toy_loader())

    def loss_fn(b: dict[str, torch.Tensor], gates: list[torch.Tensor] | None) -> torch.Tensor:
        out = model(b["input_ids"], b["attention_mask"], head_gates=gates)
        return span_cross_entropy(out.start_logits, out.end_logits, b["start_positions"], b["end_positions"])

    model.eval()
    expected, used = compute_head_importance(
        loss_fn, batches, [4, 4], None, projections=[layer.attn_out for layer in model.encoder.layers]
    )
    assert used == len(batches) > 1
    _trainer([cb], tmp_path, max_steps=1).fit(module, toy_loader())
    assert cb.importance is not None
    for got, want in zip(cb.importance, expected, strict=True):
        torch.testing.assert_close(got, want)


def test_pruned_checkpoint_round_trip_and_resume(tmp_path: Path) -> None:
    ckpt_dir = tmp_path / "ckpt"
    cb = HeadPruning(strategy="random", heads_per_layer=[1, 2], seed=0)
    module = TinyQAModule(layers=2, heads=4)
    trainer = _trainer(
        [cb, ModelCheckpoint(dirpath=ckpt_dir, save_last=True)],
        tmp_path,
        max_steps=2,
        enable_checkpointing=True,
    )
    trainer.fit(module, toy_loader())
    ckpt = ckpt_dir / "last.ckpt"
    saved = torch.load(ckpt, weights_only=False)
    assert saved["callbacks"]["HeadPruning"]["head_map"] == {
        str(k): v for k, v in (cb.head_map or {}).items()
    }
    assert saved["model_config"]["heads_per_layer"] == [3, 2]

    # loading rebuilds the pruned shape (the module's config round trip)
    loaded = TinyQAModule.load_from_checkpoint(ckpt, layers=2, heads=4)
    assert _heads(loaded) == [3, 2]
    batch = next(iter(toy_loader()))
    with torch.no_grad():
        a = module.forward_model(batch).start_logits
        b = loaded.forward_model(batch).start_logits
    torch.testing.assert_close(a, b)

    # resuming the run continues with the checkpoint's shape and head map, even when the
    # callback's own choice at setup would differ
    resumed_cb = HeadPruning(strategy="random", heads_per_layer=[2, 1], seed=123)
    resumed = TinyQAModule(layers=2, heads=4)
    recorder = GradRecorder()
    _trainer([resumed_cb, recorder], tmp_path, max_steps=3).fit(resumed, toy_loader(), ckpt_path=ckpt)
    assert _heads(resumed) == [3, 2]
    assert resumed_cb.head_map == cb.head_map
    assert len(recorder.grads) == 1  # step 3 only: the run resumed after step 2
    head_size = resumed.model.config.attention_head_size  # type: ignore[attr-defined]
    assert recorder.grads[0]["model.encoder.layers.1.attn_out.weight"].shape[1] == 2 * head_size


def test_resuming_an_unpruned_checkpoint_warns(tmp_path: Path) -> None:
    ckpt_dir = tmp_path / "ckpt"
    trainer = _trainer(
        [ModelCheckpoint(dirpath=ckpt_dir, save_last=True)], tmp_path, enable_checkpointing=True
    )
    trainer.fit(TinyQAModule(), toy_loader())
    module = TinyQAModule()
    with pytest.warns(UserWarning, match="its shape wins"):
        _trainer([HeadPruning(strategy="random", amount=2)], tmp_path, max_steps=3).fit(
            module, toy_loader(), ckpt_path=ckpt_dir / "last.ckpt"
        )
    assert _heads(module) == [4, 4]


def test_after_epoch_rebuilds_the_optimiser(tmp_path: Path) -> None:
    cb = HeadPruning(strategy="random", heads_per_layer=2, when="after_epoch:0")
    module = TinyQAModule(layers=2, heads=4)
    recorder = GradRecorder()
    # 8 examples / batch 4 = 2 steps per epoch; prune after the first epoch, train one more
    _trainer([cb, recorder], tmp_path, max_steps=-1, max_epochs=2).fit(module, toy_loader())
    assert _heads(module) == [2, 2]
    params = {id(p) for p in module.parameters()}
    optimizer = module.trainer.optimizers[0]
    assert {id(p) for group in optimizer.param_groups for p in group["params"]} == params
    hidden = module.model.config.hidden_size  # type: ignore[attr-defined]
    name = "model.encoder.layers.0.attn_out.weight"
    assert recorder.grads[1][name].shape[1] == hidden  # epoch 0: unpruned
    assert recorder.grads[-1][name].shape[1] == hidden // 2  # epoch 1: half the heads


def test_too_many_heads_is_an_error_naming_the_layer(tmp_path: Path) -> None:
    cb = HeadPruning(strategy="random", heads_per_layer=[1, 4])
    with pytest.raises(UserInputError, match="layer 1 has 4 heads, pruning 4 would leave none"):
        _trainer([cb], tmp_path).fit(TinyQAModule(layers=2, heads=4), toy_loader())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategy": "magnitude", "amount": 0.1}, "strategy must be one of"),
        ({}, "exactly one of"),
        ({"amount": 0.1, "heads_per_layer": 1}, "exactly one of"),
        ({"amount": 0.1, "when": "epoch_end"}, "when must be 'fit_start' or 'after_epoch:N'"),
        ({"amount": 0.1, "importance_batches": 0}, "importance_batches"),
        ({"amount": 0.1, "importance_estimator": "mean"}, "importance_estimator must be one of"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(UserInputError, match=match):
        HeadPruning(**kwargs)


def test_parse_when() -> None:
    assert parse_when("fit_start") is None
    assert parse_when("after_epoch:3") == 3
    with pytest.raises(UserInputError, match="after_epoch:-1"):
        parse_when("after_epoch:-1")


# ------------------------------------------------------------- with the project's modules
def test_distilbert_student_pruned_by_importance_saves_and_loads(
    tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    from lit_distill.commands.bench import load_qa_model
    from lit_distill.modules import DistilBertStudent

    module = DistilBertStudent(
        teacher=str(teacher_dir), student_layers=[0, 2], logit_cache_dir=str(tmp_path / "cache")
    )
    cb = HeadPruning(strategy="importance", amount=2, importance_batches=2)
    t = module_trainer(tmp_path, max_steps=1, limit_val_batches=0, callbacks=[cb])
    t.fit(module, datamodule=datamodule())
    assert module.model.config.layer_heads == [1, 1]  # 2 layers x 2 heads, 2 pruned, one left per layer
    assert cb.num_parameters["after"] == count_parameters(module.model) < cb.num_parameters["before"]
    ckpt = tmp_path / "pruned.ckpt"
    t.save_checkpoint(ckpt)
    loaded = load_qa_model(ckpt)  # the project's checkpoint format rebuilds the pruned shape
    assert loaded.config == module.model.config
    batch = next(iter(t.datamodule.val_dataloader()))
    module.eval()
    loaded.eval()
    with torch.no_grad():
        expected = module.forward_model(batch).start_logits
        got = loaded(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]).start_logits
    torch.testing.assert_close(got, expected)


def test_teacher_built_from_the_data_tokenizer_is_pruned_before_training(
    tmp_path: Path, datamodule: Callable[..., Any]
) -> None:
    from lit_distill.modules import Teacher

    module = Teacher(model_config={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4})
    cb = HeadPruning(strategy="random", heads_per_layer=[1, 3], seed=0)
    t = module_trainer(tmp_path, max_steps=1, limit_val_batches=0, callbacks=[cb])
    t.fit(module, datamodule=datamodule())
    assert module.model.config.layer_heads == [3, 1]
    assert module.model.config.vocab_size == len(t.datamodule.tokenizer)


def test_importance_reads_a_resumable_loader_from_the_start_at_an_epoch_end() -> None:
    """At an epoch's end the resumable loader skips every batch; importance must still see them."""
    from types import SimpleNamespace

    from lit_distill.callbacks.pruning_trainer import train_batches
    from lit_distill.data.resumable import make_resumable

    plain = toy_loader()  # 8 examples, batch 4: 2 batches
    loader = make_resumable(plain, 0, lambda: 2)  # both batches of the epoch already trained on
    assert list(loader) == []  # what training sees on resuming at the epoch's end
    trainer: Any = SimpleNamespace(datamodule=SimpleNamespace(train_dataloader=lambda: loader))
    assert len(list(train_batches(trainer))) == 2


@pytest.mark.parametrize(
    ("interval", "frequency", "expected"),
    [("epoch", 1, 2), ("epoch", 2, 1), ("step", 1, 10), ("step", 3, 3)],
)
def test_rebuilt_schedules_are_where_lightning_would_have_them(
    interval: str, frequency: int, expected: int
) -> None:
    # at the end of epoch 2 (epochs 0 and 1 finished before it) after 10 optimiser steps; Lightning
    # steps an epoch schedule for epoch 2 itself after on_train_epoch_end, so it is not counted here
    from types import SimpleNamespace

    from lightning.pytorch.utilities.types import LRSchedulerConfig

    from lit_distill.callbacks.pruning_trainer import rebuild_optimizers

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    config = LRSchedulerConfig(scheduler, interval=interval, frequency=frequency)
    trainer = SimpleNamespace(
        strategy=SimpleNamespace(setup_optimizers=lambda _: None),
        lr_scheduler_configs=[config],
        global_step=10,
        current_epoch=2,
    )
    rebuild_optimizers(trainer)  # type: ignore[arg-type]
    assert scheduler.last_epoch == expected
