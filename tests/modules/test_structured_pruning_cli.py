"""StructuredPruning through ``python -m lit_distill fit``: gradual pruning of heads and FFN neurons,
save / resume with ``--ckpt_path``, bad budgets (exit 2), and a 2-process DDP run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from lit_distill.modules.sources import load_qa_model
from tests.modules.test_cli_runs import base_config, fit

MODEL = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 40,
    "max_position_embeddings": 64,
}
CALLBACK = "lit_distill.callbacks.structured_pruning.StructuredPruning"


def _config(tmp_path: Path, data_dir: Path, pruning: dict[str, Any], **trainer_kw: Any) -> dict[str, Any]:
    model = {"class_path": "lit_distill.modules.Teacher", "init_args": {"model_config": MODEL}}
    trainer_kw = {"limit_train_batches": 2, **trainer_kw}
    config = base_config(tmp_path, data_dir, model, limit_val_batches=0, **trainer_kw)
    config["trainer"]["callbacks"] = [{"class_path": CALLBACK, "init_args": pruning}]
    return config


def _shape(ckpt: Path) -> tuple[list[int], list[int]]:
    config = load_qa_model(str(ckpt), "--ckpt").model.config
    return config.layer_heads, config.layer_intermediate_sizes


def test_gradual_pruning_of_heads_and_ffn_saves_and_resumes(tmp_path: Path, data_dir: Path) -> None:
    # 8 heads, 80 neurons; per layer: half the heads (2 of 4) and 3/4 of the neurons (30 of 40) over 2 epochs.
    # Cubic schedule: after epoch 0 the share 1 - (1 - 1/2)^3 = 0.875 is gone: round(0.875*2)=2 heads,
    # round(0.875*30)=26 neurons per layer; after epoch 1 all of it.
    pruning = {
        "strategy": "importance",
        "head_fraction": 0.5,
        "ffn_fraction": 0.75,
        "scope": "per_layer",
        "epochs": 2,
        "importance_batches": 2,
    }
    ckpt_dir = tmp_path / "ckpt"
    saver = {
        "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
        "init_args": {"dirpath": str(ckpt_dir), "save_last": True, "save_top_k": 0},
    }
    # whole epochs: pruning at an epoch's end must still find training batches (the resumable
    # training loader skips the ones the epoch has done)
    config = _config(
        tmp_path, data_dir, pruning, max_epochs=1, enable_checkpointing=True, limit_train_batches=None
    )
    config["trainer"]["callbacks"].append(saver)
    first = fit(config, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "only 1 of its 2 pruning steps can run (87.5% of the budget)" in first.stderr
    assert "training ended after 1 of its 2 pruning steps; 87.5% of the budget was removed" in first.stderr
    assert _shape(ckpt_dir / "last.ckpt") == ([2, 2], [14, 14])
    first_state = torch.load(ckpt_dir / "last.ckpt", weights_only=False)
    first_steps = first_state["global_step"]
    assert [s["steps_done"] for k, s in first_state["callbacks"].items() if "StructuredPruning" in k] == [[1]]

    config["trainer"]["max_epochs"] = 2
    resumed = fit(config, tmp_path, "--ckpt_path", str(ckpt_dir / "last.ckpt"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "its last pruning step comes after the last epoch's training and validation" in resumed.stderr
    assert _shape(ckpt_dir / "last.ckpt") == ([2, 2], [10, 10])
    state = torch.load(ckpt_dir / "last.ckpt", weights_only=False)
    assert state["epoch"] == 2 and state["global_step"] > first_steps  # the resumed run went on
    assert [s["steps_done"] for k, s in state["callbacks"].items() if "StructuredPruning" in k] == [[1, 2]]


def test_a_budget_that_empties_layers_exits_2_with_one_message(tmp_path: Path, data_dir: Path) -> None:
    pruning = {"strategy": "random", "target": 0.9, "target_parts": "heads"}
    res = fit(_config(tmp_path, data_dir, pruning, max_epochs=1), tmp_path)
    assert res.returncode == 2, res.stderr[-3000:]
    assert (
        "StructuredPruning: target=0.9 of the encoder FLOPs needs more than pruning heads can remove"
        in res.stderr
    )
    assert "Traceback" not in res.stderr


def test_resuming_an_unpruned_checkpoint_with_one_shot_pruning_warns_and_keeps_its_shape(
    tmp_path: Path, data_dir: Path
) -> None:
    ckpt_dir = tmp_path / "ckpt"
    saver = {
        "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
        "init_args": {"dirpath": str(ckpt_dir), "save_last": True, "save_top_k": 0},
    }
    config = _config(tmp_path, data_dir, {"head_fraction": 0.5}, max_epochs=1, enable_checkpointing=True)
    config["trainer"]["callbacks"] = [saver]  # trained without pruning
    assert fit(config, tmp_path).returncode == 0
    config["trainer"]["callbacks"].append({"class_path": CALLBACK, "init_args": {"head_fraction": 0.5}})
    config["trainer"]["max_epochs"] = 2
    resumed = fit(config, tmp_path, "--ckpt_path", str(ckpt_dir / "last.ckpt"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "the checkpoint being resumed was not pruned by this callback" in resumed.stderr
    assert _shape(ckpt_dir / "last.ckpt") == ([4, 4], [40, 40])


@pytest.mark.slow
def test_ddp_two_processes_prune_the_same_heads_and_neurons(tmp_path: Path, data_dir: Path) -> None:
    pruning = {"strategy": "importance", "target": 0.5, "target_parts": "both", "importance_batches": 1}
    ckpt_dir = tmp_path / "ckpt"
    config = _config(tmp_path, data_dir, pruning, max_epochs=1, enable_checkpointing=True)
    config["trainer"]["callbacks"].append(
        {
            "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {"dirpath": str(ckpt_dir), "save_last": True, "save_top_k": 0},
        }
    )
    res = fit(config, tmp_path, "--trainer.strategy", "ddp", "--trainer.devices", "2", timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    heads, widths = _shape(ckpt_dir / "last.ckpt")
    assert sum(heads) < 8 and sum(widths) < 80  # both kinds pruned (DDP would fail on unequal shapes)
    # 50 % of the encoder FLOPs at the model's 64 positions (seq_length's default, capped) is gone
    from lit_distill.compression.structured_budget import encoder_cost
    from lit_distill.models.config import EncoderConfig

    full = EncoderConfig(**MODEL)  # type: ignore[arg-type]
    pruned = EncoderConfig(**MODEL, heads_per_layer=heads, intermediate_per_layer=widths)  # type: ignore[arg-type]
    assert encoder_cost(pruned, "flops", 64) <= 0.5 * encoder_cost(full, "flops", 64)
