"""The ``python -m lit_distill`` configurations of each stage of ``python -m lit_distill replicate``.

Every training stage is an ordinary ``fit`` configuration (written to ``<stage>/config.yaml``
so that it can be rerun by hand); the evaluation stages are ``validate`` runs of the same data
with :class:`~lit_distill.callbacks.length_eval.LengthConfigEvaluator`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lit_distill.replicate.settings import DeploySettings, RunSettings

__all__ = [
    "count_parameters",
    "fit_config",
    "head_seed_stages",
    "length_curve",
    "validate_config",
]


def length_curve(
    num_layers: int, steps: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25)
) -> list[list[float]]:
    """Drop-and-Restore configurations as ratios: layer ``i`` keeps ``1 - step * (i + 1)`` (at least 0.1)."""
    return [[round(max(0.1, 1.0 - s * (i + 1)), 4) for i in range(num_layers)] for s in steps]


def _data(run: RunSettings) -> dict[str, Any]:
    p = run.profile
    return {
        "class_path": "lit_distill.data.SquadDataModule",
        "init_args": {
            "source": {
                "class_path": "lit_distill.data.SquadFiles",
                "init_args": {"train": run.train_file, "validation": run.eval_file},
            },
            "tokenizer": run.encoder,
            "version": run.version,
            "max_seq_length": p.max_seq_length,
            "doc_stride": p.doc_stride,
            "batch_size": p.batch_size,
            "eval_batch_size": p.eval_batch_size,
            "num_workers": 0,
            "cache_dir": str(run.out / "cache" / "features"),
        },
    }


def head_seed_stages(seed: int, run_seed: int) -> tuple[str, str]:
    """The head-pruning stages of one seed: ``prune_importance`` / ``prune_random`` for the run's own
    seed (the stages of the main chain), ``prune_importance_s43`` / ``prune_random_s43`` for another."""
    suffix = "" if seed == run_seed else f"_s{seed}"
    return f"prune_importance{suffix}", f"prune_random{suffix}"


def _stage_seed(stage: str, run: RunSettings) -> int:
    """The seed of a stage: ``_s43`` at the end of a head-pruning stage's name, else the run's."""
    head, _, tail = stage.rpartition("_s")
    if head in ("prune_importance", "prune_random") and tail.isdigit():
        return int(tail)
    return run.seed


def _trainer(run: RunSettings, stage: str, epochs: int, callbacks: list[dict[str, Any]]) -> dict[str, Any]:
    where = run.out / stage
    trainer: dict[str, Any] = {
        "accelerator": run.profile.accelerator,
        "devices": 1,
        "precision": "32-true",
        "max_epochs": epochs,
        "default_root_dir": str(where),
        "enable_progress_bar": False,
        "log_every_n_steps": 10,
        "logger": {
            "class_path": "lightning.pytorch.loggers.CSVLogger",
            "init_args": {"save_dir": str(where), "name": "logs"},
        },
        "callbacks": [
            {
                "class_path": "lit_distill.callbacks.LastCheckpoint",
                "init_args": {"dirpath": str(where / "checkpoints"), "every_n_train_steps": 50},
            },
            *callbacks,
        ],
    }
    if run.limit_train_batches is not None:
        trainer["limit_train_batches"] = run.limit_train_batches
    if run.limit_eval_batches is not None:
        trainer["limit_val_batches"] = run.limit_eval_batches
    return trainer


def _optim(lr: float, run: RunSettings, stage: str) -> dict[str, Any]:
    return {
        "learning_rate": lr,
        "weight_decay": 0.01,
        "warmup_ratio": 0.1,
        "export_dir": str(run.out / stage / "model"),
    }


def _distilbert(run: RunSettings, alpha_ce: float) -> dict[str, Any]:
    args: dict[str, Any] = {
        "teacher": str(run.out / "teacher" / "model"),
        "student_layers": run.student_layers,
        "temperature": 2.0,
        "alpha_ce": alpha_ce,
        "alpha_squad": 1.0 - alpha_ce,
        "logit_cache_dir": str(run.out / "cache" / "logits"),
    }
    if alpha_ce == 0.0:
        args["use_cache"] = False  # no teacher term: nothing to cache
    return {"class_path": "lit_distill.modules.DistilBertStudent", "init_args": args}


def _tinybert(run: RunSettings, stage: str) -> dict[str, Any]:
    args: dict[str, Any] = {"teacher": str(run.out / "teacher" / "model")}
    if stage == "tinybert_id":
        args.update(stage="intermediate", student_layers=run.student_layers)
    else:
        source = "tinybert_id" if stage == "tinybert_pd" else "tinybert_pd"
        args.update(
            stage="prediction",
            student=str(run.out / source / "checkpoints" / "last.ckpt"),
            require_intermediate=stage == "tinybert_pd",  # LengthDrop continues from PD
            temperature=1.0,
            alpha_soft=1.0,
            alpha_hard=0.0,
            logit_cache_dir=str(run.out / "cache" / "logits"),
        )
    return {"class_path": "lit_distill.modules.TinyBertStudent", "init_args": args}


def fit_config(run: RunSettings, stage: str) -> dict[str, Any]:
    """The ``fit`` configuration of a training stage.

    Stages: ``teacher``, ``distilbert_kd``, ``distilbert_nokd``, ``tinybert_id``, ``tinybert_pd``,
    ``lengthdrop``, ``prune_importance``, ``prune_random`` (and ``prune_importance_s43`` ... for
    other seeds), ``prune_oneshot``, ``prune_gradual``, ``prune_control`` (structured pruning),
    ``<deploy tag>/lengthdrop`` and ``<deploy tag>/control`` (the deployment chain).
    """
    p = run.profile
    callbacks: list[dict[str, Any]] = []
    if stage == "teacher":
        model: dict[str, Any] = {
            "class_path": "lit_distill.modules.Teacher",
            "init_args": {"model": run.encoder},
        }
        lr, epochs = p.teacher_lr, p.teacher_epochs
    elif stage in ("distilbert_kd", "distilbert_nokd"):
        model = _distilbert(run, 0.5 if stage == "distilbert_kd" else 0.0)
        lr, epochs = p.student_lr, p.student_epochs
    elif stage.startswith(("prune_importance", "prune_random")):
        model = _distilbert(run, 0.5)
        lr, epochs = p.student_lr, p.student_epochs
        strategy = stage.split("_")[1]
        callbacks.append(
            {
                "class_path": "lit_distill.callbacks.head_pruning.HeadPruning",
                "init_args": {
                    "strategy": strategy,
                    "amount": p.prune_amount,
                    "seed": _stage_seed(stage, run),
                    "importance_batches": 32,
                    "when": "fit_start",
                },
            }
        )
    elif stage in ("prune_gradual", "prune_oneshot", "prune_control"):
        model = _distilbert(run, 0.5)
        model["init_args"]["student_layers"] = list(range(run.teacher_layers))  # a copy of the teacher
        lr, epochs = p.prune_lr, p.prune_epochs
        if stage != "prune_control":
            callbacks.append(_structured_pruning(run, p.prune_steps if stage == "prune_gradual" else 0))
    elif stage in (f"{run.deploy.tag}/lengthdrop", f"{run.deploy.tag}/control"):
        model = {
            "class_path": "lit_distill.modules.Teacher",
            "init_args": {"model": str(run.out / "teacher" / "model")},
        }
        lr, epochs = p.lengthdrop_lr, p.deploy_lengthdrop_epochs
        if stage.endswith("/lengthdrop"):
            callbacks.append(_length_drop(run.deploy))
    elif stage == "tinybert_id":
        model = _tinybert(run, stage)
        lr, epochs = p.student_lr, p.id_epochs
    elif stage == "tinybert_pd":
        model = _tinybert(run, stage)
        lr, epochs = p.student_lr, p.pd_epochs
    elif stage == "lengthdrop":
        model = _tinybert(run, stage)
        lr, epochs = p.lengthdrop_lr, p.lengthdrop_epochs
        callbacks.append(
            {
                "class_path": "lit_distill.callbacks.length_drop.LengthDrop",
                "init_args": {
                    "num_sandwich": 2,
                    "length_drop_ratio_bound": 0.2,
                    "layer_dropout_prob": 0.2,
                    "length_unit": "ratio",  # batches are padded to their longest feature
                },
            }
        )
    else:
        raise ValueError(f"unknown stage {stage!r}")
    model["init_args"].update(_optim(lr, run, stage))
    config: dict[str, Any] = {
        "seed_everything": _stage_seed(stage, run),
        "trainer": _trainer(run, stage, epochs, callbacks),
        "model": model,
        "data": _data(run),
    }
    if stage == "tinybert_id":
        config["trainer"]["limit_val_batches"] = 0  # the QA head is not trained in ID
        config["model"]["init_args"].pop("export_dir")  # PD starts from the checkpoint
    if stage == "lengthdrop" or stage.startswith(f"{run.deploy.tag}/"):
        config["trainer"]["gradient_clip_val"] = 1.0  # LAT's max_grad_norm (the control: the same schedule)
    return config


def _length_drop(deploy: DeploySettings) -> dict[str, Any]:
    """LAT's LengthDrop on the teacher, with the ablation's sub-network weight and LayerDrop."""
    return {
        "class_path": "lit_distill.callbacks.length_drop.LengthDrop",
        "init_args": {
            "num_sandwich": 2,
            "length_drop_ratio_bound": 0.2,
            "layer_dropout_prob": deploy.layer_drop,
            "full_layer_dropout": deploy.full_layer_drop,
            "subnetwork_weight": deploy.subnetwork_weight,
            "length_unit": "ratio",  # batches are padded to their longest feature
        },
    }


def _structured_pruning(run: RunSettings, steps: int) -> dict[str, Any]:
    """Half of the encoder FLOPs from heads and FFN neurons: gradually over ``steps`` epochs, or one-shot (0)."""
    return {
        "class_path": "lit_distill.callbacks.structured_pruning.StructuredPruning",
        "init_args": {
            "strategy": "importance",
            "target": run.profile.prune_amount,
            "target_metric": "flops",
            "target_parts": "both",
            "seq_length": run.profile.max_seq_length,
            "epochs": steps,
            "seed": run.seed,
            "importance_batches": 16,
        },
    }


def validate_config(
    run: RunSettings, stage: str, model_dir: Path, length_configs: list[list[float]]
) -> dict[str, Any]:
    """A ``validate`` configuration scoring ``model_dir`` at full length and under ``length_configs``."""
    callback = {
        "class_path": "lit_distill.callbacks.length_eval.LengthConfigEvaluator",
        "init_args": {
            "length_configs": length_configs,
            "include_full": True,
            "output_dir": str(run.out / stage),
            "when": "validate",
        },
    }
    trainer = _trainer(run, stage, 1, [callback])
    trainer["callbacks"] = [callback]  # nothing to checkpoint
    trainer.pop("limit_train_batches", None)
    return {
        "seed_everything": run.seed,
        "trainer": trainer,
        "model": {"class_path": "lit_distill.modules.Teacher", "init_args": {"model": str(model_dir)}},
        "data": _data(run),
    }


def count_parameters(model_dir: Path) -> int:
    """Parameters stored in a model directory's ``model.safetensors`` (the QA head included)."""
    from safetensors import safe_open

    with safe_open(str(model_dir / "model.safetensors"), "pt") as f:
        return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())  # noqa: SIM118
