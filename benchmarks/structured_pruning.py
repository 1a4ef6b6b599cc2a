"""F1, encoder FLOPs and parameters of a trained QA model after one-shot structured pruning.

Loads a model (directory or lit_distill ``.ckpt``), scores it on the synthetic quickstart
dev split (or any SquadDataModule arguments given as JSON), scores heads and FFN neurons
once (``compute_importance``: |∂loss/∂gate| per example and token over
``--importance-batches`` training batches, normalised per layer), then, for head-only,
FFN-only and joint pruning at each ``--targets`` fraction of the encoder's FLOPs
(per sequence of ``--seq-length`` tokens, global scope: the least important units of
the whole model go), prunes a copy and scores it without retraining. Prints one table.

``--repeats N`` also times every model on random full-length inputs (``--bench-batch-size``
sequences of ``--seq-length`` tokens), interleaved: one timed forward of every model per
round, N rounds, so that a drift of the machine slows every model alike; the table then
gives the median latency, the speed-up over the unpruned model and the share of the FLOP
reduction that became time saved (``1 - t/t0`` over ``1 - FLOPs/FLOPs0``). ``--plot`` draws
F1 against encoder FLOPs (and against the measured speed-up when timed); ``--distilled``
adds the F1 each model reached after distillation (a JSON object, model name -> F1);
``--from-json ROWS.json --plot OUT.png`` redraws from an earlier run's ``--json``.

    python -m benchmarks.structured_pruning --model runs/quickstart/teacher/model \\
        --data '{"source": {"class_path": "SyntheticSquad"}, "cache_dir": "runs/quickstart/data", "max_seq_length": 96, "doc_stride": 48}'
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

import torch

from benchmarks.compression_lengths import QUICKSTART_DATA
from benchmarks.compression_pruning import score
from lit_distill.commands.bench import load_qa_model
from lit_distill.compression.head_importance import compute_importance
from lit_distill.compression.structured_budget import budget_for_target, encoder_cost
from lit_distill.compression.structured_selection import select_by_importance
from lit_distill.data.datamodule import SquadDataModule
from lit_distill.losses import span_cross_entropy
from lit_distill.models.surgery import prune_ffn, prune_heads
from lit_distill.timing import time_interleaved


def main() -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory or lit_distill .ckpt")
    parser.add_argument(
        "--data", default=None, help="SquadDataModule arguments as JSON (default: quickstart data)"
    )
    parser.add_argument("--targets", default="0.3,0.5,0.7", help="fractions of the encoder FLOPs to remove")
    parser.add_argument(
        "--seq-length", type=int, default=None, help="tokens for the FLOPs (default: max_seq_length)"
    )
    parser.add_argument("--importance-batches", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=0, help="timed rounds (0: no timing)")
    parser.add_argument("--bench-batch-size", type=int, default=8, help="sequences per timed forward")
    parser.add_argument("--json", default=None)
    parser.add_argument("--plot", default=None, help="PNG: F1 against FLOPs (and speed-up when timed)")
    parser.add_argument(
        "--distilled", default=None, help="JSON file: model name -> F1 after distillation (for --plot)"
    )
    parser.add_argument(
        "--from-json", default=None, help="only draw --plot from the rows of an earlier --json (no model)"
    )
    args = parser.parse_args()
    if args.from_json:
        if not args.plot:
            parser.error("--from-json needs --plot")
        saved = [r for r in json.loads(Path(args.from_json).read_text()) if "error" not in r]
        distilled = json.loads(Path(args.distilled).read_text()) if args.distilled else {}
        plot(saved, distilled, int(args.seq_length or 384), Path(args.plot))
        return 0
    if not args.model:
        parser.error("--model is required (or --from-json with --plot)")
    torch.manual_seed(0)
    data = json.loads(args.data) if args.data else dict(QUICKSTART_DATA)
    dm = SquadDataModule.from_init_args(data)
    dm.prepare_data()
    dm.setup("fit")
    base = load_qa_model(args.model).eval()
    seq = args.seq_length or int(data.get("max_seq_length", 384))
    full_flops, full_params = (
        encoder_cost(base.config, "flops", seq),
        encoder_cost(base.config, "parameters", seq),
    )

    def loss_fn(batch: dict[str, torch.Tensor], gates: list[torch.Tensor] | None) -> torch.Tensor:
        out = base(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], head_gates=gates)
        return span_cross_entropy(
            out.start_logits, out.end_logits, batch["start_positions"], batch["end_positions"]
        )

    layers: list[Any] = list(base.encoder.layers)
    importance = compute_importance(
        loss_fn,
        iter(dm.train_dataloader()),
        base.config.layer_heads,
        args.importance_batches,
        projections=[layer.attn_out for layer in layers],
        ffn_projections=[layer.ffn_out for layer in layers],
    )
    assert importance.neurons is not None

    def row(name: str, model: Any) -> dict[str, Any]:
        c = model.config
        return {
            "model": name,
            "heads": sum(c.layer_heads),
            "ffn": sum(c.layer_intermediate_sizes),
            "encoder_flops": encoder_cost(c, "flops", seq) / full_flops,
            "encoder_params": encoder_cost(c, "parameters", seq) / full_params,
            **score(model, dm),
        }

    rows = [row("unpruned", base)]
    models = [base]
    for target in (float(t) for t in args.targets.split(",")):
        for parts in ("heads", "ffn", "both"):
            name = f"{parts}, -{target:.0%} FLOPs"
            try:
                budget = budget_for_target(base.config, target, "flops", parts, "global", seq)
            except ValueError as err:
                rows.append({"model": name, "error": str(err)})
                continue
            model = copy.deepcopy(base)
            assert isinstance(budget.heads, int) and isinstance(budget.neurons, int)
            if budget.heads:
                prune_heads(model, select_by_importance(importance.heads, total=budget.heads, unit="head"))
            if budget.neurons:
                prune_ffn(model, select_by_importance(importance.neurons, total=budget.neurons))
            rows.append(row(name, model))
            models.append(model)

    timed = [r for r in rows if "error" not in r]
    if args.repeats > 0:
        for r, latency in zip(
            timed, interleaved_latency(models, args.bench_batch_size, seq, args.repeats), strict=True
        ):
            r["latency_median_s"] = latency
            r["speedup"] = timed[0]["latency_median_s"] / latency
            saved_flops = 1.0 - r["encoder_flops"]
            r["time_saved_per_flop_saved"] = (1.0 - 1.0 / r["speedup"]) / saved_flops if saved_flops else None

    print_table(rows, seq, args.repeats > 0)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=str))
    if args.plot:
        distilled = json.loads(Path(args.distilled).read_text()) if args.distilled else {}
        plot(timed, distilled, seq, Path(args.plot))
    return 0


def interleaved_latency(models: list[Any], batch_size: int, seq: int, repeats: int) -> list[float]:
    """Median seconds per forward of ``batch_size`` random ``seq``-token sequences, per model (timed interleaved)."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1, models[0].config.vocab_size, (batch_size, seq), generator=gen)  # (B, T)
    mask, types = torch.ones_like(ids), torch.zeros_like(ids)

    def runner(model: Any) -> Any:
        model.eval()
        return lambda: model(ids, mask, types)

    with torch.inference_mode():
        timings = time_interleaved([runner(m) for m in models], warmup=1, repeats=repeats)
    return [t.median for t in timings]


