"""``python -m lit_distill bench``: latency and throughput of a QA model, per length configuration.

Runs the model on random token ids (every token real, so Drop-and-Restore
length configurations take full effect) with warm-up and repeated timed runs,
and reports, per configuration, the median latency with its spread, the
throughput and the FLOPs per sequence. With ``--compare-full`` (default on
when length configurations are given) the full-length model is timed in the
same run, and speed-ups are reported against it; ``--baseline`` times another
model (a checkpoint or an exported directory, e.g. the teacher) in the same run
and reports speed-ups against it too.

Every configuration is timed interleaved with the others (one run of each per
round, :mod:`lit_distill.timing`); a speed-up is the median of the per-round
ratios, and one whose rounds disagree by more than ``--max-spread`` is printed
as ``noisy`` (or ``no diff``) and written as null, with the reason beside it.

Example::

    python -m lit_distill bench --checkpoint out/student \\
        --length-config "[384,320,256,192,128,96]" --length-config "[1.0,0.8,0.6,0.5,0.4,0.3]" \\
        --batch-size 8 --seq-length 384 --repeats 20 --output bench.json --csv bench.csv
    python -m lit_distill bench --checkpoint out/student --baseline out/teacher --repeats 20
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lit_distill.callbacks.result_rows import write_rows
from lit_distill.compression.length_config import LengthConfig, format_length_config, parse_length_configs
from lit_distill.models.loading import is_exported
from lit_distill.timing import (
    MAX_SPREAD,
    Clock,
    device_sync,
    random_inputs,
    speedup,
    speedup_cell,
    time_interleaved,
)
from lit_distill.user_errors import UserInputError

__all__ = [
    "Baseline",
    "Rounds",
    "benchmark",
    "benchmark_export",
    "build_parser",
    "load_qa_model",
    "main",
    "model_shape",
]


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
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="PATH",
        help="another model timed in the same rounds (a checkpoint or model directory, or a directory "
        "written by `export`), e.g. the teacher; speed-ups are also reported against it",
    )
    parser.add_argument(
        "--max-spread",
        type=float,
        default=MAX_SPREAD,
        help="largest relative spread (IQR / median) of a speed-up over the rounds, or of a "
        f"configuration's latencies, that is reported as a number (default {MAX_SPREAD})",
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


@dataclass(frozen=True)
class Rounds:
    """How ``bench`` times (:mod:`lit_distill.timing`).

    Attributes:
        warmup: untimed runs of each configuration first (at least one runs: it checks the configuration).
        repeats: timed rounds, one run of every configuration each.
        seed: seed of the random inputs.
        max_spread: the largest relative spread reported as a number (:func:`lit_distill.timing.speedup`).
        clock: the clock (a fake one in tests).
    """

    warmup: int = 3
    repeats: int = 10
    seed: int = 0
    max_spread: float = MAX_SPREAD
    clock: Clock = time.perf_counter


@dataclass(frozen=True)
class Baseline:
    """Another model timed in the same rounds: a QAModel, or an exported ``Artifact`` (runs on CPU).

    Attributes:
        model: the model or artifact.
        label: what its row calls it (e.g. its path).
    """

    model: Any
    label: str = "baseline"


@dataclass
class _Candidate:
    """One thing to time: its row's fixed fields and one run of it."""

    fields: dict[str, Any]
    run: Callable[[], object]


