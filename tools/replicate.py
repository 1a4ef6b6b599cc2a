"""Replicate the whole lit_distill chain on real SQuAD with one command, resumably.

teacher fine-tuning -> DistilBERT-style student with and without distillation (same student,
same schedule) -> TinyBERT-style ID + PD -> Drop-and-Restore curve before and after a
LengthDrop epoch -> head pruning by importance and at random -> speed of every model -> the
INT8 ONNX artifact. Each stage is an ordinary ``python -m lit_distill fit/validate/bench/export``
run whose configuration is kept in ``OUT/<stage>/``; a finished stage (``result.json``) is
skipped and an interrupted ``fit`` resumes from its ``last.ckpt``. Prints one table and writes
``OUT/results.json``, ``OUT/results.csv`` and ``OUT/length_curve.csv``.

    python tools/replicate.py --profile cpu --encoder MODEL_DIR --output runs/replicate \\
        --split-from ../shared/squad/dev-v1.1-style-half.json \\
        --heldout-articles Normans,Steam_engine,Yuan_dynasty,Warsaw,Force

See docs/replication.md for the profiles, the split and the results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools._replicate_commands import StageFailed, int8_stage, lit_distill, speed_stage, write_config  # noqa: E402
from tools._replicate_data import (  # noqa: E402
    InputError,
    check_encoder,
    check_squad_file,
    split_by_article,
    squad_version,
)
from tools._replicate_results import (  # noqa: E402
    fit_metrics,
    goals,
    length_rows,
    model_shape,
    tables,
)
from tools._replicate_stages import (  # noqa: E402
    PROFILES,
    RunSettings,
    count_parameters,
    every_other_layer,
    fit_config,
    length_curve,
    validate_config,
)

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--profile", choices=sorted(PROFILES), default="cpu", help="schedule (default cpu)")
    p.add_argument("--encoder", required=True, help="pretrained encoder directory (Hugging Face BERT)")
    p.add_argument("--output", required=True, help="run directory (rerun the same command to resume)")
    p.add_argument("--train", help="SQuAD 1.1/2.0 training file")
    p.add_argument("--eval", help="SQuAD 1.1/2.0 evaluation file (held-out articles)")
    p.add_argument("--split-from", help="instead of --train/--eval: split this SQuAD file by article")
    p.add_argument(
        "--heldout-articles", help="comma-separated article titles to hold out (with --split-from)"
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--student-layers", help="teacher layers the students start from, e.g. 1,3,5 (default every other)"
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads for bench and export")
    p.add_argument("--limit-train-batches", type=int, default=None, help="smoke runs: batches per epoch")
    p.add_argument("--limit-eval-batches", type=int, default=None, help="smoke runs: evaluation batches")
    p.add_argument("--max-seq-length", type=int, default=None, help="override the profile's")
    p.add_argument("--doc-stride", type=int, default=None, help="override the profile's")
    p.add_argument("--batch-size", type=int, default=None, help="override the profile's")
    p.add_argument("--bench-repeats", type=int, default=None, help="override the profile's")
    p.add_argument("--epochs", type=int, default=None, help="smoke runs: this many epochs for every stage")
    p.add_argument(
        "--teacher-epochs",
        type=int,
        default=None,
        help="the teacher stage's epochs (after --epochs; the SQuAD 2.0 runs: 4, docs/replication.md)",
    )
    p.add_argument(
        "--stop-after", choices=ALL_STAGES, default=None, help="run the stages up to this one (e.g. teacher)"
    )
    p.add_argument("--in-process", action="store_true", help="run the stages in this process (tests)")
    return p


def _positive(args: argparse.Namespace) -> None:
    for name in ("limit_train_batches", "limit_eval_batches", "max_seq_length", "doc_stride"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    for name in ("batch_size", "bench_repeats", "threads", "epochs", "teacher_epochs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {value}")


def settings(args: argparse.Namespace) -> RunSettings:
    """Check the inputs and build the run's settings (raises :class:`InputError`)."""
    _positive(args)
    out = Path(args.output).resolve()
    layers = check_encoder(Path(args.encoder))
    if args.split_from:
        if args.train or args.eval:
            raise InputError(
                "give either --split-from (with --heldout-articles) or --train and --eval, not both"
            )
        if not args.heldout_articles:
            raise InputError("--split-from needs --heldout-articles (comma-separated article titles)")
        heldout = [t.strip() for t in args.heldout_articles.split(",") if t.strip()]
        train_path, eval_path = split_by_article(Path(args.split_from), heldout, out / "data")
    else:
        if not args.train or not args.eval:
            raise InputError("give --train and --eval (SQuAD files), or --split-from with --heldout-articles")
        train_path, eval_path = Path(args.train).resolve(), Path(args.eval).resolve()
    version = squad_version(check_squad_file(train_path, "--train"), check_squad_file(eval_path, "--eval"))
    if args.student_layers:
        try:
            student_layers = [int(v) for v in args.student_layers.split(",")]
        except ValueError:
            raise InputError(
                f"--student-layers {args.student_layers!r}: expected integers like 1,3,5"
            ) from None
        bad = [v for v in student_layers if not 0 <= v < layers]
        if bad or not student_layers or len(student_layers) >= layers:
            raise InputError(
                f"--student-layers {args.student_layers}: need fewer than {layers} distinct layers in 0..{layers - 1}"
            )
    else:
        student_layers = every_other_layer(layers)
    profile = PROFILES[args.profile]
    overrides = {
        k: getattr(args, k)
        for k in ("max_seq_length", "doc_stride", "batch_size")
        if getattr(args, k) is not None
    }
    if args.bench_repeats is not None:
        overrides["bench_repeats"] = args.bench_repeats
    if args.epochs is not None:
        for name in ("teacher", "student", "id", "pd", "lengthdrop"):
            overrides[f"{name}_epochs"] = args.epochs
    if args.teacher_epochs is not None:
        overrides["teacher_epochs"] = args.teacher_epochs
    profile = replace(profile, **overrides)
    if profile.doc_stride >= profile.max_seq_length:
        raise InputError(
            f"--doc-stride {profile.doc_stride} must be < --max-seq-length {profile.max_seq_length}"
        )
    return RunSettings(
        profile=profile,
        out=out,
        train_file=str(train_path),
        eval_file=str(eval_path),
        encoder=str(Path(args.encoder).resolve()),
        version=version,
        seed=args.seed,
        student_layers=student_layers,
        limit_train_batches=args.limit_train_batches,
        limit_eval_batches=args.limit_eval_batches,
    )


