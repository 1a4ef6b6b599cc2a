"""F1 and latency of ONNX Runtime INT8 schemes on a real model, at full length and with a length configuration.

For one model (a ``.ckpt`` or ``QAModel.save`` directory) this exports two fp32 ONNX
graphs (full length and with ``--length-config``, the same exporter as
``python -m lit_distill export --to onnx``), quantises each with every INT8 scheme asked
for (``lit_distill.export.quantize``), evaluates every INT8 graph on ``--eval-file``
exactly as ``export --eval-file`` does (same windows, same post-processing, official
EM/F1), then times all graphs round-robin in one run with
``python -m benchmarks.deploy``'s method (random ids, every token real, sequence length 384,
``--threads`` for every row) and prints latency ratios against the fp32 full-length graph.

Results go to ``--output`` (JSON) after every evaluation; a rerun with the same
``--output`` skips the evaluations already there (evaluating 1,000 windows takes
minutes on a loaded 2-core machine).

Usage::

    python -m benchmarks.int8_accuracy MODEL_DIR HELDOUT.json \\
        --length-config "[315,251,242,159,142,33]" --work WORK_DIR --output WORK_DIR/results.json \\
        --variants s8 s8-reduce-range s8-per-channel u8 u8-per-channel
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lit_distill.export.api import eval_settings
from lit_distill.export.artifact import onnx_forward, onnx_session
from lit_distill.export.evaluate import evaluate, prepare_eval
from lit_distill.export.onnx_export import export_onnx
from lit_distill.export.quantize import INT8_SCHEMES, Int8Scheme, quantize_int8
from lit_distill.export.source import load_source
from lit_distill.timing import random_inputs, speedup, time_interleaved

EXTRA: dict[str, Int8Scheme] = {
    "s8-per-channel-reduce-range": Int8Scheme(per_channel=True, reduce_range=True),
    "s8+fp32-head": Int8Scheme(keep_fp32=("qa_head",)),
    "s8+fp32-first-last": Int8Scheme(keep_fp32=("first_layer", "last_layer")),
    "s8+fp32-ffn-out": Int8Scheme(keep_fp32=("ffn_out",)),
}
VARIANTS = {**INT8_SCHEMES, **EXTRA}
"""Every scheme the tool knows: the shipped ones plus diagnostic ones."""


def variant(name: str) -> Int8Scheme:
    """A scheme of :data:`VARIANTS` by name."""
    if name not in VARIANTS:
        raise SystemExit(f"--variants: unknown {name!r}; known: {', '.join(VARIANTS)}")
    return VARIANTS[name]


def _save(path: Path | None, results: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="a .ckpt of this project or a QAModel.save directory")
    parser.add_argument("eval_file", help="SQuAD-format file the INT8 graphs are evaluated on")
    parser.add_argument("--length-config", default="[315,251,242,159,142,33]")
    parser.add_argument("--variants", nargs="+", default=list(INT8_SCHEMES), help="INT8 schemes to compare")
    parser.add_argument(
        "--graphs",
        nargs="+",
        default=["full", "length"],
        choices=["full", "length"],
        help="graphs to evaluate",
    )
    parser.add_argument("--work", required=True, help="directory for the graphs (kept for reruns)")
    parser.add_argument("--output", default=None, help="JSON results (read back on a rerun)")
    parser.add_argument("--eval-threads", type=int, default=1, help="threads for the evaluations")
    parser.add_argument("--threads", type=int, default=2, help="threads for the latency rows")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--seq-length", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-eval", action="store_true", help="only time the graphs")
    args = parser.parse_args()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    output = Path(args.output) if args.output else None
    results: dict[str, Any] = (
        json.loads(output.read_text()) if output is not None and output.is_file() else {"eval": {}}
    )
    source = load_source(args.model)
    length = [int(v) for v in json.loads(args.length_config)]
    fp32 = {"full": work / "fp32.full.onnx", "length": work / "fp32.length.onnx"}
    for graph, path in fp32.items():
        if not path.is_file():
            export_onnx(source.model, path, None if graph == "full" else length)
    graphs: dict[str, Path] = {f"fp32/{g}": p for g, p in fp32.items()}
    for name in args.variants:
        scheme = variant(name)
        for graph in ("full", "length"):
            path = work / f"{name}.{graph}.onnx"
            if not path.is_file():
                quantize_int8(fp32[graph], path, scheme)
            graphs[f"{name}/{graph}"] = path

    if not args.no_eval:
        data = prepare_eval(
            args.eval_file, source.tokenizer, eval_settings(source.model.config.max_position_embeddings)
        )
        print(f"{args.eval_file}: {len(data.examples)} questions, {len(data.features)} windows", flush=True)
        for name in args.variants:
            for graph in args.graphs:
                key = f"{name}/{graph}"
                if key in results["eval"]:
                    continue
                forward = onnx_forward(onnx_session(graphs[key], args.eval_threads))
                metrics = evaluate(forward, data)
                results["eval"][key] = {k: metrics[k] for k in ("exact", "f1", "eval_seconds")}
                load_1min = os.getloadavg()[0]
                print(
                    f"{key:<40} EM {metrics['exact']:6.2f} F1 {metrics['f1']:6.2f} "
                    f"({metrics['eval_seconds']:.0f} s, load {load_1min:.1f})",
                    flush=True,
                )
                _save(output, results)

    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    print(
        f"\nlatency: onnxruntime, threads {args.threads}, seq {args.seq_length}, repeats {args.repeats}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs"
    )
    names = list(graphs)
    forwards = [onnx_forward(onnx_session(graphs[k], args.threads, spinning=False)) for k in names]
    timing: list[dict[str, Any]] = []
    for batch in args.batch_sizes:
        inputs = random_inputs(source.model.config.vocab_size, batch, args.seq_length, seed=batch)
        runs: list[Callable[[], Any]] = [lambda f=f, x=inputs: f(*x) for f in forwards]  # type: ignore[misc]
        stats = time_interleaved(runs, repeats=args.repeats)
        print(f"\nbatch {batch}\n{'graph':<40} {'median ms':>10} {'IQR ms':>8} {'vs fp32 full':>13}")
        for key, s in zip(names, stats, strict=True):
            ratio = speedup(stats[0], s, steady_work=True)
            print(f"{key:<40} {s.median * 1e3:>10.1f} {s.iqr * 1e3:>8.1f} {ratio.text():>13}")
            timing.append(
                {"graph": key, "batch_size": batch, "median_s": s.median, "iqr_s": s.iqr}
                | ratio.fields("speedup_vs_fp32_full")
            )
    results["timing"] = {"threads": args.threads, "load": load, "rows": timing}
    _save(output, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