def _time_rows(
    candidates: list[_Candidate],
    batch_size: int,
    rounds: Rounds,
    baseline: Baseline | None,
    inputs: tuple[Any, ...],
    device: torch.device,
    full: int | None = None,
) -> list[dict[str, Any]]:
    """Time the candidates (and the baseline, last) interleaved; one row each, with speed-ups."""
    if baseline is not None:
        candidates = [*candidates, _baseline_candidate(baseline, inputs, device)]
    sync = device_sync(device)
    timings = time_interleaved(
        [c.run for c in candidates], rounds.warmup, rounds.repeats, clock=rounds.clock, sync=sync
    )
    references = {"speedup_vs_full": full, "speedup_vs_baseline": len(candidates) - 1 if baseline else None}
    rows: list[dict[str, Any]] = []
    for candidate, timing in zip(candidates, timings, strict=True):
        row: dict[str, Any] = {**candidate.fields, "batch_size": batch_size, "seq_length": inputs[0].shape[1]}
        row |= {"repeats": rounds.repeats, **timing.fields()}
        row["throughput_seq_per_s"] = batch_size / timing.median
        for key, index in references.items():
            if index is not None:
                ratio = speedup(timings[index], timing, steady_work=True, max_spread=rounds.max_spread)
                row.update(ratio.fields(key))
        rows.append(row)
    return rows


def _baseline_candidate(baseline: Baseline, inputs: tuple[Any, ...], device: torch.device) -> _Candidate:
    """The baseline (a QAModel on ``device`` or an exported artifact on CPU) on the same inputs."""
    fields: dict[str, Any] = {"config": "baseline", "model": baseline.label}
    if isinstance(baseline.model, torch.nn.Module):
        model = baseline.model.to(device).eval()
        ids, mask, types = (torch.from_numpy(a).to(device) for a in inputs)

        def run() -> object:
            with torch.inference_mode():
                return model(ids, mask, token_type_ids=types)

        return _Candidate({**fields, "runtime": "torch", "device": str(device)}, run)
    artifact = baseline.model
    fields |= {"runtime": artifact.runtime, "int8": artifact.manifest.int8, "device": "cpu"}
    return _Candidate(fields, lambda: artifact.forward(*inputs))


def _inputs(
    model: Any, baseline: Baseline | None, batch_size: int, seq_length: int, seed: int
) -> tuple[Any, ...]:
    """Random inputs every timed model accepts (ids below each vocabulary, length within each's positions)."""
    vocab = []
    for what, each in (("model", model), ("baseline", None if baseline is None else baseline.model)):
        if each is None:
            continue
        config = getattr(each, "config", None)  # a QAModel; an exported artifact has its tokenizer
        if config is not None and seq_length > config.max_position_embeddings:
            raise UserInputError(
                f"--seq-length {seq_length} exceeds the {what}'s max_position_embeddings "
                f"({config.max_position_embeddings})"
            )
        vocab.append(int(config.vocab_size) if config is not None else len(each.tokenizer))
    return random_inputs(min(vocab), batch_size, seq_length, seed)


