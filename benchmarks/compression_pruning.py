"""F1 and size of a trained QA model before and after pruning a share of its attention heads.

Loads a model (directory or lit_distill ``.ckpt``), scores it on the synthetic
quickstart dev split (or any SquadDataModule arguments given as JSON), then
prunes ``--amount`` of its heads, once by importance (Michel et al.: |∂loss/∂gate|
over ``--importance-batches`` training batches, normalised per layer) and once
at random (``--seed``), and scores each pruned copy without retraining. Prints a
table with parameters (with and without embeddings), F1, EM and evaluation time.

    python -m benchmarks.compression_pruning --model runs/quickstart/student/model \\
        --data '{"source": {"class_path": "SyntheticSquad"}, "cache_dir": "runs/quickstart/data", "max_seq_length": 128, "doc_stride": 64}'
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
from lit_distill.callbacks.length_eval import evaluate_length_configs
from lit_distill.commands.bench import load_qa_model
from lit_distill.compression.head_importance import compute_head_importance
from lit_distill.compression.head_selection import select_heads_by_importance, select_heads_randomly
from lit_distill.data.datamodule import SquadDataModule
from lit_distill.losses import span_cross_entropy
from lit_distill.metrics.squad_metric import SquadMetric
from lit_distill.models.surgery import count_parameters, prune_heads


def score(model: Any, dm: SquadDataModule) -> dict[str, Any]:
    model.eval()
    eval_set = dm.eval_set("validation")

    def forward(batch: dict[str, torch.Tensor], length_config: Any = None) -> Any:
        return model(
            batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], length_config=length_config
        )

    def new_metric() -> SquadMetric:
        return SquadMetric(sync_on_compute=False).bind(eval_set)

    row = evaluate_length_configs(
        forward, dm.val_dataloader, new_metric, model.config, [None], torch.device("cpu")
    )[0]
    return {
        "num_parameters": count_parameters(model),
        "num_parameters_no_embeddings": count_parameters(model, include_embeddings=False),
        "heads": sum(model.config.layer_heads),
        "heads_per_layer": model.config.layer_heads,
        "exact": row["exact"],
        "f1": row["f1"],
        "eval_model_time_s": row["model_time_s"],
        "gflops_per_feature": row["gflops_per_feature"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model directory or lit_distill .ckpt")
    parser.add_argument(
        "--data", default=None, help="SquadDataModule arguments as JSON (default: quickstart data)"
    )
    parser.add_argument("--amount", type=float, default=1 / 3, help="share of heads to prune (default 1/3)")
    parser.add_argument("--importance-batches", type=int, default=16)
    parser.add_argument(
        "--estimator",
        default="per_token",
        choices=["per_token", "batch_mean"],
        help="head importance estimator",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    dm = SquadDataModule.from_init_args(json.loads(args.data) if args.data else QUICKSTART_DATA)
    dm.prepare_data()
    dm.setup("fit")
    base = load_qa_model(args.model)
    rows = [{"model": "unpruned", **score(base, dm)}]

    def loss_fn(batch: dict[str, torch.Tensor], gates: list[torch.Tensor] | None) -> torch.Tensor:
        out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], head_gates=gates)
        return span_cross_entropy(
            out.start_logits, out.end_logits, batch["start_positions"], batch["end_positions"]
        )

    model = copy.deepcopy(base).eval()
    importance, _ = compute_head_importance(
        loss_fn,
        iter(dm.train_dataloader()),
        model.config.layer_heads,
        args.importance_batches,
        estimator=args.estimator,
        projections=[layer.attn_out for layer in model.encoder.layers],
    )
    head_map = select_heads_by_importance(importance, amount=args.amount)
    prune_heads(model, head_map)
    rows.append(
        {"model": f"importance, {args.amount:.0%} of heads", **score(model, dm), "head_map": head_map}
    )
    model = copy.deepcopy(base)
    head_map = select_heads_randomly(model.config.layer_heads, args.seed, amount=args.amount)
    prune_heads(model, head_map)
    rows.append(
        {
            "model": f"random (seed {args.seed}), {args.amount:.0%} of heads",
            **score(model, dm),
            "head_map": head_map,
        }
    )

    header = f"{'model':<32} {'heads':>5} {'params':>9} {'no-emb':>8} {'EM':>6} {'F1':>6} {'eval s':>7} {'GFLOPs':>7}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['model']:<32} {r['heads']:>5} {r['num_parameters']:>9,} {r['num_parameters_no_embeddings']:>8,} "
            f"{r['exact']:>6.2f} {r['f1']:>6.2f} {r['eval_model_time_s']:>7.2f} {r['gflops_per_feature']:>7.4f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