def _validate(
    run: RunSettings, stage: str, model_dir: Path, configs: list[list[float]], in_process: bool
) -> list[dict[str, Any]]:
    path = write_config(validate_config(run, stage, model_dir, configs), run.out / stage, "validate.yaml")
    lit_distill(["validate", "--config", str(path)], stage, run.out / stage / "log.txt", in_process)
    rows = length_rows(run.out / stage)
    if not rows:
        raise StageFailed(stage, 1, run.out / stage / "log.txt")
    return rows


def _fit(run: RunSettings, stage: str, in_process: bool) -> dict[str, Any]:
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


def _curve(run: RunSettings, stage: str, in_process: bool) -> dict[str, Any]:
    source = "tinybert_pd" if stage == "lengths_before" else "lengthdrop"
    layers = model_shape(run.out / source / "model")["layers"]
    rows = _validate(run, stage, run.out / source / "model", length_curve(layers), in_process)
    return {"rows": rows}


def run_stage(
    run: RunSettings, stage: str, results: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    """Run one stage and return its result (written to ``OUT/<stage>/result.json`` by the caller)."""
    if stage in FIT_STAGES or stage in ("lengthdrop", "prune_importance", "prune_random"):
        return _fit(run, stage, args.in_process)
    if stage in ("lengths_before", "lengths_after"):
        return _curve(run, stage, args.in_process)
    if stage == "speed":
        return speed_stage(run, results, args.threads, args.in_process)
    return int8_stage(run, args.threads, args.in_process)


def assemble(run: RunSettings, results: dict[str, Any]) -> dict[str, Any]:
    """The final table rows, the Drop-and-Restore curve and the goals."""
    speed = results.get("speed", {})
    models: list[dict[str, Any]] = []
    for stage in MODEL_STAGES:
        row = {"model": LABELS[stage], "stage": stage, **results.get(stage, {})}
        row["speedup_vs_teacher"] = speed.get("speedup_vs_teacher", {}).get(stage)
        models.append(row)
    int8 = results.get("int8", {})
    if "f1" in int8:
        row = {"model": LABELS["int8"], "stage": "int8", **int8}
        row.update(
            {k: models[MODEL_STAGES.index("lengthdrop")].get(k) for k in ("layers", "heads", "parameters")}
        )
        teacher = speed.get("latency_median_s", {}).get("teacher")
        row["speedup_vs_teacher"] = teacher / int8["latency_median_s"] if teacher else None
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
                "relative_flops": r.get("relative_flops"),
                "bench_speedup_vs_teacher": speed.get("lengthdrop_configs_speedup_vs_teacher", {}).get(
                    r["config"]
                ),
            }
        )
    return {"models": models, "length_curve": curve, "goals": goals({m["stage"]: m for m in models}, curve)}


