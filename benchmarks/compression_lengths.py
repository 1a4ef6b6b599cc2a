"""F1 / EM / time / FLOPs of one or more QA models under Drop-and-Restore length configurations.

Evaluates every ``--model`` (directory or lit_distill ``.ckpt``) on the synthetic
quickstart dev split (or any SquadDataModule arguments given as JSON) at full
length and under each ``--length-config``, with the same loop as the
``LengthConfigEvaluator`` callback, and prints one table per model. Useful to
compare a model trained with LengthDrop against the same model without it.

    python -m benchmarks.compression_lengths \\
        --model runs/quickstart/teacher/model --model runs/quickstart/teacher_lengthdrop/model \\
        --length-config "[0.9,0.8,0.7,0.6]" --length-config "[0.7,0.5,0.4,0.3]" --json lengths.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
import yaml

from lit_distill.callbacks.length_eval import evaluate_length_configs
from lit_distill.commands.bench import load_qa_model
from lit_distill.compression.length_config import parse_length_configs
from lit_distill.data.datamodule import SquadDataModule
from lit_distill.metrics.squad_metric import SquadMetric


def _quickstart_data() -> dict[str, Any]:
    """The data section of configs/quickstart/teacher.yaml (so the benchmark follows the quickstart)."""
    config = Path(__file__).resolve().parents[1] / "configs" / "quickstart" / "teacher.yaml"
    return dict(yaml.safe_load(config.read_text())["data"]["init_args"])


QUICKSTART_DATA = _quickstart_data()


def main() -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", action="append", required=True, help="model directory or .ckpt (repeatable)"
    )
    parser.add_argument(
        "--length-config", action="append", default=[], help="e.g. [0.9,0.8,0.7,0.6] (repeatable)"
    )
    parser.add_argument(
        "--data", default=None, help="SquadDataModule arguments as JSON (default: quickstart data)"
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dm = SquadDataModule.from_init_args(json.loads(args.data) if args.data else QUICKSTART_DATA)
    dm.prepare_data()
    dm.setup("validate")
    eval_set = dm.eval_set("validation")
    results: dict[str, Any] = {}
    for path in args.model:
        model = load_qa_model(path).eval()
        configs: list[Any] = [None]
        for text in args.length_config:
            configs += parse_length_configs(text, num_layers=model.config.num_hidden_layers)

        def forward(batch: dict[str, torch.Tensor], length_config: Any = None, model: Any = model) -> Any:
            return model(
                batch["input_ids"],
                batch["attention_mask"],
                batch["token_type_ids"],
                length_config=length_config,
            )

        def new_metric() -> SquadMetric:
            return SquadMetric(sync_on_compute=False).bind(eval_set)

        rows = evaluate_length_configs(
            forward, dm.val_dataloader, new_metric, model.config, configs, torch.device("cpu")
        )
        results[path] = rows
        print(f"\n{path}  ({len(eval_set.example_ids)} questions, {rows[0]['features']} features)")
        header = f"{'config':<26} {'EM':>6} {'F1':>6} {'model s':>8} {'speed-up':>8} {'GFLOPs/feat':>11} {'rel. FLOPs':>10}"
        print(header)
        print("-" * len(header))
        for r in rows:
            print(
                f"{r['config']:<26} {r['exact']:>6.2f} {r['f1']:>6.2f} {r['model_time_s']:>8.2f} "
                f"{r['speedup_vs_full']:>7.2f}x {r['gflops_per_feature']:>11.4f} {r['relative_flops']:>10.2f}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
