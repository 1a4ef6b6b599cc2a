"""Replicate the whole lit_distill chain on real SQuAD with one command, resumably.

``--chain distill`` (default): teacher fine-tuning -> DistilBERT-style student with and without distillation (same student,
same schedule) -> TinyBERT-style ID + PD -> Drop-and-Restore curve before and after a
LengthDrop epoch -> head pruning by importance and at random -> speed of every model -> the
INT8 ONNX artifact. Each stage is an ordinary ``python -m lit_distill fit/validate/bench/export``
run whose configuration is kept in ``OUT/<stage>/``; a finished stage (``result.json``) is
skipped and an interrupted ``fit`` resumes from its ``last.ckpt``. Prints one table and writes
``OUT/results.json``, ``OUT/results.csv`` and ``OUT/length_curve.csv``.

``--chain deploy``: the teacher -> LengthDrop on it -> a searched length configuration ->
INT8 ONNX, and one deployment front (``OUT/deploy/front.csv``, ``front.json``, ``front.png``).
``--chain pruning``: structured pruning of the teacher to half its encoder FLOPs with
distillation, gradual against one-shot. ``--chain heads``: head pruning by importance against
random over ``--head-seeds``. Each chain shares the run directory's teacher and data.

    python -m lit_distill replicate --profile cpu --encoder MODEL_DIR --output runs/replicate \\
        --split-from SQUAD_FILE.json --heldout-articles Normans,Steam_engine,Yuan_dynasty,Warsaw,Force

See docs/replication.md for the profiles, the split and the results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lit_distill.atomic_write import write_text
from lit_distill.replicate.chains import (
    chain_stages,
    deploy_summary,
    heads_summary,
    heads_table,
    pruning_summary,
    pruning_table,
)
from lit_distill.replicate.deploy import artifacts_stage, search_stage
from lit_distill.replicate.front import front_stage
from lit_distill.replicate.inputs import InputError
from lit_distill.replicate.results import (
    fit_metrics,
    goals,
    length_rows,
    model_shape,
    tables,
)
from lit_distill.replicate.settings import RunSettings, head_seeds, settings
from lit_distill.replicate.stage_runs import (
    Runner,
    StageFailed,
    int8_stage,
    lit_distill,
    speed_stage,
    write_config,
)
from lit_distill.replicate.stages import count_parameters, fit_config, length_curve, validate_config

FIT_STAGES = ("teacher", "distilbert_kd", "distilbert_nokd", "tinybert_id", "tinybert_pd")
ALL_STAGES: tuple[str, ...] = (
    *FIT_STAGES,
    *("lengths_before", "lengthdrop", "lengths_after", "prune_importance", "prune_random", "speed", "int8"),
)
MODEL_STAGES: tuple[str, ...] = (
    *("teacher", "distilbert_kd", "distilbert_nokd", "tinybert_pd", "lengthdrop"),
    *("prune_importance", "prune_random"),
)
LABELS = {
    "teacher": "teacher (fine-tuned encoder)",
    "distilbert_kd": "DistilBERT-style, distilled",
    "distilbert_nokd": "same student, no distillation",
    "tinybert_pd": "TinyBERT-style ID + PD",
    "lengthdrop": "TinyBERT + LengthDrop epoch",
    "prune_importance": "distilled, heads by importance",
    "prune_random": "distilled, heads at random",
    "int8": "LengthDrop model, ONNX INT8",
}


def _validate(
    run: RunSettings, stage: str, model_dir: Path, configs: list[list[float]], in_process: Runner | None
) -> list[dict[str, Any]]:
    path = write_config(validate_config(run, stage, model_dir, configs), run.out / stage, "validate.yaml")
    lit_distill(["validate", "--config", str(path)], stage, run.out / stage / "log.txt", in_process)
    rows = length_rows(run.out / stage)
    if not rows:
        raise StageFailed(stage, 1, run.out / stage / "log.txt")
    return rows


def _fit(run: RunSettings, stage: str, in_process: Runner | None) -> dict[str, Any]:
    where = run.out / stage
    path = write_config(fit_config(run, stage), where, "config.yaml")
    argv = ["fit", "--config", str(path)]
    last = where / "checkpoints" / "last.ckpt"
    if last.is_file():
        argv += ["--ckpt_path", str(last)]  # resume where it stopped
    lit_distill(argv, stage, where / "log.txt", in_process)
    if stage == "tinybert_id":
        return {"checkpoint": str(last)}
    model_dir = where / "model"
    scores: dict[str, Any] | None = fit_metrics(where)
    if scores is None:  # stopped between its last checkpoint and its last evaluation
        scores = dict(_validate(run, stage, model_dir, [], in_process)[0])
    result: dict[str, Any] = {k: scores[k] for k in ("exact", "f1", "HasAns_f1", "NoAns_f1") if k in scores}
    result.update(model_shape(model_dir), parameters=count_parameters(model_dir), model_dir=str(model_dir))
    return result


def _curve(run: RunSettings, stage: str, in_process: Runner | None) -> dict[str, Any]:
    source = "tinybert_pd" if stage == "lengths_before" else "lengthdrop"
    layers = model_shape(run.out / source / "model")["layers"]
    rows = _validate(run, stage, run.out / source / "model", length_curve(layers), in_process)
    return {"rows": rows}


def run_stage(
    run: RunSettings, stage: str, results: dict[str, Any], args: argparse.Namespace, in_process: Runner | None
) -> dict[str, Any]:
    """Run one stage and return its result (written to ``OUT/<stage>/result.json`` by the caller)."""
    tag = run.deploy.tag
    if stage == f"{tag}/search":
        return search_stage(run, args.threads, in_process)
    if stage == f"{tag}/artifacts":
        return artifacts_stage(run, results, args.threads, in_process)
    if stage == f"{tag}/front":
        return front_stage(run, results, args.threads)
    if stage not in ("lengths_before", "lengths_after", "speed", "int8"):
        return _fit(run, stage, in_process)
    if stage in ("lengths_before", "lengths_after"):
        return _curve(run, stage, in_process)
    if stage == "speed":
        return speed_stage(run, results, args.threads, in_process)
    return int8_stage(run, args.threads, in_process)


def assemble(run: RunSettings, results: dict[str, Any]) -> dict[str, Any]:
    """The final table rows, the Drop-and-Restore curve and the goals."""
    speed = results.get("speed", {})
    models: list[dict[str, Any]] = []
    for stage in MODEL_STAGES:
        row = {"model": LABELS[stage], "stage": stage, **results.get(stage, {})}
        if "f1" in row:  # SQuAD 2.0: the best threshold, read from the fit's logs (also older run folders')
            logged = fit_metrics(run.out / stage) or {}
            row.update({k: logged[k] for k in ("best_f1", "best_f1_threshold") if k in logged})
        row["speedup_vs_teacher"] = speed.get("speedup_vs_teacher", {}).get(stage)
        row.update(speed.get("speedup_vs_teacher_fields", {}).get(stage, {}))
        models.append(row)
    int8 = results.get("int8", {})
    if "f1" in int8:
        row = {"model": LABELS["int8"], "stage": "int8", **int8}
        row.update(
            {k: models[MODEL_STAGES.index("lengthdrop")].get(k) for k in ("layers", "heads", "parameters")}
        )
        models.append(row)
    before = {r["config"]: r for r in results.get("lengths_before", {}).get("rows", [])}
    curve = []
    for r in results.get("lengths_after", {}).get("rows", []):
        b = before.get(r["config"], {})
        curve.append(
            {
                "config": r["config"],
                "length_config": r.get("length_config"),
                "f1_before": b.get("f1"),
                "exact_before": b.get("exact"),
                "speedup_before": b.get("speedup_vs_full"),
                "f1_after": r.get("f1"),
                "exact_after": r.get("exact"),
                "speedup_after": r.get("speedup_vs_full"),
                "speedup_after_measured": r.get("speedup_vs_full_measured"),
                "speedup_after_flag": r.get("speedup_vs_full_flag"),
                "relative_flops": r.get("relative_flops"),
                "bench_speedup_vs_teacher": speed.get("lengthdrop_configs_speedup_vs_teacher", {}).get(
                    r["config"]
                ),
            }
        )
    return {"models": models, "length_curve": curve, "goals": goals({m["stage"]: m for m in models}, curve)}


def _write(run: RunSettings, summary: dict[str, Any]) -> None:
    from lit_distill.callbacks.result_rows import write_rows

    write_text(run.out / "results.json", json.dumps(summary, indent=2, default=str) + "\n")
    write_rows(summary["models"], None, run.out / "results.csv")
    write_rows(summary["length_curve"], None, run.out / "length_curve.csv")


def _finish(
    run: RunSettings, args: argparse.Namespace, stages: tuple[str, ...], results: dict[str, Any]
) -> None:
    """Write and print the chain's summary."""
    wall = {s: results[s].get("wall_time_s") for s in stages if s in results}
    meta = {**asdict(run), "out": str(run.out), "profile_name": args.profile, "chain": args.chain}
    print()
    if args.chain == "distill":
        summary = assemble(run, results)
        summary.update(settings=meta, wall_time_s=wall)
        _write(run, summary)
        print(tables(summary["models"], summary["length_curve"], run.version))
        print(f"\ngoals: {json.dumps(summary['goals'])}")
        print(f"wrote {run.out / 'results.json'}, results.csv and length_curve.csv")
        return
    from lit_distill.callbacks.result_rows import write_rows

    if args.chain == "deploy":
        summary, text = deploy_summary(run, results)
        where = run.out / run.deploy.tag
    elif args.chain == "pruning":
        summary = pruning_summary(run, results, stages)
        text, where = pruning_table(summary), run.out / "pruning"
    else:
        summary = heads_summary(run, results, head_seeds(args))
        text, where = heads_table(summary), run.out / "heads"
    summary.update(settings=meta, wall_time_s=wall)
    where.mkdir(parents=True, exist_ok=True)
    write_text(where / "results.json", json.dumps(summary, indent=2, default=str) + "\n")
    if "models" in summary:
        write_rows(summary["models"], None, where / "results.csv")
    print(text)
    if summary.get("goals") and args.chain != "deploy":  # the deploy table prints its goals itself
        print(f"\ngoals: {json.dumps(summary['goals'])}")
    print(f"wrote {where / 'results.json'}")