def benchmark(
    model: Any,
    length_configs: Sequence[LengthConfig | None],
    batch_size: int = 8,
    seq_length: int = 384,
    device: str | torch.device = "cpu",
    rounds: Rounds = Rounds(),
    baseline: Baseline | None = None,
) -> list[dict[str, Any]]:
    """Time ``model`` under each length configuration (None = full length), interleaved.

    Args:
        model: a :class:`~lit_distill.models.qa_model.QAModel`.
        length_configs: the configurations, already checked.
        batch_size, seq_length: the shape of the random inputs (every token real).
        device: where the model runs.
        rounds: warm-up, timed rounds, seed, spread threshold and clock.
        baseline: another model timed in the same rounds; its row comes last.

    Returns:
        One row per configuration: ``config``, ``length_config``, ``batch_size``,
        ``seq_length``, latency statistics in seconds per batch (``latency_median_s``,
        ``latency_p25_s``, ``latency_p75_s``, ``latency_iqr_s``, ``latency_min_s``,
        ``latency_max_s``, ``latency_stdev_s``), ``throughput_seq_per_s`` (from the
        median), ``gflops_per_seq`` and, when a None configuration is present,
        ``speedup_vs_full`` (null when flagged; ``speedup_vs_full_measured``, ``_p25``,
        ``_p75`` and ``_flag`` beside it) and ``flops_ratio_vs_full``; with a baseline,
        the same ``speedup_vs_baseline`` fields.

    Raises:
        UserInputError: for a ``seq_length`` above a model's ``max_position_embeddings``.
        ValueError: for counts out of range (a caller's bug: the command checks its options).
    """
    from lit_distill.models.flops import forward_flops

    if batch_size < 1 or seq_length < 1 or rounds.warmup < 0 or rounds.repeats < 1:
        raise ValueError(
            f"need batch_size >= 1, seq_length >= 1, warmup >= 0, repeats >= 1; got {batch_size}, "
            f"{seq_length}, {rounds.warmup}, {rounds.repeats}"
        )
    dev = torch.device(device)
    model = model.to(dev).eval()
    inputs = _inputs(model, baseline, batch_size, seq_length, rounds.seed)
    ids, mask, types = (torch.from_numpy(a).to(dev) for a in inputs)

    def runner(cfg: LengthConfig | None) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode():
                return model(ids, mask, token_type_ids=types, length_config=cfg)

        return run

    candidates = [
        _Candidate(
            {
                "config": format_length_config(cfg),
                "length_config": None if cfg is None else list(cfg),
                "device": str(dev),
                "gflops_per_seq": forward_flops(model.config, seq_length, length_config=cfg) / 1e9,
            },
            runner(cfg),
        )
        for cfg in length_configs
    ]
    full = next((i for i, c in enumerate(length_configs) if c is None), None)
    rows = _time_rows(candidates, batch_size, rounds, baseline, inputs, dev, full)
    if full is not None:
        for row in rows[: len(length_configs)]:
            row["flops_ratio_vs_full"] = row["gflops_per_seq"] / rows[full]["gflops_per_seq"]
    return rows


def _table(rows: Sequence[dict[str, Any]]) -> str:
    columns = [k for k in ("speedup_vs_full", "speedup_vs_baseline") if any(k in r for r in rows)]
    names = {"speedup_vs_full": "vs full", "speedup_vs_baseline": "vs baseline"}
    header = f"{'config':<28} {'median ms':>10} {'IQR ms':>8} {'seq/s':>9} {'GFLOPs/seq':>11}"
    header += "".join(f" {names[k]:>11}" for k in columns)
    lines = [header, "-" * len(header)]
    notes: list[str] = []
    for r in rows:
        gflops = f"{r['gflops_per_seq']:.3f}" if "gflops_per_seq" in r else "-"
        line = (
            f"{r['config']:<28} {r['latency_median_s'] * 1e3:>10.2f} {r['latency_iqr_s'] * 1e3:>8.2f} "
            f"{r['throughput_seq_per_s']:>9.1f} {gflops:>11}"
        )
        for key in columns:
            line += f" {speedup_cell(r, key):>11}"
            if r.get(f"{key}_flag"):
                notes.append(f"{r['config']} {names[key]}: not reported as a speed-up: {r[f'{key}_flag']}")
        lines.append(line)
    if notes:
        lines += ["", *notes, "(timed interleaved; rerun with more --repeats or on a quieter machine)"]
    return "\n".join(lines)


