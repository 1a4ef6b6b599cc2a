"""Head importance on a trained QA model: the two estimators, their stability, and what pruning by each costs.

One forward/backward per training batch gives both estimators at once (the per-head
gates of ``batch_mean`` and the per-token gates of ``per_token``,
lit_distill.compression.head_importance). After 1, 2, 4, … batches the script compares
each estimator's per-layer-normalised scores with its own final estimate (Spearman's
rank correlation over all heads, and the share of the ``--amount`` heads it would
prune that the final estimate prunes too), then prunes ``--amount`` of the heads by
each final estimate (and at random, ``--seed``) and scores every pruned copy on the
validation split without retraining.

    python -m benchmarks.head_importance --model runs/teacher/model \\
        --data '{"source": {"class_path": "SquadFiles", "init_args": {"train": "train.json", "validation": "dev.json"}}, "tokenizer": "…", "version": "1.1"}' \\
        --amount 0.5 --json head_importance.json
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from scipy.stats import spearmanr

from benchmarks.compression_lengths import QUICKSTART_DATA
from benchmarks.compression_pruning import score
from lit_distill.commands.bench import load_qa_model
from lit_distill.compression.head_importance import (
    make_head_gates,
    normalize_per_layer,
    token_head_gates,
)
from lit_distill.compression.head_selection import select_heads_by_importance, select_heads_randomly
from lit_distill.data.datamodule import SquadDataModule
from lit_distill.losses import span_cross_entropy
from lit_distill.models.surgery import prune_heads

ESTIMATORS = ("per_token", "batch_mean")


def flat(scores: list[torch.Tensor]) -> list[float]:
    return [float(v) for layer in normalize_per_layer(scores) for v in layer]


def pruned_set(scores: list[torch.Tensor], amount: float) -> set[tuple[int, int]]:
    head_map = select_heads_by_importance(normalize_per_layer(scores), amount=amount)
    return {(layer, head) for layer, heads in head_map.items() for head in heads}


def main() -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="model directory or lit_distill .ckpt")
    parser.add_argument(
        "--data", default=None, help="SquadDataModule arguments as JSON (default: quickstart)"
    )
    parser.add_argument("--max-batches", type=int, default=0, help="training batches (0: all)")
    parser.add_argument("--amount", type=float, default=0.5, help="share of heads to prune")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random pruning baseline")
    parser.add_argument("--no-eval", action="store_true", help="only the importance statistics")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    dm = SquadDataModule.from_init_args(json.loads(args.data) if args.data else QUICKSTART_DATA)
    dm.prepare_data()
    dm.setup("fit")
    base = load_qa_model(args.model).eval()
    heads = list(base.config.layer_heads)
    projections = [layer.attn_out for layer in base.encoder.layers]
    totals = {name: [torch.zeros(h) for h in heads] for name in ESTIMATORS}
    snapshots: dict[int, dict[str, list[torch.Tensor]]] = {}
    start = time.perf_counter()
    used = 0
    for batch in dm.train_dataloader():
        if args.max_batches and used >= args.max_batches:
            break
        gates = make_head_gates(heads)
        with token_head_gates(projections, heads) as token_gates:
            out = base(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], head_gates=gates)
            loss = span_cross_entropy(
                out.start_logits, out.end_logits, batch["start_positions"], batch["end_positions"]
            )
        reached = [g for g in token_gates if g is not None]
        grads = torch.autograd.grad(loss, [*gates, *reached])
        for layer in range(len(heads)):
            totals["batch_mean"][layer] += grads[layer].abs()
            totals["per_token"][layer] += grads[len(heads) + layer].abs().sum(dim=(0, 1)).flatten()
        used += 1
        if used & (used - 1) == 0:  # powers of two
            snapshots[used] = {k: [t.clone() for t in v] for k, v in totals.items()}
            print(f"{used} batches after {time.perf_counter() - start:.0f} s", flush=True)
    snapshots[used] = {k: [t.clone() for t in v] for k, v in totals.items()}
    print(f"importance over {used} batches took {time.perf_counter() - start:.0f} s")

    stability: dict[str, list[dict[str, float]]] = {name: [] for name in ESTIMATORS}
    print(f"\nagreement with the estimate over all {used} batches (prune {args.amount:.0%} of heads):")
    print(f"{'batches':>8} " + " ".join(f"{n + ' rho':>17} {n + ' same':>18}" for n in ESTIMATORS))
    for n, snap in sorted(snapshots.items()):
        cells = []
        for name in ESTIMATORS:
            rho = float(spearmanr(flat(snap[name]), flat(totals[name])).statistic)
            final = pruned_set(totals[name], args.amount)
            same = len(pruned_set(snap[name], args.amount) & final) / len(final)
            stability[name].append({"batches": n, "spearman": rho, "same_pruned": same})
            cells.append(f"{rho:>17.3f} {same:>18.2f}")
        print(f"{n:>8} " + " ".join(cells))
    sets = {name: pruned_set(totals[name], args.amount) for name in ESTIMATORS}
    shared = len(sets["per_token"] & sets["batch_mean"]) / len(sets["per_token"])
    rho_between = float(spearmanr(flat(totals["per_token"]), flat(totals["batch_mean"])).statistic)
    print(f"\nper_token vs batch_mean: Spearman {rho_between:.3f}; pruned sets share {shared:.0%}")

    result: dict[str, Any] = {
        "batches": used,
        "stability": stability,
        "spearman_between": rho_between,
        "shared_pruned": shared,
        "importance": {k: [t.tolist() for t in normalize_per_layer(v)] for k, v in totals.items()},
    }
    if not args.no_eval:
        rows = [{"model": "unpruned", **score(base, dm)}]
        for name in ESTIMATORS:
            model = copy.deepcopy(base)
            head_map = select_heads_by_importance(normalize_per_layer(totals[name]), amount=args.amount)
            prune_heads(model, head_map)
            rows.append({"model": f"{name}, {args.amount:.0%} of heads", **score(model, dm)})
        model = copy.deepcopy(base)
        prune_heads(model, select_heads_randomly(heads, args.seed, amount=args.amount))
        rows.append({"model": f"random (seed {args.seed}), {args.amount:.0%}", **score(model, dm)})
        print(f"\n{'model':<28} {'heads per layer':<28} {'EM':>6} {'F1':>6}")
        for r in rows:
            print(f"{r['model']:<28} {r['heads_per_layer']!s:<28} {r['exact']:>6.2f} {r['f1']:>6.2f}")
        result["rows"] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
