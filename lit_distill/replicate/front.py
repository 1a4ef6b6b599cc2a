"""The deployment front of ``python -m lit_distill replicate`` (``--chain deploy``): timing, table, plot and goals.

Every artifact of ``<tag>/artifacts`` is timed in one process, interleaved with the others
and with Hugging Face ``BertForQuestionAnswering`` of BERT-base's shape (random weights,
built here, PyTorch fp32): batch 1, every token real, ``seq_length`` tokens (384, or the
model's positions if fewer), the same thread count for PyTorch and ONNX Runtime. Speed-ups
are against the fp32 teacher in ONNX Runtime and against BERT-base, from the same run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lit_distill.atomic_write import write_text
from lit_distill.replicate.settings import RunSettings
from lit_distill.timing import Timing, speedup, speedup_cell

__all__ = ["bert_base_qa", "deploy_goals", "front_stage", "front_table", "goals_text", "plot_front"]


def bert_base_qa() -> Any:
    """``BertForQuestionAnswering`` in bert-base-uncased's shape: random weights (seed 0), SDPA attention.

    The reference that deployed artifacts are timed against; nothing is downloaded.
    """
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(0)
    config = BertConfig(attn_implementation="sdpa")  # type: ignore[call-arg]  # PretrainedConfig's **kwargs
    return BertForQuestionAnswering(config).eval()


def _time_all(graphs: list[Path], seq_length: int, vocab: int, threads: int, repeats: int) -> list[Timing]:
    """Interleaved batch-1 timings of BERT-base (first) and each graph, in the same rounds."""
    import torch

    from lit_distill.export.artifact import onnx_forward, onnx_session
    from lit_distill.timing import random_inputs, time_interleaved

    torch.set_num_threads(threads)
    inputs = random_inputs(vocab, 1, seq_length)
    tensors = tuple(torch.from_numpy(x) for x in inputs)
    bert = bert_base_qa()  # BERT-base's shape, random weights, SDPA attention (no download)

    def run_bert() -> Any:
        with torch.inference_mode():
            return bert(*tensors)

    # timed in the same rounds: no spinning threads (see onnx_session)
    forwards = [onnx_forward(onnx_session(g, threads, spinning=False)) for g in graphs]
    runs = [run_bert, *[lambda f=f: f(*inputs) for f in forwards]]  # type: ignore[misc]
    return time_interleaved(runs, warmup=2, repeats=repeats)


def front_stage(run: RunSettings, results: dict[str, Any], threads: int | None) -> dict[str, Any]:
    """Time every held-out artifact against BERT-base and the fp32 teacher; write the table, plot and goals."""
    d = run.deploy
    art = results[f"{d.tag}/artifacts"]
    rows = [dict(r) for r in art["rows"] if r["eval_on"] == "heldout"]
    positions, vocab = _shape(run.out / "teacher" / "model")
    seq_length = min(d.seq_length, positions)
    threads = threads or 2
    stats = _time_all(
        [Path(r["directory"]) / "model.onnx" for r in rows],
        seq_length,
        vocab,
        threads,
        run.profile.bench_repeats,
    )
    bert = stats[0]
    timings = dict(zip((r["name"] for r in rows), stats[1:], strict=True))
    for row in rows:
        s = timings[row["name"]]
        row.update(latency_ms=1e3 * s.median, latency_iqr_ms=1e3 * s.iqr)
    teacher = next(r for r in rows if r["name"] == "teacher-fp32")
    full = next(
        r for r in rows if r["model"] == "lengthdrop" and r["scheme"] is None and r["length_config"] is None
    )
    fp32 = {_key(r): r for r in rows if r["scheme"] is None and r["model"] == "lengthdrop"}
    for row in rows:
        mine = timings[row["name"]]
        # speed-ups are medians of per-round ratios, flagged when the rounds disagree (lit_distill.timing)
        row.update(speedup(timings[teacher["name"]], mine, steady_work=True).fields("speedup_vs_teacher"))
        row.update(speedup(bert, mine, steady_work=True).fields("speedup_vs_bert_base"))
        row.update(speedup(timings[full["name"]], mine, steady_work=True).fields("speedup_vs_full"))
        row["f1_vs_teacher"] = row["f1"] - teacher["f1"]
        own = fp32.get(_key(row))
        row["f1_vs_own_fp32"] = None if row["scheme"] is None or own is None else row["f1"] - own["f1"]
    out = run.out / d.tag
    summary = {
        "rows": rows,
        "bert_base_latency_ms": 1e3 * bert.median,
        "bert_base_latency_iqr_ms": 1e3 * bert.iqr,
        "seq_length": seq_length,
        "threads": threads,
        "repeats": run.profile.bench_repeats,
        "load_average": list(os.getloadavg()),
        "chosen": art["chosen"],
        "goals": deploy_goals(rows, art["chosen"]),
    }
    from lit_distill.callbacks.result_rows import write_rows

    write_rows([{k: v for k, v in r.items() if k != "directory"} for r in rows], None, out / "front.csv")
    write_text(out / "front.json", json.dumps(summary, indent=2) + "\n")
    summary["plot"] = plot_front(rows, out / "front.png")
    return summary


def _shape(model_dir: Path) -> tuple[int, int]:
    config = json.loads((model_dir / "lit_distill_config.json").read_text())
    return int(config["max_position_embeddings"]), int(config["vocab_size"])


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row["length_config"])


def deploy_goals(rows: list[dict[str, Any]], chosen: list[float] | None) -> dict[str, Any]:
    """The issue's three deployment goals, read off the front (each met or missed, with the numbers).

    * ``lengths``: an fp32 length configuration keeping >= 97 % of the full-length LengthDrop
      model's F1 at >= 1.5x its speed (ONNX Runtime, batch 1, interleaved);
    * ``int8``: an INT8 artifact within 1.0 F1 of the fp32 graph at the same length configuration;
    * ``final``: an INT8 + length artifact within 1.5 F1 of the fp32 full-length teacher and
      >= 2.5x faster than it.
    """
    full = next(
        r for r in rows if r["model"] == "lengthdrop" and r["scheme"] is None and r["length_config"] is None
    )
    out: dict[str, Any] = {}
    lengths = [r for r in rows if r["model"] == "lengthdrop" and r["scheme"] is None and r["length_config"]]
    ok = [r for r in lengths if r["f1"] >= 0.97 * full["f1"]]
    best = max(ok, key=lambda r: r["speedup_vs_full_measured"], default=None)
    out["lengths"] = {
        # a flagged (untrusted) speed-up is stored as None and meets no goal
        "met": best is not None and (best["speedup_vs_full"] or 0.0) >= 1.5,
        "best": None
        if best is None
        else {
            "name": best["name"],
            "f1_share": best["f1"] / full["f1"] if full["f1"] else None,
            "speedup_vs_full": best["speedup_vs_full_measured"],
            "speedup_flag": best["speedup_vs_full_flag"],
            "searched": "-fixed" not in best["name"],
        },
    }
    int8 = [r for r in rows if r["scheme"] is not None and r["f1_vs_own_fp32"] is not None]
    closest = max(int8, key=lambda r: r["f1_vs_own_fp32"], default=None)
    out["int8"] = {
        "met": closest is not None and closest["f1_vs_own_fp32"] >= -1.0,
        "best": None
        if closest is None
        else {"name": closest["name"], "f1_vs_own_fp32": closest["f1_vs_own_fp32"]},
    }
    final = [r for r in int8 if r["length_config"] is not None]
    good = [r for r in final if r["f1_vs_teacher"] >= -1.5 and (r["speedup_vs_teacher"] or 0.0) >= 2.5]
    pick = max(
        good or final,
        key=lambda r: (r["f1_vs_teacher"] >= -1.5, r["speedup_vs_teacher_measured"]),
        default=None,
    )
    out["final"] = {
        "met": bool(good),
        "chosen_length_config": chosen,
        "best": None
        if pick is None
        else {
            "name": pick["name"],
            "f1_vs_teacher": pick["f1_vs_teacher"],
            "speedup_vs_teacher": pick["speedup_vs_teacher_measured"],
            "speedup_flag": pick["speedup_vs_teacher_flag"],
        },
    }
    return out


def goals_text(goals: dict[str, Any]) -> str:
    """One line per goal: met or missed, with the numbers that decide it."""
    lines = []
    best = goals["lengths"]["best"]
    lines.append(
        f"lengths >= 97 % of full F1 at >= 1.5x (fp32 ORT): {'met' if goals['lengths']['met'] else 'missed'}"
        + (
            ""
            if best is None
            else f" (best {best['name']}: {_num(best['f1_share'] and 100 * best['f1_share'], '.1f')} % at "
            f"{best['speedup_vs_full']:.2f}x{_flagged(best)})"
        )
    )
    best = goals["int8"]["best"]
    lines.append(
        f"INT8 within 1.0 F1 of its own fp32: {'met' if goals['int8']['met'] else 'missed'}"
        + ("" if best is None else f" (best {best['name']}: {best['f1_vs_own_fp32']:+.2f} F1)")
    )
    best = goals["final"]["best"]
    lines.append(
        f"INT8 + lengths within 1.5 F1 of the fp32 teacher and >= 2.5x faster: "
        f"{'met' if goals['final']['met'] else 'missed'}"
        + (
            ""
            if best is None
            else f" ({best['name']}: {best['f1_vs_teacher']:+.2f} F1 at {best['speedup_vs_teacher']:.2f}x"
            f"{_flagged(best)})"
        )
    )
    return "\n".join(lines)


def _flagged(best: dict[str, Any]) -> str:
    return "" if best.get("speedup_flag") is None else f", not trusted: {best['speedup_flag']}"


def _num(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def front_table(summary: dict[str, Any]) -> str:
    """The printed deployment front: one row per artifact, sorted by latency, then the goals."""
    head = (
        f"{'artifact':<52} {'length configuration':<36} {'EM':>6} {'F1':>6} {'dF1 own':>7} {'dF1 T':>6} "
        f"{'ms':>8} {'IQR':>6} {'x T':>6} {'x BERT':>7}"
    )
    lines = [
        f"Deployment front: held-out F1, batch 1 x {summary['seq_length']} tokens, {summary['threads']} threads, "
        f"interleaved, median of {summary['repeats']} (BERT-base fp32 PyTorch {summary['bert_base_latency_ms']:.1f} ms)",
        head,
        "-" * len(head),
    ]
    for r in sorted(summary["rows"], key=lambda r: r["latency_ms"]):
        config = "full" if r["length_config"] is None else ",".join(f"{v:g}" for v in r["length_config"])
        lines.append(
            f"{r['label'] + (' *' if r.get('chosen') else ''):<52} {config:<36} {_num(r.get('exact'), '.2f'):>6} "
            f"{_num(r.get('f1'), '.2f'):>6} {_num(r.get('f1_vs_own_fp32'), '+.2f'):>7} {r['f1_vs_teacher']:>+6.2f} "
            f"{r['latency_ms']:>8.2f} {r['latency_iqr_ms']:>6.2f} {speedup_cell(r, 'speedup_vs_teacher'):>6} "
            f"{speedup_cell(r, 'speedup_vs_bert_base'):>7}"
        )
    lines.append(
        "(* the chosen length configuration; dF1 own: INT8 vs fp32 at the same lengths; dF1 T: vs the teacher)"
    )
    same = {
        r["name"]: r["latency_ms"]
        for r in summary["rows"]
        if r["name"] in ("teacher-fp32", "lengthdrop-fp32")
    }
    if len(same) == 2:
        lines.append(
            f"noise check: the teacher and the LengthDrop model in fp32 have the same shape and timed "
            f"{same['teacher-fp32']:.2f} / {same['lengthdrop-fp32']:.2f} ms (ratio "
            f"{same['teacher-fp32'] / same['lengthdrop-fp32']:.2f}); load average at the start: "
            + " ".join(f"{v:.1f}" for v in summary["load_average"])
        )
    return "\n".join(lines)


def _plot_group(row: dict[str, Any]) -> str:
    """Which series of the front plot an artifact belongs to."""
    if row["scheme"] is not None:
        return "INT8 + lengths" if row["length_config"] else "INT8, full length"
    if row["length_config"] is None:
        return "fp32, full length"
    return "fp32 + searched lengths" if row.get("front_index") is not None else "fp32 + fixed curve"


_PLOT_STYLE = {  # series: (marker, line joining its points by latency)
    "fp32, full length": ("s", ""),
    "fp32 + searched lengths": ("o", "-"),
    "fp32 + fixed curve": ("x", "--"),
    "INT8, full length": ("^", ""),
    "INT8 + lengths": ("v", ""),
}


def plot_front(rows: list[dict[str, Any]], path: Path) -> str | None:
    """F1 against latency of every artifact, one marker per kind; the path, or None without matplotlib.

    Labelled: the full-length fp32 models, the chosen configuration and the fastest INT8
    artifact with lengths (the others are in the table; their names would overlap).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for group, (marker, line) in _PLOT_STYLE.items():
        points = sorted((r["latency_ms"], r["f1"]) for r in rows if _plot_group(r) == group)
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker=marker, linestyle=line or "none", label=group, alpha=0.85)
    int8_lengths = [r for r in rows if _plot_group(r) == "INT8 + lengths"]
    named = [r for r in rows if _plot_group(r) == "fp32, full length" or r.get("chosen")]
    named += [min(int8_lengths, key=lambda r: r["latency_ms"])] if int8_lengths else []
    for r in named:
        text = r["name"] + (" (chosen lengths)" if r.get("chosen") else "")
        ax.annotate(
            text,
            (r["latency_ms"], r["f1"]),
            fontsize=7,
            xytext=(-6, -3),
            textcoords="offset points",
            ha="right",
        )
    teacher = next(r for r in rows if r["name"] == "teacher-fp32")
    ax.axhline(teacher["f1"] - 1.5, linestyle=":", color="grey", label="teacher F1 - 1.5")
    ax.axvline(teacher["latency_ms"] / 2.5, linestyle="-.", color="grey", label="2.5x the teacher")
    ax.set_xlabel("latency, batch 1 (ms, ONNX Runtime, interleaved median)")
    ax.set_ylabel("held-out F1")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)
    return str(path)
