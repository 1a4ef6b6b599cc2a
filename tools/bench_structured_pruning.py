"""F1, encoder FLOPs and parameters of a trained QA model after one-shot structured pruning.

Loads a model (directory or lit_distill ``.ckpt``), scores it on the synthetic quickstart
dev split (or any SquadDataModule arguments given as JSON), scores heads and FFN neurons
once (``compute_importance``: |∂loss/∂gate| per example and token over
``--importance-batches`` training batches, normalised per layer), then, for head-only,
FFN-only and joint pruning at each ``--targets`` fraction of the encoder's FLOPs
(per sequence of ``--seq-length`` tokens, global scope: the least important units of
the whole model go), prunes a copy and scores it without retraining. Prints one table.
No timing: speed is to be measured on an idle machine (``python -m lit_distill bench``).

    python tools/bench_structured_pruning.py --model runs/quickstart/teacher/model \\
        --data '{"synthetic": true, "cache_dir": "runs/quickstart/data", "max_seq_length": 96, "doc_stride": 48}'
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lit_distill.commands.bench import load_qa_model  # noqa: E402
from lit_distill.compression.head_importance import compute_importance  # noqa: E402
from lit_distill.compression.structured_budget import budget_for_target, encoder_cost  # noqa: E402
from lit_distill.compression.structured_selection import select_by_importance  # noqa: E402
from lit_distill.data.datamodule import SquadDataModule  # noqa: E402
from lit_distill.losses import span_cross_entropy  # noqa: E402
from lit_distill.models.surgery import prune_ffn, prune_heads  # noqa: E402
from tools.bench_compression_lengths import QUICKSTART_DATA  # noqa: E402
from tools.bench_compression_pruning import score  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model directory or lit_distill .ckpt")
    parser.add_argument(
        "--data", default=None, help="SquadDataModule arguments as JSON (default: quickstart data)"
    )
    parser.add_argument("--targets", default="0.3,0.5,0.7", help="fractions of the encoder FLOPs to remove")
    parser.add_argument(
        "--seq-length", type=int, default=None, help="tokens for the FLOPs (default: max_seq_length)"
    )
    parser.add_argument("--importance-batches", type=int, default=16)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = json.loads(args.data) if args.data else dict(QUICKSTART_DATA)
    dm = SquadDataModule(**data)
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

    header = f"{'model':<24} {'heads':>5} {'FFN':>5} {'enc FLOPs':>9} {'enc params':>10} {'params':>9} {'EM':>6} {'F1':>6}"
    print(f"encoder FLOPs at {seq} tokens; fractions of the unpruned model's")
    print(header)
    print("-" * len(header))
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<24} not reachable: {r['error']}")
            continue
        print(
            f"{r['model']:<24} {r['heads']:>5} {r['ffn']:>5} {r['encoder_flops']:>9.3f} {r['encoder_params']:>10.3f} "
            f"{r['num_parameters']:>9,} {r['exact']:>6.2f} {r['f1']:>6.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