def _write(run: RunSettings, summary: dict[str, Any]) -> None:
    from lit_distill.callbacks.result_rows import write_rows

    (run.out / "results.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    write_rows(summary["models"], None, run.out / "results.csv")
    write_rows(summary["length_curve"], None, run.out / "length_curve.csv")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad input, 1 for a failed stage)."""
    args = build_parser().parse_args(argv)
    try:
        run = settings(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    run.out.mkdir(parents=True, exist_ok=True)
    print(
        f"replicate: profile {args.profile}, SQuAD {run.version}, student layers {run.student_layers}, output {run.out}",
        flush=True,
    )
    results: dict[str, Any] = {}
    for i, stage in enumerate(ALL_STAGES, 1):
        done = run.out / stage / "result.json"
        prefix = f"[{i:>2}/{len(ALL_STAGES)}] {stage:<17}"
        if done.is_file():
            results[stage] = json.loads(done.read_text())
            print(f"{prefix} finished before: skipped", flush=True)
            if stage == args.stop_after:
                break
            continue
        print(f"{prefix} running (log: {run.out / stage / 'log.txt'})", flush=True)
        start = time.perf_counter()
        try:
            result = run_stage(run, stage, results, args)
        except StageFailed as err:
            print(f"error: {err}", file=sys.stderr)
            return 2 if err.code == 2 else 1
        result["wall_time_s"] = round(time.perf_counter() - start, 1)
        done.parent.mkdir(parents=True, exist_ok=True)
        done.write_text(json.dumps(result, indent=2) + "\n")
        results[stage] = result
        score = f", EM {result['exact']:.2f} F1 {result['f1']:.2f}" if "f1" in result else ""
        print(f"{prefix} done in {result['wall_time_s']:.0f} s{score}", flush=True)
        if stage == args.stop_after:
            break
    summary = assemble(run, results)
    summary["settings"] = {**asdict(run), "out": str(run.out), "profile_name": args.profile}
    summary["wall_time_s"] = {s: results[s].get("wall_time_s") for s in ALL_STAGES if s in results}
    _write(run, summary)
    print()
    print(tables(summary["models"], summary["length_curve"], run.version))
    print(f"\ngoals: {json.dumps(summary['goals'])}")
    print(f"wrote {run.out / 'results.json'}, results.csv and length_curve.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
