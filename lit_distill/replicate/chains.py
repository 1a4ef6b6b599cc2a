"""The other chains of ``python -m lit_distill replicate``: which stages each runs and the table each prints.

* ``deploy``: teacher -> LengthDrop on the teacher (-> its control) -> length search ->
  exported artifacts -> the deployment front (:mod:`lit_distill.replicate.deploy`,
  :mod:`lit_distill.replicate.front`);
* ``pruning``: teacher -> structured pruning to half of the encoder FLOPs with distillation,
  one-shot and gradual over the same epochs (-> the unpruned control);
* ``heads``: teacher -> the unpruned DistilBERT-style student -> half of its heads pruned by
  importance and at random, for each seed, with mean and spread.

The ``distill`` chain (today's) is in :mod:`lit_distill.replicate.driver`.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from lit_distill.replicate.front import front_table, goals_text
from lit_distill.replicate.settings import RunSettings
from lit_distill.replicate.stages import head_seed_stages

__all__ = [
    "CHAINS",
    "chain_stages",
    "deploy_summary",
    "heads_summary",
    "heads_table",
    "pruning_summary",
    "pruning_table",
]

CHAINS = ("distill", "deploy", "pruning", "heads")


def chain_stages(
    chain: str, run: RunSettings, distill: tuple[str, ...], extra: dict[str, Any]
) -> tuple[str, ...]:
    """The stages of ``chain`` in order (``distill``: the given tuple)."""
    if chain == "distill":
        return distill
    if chain == "deploy":
        tag = run.deploy.tag
        control = (f"{tag}/control",) if run.deploy.control else ()
        return ("teacher", f"{tag}/lengthdrop", *control, f"{tag}/search", f"{tag}/artifacts", f"{tag}/front")
    if chain == "pruning":
        return (
            "teacher",
            *(("prune_control",) if extra.get("prune_control") else ()),
            "prune_oneshot",
            "prune_gradual",
        )
    seeds: list[int] = extra["head_seeds"]
    return ("teacher", "distilbert_kd", *(s for seed in seeds for s in head_seed_stages(seed, run.seed)))


def _std(values: list[float]) -> float | None:
    return statistics.stdev(values) if len(values) > 1 else None


def heads_summary(run: RunSettings, results: dict[str, Any], seeds: list[int]) -> dict[str, Any]:
    """Head pruning by importance and at random: per seed, then mean and standard deviation of each."""
    rows: list[dict[str, Any]] = []
    per: dict[str, list[float]] = {"importance": [], "random": []}
    for seed in seeds:
        for strategy, stage in zip(("importance", "random"), head_seed_stages(seed, run.seed), strict=True):
            result = results.get(stage, {})
            rows.append({"stage": stage, "strategy": strategy, "seed": seed, **result})
            if "f1" in result:
                per[strategy].append(float(result["f1"]))
    stats: dict[str, Any] = {}
    for strategy, values in per.items():
        stats[strategy] = {
            "f1": values,
            "mean": statistics.fmean(values) if values else None,
            "sd": _std(values),
            "seeds": len(values),
        }
    pairs = [
        results[i]["f1"] - results[r]["f1"]
        for i, r in (head_seed_stages(seed, run.seed) for seed in seeds)
        if "f1" in results.get(i, {}) and "f1" in results.get(r, {})
    ]
    stats["importance_minus_random"] = {"per_seed": pairs, "mean": statistics.fmean(pairs) if pairs else None}
    stats["importance_minus_random"]["sd"] = _std(pairs)
    unpruned = results.get("distilbert_kd", {}).get("f1")
    return {"models": rows, "heads": stats, "unpruned_f1": unpruned}


def heads_table(summary: dict[str, Any]) -> str:
    """Per seed and strategy, then the means."""
    lines = [f"{'seed':>6} {'importance F1':>14} {'random F1':>10} {'difference':>11}"]
    by_seed: dict[int, dict[str, Any]] = {}
    for row in summary["models"]:
        by_seed.setdefault(row["seed"], {})[row["strategy"]] = row.get("f1")
    for seed, pair in by_seed.items():
        imp, rnd = pair.get("importance"), pair.get("random")
        diff = None if imp is None or rnd is None else imp - rnd
        lines.append(f"{seed:>6} {_f(imp, '.2f'):>14} {_f(rnd, '.2f'):>10} {_f(diff, '+.2f'):>11}")
    h = summary["heads"]
    mean = h["importance_minus_random"]
    lines.append(
        f"{'mean':>6} {_pm(h['importance']):>14} {_pm(h['random']):>10} {_pm(mean, '+.2f'):>11}"
        f"   (mean ± sd over seeds; unpruned student F1 {_f(summary['unpruned_f1'], '.2f')})"
    )
    return "\n".join(lines)


def _f(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _pm(stat: dict[str, Any], fmt: str = ".2f") -> str:
    if stat.get("mean") is None:
        return "-"
    return f"{stat['mean']:{fmt}}" + ("" if stat.get("sd") is None else f" ± {stat['sd']:.2f}")


def _encoder_flops(model_dir: Path, seq_length: int) -> int:
    from lit_distill.compression.structured_budget import encoder_cost
    from lit_distill.models.config import EncoderConfig

    config = EncoderConfig.from_dict(json.loads((model_dir / "lit_distill_config.json").read_text()))
    return encoder_cost(config, "flops", min(seq_length, config.max_position_embeddings))


def pruning_summary(run: RunSettings, results: dict[str, Any], stages: tuple[str, ...]) -> dict[str, Any]:
    """Rows of the pruning chain with the encoder FLOPs against the teacher's, and the goal."""
    seq = run.profile.max_seq_length
    teacher_dir = run.out / "teacher" / "model"
    teacher_flops = _encoder_flops(teacher_dir, seq) if teacher_dir.is_dir() else None
    rows = []
    for stage in stages:
        result = dict(results.get(stage, {}))
        model_dir = Path(result.get("model_dir", run.out / stage / "model"))
        if teacher_flops and model_dir.is_dir():
            result["encoder_flops_ratio"] = _encoder_flops(model_dir, seq) / teacher_flops
            config = json.loads((model_dir / "lit_distill_config.json").read_text())
            result["ffn_per_layer"] = config.get("intermediate_per_layer") or [
                config["intermediate_size"]
            ] * int(config["num_hidden_layers"])
        rows.append({"stage": stage, **result})
    by = {r["stage"]: r for r in rows}
    goal: dict[str, Any] = {}
    teacher, gradual = by.get("teacher", {}), by.get("prune_gradual", {})
    if "f1" in teacher and "f1" in gradual:
        loss = teacher["f1"] - gradual["f1"]
        goal = {
            "gradual_f1_loss_vs_teacher": round(loss, 2),
            "gradual_encoder_flops_ratio": gradual.get("encoder_flops_ratio"),
            "met": loss <= 1.5 and gradual.get("encoder_flops_ratio", 1.0) <= 0.5 + 1e-3,
        }
        oneshot = by.get("prune_oneshot", {})
        if "f1" in oneshot:
            goal["gradual_minus_oneshot_f1"] = round(gradual["f1"] - oneshot["f1"], 2)
    return {"models": rows, "goals": goal}