def replicate(args: argparse.Namespace, in_process: Runner | None = None) -> int:
    """Run the chain that ``args`` (the command's parsed options) name; returns the exit code.

    0 when every stage finished, 2 for bad input (one line on stderr), 1 for a failed stage. Each
    stage is a new ``python -m lit_distill`` process, or a call of ``in_process`` (tests).
    """
    try:
        run = settings(args)
        stages = chain_stages(
            args.chain, run, ALL_STAGES, {"prune_control": args.prune_control, "head_seeds": head_seeds(args)}
        )
        if args.stop_after is not None and args.stop_after not in stages:
            raise InputError(
                f"--stop-after {args.stop_after!r}: the {args.chain} chain's stages are {', '.join(stages)}"
            )
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    run.out.mkdir(parents=True, exist_ok=True)
    print(
        f"replicate: chain {args.chain}, profile {args.profile}, SQuAD {run.version}, "
        f"student layers {run.student_layers}, output {run.out}",
        flush=True,
    )
    results: dict[str, Any] = {}
    width = max(17, *(len(s) for s in stages))
    for i, stage in enumerate(stages, 1):
        done = run.out / stage / "result.json"
        prefix = f"[{i:>2}/{len(stages)}] {stage:<{width}}"
        if done.is_file():
            results[stage] = json.loads(done.read_text())
            print(f"{prefix} finished before: skipped", flush=True)
            if stage == args.stop_after:
                break
            continue
        print(f"{prefix} running (log: {run.out / stage / 'log.txt'})", flush=True)
        start = time.perf_counter()
        try:
            result = run_stage(run, stage, results, args, in_process)
        except StageFailed as err:
            print(f"error: {err}", file=sys.stderr)
            return 2 if err.code == 2 else 1
        result["wall_time_s"] = round(time.perf_counter() - start, 1)
        done.parent.mkdir(parents=True, exist_ok=True)
        write_text(done, json.dumps(result, indent=2) + "\n")
        results[stage] = result
        score = f", EM {result['exact']:.2f} F1 {result['f1']:.2f}" if "f1" in result else ""
        print(f"{prefix} done in {result['wall_time_s']:.0f} s{score}", flush=True)
        if stage == args.stop_after:
            break
    _finish(run, args, stages, results)
    return 0
