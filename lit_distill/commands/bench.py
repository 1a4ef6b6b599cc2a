"""``python -m lit_distill bench``: latency and throughput of a QA model, per length configuration.

Runs the model on random token ids (every token real, so Drop-and-Restore
length configurations take full effect) with warm-up and repeated timed runs,
and reports, per configuration, the median latency with its spread, the
throughput and the FLOPs per sequence. With ``--compare-full`` (default on
when length configurations are given) the full-length model is timed in the
same run, interleaved with the others, and speed-ups are reported against it.

Example::

    python -m lit_distill bench --checkpoint out/student \\
        --length-config "[384,320,256,192,128,96]" --length-config "[1.0,0.8,0.6,0.5,0.4,0.3]" \\
        --batch-size 8 --seq-length 384 --repeats 20 --output bench.json --csv bench.csv
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from lit_distill.callbacks.result_rows import write_rows
from lit_distill.compression.length_config import LengthConfig, format_length_config, parse_length_configs
from lit_distill.export.timing_stats import summarize_times

__all__ = ["benchmark", "benchmark_export", "build_parser", "load_qa_model", "main", "model_shape"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m lit_distill bench``."""
    parser = argparse.ArgumentParser(
        prog="python -m lit_distill bench",
        description="Measure latency and throughput of a QA model, optionally under Drop-and-Restore "
        "length configurations, with warm-up and repeated runs (median and spread).",
    )
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="model directory (QAModel.save, or a Hugging Face BERT/DistilBERT directory) or a Lightning "
        ".ckpt written by a lit_distill module",
    )
    parser.add_argument(
        "--length-config",
        action="append",
        default=[],
        metavar="LIST",
        help='per-layer lengths, e.g. "[384,320,256,192,128,96]" (tokens) or "[1.0,0.8,0.6,0.5,0.4,0.3]" '
        "(ratios); repeat the option or separate configurations with ';'",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="sequences per forward pass (default 8)")
    parser.add_argument("--seq-length", type=int, default=384, help="tokens per sequence (default 384)")
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available, else cpu"
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per configuration (default 3)")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per configuration (default 10)")
    parser.add_argument(
        "--compare-full",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the full-length model and report speed-ups against it (default: on)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument(
        "--runtime",
        choices=["torch", "onnxruntime"],
        default=None,
        help="time a directory written by `python -m lit_distill export`: torch (Hugging Face directory) or "
        "onnxruntime (ONNX directory, fp32 or INT8); its length configuration is built in (default: torch "
        "for checkpoints, the directory's own runtime for exports)",
    )
    parser.add_argument("--output", default=None, metavar="JSON", help="write the results as JSON")
    parser.add_argument("--csv", default=None, metavar="CSV", help="write the results as CSV")
    return parser


def load_qa_model(path: str | Path) -> Any:
    """A :class:`~lit_distill.models.qa_model.QAModel` from a model directory, a lit_distill ``.ckpt`` or a hub id.

    A ``.ckpt`` carries the model config the lit_distill modules store in every
    checkpoint, so pruned models come back in their pruned shape.

    Raises:
        FileNotFoundError: if a local path does not exist.
        ValueError: for a ``.ckpt`` not written by a lit_distill module.
    """
    from lit_distill.modules.sources import load_qa_model as load_source

    return load_source(str(path), "--checkpoint").model


def model_shape(model: Any) -> dict[str, Any]:
    """Layers, per-layer head counts and FFN widths, and parameter counts of a QAModel."""
    config = model.config
    return {
        "layers": config.num_hidden_layers,
        "heads_per_layer": config.layer_heads,
        "intermediate_per_layer": config.layer_intermediate_sizes,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "encoder_layer_parameters": sum(p.numel() for p in model.encoder.layers.parameters()),
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def benchmark(
    model: Any,
    length_configs: Sequence[LengthConfig | None],
    batch_size: int = 8,
    seq_length: int = 384,
    device: str | torch.device = "cpu",
    warmup: int = 3,
    repeats: int = 10,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Time ``model`` under each length configuration (None = full length).

    Runs are interleaved (one timed run of every configuration per round) so that
    slow drifts of the machine affect every configuration alike.

    Returns:
        One row per configuration: ``config``, ``length_config``, ``batch_size``,
        ``seq_length``, latency statistics in seconds per batch (``latency_median_s``,
        ``latency_p25_s``, ``latency_p75_s``, ``latency_iqr_s``, ``latency_min_s``,
        ``latency_max_s``, ``latency_stdev_s``), ``throughput_seq_per_s`` (from the
        median), ``gflops_per_seq`` and, when a None configuration is present,
        ``speedup_vs_full`` and ``flops_ratio_vs_full``.
    """
    from lit_distill.models.flops import forward_flops

    if batch_size < 1 or seq_length < 1 or warmup < 0 or repeats < 1:
        raise ValueError(
            f"need batch_size >= 1, seq_length >= 1, warmup >= 0, repeats >= 1; got {batch_size}, "
            f"{seq_length}, {warmup}, {repeats}"
        )
    max_len = model.config.max_position_embeddings
    if seq_length > max_len:
        raise ValueError(f"--seq-length {seq_length} exceeds the model's max_position_embeddings ({max_len})")
    dev = torch.device(device)
    model = model.to(dev).eval()
    gen = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(1, model.config.vocab_size, (batch_size, seq_length), generator=gen).to(dev)
    mask = torch.ones_like(input_ids)
    types = torch.zeros_like(input_ids)

    def run(cfg: LengthConfig | None) -> float:
        _sync(dev)
        start = time.perf_counter()
        model(input_ids, mask, token_type_ids=types, length_config=cfg)
        _sync(dev)
        return time.perf_counter() - start

    times: list[list[float]] = [[] for _ in length_configs]
    with torch.inference_mode():
        for cfg in length_configs:
            for _ in range(max(warmup, 1)):  # at least one untimed run checks the configuration
                run(cfg)
        for _ in range(repeats):
            for i, cfg in enumerate(length_configs):
                times[i].append(run(cfg))
    rows: list[dict[str, Any]] = []
    for cfg, samples in zip(length_configs, times, strict=True):
        stats = summarize_times(samples)
        flops = forward_flops(model.config, seq_length, length_config=cfg)
        row: dict[str, Any] = {
            "config": format_length_config(cfg),
            "length_config": None if cfg is None else list(cfg),
            "batch_size": batch_size,
            "seq_length": seq_length,
            "device": str(dev),
            "repeats": repeats,
        }
        row.update({f"latency_{k}_s": v for k, v in stats.items() if k not in ("mean",)})
        row["throughput_seq_per_s"] = batch_size / stats["median"]
        row["gflops_per_seq"] = flops / 1e9
        rows.append(row)
    full = next((r for r, c in zip(rows, length_configs, strict=True) if c is None), None)
    if full is not None:
        for row in rows:
            row["speedup_vs_full"] = full["latency_median_s"] / row["latency_median_s"]
            row["flops_ratio_vs_full"] = row["gflops_per_seq"] / full["gflops_per_seq"]
    return rows


def _table(rows: Sequence[dict[str, Any]]) -> str:
    header = f"{'config':<28} {'median ms':>10} {'IQR ms':>8} {'seq/s':>9} {'GFLOPs/seq':>11} {'speed-up':>9}"
    lines = [header, "-" * len(header)]
    for r in rows:
        speed = f"{r['speedup_vs_full']:.2f}x" if "speedup_vs_full" in r else "-"
        lines.append(
            f"{r['config']:<28} {r['latency_median_s'] * 1e3:>10.2f} {r['latency_iqr_s'] * 1e3:>8.2f} "
            f"{r['throughput_seq_per_s']:>9.1f} {r['gflops_per_seq']:>11.3f} {speed:>9}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad options)."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    for name in ("batch_size", "seq_length", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args.runtime is not None or (Path(args.checkpoint) / "lit_distill_export.json").is_file():
        return _bench_export(parser, args)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available here")
    try:
        model = load_qa_model(args.checkpoint)
        parsed: list[LengthConfig] = []
        for text in args.length_config:
            parsed += parse_length_configs(
                text, model.config.num_hidden_layers, max_length=args.seq_length, limit_name="--seq-length"
            )
        configs: list[LengthConfig | None] = list(parsed)
        if args.compare_full or not configs:
            configs.insert(0, None)
        rows = benchmark(
            model,
            configs,
            batch_size=args.batch_size,
            seq_length=args.seq_length,
            device=device,
            warmup=args.warmup,
            repeats=args.repeats,
            seed=args.seed,
        )
    except (OSError, ValueError) as err:  # missing files, unreachable hub, bad configurations
        print(f"error: {err}", file=sys.stderr)
        return 2
    shape = model_shape(model)
    print(
        f"model: {shape['layers']} layers, heads per layer {shape['heads_per_layer']}, "
        f"FFN widths {shape['intermediate_per_layer']}, {shape['num_parameters']:,} parameters "
        f"({shape['encoder_layer_parameters']:,} in the encoder layers)"
    )
    print(_table(rows))
    meta = {
        "checkpoint": str(args.checkpoint),
        **shape,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "warmup": args.warmup,
    }
    write_rows(rows, args.output, args.csv, meta=meta)
    for path in (args.output, args.csv):
        if path:
            print(f"wrote {path}")
    return 0


def benchmark_export(
    directory: str | Path,
    runtime: str | None = None,
    batch_size: int = 8,
    seq_length: int = 384,
    warmup: int = 3,
    repeats: int = 10,
    seed: int = 0,
    threads: int | None = None,
) -> dict[str, Any]:
    """Time a directory written by ``python -m lit_distill export`` on random full-length inputs (CPU).

    Returns:
        One row: ``config`` (the built-in length configuration), ``runtime``, ``int8``,
        ``batch_size``, ``seq_length``, latency statistics (``latency_median_s``, ...) and
        ``throughput_seq_per_s``.
    """
    from lit_distill.export.artifact import load_artifact
    from lit_distill.export.timing import random_inputs, time_interleaved

    artifact = load_artifact(directory, runtime, threads)  # type: ignore[arg-type]
    inputs = random_inputs(len(artifact.tokenizer), batch_size, seq_length, seed)
    stats = time_interleaved([lambda: artifact.forward(*inputs)], warmup, repeats)[0]
    row: dict[str, Any] = {
        "config": format_length_config(artifact.manifest.length_config),
        "runtime": artifact.runtime,
        "int8": artifact.manifest.int8,
        "batch_size": batch_size,
        "seq_length": seq_length,
        "device": "cpu",
        "repeats": repeats,
    }
    row.update({f"latency_{k}_s": v for k, v in stats.items() if k != "mean"})
    row["throughput_seq_per_s"] = batch_size / stats["median"]
    return row


def _bench_export(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``bench --runtime``: time an exported directory."""
    if args.length_config:
        parser.error(
            "--length-config: an exported model has its length configuration built in; export another one"
        )
    if args.device == "cuda":
        parser.error("--device cuda: exported models are timed on CPU")
    try:
        row = benchmark_export(
            args.checkpoint, args.runtime, args.batch_size, args.seq_length, args.warmup, args.repeats, args.seed,
            args.threads,
        )  # fmt: skip
    except FileNotFoundError as err:
        print(
            f"error: --checkpoint: {err} (export it first with `python -m lit_distill export`)",
            file=sys.stderr,
        )
        return 2
    except (OSError, ValueError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"{row['runtime']}{' INT8' if row['int8'] else ''} length {row['config']}: "
        f"median {row['latency_median_s'] * 1e3:.2f} ms per batch of {row['batch_size']} "
        f"(IQR {row['latency_iqr_s'] * 1e3:.2f} ms), {row['throughput_seq_per_s']:.1f} seq/s"
    )
    write_rows(
        [row], args.output, args.csv, meta={"checkpoint": str(args.checkpoint), "threads": args.threads}
    )
    return 0