def print_table(rows: list[dict[str, Any]], seq: int, timed: bool) -> None:
    header = f"{'model':<24} {'heads':>5} {'FFN':>5} {'enc FLOPs':>9} {'enc params':>10} {'params':>10} {'EM':>6} {'F1':>6}"
    if timed:
        header += f" {'ms':>8} {'speed-up':>8} {'saved/FLOPs saved':>17}"
    print(f"encoder FLOPs at {seq} tokens; fractions of the unpruned model's")
    print(header)
    print("-" * len(header))
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<24} not reachable: {r['error']}")
            continue
        line = (
            f"{r['model']:<24} {r['heads']:>5} {r['ffn']:>5} {r['encoder_flops']:>9.3f} {r['encoder_params']:>10.3f} "
            f"{r['num_parameters']:>10,} {r['exact']:>6.2f} {r['f1']:>6.2f}"
        )
        if timed:
            share = r["time_saved_per_flop_saved"]
            line += f" {1000 * r['latency_median_s']:>8.1f} {r['speedup']:>7.2f}x"
            line += f" {'' if share is None else f'{share:.0%}':>17}"
        print(line)


def plot(rows: list[dict[str, Any]], distilled: dict[str, float], seq: int, out: Path) -> None:
    """F1 against encoder FLOPs (and measured speed-up), one marker per budget kind."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'lit_distill[plots]'") from None
    timed = "speedup" in rows[0]
    fig = Figure(figsize=(12 if timed else 7.5, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, 2 if timed else 1, i + 1) for i in range(2 if timed else 1)]
    styles = {
        "unpruned": ("k", "*"),
        "heads": ("tab:blue", "o"),
        "ffn": ("tab:orange", "s"),
        "both": ("tab:green", "^"),
    }
    for ax, key, label in zip(
        axes,
        ("encoder_flops", "speedup"),
        (f"encoder FLOPs at {seq} tokens (share)", "measured CPU speed-up"),
        strict=False,  # one axis when not timed
    ):
        for kind, (colour, marker) in styles.items():
            mine = [r for r in rows if r["model"].split(",")[0] == kind]
            if not mine:
                continue
            xs = [r[key] for r in mine]
            one_shot = "" if kind == "unpruned" else ": one-shot"
            ax.scatter(xs, [r["f1"] for r in mine], c=colour, marker=marker, label=f"{kind}{one_shot}")
            after = [(r[key], distilled[r["model"]]) for r in mine if r["model"] in distilled]
            if after:
                ax.scatter(
                    [x for x, _ in after],
                    [f1 for _, f1 in after],
                    facecolors="none",
                    edgecolors=colour,
                    marker=marker,
                    s=70,
                    label=f"{kind}: after distillation",
                )
        ax.set_xlabel(label)
        ax.set_ylabel("F1")
        ax.grid(alpha=0.3)
    axes[0].invert_xaxis()
    axes[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))  # outside: no point hidden
    fig.tight_layout()
    fig.savefig(out)
    print(f"plot: {out}")


if __name__ == "__main__":
    sys.exit(main())
