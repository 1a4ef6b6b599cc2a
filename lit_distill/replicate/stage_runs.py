"""Running ``python -m lit_distill`` commands for ``python -m lit_distill replicate``, and its speed and INT8 stages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from lit_distill.replicate.results import model_card_metrics
from lit_distill.replicate.settings import RunSettings

ROOT = (
    Path(__file__).resolve().parents[2]
)  # the folder holding lit_distill/: stage processes import this copy

Runner = Callable[[list[str]], int]
"""Runs one ``python -m lit_distill`` command line in this process and returns its exit code."""

__all__ = ["Runner", "StageFailed", "int8_stage", "lit_distill", "speed_stage", "write_config"]


class StageFailed(Exception):
    """A ``python -m lit_distill`` stage exited with an error."""

    def __init__(self, stage: str, code: int, log: Path | None) -> None:
        where = f"; its output: {log}" if log else ""
        super().__init__(f"stage {stage} failed (exit code {code}){where}")
        self.code = code


def lit_distill(argv: list[str], stage: str, log: Path, in_process: Runner | None) -> None:
    """Run ``python -m lit_distill ARGV``: a new process with its output in ``log``, or ``in_process(argv)``.

    ``in_process`` is ``lit_distill.__main__.main`` or a stand-in (the tests run every stage in
    their own process); this package does not import the entry point that dispatches to it.
    """
    if in_process is not None:
        saved = sys.argv
        try:
            code = in_process(argv)
        except SystemExit as exc:  # argument errors of LightningCLI
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.argv = saved
        if code:
            raise StageFailed(stage, code, None)
        return
    log.parent.mkdir(parents=True, exist_ok=True)  # a bench-only stage has no config written there
    with log.open("a") as handle:
        handle.write(f"\n$ python -m lit_distill {' '.join(argv)}\n")
        handle.flush()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        code = subprocess.call(
            [sys.executable, "-m", "lit_distill", *argv], stdout=handle, stderr=subprocess.STDOUT, env=env
        )
    if code:
        raise StageFailed(stage, code, log)


def write_config(config: dict[str, Any], where: Path, name: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    path = where / name
    from lit_distill.atomic_write import write_text

    write_text(path, yaml.safe_dump(config, sort_keys=False))
    return path


def bench(
    run: RunSettings,
    model: Path,
    stage: str,
    name: str,
    extra: list[str],
    threads: int | None,
    in_process: Runner | None,
) -> list[dict[str, Any]]:
    p = run.profile
    out = run.out / stage / f"{name}.json"
    argv = ["bench", "--checkpoint", str(model), "--seq-length", str(p.max_seq_length)]
    argv += ["--batch-size", str(p.bench_batch_size), "--repeats", str(p.bench_repeats), "--output", str(out)]
    argv += (["--threads", str(threads)] if threads else []) + extra
    lit_distill(argv, stage, run.out / stage / "log.txt", in_process)
    return list(json.loads(out.read_text())["results"])


SPEEDUP_KEYS: tuple[str, ...] = (
    *("speedup_vs_baseline", "speedup_vs_baseline_measured", "speedup_vs_baseline_p25"),
    *("speedup_vs_baseline_p75", "speedup_vs_baseline_flag"),
)


def _vs_teacher(row: dict[str, Any]) -> dict[str, Any]:
    """A bench row's speed-up against its baseline (the teacher), renamed ``speedup_vs_teacher*``."""
    return {k.replace("baseline", "teacher"): row.get(k) for k in SPEEDUP_KEYS}


def speed_stage(
    run: RunSettings, results: dict[str, Any], threads: int | None, in_process: Runner | None
) -> dict[str, Any]:
    """Median latency of every model on random full-length inputs, each timed interleaved with the teacher.

    Every model is one ``bench --baseline TEACHER`` run: the teacher runs in the same rounds, so its
    speed-up is a median of per-round ratios, null (with the reason) when the rounds disagree.
    """
    teacher = ["--baseline", str(run.out / "teacher" / "model")]
    lat: dict[str, float] = {}
    fields: dict[str, dict[str, Any]] = {}
    teacher_lat: list[float] = []
    for stage in ("distilbert_kd", "tinybert_pd", "prune_importance", "prune_random"):
        rows = bench(run, run.out / stage / "model", "speed", stage, teacher, threads, in_process)
        lat[stage], fields[stage] = rows[0]["latency_median_s"], _vs_teacher(rows[0])
        teacher_lat.append(rows[-1]["latency_median_s"])
    lat["distilbert_nokd"], fields["distilbert_nokd"] = lat["distilbert_kd"], fields["distilbert_kd"]
    curve = [r["length_config"] for r in results["lengths_after"]["rows"] if r["length_config"] is not None]
    extra = [arg for cfg in curve for arg in ("--length-config", json.dumps(cfg))]
    rows = bench(
        run, run.out / "lengthdrop" / "model", "speed", "lengthdrop", extra + teacher, threads, in_process
    )
    teacher_lat.append(rows[-1]["latency_median_s"])
    lat["lengthdrop"], fields["lengthdrop"] = rows[0]["latency_median_s"], _vs_teacher(rows[0])
    lat["teacher"] = sorted(teacher_lat)[len(teacher_lat) // 2]
    fields["teacher"] = _vs_teacher(rows[-1])  # 1 by definition
    return {
        "latency_median_s": lat,
        "speedup_vs_teacher": {k: v["speedup_vs_teacher"] for k, v in fields.items()},
        "speedup_vs_teacher_fields": fields,
        "lengthdrop_configs_speedup_vs_teacher": {r["config"]: r["speedup_vs_baseline"] for r in rows[:-1]},
    }


def int8_stage(run: RunSettings, threads: int | None, in_process: Runner | None) -> dict[str, Any]:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return {"skipped": 'onnxruntime is not installed: pip install "lit_distill[export]"'}
    p = run.profile
    artifact = run.out / "int8" / "artifact"
    argv = [
        "export",
        str(run.out / "lengthdrop" / "model"),
        "--to",
        "onnx",
        "--int8",
        "--output",
        str(artifact),
    ]
    argv += [
        "--eval-file",
        run.eval_file,
        "--max-seq-length",
        str(p.max_seq_length),
        "--doc-stride",
        str(p.doc_stride),
    ]
    argv += ["--tokenizer", run.encoder, "--overwrite"] + (["--threads", str(threads)] if threads else [])
    lit_distill(argv, "int8", run.out / "int8" / "log.txt", in_process)
    result: dict[str, Any] = dict(model_card_metrics(artifact / "README.md"))
    teacher = ["--baseline", str(run.out / "teacher" / "model")]
    row = bench(run, artifact, "int8", "bench", teacher, threads, in_process)[0]  # timed with the teacher
    result["latency_median_s"] = row["latency_median_s"]
    result.update(_vs_teacher(row))
    result["artifact"] = str(artifact)
    return result
