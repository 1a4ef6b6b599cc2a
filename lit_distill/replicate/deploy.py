"""The deployment chain of ``python -m lit_distill replicate`` (``--chain deploy``): search and export stages.

After the teacher and LengthDrop on it (ordinary ``fit`` stages, :mod:`lit_distill.replicate.stages`):

* ``<tag>/search``: the length-configuration search with the deployed-latency objective
  (``python -m lit_distill search`` on a spec written here, like
  ``configs/search/length_config_onnx.yaml``): each trial scores the LengthDrop model's fp32
  ONNX graph with the trial's ratios on the *search* split and times it in ONNX Runtime
  (``DeployedLatency``); then ``search holdout`` scores the front on the held-out articles;
* ``<tag>/artifacts``: ``python -m lit_distill export`` of every artifact of the deployment
  front, each scored by itself on the held-out articles: the teacher and the LengthDrop
  model in fp32 at full length, the LengthDrop model with every front configuration and with
  a hand-picked curve (``fixed_steps``, for comparison; fp32), and INT8 (each scheme asked for, and one scheme again with the sensitivity fallback) at
  full length and at the chosen configuration: the fastest front point whose search-split
  F1 keeps ``keep_f1`` of the full-length model's search-split F1 (chosen without the
  held-out articles).

Each export is its own directory under ``<tag>/artifacts/``; one that exists is not redone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lit_distill.replicate.results import model_card_metrics, model_shape
from lit_distill.replicate.settings import RunSettings
from lit_distill.replicate.stage_runs import Runner, lit_distill, write_config
from lit_distill.replicate.stages import length_curve

__all__ = ["Artifact", "artifacts_stage", "choose_config", "eval_windows", "search_stage"]


def eval_windows(run: RunSettings, positions: int) -> tuple[int, int, int]:
    """(tokens, stride, question tokens) of the deployment evaluation: those of ``export --eval-file``.

    The search scores its trials through the data module, the artifacts stage through
    ``export``; both cut the same windows, so their F1 can be compared.
    """
    from lit_distill.export.api import eval_settings

    settings = eval_settings(positions, run.deploy.seq_length)  # stride: 128 or a quarter of the window
    return settings.max_seq_length, settings.doc_stride, settings.max_query_length


def _positions(model_dir: Path) -> int:
    return int(json.loads((model_dir / "lit_distill_config.json").read_text())["max_position_embeddings"])


def search_stage(run: RunSettings, threads: int | None, in_process: Runner | None) -> dict[str, Any]:
    """Search the LengthDrop model's length configuration, then score the front on the held-out articles."""
    tag, d = run.deploy.tag, run.deploy
    where = run.out / tag / "search"
    model_dir = run.out / tag / "lengthdrop" / "model"
    width, stride, query = eval_windows(run, _positions(model_dir))
    trainer: dict[str, Any] = {
        "accelerator": run.profile.accelerator,
        "devices": 1,
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "callbacks": [
            {
                "class_path": "lit_distill.export.DeployedLatency",
                "init_args": {
                    "int8": False,  # the fp32 graph: the length configuration's own cost; INT8 comes after
                    "batch_size": 1,
                    "seq_length": width,
                    "threads": threads or 2,
                    "repeats": run.profile.bench_repeats,
                    "evaluate": True,
                },
            }
        ],
    }
    if run.limit_eval_batches is not None:
        trainer["limit_val_batches"] = run.limit_eval_batches
    base = {
        "seed_everything": run.seed,
        "trainer": trainer,
        "model": {
            "class_path": "lit_distill.modules.Teacher",
            "init_args": {"model": str(model_dir), "length_config": None},
        },
        "data": {
            "class_path": "lit_distill.data.SquadDataModule",
            "init_args": {
                "source": {
                    "class_path": "lit_distill.data.SquadFiles",
                    "init_args": {"validation": d.search_file},
                },
                "tokenizer": run.encoder,
                "version": run.version,
                "max_seq_length": width,
                "doc_stride": stride,
                "max_query_length": query,
                "eval_batch_size": run.profile.eval_batch_size,
                "num_workers": 0,
                "cache_dir": str(run.out / "cache" / "features"),
            },
        },
    }
    layers = model_shape(model_dir)["layers"]
    spec = {
        "name": f"{tag}-lengths",
        "command": "validate",
        "base_config": "base.yaml",
        "monotone_chains": [
            {
                "name": "lengths",
                "key": "model.init_args.length_config",
                "length": layers,
                "type": "double",
                "bounds": {"min": d.min_ratio, "max": 1.0},
            }
        ],
        "metrics": [
            {"name": "deployed_f1", "objective": "maximize"},
            {"name": "deployed_latency_ms", "objective": "minimize"},
            {"name": "f1", "strategy": "store"},
            {"name": "eval_time_s", "strategy": "store"},
            {"name": "deployed_exact", "strategy": "store"},
        ],
        "holdout": {"overrides": {"data.init_args.source.init_args.validation": run.eval_file}},
        "observation_budget": d.search_trials,
        "parallel_bandwidth": 1,
        "output_dir": str(where / "study"),
        "backend": {"type": "optuna", "sampler": "auto", "seed": run.seed},
    }
    write_config(base, where, "base.yaml")
    path = write_config(spec, where, "spec.yaml")
    log = where / "log.txt"
    lit_distill(["search", "run", "--config", str(path), "--no-report"], f"{tag}/search", log, in_process)
    lit_distill(["search", "holdout", "--config", str(path)], f"{tag}/search", log, in_process)
    pareto = json.loads((where / "study" / "report" / "pareto.json").read_text())
    front = []
    for trial in pareto["front"]:
        metrics, holdout = trial["metrics"], trial.get("holdout") or {}
        front.append(
            {
                "trial": trial["number"],
                "length_config": [round(float(v), 4) for v in trial["assignment"]["lengths"]],
                "search_f1": metrics.get("deployed_f1"),
                "search_latency_ms": metrics.get("deployed_latency_ms"),
                "holdout_f1": holdout.get("deployed_f1"),
                "holdout_exact": holdout.get("deployed_exact"),
            }
        )
    front.sort(key=lambda r: r["search_latency_ms"])
    return {"front": front, "trials": sum(pareto["trial_counts"].values()), "spec": str(path)}


