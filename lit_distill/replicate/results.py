"""Reading stage results (Lightning CSV logs, length-evaluation files, model cards) and the final tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import yaml

from lit_distill.metrics.postprocess import threshold_from_probability
from lit_distill.timing import speedup_cell

__all__ = ["fit_metrics", "goals", "length_rows", "model_card_metrics", "model_shape", "tables"]

SCORE_KEYS = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_f1")


def fit_metrics(stage_dir: Path) -> dict[str, float] | None:
    """The last ``val/`` scores a ``fit`` logged in ``<stage_dir>/logs/version_*/metrics.csv`` (None if none).

    On SQuAD 2.0 they include ``best_f1`` and ``best_f1_threshold``, its no-answer threshold in
    logit-difference units (the ``null_score_diff_threshold`` that ``predict``, ``export`` and
    ``serve`` take): the logged ``best_null_score_diff_threshold``, or for logs without it the
    official ``best_f1_thresh`` (a no-answer probability) turned into ``logit(p)``.
    """
    found: dict[str, float] | None = None
    versions = sorted(
        (stage_dir / "logs").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1])
    )
    for path in versions:
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("val/f1"):
                    found = {k: float(row[f"val/{k}"]) for k in SCORE_KEYS if row.get(f"val/{k}")}
                    if row.get("val/best_null_score_diff_threshold"):  # SQuAD 2.0, logit units
                        found["best_f1_threshold"] = float(row["val/best_null_score_diff_threshold"])
                    elif row.get("val/best_f1_thresh"):  # logs of older versions: only the probability
                        found["best_f1_threshold"] = threshold_from_probability(
                            float(row["val/best_f1_thresh"])
                        )
    return found


def length_rows(stage_dir: Path) -> list[dict[str, Any]] | None:
    """The rows a ``LengthConfigEvaluator`` wrote to ``<stage_dir>/length_configs.json`` (None if absent)."""
    path = stage_dir / "length_configs.json"
    if not path.is_file():
        return None
    return list(json.loads(path.read_text())["results"])


def model_card_metrics(readme: Path) -> dict[str, float]:
    """EM / F1 (and HasAns / NoAns) from the YAML front matter of an exported model's README.md."""
    text = readme.read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---", 2)[1])
    names = {"EM": "exact", "F1": "f1", "HasAns EM": "HasAns_exact", "HasAns F1": "HasAns_f1"}
    names |= {"NoAns EM": "NoAns_exact", "NoAns F1": "NoAns_f1"}
    out: dict[str, float] = {}
    for result in front["model-index"][0]["results"]:
        for metric in result["metrics"]:
            if metric.get("name") in names:
                out[names[metric["name"]]] = float(metric["value"])
    return out


def model_shape(model_dir: Path) -> dict[str, Any]:
    """Layers and attention heads of a QAModel.save directory."""
    config = json.loads((model_dir / "lit_distill_config.json").read_text())
    layers = int(config["num_hidden_layers"])
    heads = config.get("heads_per_layer") or [config["num_attention_heads"]] * layers
    return {"layers": layers, "heads": int(sum(heads))}


def goals(models: dict[str, dict[str, Any]], curve: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's two goals: distillation >= +2 F1; after LengthDrop, >= 99 % of full F1 at >= 1.5x."""
    out: dict[str, Any] = {}
    kd, nokd = models.get("distilbert_kd", {}), models.get("distilbert_nokd", {})
    if "f1" in kd and "f1" in nokd:
        gain = kd["f1"] - nokd["f1"]
        out["distillation_gain_f1"] = round(gain, 2)
        out["distillation_goal_met"] = gain >= 2.0
    after = [r for r in curve if r.get("f1_after") is not None and r["config"] != "full"]
    full = next((r for r in curve if r["config"] == "full"), None)
    if after and full is not None and full.get("f1_after"):
        # a speed-up the interleaved timing flagged (null) is not one a goal can be met with
        ok = [
            r
            for r in after
            if r["f1_after"] >= 0.99 * full["f1_after"] and r.get("speedup_after") is not None
        ]
        best = max(ok, key=lambda r: r["speedup_after"]) if ok else None
        out["lengthdrop_best_config"] = None if best is None else best["config"]
        out["lengthdrop_best_speedup"] = None if best is None else round(best["speedup_after"], 2)
        out["lengthdrop_goal_met"] = best is not None and best["speedup_after"] >= 1.5
    return out


def _num(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def tables(models: list[dict[str, Any]], curve: list[dict[str, Any]], version: str) -> str:
    """The printed result: one row per model, then the Drop-and-Restore curve."""
    two = version == "2.0"
    head = f"{'model':<30} {'layers':>6} {'heads':>5} {'params':>11} {'EM':>6} {'F1':>6}"
    head += f" {'HasAns F1':>9} {'NoAns F1':>8} {'best F1':>7} {'threshold':>9}" if two else ""
    head += f" {'speed-up':>8}"
    lines = [head, "-" * len(head)]
    for r in models:
        line = (
            f"{r['model']:<30} {_num(r.get('layers'), 'd'):>6} {_num(r.get('heads'), 'd'):>5} "
            f"{_num(r.get('parameters'), ',d'):>11} {_num(r.get('exact'), '.2f'):>6} {_num(r.get('f1'), '.2f'):>6}"
        )
        if two:
            line += f" {_num(r.get('HasAns_f1'), '.2f'):>9} {_num(r.get('NoAns_f1'), '.2f'):>8}"
            line += f" {_num(r.get('best_f1'), '.2f'):>7} {_num(r.get('best_f1_threshold'), '.2f'):>9}"
        line += f" {speedup_cell(r, 'speedup_vs_teacher'):>8}"
        lines.append(line)
    if curve:
        lines += ["", "Drop-and-Restore on held-out data (ratios of each feature's real length)"]
        sub = f"{'config':<28} {'F1 before':>9} {'F1 after':>8} {'% of full':>9} {'speed-up':>8}"
        lines += [sub, "-" * len(sub)]
        full = next((r for r in curve if r["config"] == "full"), {})
        for r in curve:
            kept = (
                100.0 * r["f1_after"] / full["f1_after"]
                if r.get("f1_after") is not None and full.get("f1_after")
                else None
            )
            lines.append(
                f"{r['config']:<28} {_num(r.get('f1_before'), '.2f'):>9} {_num(r.get('f1_after'), '.2f'):>8} "
                f"{_num(kept, '.1f'):>9} {speedup_cell(r, 'speedup_after'):>8}"
            )
    return "\n".join(lines)