def _load_baseline(path: str, threads: int | None) -> Any:
    """``--baseline``: an exported directory (as an artifact) or a model (a QAModel)."""
    if is_exported(path):
        from lit_distill.export.artifact import load_artifact

        return load_artifact(path, None, threads, spinning=False)  # timed in the same rounds: no spinning
    from lit_distill.modules.sources import load_qa_model as load_source

    return load_source(path, "--baseline").model


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code.

    Bad options exit with code 2 (argparse); a value the command rejects later (a
    missing model, a length configuration that does not fit it) raises
    :class:`~lit_distill.user_errors.UserInputError`, which ``python -m lit_distill``
    reports as one line with exit code 2.
    """
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    for name in ("batch_size", "seq_length", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    if not args.max_spread > 0:
        parser.error(f"--max-spread must be > 0, got {args.max_spread}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    baseline = (
        None
        if args.baseline is None
        else Baseline(_load_baseline(args.baseline, args.threads), args.baseline)
    )
    if args.runtime is not None or is_exported(args.checkpoint):
        return _bench_export(parser, args, baseline)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available here")
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
        rounds=Rounds(args.warmup, args.repeats, args.seed, args.max_spread),
        baseline=baseline,
    )
    shape = model_shape(model)
    print(
        f"model: {shape['layers']} layers, heads per layer {shape['heads_per_layer']}, "
        f"FFN widths {shape['intermediate_per_layer']}, {shape['num_parameters']:,} parameters "
        f"({shape['encoder_layer_parameters']:,} in the encoder layers)"
    )
    print(_table(rows))
    meta = {
        "checkpoint": str(args.checkpoint),
        "baseline": args.baseline,
        **shape,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "warmup": args.warmup,
        "max_spread": args.max_spread,
    }
    _write(rows, args, meta)
    return 0


def _write(rows: list[dict[str, Any]], args: argparse.Namespace, meta: dict[str, Any]) -> None:
    write_rows(rows, args.output, args.csv, meta=meta)
    for path in (args.output, args.csv):
        if path:
            print(f"wrote {path}")


def benchmark_export(
    directory: str | Path,
    runtime: str | None = None,
    batch_size: int = 8,
    seq_length: int = 384,
    threads: int | None = None,
    rounds: Rounds = Rounds(),
    baseline: Baseline | None = None,
) -> list[dict[str, Any]]:
    """Time a directory written by ``python -m lit_distill export`` on random full-length inputs (CPU).

    Args:
        baseline: another model timed in the same rounds (as in :func:`benchmark`).

    Returns:
        The artifact's row: ``config`` (the built-in length configuration), ``runtime``, ``int8``,
        ``batch_size``, ``seq_length``, latency statistics (``latency_median_s``, ...) and
        ``throughput_seq_per_s``; with a baseline, ``speedup_vs_baseline`` (null when flagged,
        with ``_measured``, ``_p25``, ``_p75`` and ``_flag``), then the baseline's row.
    """
    from lit_distill.export.artifact import load_artifact

    # alone, ONNX Runtime's default (spinning threads); beside a baseline in the same rounds, not
    # spinning, or its idle threads slow the baseline's runs (see onnx_session)
    artifact = load_artifact(directory, runtime, threads, spinning=baseline is None)  # type: ignore[arg-type]
    inputs = _inputs(artifact, baseline, batch_size, seq_length, rounds.seed)
    fields: dict[str, Any] = {
        "config": format_length_config(artifact.manifest.length_config),
        "runtime": artifact.runtime,
        "int8": artifact.manifest.int8,
        "device": "cpu",
    }
    candidates = [_Candidate(fields, lambda: artifact.forward(*inputs))]
    return _time_rows(candidates, batch_size, rounds, baseline, inputs, torch.device("cpu"))


def _bench_export(
    parser: argparse.ArgumentParser, args: argparse.Namespace, baseline: Baseline | None
) -> int:
    """``bench --runtime``: time an exported directory."""
    if args.length_config:
        parser.error(
            "--length-config: an exported model has its length configuration built in; export another one"
        )
    if args.device == "cuda":
        parser.error("--device cuda: exported models are timed on CPU")
    rounds = Rounds(args.warmup, args.repeats, args.seed, args.max_spread)
    rows = benchmark_export(
        args.checkpoint, args.runtime, args.batch_size, args.seq_length, args.threads, rounds, baseline
    )
    row = rows[0]
    print(
        f"{row['runtime']}{' INT8' if row['int8'] else ''} length {row['config']}: "
        f"median {row['latency_median_s'] * 1e3:.2f} ms per batch of {row['batch_size']} "
        f"(IQR {row['latency_iqr_s'] * 1e3:.2f} ms), {row['throughput_seq_per_s']:.1f} seq/s"
    )
    if baseline is not None:
        print(_table(rows))
    meta = {"checkpoint": str(args.checkpoint), "baseline": args.baseline, "threads": args.threads}
    _write(rows, args, meta | {"max_spread": args.max_spread})
    return 0
