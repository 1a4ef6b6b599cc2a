"""LengthDrop on a toy QA module: contributions, sampling, gradients, accumulation, DDP."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from toy_qa import GradRecorder, ToyQAModule, toy_loader
from toy_qa import quiet_trainer as _trainer

from lit_distill.callbacks.length_drop import LengthDrop
from lit_distill.compression.length_sampling import sample_sandwich
from tests.modules.conftest import SEQ, data_dir, datamodule, teacher_dir
from tests.modules.conftest import trainer as module_trainer

__all__ = ["data_dir", "datamodule", "teacher_dir"]  # the modules' fixtures, used here too

SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
SMALL["max_position_embeddings"] = SEQ


def test_contributes_kl_terms_and_logs_them(tmp_path: Path) -> None:
    cb = LengthDrop(num_sandwich=2, seed=0)
    module = ToyQAModule()
    trainer = _trainer([cb], tmp_path, max_steps=1)
    trainer.fit(module, toy_loader())
    logged = trainer.callback_metrics
    for key in ("train/extra_LengthDrop", "train/lengthdrop_kl_smallest", "train/lengthdrop_kl_random"):
        assert key in logged
    assert float(logged["train/extra_LengthDrop"]) > 0
    # one full pass + smallest + 2 random sub-networks, the sub-networks with lengths and LayerDrop
    calls = module.model.calls
    assert len(calls) == 4
    assert calls[0]["length_config"] is None
    assert calls[1]["length_config"] == [8, 7, 6]  # ceil(0.8 * previous) from 10 tokens
    assert [c["length_config"] for c in calls[1:]] == [list(s.length_config) for s in cb.last_subnetworks]


def test_sub_networks_follow_the_seeded_sampler(tmp_path: Path) -> None:
    cb = LengthDrop(num_sandwich=3, layer_dropout_prob=0.3, seed=11)
    module = ToyQAModule(layers=4)
    _trainer([cb], tmp_path, max_steps=2).fit(module, toy_loader())
    rng = random.Random(11)
    expected = [sample_sandwich(10, 4, rng, num_sandwich=3, layer_dropout_prob=0.3) for _ in range(2)]
    subnet_calls = [c for c in module.model.calls if c["length_config"] is not None]
    assert [c["length_config"] for c in subnet_calls] == [list(s.length_config) for e in expected for s in e]
    assert [c["skip_layers"] for c in subnet_calls] == [
        list(s.skip_layers) or None for e in expected for s in e
    ]


def test_ratio_unit_passes_fractions_of_the_padded_length(tmp_path: Path) -> None:
    module = ToyQAModule()
    _trainer([LengthDrop(num_sandwich=0, length_unit="ratio", seed=0)], tmp_path, max_steps=1).fit(
        module, toy_loader()
    )
    assert module.model.calls[1]["length_config"] == pytest.approx([0.8, 0.7, 0.6])


@pytest.mark.parametrize("accumulate", [1, 2])
def test_per_subnetwork_backward_gives_the_joint_gradients(tmp_path: Path, accumulate: int) -> None:
    grads = {}
    for mode in ("joint", "per_subnetwork"):
        recorder = GradRecorder()
        cb = LengthDrop(num_sandwich=2, layer_dropout_prob=0.3, backward=mode, seed=3)  # type: ignore[arg-type]
        trainer = _trainer([cb, recorder], tmp_path, max_steps=2, accumulate_grad_batches=accumulate)
        trainer.fit(ToyQAModule(seed=1), toy_loader(batch_size=2))
        grads[mode] = recorder.grads
    assert len(grads["joint"]) == 2
    for g_joint, g_split in zip(grads["joint"], grads["per_subnetwork"], strict=True):
        assert g_joint.keys() == g_split.keys()
        for name in g_joint:
            torch.testing.assert_close(g_split[name], g_joint[name], rtol=1e-5, atol=1e-6)


def test_lat_loss_scale_divides_the_step_gradient_by_num_sandwich_plus_2(tmp_path: Path) -> None:
    # LAT: (full loss + Σ sub-network losses) / (num_sandwich + 2); the default since LAT's
    # learning rates and max_grad_norm assume it
    grads = {}
    for scale in ("lat", "sum"):
        recorder = GradRecorder()
        cb = LengthDrop(num_sandwich=3, seed=3, loss_scale=scale)  # type: ignore[arg-type]
        _trainer([cb, recorder], tmp_path, max_steps=1, accumulate_grad_batches=2).fit(
            ToyQAModule(seed=1), toy_loader(batch_size=2)
        )
        grads[scale] = recorder.grads[0]  # one optimiser step over two accumulated batches
    assert LengthDrop().loss_scale == "lat"
    for name in grads["sum"]:
        torch.testing.assert_close(grads["lat"][name], grads["sum"][name] / 5, rtol=1e-5, atol=1e-8)


def test_lat_loss_scale_is_applied_before_gradient_clipping(tmp_path: Path) -> None:
    def run(scale: str, clip: float | None) -> tuple[float, float]:
        """(gradient norm seen before clipping, norm of the SGD update / lr)."""
        module = ToyQAModule(seed=1)
        module.setup("fit")
        before = [p.detach().clone() for p in module.parameters()]
        recorder = GradRecorder()
        cb = LengthDrop(num_sandwich=2, seed=3, loss_scale=scale)  # type: ignore[arg-type]
        _trainer([cb, recorder], tmp_path, max_steps=1, gradient_clip_val=clip).fit(module, toy_loader())
        grad = torch.cat([g.flatten() for g in recorder.grads[0].values()]).norm()
        step = torch.cat(
            [(b - p.detach()).flatten() for b, p in zip(before, module.parameters(), strict=True)]
        )
        return float(grad), float(step.norm()) / module.lr

    full, _ = run("sum", None)
    # threshold between the scaled (full / 4) and the unscaled norm: LAT's scaled gradient is
    # not clipped (clipping after the division), so the update is the scaled gradient itself
    seen, update = run("lat", full / 2)
    assert seen == pytest.approx(full / 4, rel=1e-5)
    assert update == pytest.approx(full / 4, rel=1e-4)


def test_full_layer_dropout_drops_layers_of_the_full_pass(tmp_path: Path) -> None:
    cb = LengthDrop(num_sandwich=1, layer_dropout_prob=0.5, full_layer_dropout=True, seed=2)
    module = ToyQAModule(layers=6)
    full_skips = []

    class Spy(pl.Callback):
        def on_train_batch_end(self, *args: Any) -> None:
            full_skips.append(cb.last_full_skips)

    _trainer([cb, Spy()], tmp_path, max_steps=3).fit(module, toy_loader())
    full_calls = module.model.calls[::3]  # full pass, smallest, one random per step
    assert all(c["length_config"] is None for c in full_calls)
    assert [tuple(c["skip_layers"] or ()) for c in full_calls] == full_skips
    assert any(full_skips)  # p = 0.5 over 6 layers and 3 steps
    # the sub-networks are drawn from the same generator after the full pass's skips
    rng = random.Random(2)
    from lit_distill.compression.length_sampling import sample_layer_skips

    expected_full = [sample_layer_skips(6, rng, 0.5, 0)]
    sample_sandwich(10, 6, rng, num_sandwich=1, layer_dropout_prob=0.5)
    expected_full.append(sample_layer_skips(6, rng, 0.5, 0))
    assert [tuple(s) for s in full_skips[:2]] == expected_full
    # off by default: the full pass runs every layer
    plain = ToyQAModule(layers=6)
    _trainer([LengthDrop(layer_dropout_prob=0.5, seed=2)], tmp_path, max_steps=1).fit(plain, toy_loader())
    assert plain.model.calls[0]["skip_layers"] is None


def test_sandwich_changes_the_gradient(tmp_path: Path) -> None:
    # guards the test above: with LengthDrop the gradients differ from the plain task loss
    plain, sandwich = GradRecorder(), GradRecorder()
    _trainer([plain], tmp_path, max_steps=1).fit(ToyQAModule(seed=1), toy_loader())
    _trainer([LengthDrop(seed=0), sandwich], tmp_path, max_steps=1).fit(ToyQAModule(seed=1), toy_loader())
    name = "model.layers.0.weight"
    assert not torch.allclose(plain.grads[0][name], sandwich.grads[0][name])


def test_resume_continues_the_sampling_sequence() -> None:
    a = LengthDrop(seed=5)
    a._rng.random()
    state = a.state_dict()
    b = LengthDrop(seed=99)
    b.load_state_dict({"rng_state": list(state["rng_state"]), "seeded": True})
    assert a._rng.random() == b._rng.random()


def test_not_a_qa_module_is_a_clear_error(tmp_path: Path) -> None:
    class Plain(pl.LightningModule):
        def training_step(self, batch: Any, batch_idx: int) -> None:
            return None

    with pytest.raises(TypeError, match="forward_model"):
        LengthDrop().setup(_trainer([], tmp_path), Plain(), "fit")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_sandwich": -1}, "num_sandwich"),
        ({"length_drop_ratio_bound": 1.0}, "length_drop_ratio_bound"),
        ({"layer_dropout_prob": 1.5}, "layer_dropout_prob"),
        ({"layer_dropout_bound": -1}, "layer_dropout_bound"),
        ({"min_length": 0}, "min_length"),
        ({"length_unit": "pct"}, "length_unit must be one of"),
        ({"backward": "twice"}, "backward must be one of"),
        ({"loss_scale": "mean"}, "loss_scale must be one of"),
        ({"full_layer_dropout": True, "layer_dropout_prob": None}, "full_layer_dropout"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LengthDrop(**kwargs)


def test_ddp_two_processes_average_sub_network_gradients(tmp_path: Path) -> None:
    """2 CPU processes (gloo): the gradients equal one process accumulating both halves."""
    ddp_dir = tmp_path / "ddp"
    ddp_dir.mkdir()
    cb = LengthDrop(num_sandwich=0, layer_dropout_prob=0.0, seed=0)  # deterministic sub-network
    trainer = _trainer(
        [cb, GradRecorder(str(ddp_dir))], tmp_path, max_steps=1, devices=2, strategy="ddp_spawn"
    )
    trainer.fit(ToyQAModule(seed=2), toy_loader(batch_size=2, n=4))
    rank0 = torch.load(ddp_dir / "grads_rank0.pt")
    rank1 = torch.load(ddp_dir / "grads_rank1.pt")

    # one process: the same 4 examples as two accumulated micro-batches
    single = GradRecorder()
    _trainer(
        [LengthDrop(num_sandwich=0, layer_dropout_prob=0.0, seed=0), single],
        tmp_path,
        max_steps=1,
        accumulate_grad_batches=2,
    ).fit(ToyQAModule(seed=2), toy_loader(batch_size=2, n=4))
    for name, grad in single.grads[0].items():
        torch.testing.assert_close(rank0[0][name], rank1[0][name])
        torch.testing.assert_close(rank0[0][name], grad, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------- with the project's modules
@pytest.mark.parametrize("kind", ["teacher", "distilbert", "tinybert_pd"])
def test_works_with_every_module(
    kind: str, tmp_path: Path, datamodule: Callable[..., Any], teacher_dir: Path
) -> None:
    from lit_distill.modules import DistilBertStudent, Teacher, TinyBertStudent

    cache = str(tmp_path / "cache")
    module: Any
    if kind == "teacher":
        module = Teacher(model_config=SMALL, learning_rate=1e-3)
    elif kind == "distilbert":
        module = DistilBertStudent(teacher=str(teacher_dir), student_layers=[0, 2], logit_cache_dir=cache)
    else:
        module = TinyBertStudent(
            teacher=str(teacher_dir),
            stage="prediction",
            student=str(teacher_dir),
            require_intermediate=False,
            logit_cache_dir=cache,
        )
    cb = LengthDrop(num_sandwich=1, layer_dropout_prob=0.3, seed=0)
    recorder = GradRecorder()
    t = module_trainer(tmp_path, max_steps=1, limit_val_batches=0, callbacks=[cb, recorder])
    t.fit(module, datamodule=datamodule())
    extra = t.callback_metrics["train/extra_LengthDrop"]
    assert torch.isfinite(extra) and float(extra) > 0
    assert "train/lengthdrop_kl_smallest" in t.callback_metrics
    assert len(cb.last_subnetworks) == 2
    layers = module.model.config.num_hidden_layers
    assert all(len(s.length_config) == layers for s in cb.last_subnetworks)
    assert len(recorder.grads) == 1 and all(torch.isfinite(g).all() for g in recorder.grads[-1].values())