def choose_config(front: list[dict[str, Any]], full_f1: float, keep: float) -> int | None:
    """Index of the fastest front point whose search-split F1 keeps ``keep`` of ``full_f1``.

    With none that does, the front point with the highest F1; None for an empty front.
    """
    if not front:
        return None
    ok = [i for i, r in enumerate(front) if r["search_f1"] is not None and r["search_f1"] >= keep * full_f1]
    if ok:
        return min(ok, key=lambda i: front[i]["search_latency_ms"])
    return max(range(len(front)), key=lambda i: front[i]["search_f1"] or 0.0)


@dataclass(frozen=True)
class Artifact:
    """One export of the deployment front.

    Attributes:
        name: Directory name under ``<tag>/artifacts``.
        model: ``"teacher"``, ``"lengthdrop"`` or ``"control"``.
        length_config: Ratios built into the graph, or None (full length).
        scheme: INT8 scheme, or None (fp32).
        fallback: INT8 with the sensitivity fallback under the chain's budget.
        eval_on: ``"heldout"`` or ``"search"`` (the split it is scored on).
    """

    name: str
    model: str
    length_config: tuple[float, ...] | None = None
    scheme: str | None = None
    fallback: bool = False
    eval_on: str = "heldout"

    @property
    def label(self) -> str:
        """How the table names it."""
        what = {"teacher": "teacher", "lengthdrop": "LengthDrop", "control": "control (no LengthDrop)"}
        text = f"{what[self.model]} {'fp32' if self.scheme is None else 'INT8 ' + self.scheme}"
        text += " + fallback" if self.fallback else ""
        return text + ("" if self.length_config is None else " + lengths")


def _model_dir(run: RunSettings, model: str) -> Path:
    return run.out / "teacher" / "model" if model == "teacher" else run.out / run.deploy.tag / model / "model"