def pruning_table(summary: dict[str, Any]) -> str:
    """One row per stage: scores, heads, FFN widths, encoder FLOPs."""
    head = f"{'stage':<16} {'EM':>6} {'F1':>6} {'heads':>5} {'params':>11} {'enc. FLOPs':>10}  FFN per layer"
    lines = [head, "-" * len(head)]
    for r in summary["models"]:
        lines.append(
            f"{r['stage']:<16} {_f(r.get('exact'), '.2f'):>6} {_f(r.get('f1'), '.2f'):>6} {_f(r.get('heads'), 'd'):>5} "
            f"{_f(r.get('parameters'), ',d'):>11} {_f(r.get('encoder_flops_ratio'), '.3f'):>10}  {r.get('ffn_per_layer', '')}"
        )
    return "\n".join(lines)


def deploy_summary(run: RunSettings, results: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The deployment chain's summary and printed table (the front, when it has been timed)."""
    tag = run.deploy.tag
    front = results.get(f"{tag}/front")
    summary: dict[str, Any] = {
        "tag": tag,
        "lengthdrop": results.get(f"{tag}/lengthdrop"),
        "control": results.get(f"{tag}/control"),
        "search": results.get(f"{tag}/search"),
        "front": front,
        "goals": None if front is None else front["goals"],
    }
    text = "(the deployment front is not timed yet)"
    if front is not None:
        text = front_table(front) + "\n\n" + goals_text(front["goals"])
    return summary, text