def _export(
    run: RunSettings, artifact: Artifact, threads: int | None, in_process: Runner | None
) -> dict[str, Any]:
    """``python -m lit_distill export`` of one artifact (skipped when its directory exists); its scores."""
    d = run.deploy
    out = run.out / d.tag / "artifacts" / artifact.name
    if not (out / "lit_distill_export.json").is_file():
        argv = ["export", str(_model_dir(run, artifact.model)), "--to", "onnx", "--output", str(out)]
        argv += ["--eval-file", run.eval_file if artifact.eval_on == "heldout" else d.search_file]
        width, stride, _ = eval_windows(run, _positions(_model_dir(run, artifact.model)))
        argv += ["--max-seq-length", str(width), "--doc-stride", str(stride), "--tokenizer", run.encoder]
        argv += ["--threads", str(threads)] if threads else []
        if artifact.length_config is not None:
            argv += ["--length-config", json.dumps(list(artifact.length_config))]
        if artifact.scheme is not None:
            argv += ["--int8", "--int8-scheme", artifact.scheme]
            if artifact.scheme.startswith("static-") or artifact.fallback:
                argv += [
                    "--calibration-file",
                    run.train_file,
                    "--calibration-windows",
                    str(d.calibration_windows),
                ]
            if artifact.fallback:
                argv += ["--int8-budget", str(d.int8_budget), "--sensitivity-file", d.search_file]
        lit_distill(argv, f"{d.tag}/artifacts", run.out / d.tag / "artifacts" / "log.txt", in_process)
    row: dict[str, Any] = {"name": artifact.name, "label": artifact.label, "model": artifact.model}
    row.update(length_config=artifact.length_config and list(artifact.length_config), scheme=artifact.scheme)
    row.update(fallback=artifact.fallback, eval_on=artifact.eval_on, directory=str(out))
    row.update(model_card_metrics(out / "README.md"))
    report = out / "int8_report.json"
    if report.is_file():
        row["kept_fp32"] = json.loads(report.read_text()).get("kept_fp32", [])
    return row


def artifacts_stage(
    run: RunSettings, results: dict[str, Any], threads: int | None, in_process: Runner | None
) -> dict[str, Any]:
    """Export and score every artifact of the deployment front (see the module docstring)."""
    d = run.deploy
    front = results[f"{d.tag}/search"]["front"]
    rows = [_export(run, a, threads, in_process) for a in (Artifact("teacher-fp32", "teacher"),)]
    if d.control:
        rows.append(_export(run, Artifact("control-fp32", "control"), threads, in_process))
    full = _export(run, Artifact("lengthdrop-fp32", "lengthdrop"), threads, in_process)
    full_search = _export(
        run, Artifact("lengthdrop-fp32-search", "lengthdrop", eval_on="search"), threads, in_process
    )
    rows.append(full)
    lengths = []
    for i, point in enumerate(front):
        point_config = tuple(point["length_config"])
        row = _export(
            run, Artifact(f"lengthdrop-fp32-len{i}", "lengthdrop", point_config), threads, in_process
        )
        row.update(search_f1=point["search_f1"], search_holdout_f1=point["holdout_f1"], front_index=i)
        lengths.append(row)
    rows += lengths
    layers = model_shape(_model_dir(run, "lengthdrop"))["layers"]
    for k, fixed in enumerate(length_curve(layers, d.fixed_steps)):
        row = _export(
            run, Artifact(f"lengthdrop-fp32-fixed{k}", "lengthdrop", tuple(fixed)), threads, in_process
        )
        rows.append({**row, "label": row["label"] + " (fixed)"})
    chosen = choose_config(front, float(full_search["f1"]), d.keep_f1)
    configs: list[tuple[str, tuple[float, ...] | None]] = [("", None)]
    if chosen is not None:
        configs.append(("-len", tuple(front[chosen]["length_config"])))
        lengths[chosen]["chosen"] = True
    for suffix, config in configs:
        for scheme in d.int8_schemes:
            rows.append(
                _export(
                    run,
                    Artifact(f"lengthdrop-{scheme}{suffix}", "lengthdrop", config, scheme),
                    threads,
                    in_process,
                )
            )
        name = f"lengthdrop-{d.fallback_scheme}-fallback{suffix}"
        rows.append(
            _export(
                run,
                Artifact(name, "lengthdrop", config, d.fallback_scheme, fallback=True),
                threads,
                in_process,
            )
        )
    return {
        "rows": rows,
        "chosen": None if chosen is None else front[chosen]["length_config"],
        "full_search_f1": full_search["f1"],
        "keep_f1": d.keep_f1,
    }
