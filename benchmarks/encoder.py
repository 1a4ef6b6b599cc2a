"""CPU benchmark of the QA encoder: parity of speed with Hugging Face, and Drop-and-Restore speed-ups.

Prints, from ONE run (all ratios use medians measured in this run, models
interleaved round-robin so that load changes hit every model alike):

1. our plain forward vs Hugging Face ``BertForQuestionAnswering`` (SDPA), BERT-base,
   random weights: ratio of medians (> 1 means ours is faster);
2. a 6-layer, 768-hidden student with several Drop-and-Restore length
   configurations vs 12-layer BERT-base at full length: measured speed-up, FLOP
   reduction (``lit_distill.models.flops``) and their ratio;
3. peak memory of one forward pass, each model in a fresh subprocess: the growth of resident
   memory ("rss MiB", what the allocator holds) and the peak size of the tensors alive at
   once ("tensor MiB", independent of the allocator; ``benchmarks/tensor_memory.py``).

Usage::

    python -m benchmarks.encoder                       # batch 1 and 16, seq 384
    python -m benchmarks.encoder --batch-sizes 1 --repeats 3 --no-memory
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import torch

from benchmarks.tensor_memory import peak_tensor_bytes
from lit_distill.models import EncoderConfig, QAModel
from lit_distill.models.encoder import EncoderLayer
from lit_distill.models.flops import forward_flops

BOUND = "bound: "
LENGTH_CONFIGS: dict[str, list[int] | None] = {
    "6L full length": None,
    "6L LC [320,256,192,160,128,96]": [320, 256, 192, 160, 128, 96],
    "6L LC [288,224,160,128,96,64]": [288, 224, 160, 128, 96, 64],
    "6L LC [256,192,128,96,64,48]": [256, 192, 128, 96, 64, 48],
}


def build(name: str) -> tuple[torch.nn.Module, Callable[[dict[str, torch.Tensor]], object], int]:
    """(model, forward function, FLOPs per sequence at 384) for a benchmark entry."""
    torch.manual_seed(0)
    if name == "HF BertForQuestionAnswering (sdpa) 12L":
        from transformers import BertConfig, BertForQuestionAnswering

        hf = BertForQuestionAnswering(BertConfig(attn_implementation="sdpa")).eval()  # type: ignore[call-arg]
        return hf, lambda b: hf(**b), forward_flops(EncoderConfig(), ARGS.seq_length)
    if name == "ours 12L":
        model = QAModel(EncoderConfig()).eval()
        return model, lambda b: model(**b), forward_flops(model.config, ARGS.seq_length)
    bound = name.startswith(BOUND)
    lengths = LENGTH_CONFIGS[name.removeprefix(BOUND)]
    if lengths is not None and ARGS.seq_length != 384:  # same proportions at other lengths
        lengths = [max(1, round(n * ARGS.seq_length / 384)) for n in lengths]
    student = QAModel(EncoderConfig(num_hidden_layers=6)).eval()
    if bound and lengths is not None:
        fixed = lengths
        return (
            student,
            lambda b: fixed_lengths_forward(student, b, fixed),
            forward_flops(student.config, ARGS.seq_length, lengths),
        )
    return (
        student,
        lambda b: student(**b, length_config=lengths),
        forward_flops(student.config, ARGS.seq_length, lengths),
    )


def fixed_lengths_forward(model: QAModel, batch: dict[str, torch.Tensor], lengths: list[int]) -> torch.Tensor:
    """The same layer lengths without Drop-and-Restore's work (no significance, selection or restore).

    Each layer attends over its input (SDPA) and keeps the first ``n_out`` rows: a lower bound
    for the time of a length configuration, which isolates the cost of choosing tokens.
    """
    x = model.encoder.embeddings(batch["input_ids"], batch["token_type_ids"])  # (B, L, H)
    layers = cast(list[EncoderLayer], list(model.encoder.layers))
    for layer, n_out in zip(layers, lengths, strict=True):
        context = layer.attend(x, None).context
        x = layer.transform(x[:, :n_out], context[:, :n_out])
    pad = x.new_zeros(x.shape[0], batch["input_ids"].shape[1] - x.shape[1], x.shape[2])
    return model.qa_outputs(torch.cat([x, pad], dim=1))


def make_batch(batch_size: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, 30000, (batch_size, ARGS.seq_length), generator=g)
    ids[:, 0] = 101
    types = torch.zeros_like(ids)
    types[:, 64:] = 1
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": types}


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_probe(name: str, batch_size: int) -> None:
    """Run in a fresh subprocess: peak RSS growth and peak live tensors of one forward, printed as JSON."""
    _, forward, _ = build(name)
    batch = make_batch(batch_size)
    base = rss_bytes()
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes())
            time.sleep(0.0005)

    thread = threading.Thread(target=sample)
    thread.start()
    with torch.inference_mode():
        forward(batch)
    done.set()
    thread.join()
    rss_mib = (max(peak, rss_bytes()) - base) / 2**20
    with torch.inference_mode():
        tensor_mib = peak_tensor_bytes(lambda: forward(batch)) / 2**20
    print(json.dumps({"rss_mib": rss_mib, "tensor_mib": tensor_mib}))


def measure_memory(name: str, batch_size: int) -> dict[str, float]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.encoder",
        "--memory-probe",
        name,
        "--batch-sizes",
        str(batch_size),
        "--seq-length",
        str(ARGS.seq_length),
        "--threads",
        str(torch.get_num_threads()),
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1]
    )
    return {k: float(v) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def time_models(
    names: list[str], batch_size: int, repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall-clock and process CPU seconds of each forward, models interleaved round-robin."""
    built = {n: build(n) for n in names}
    batch = make_batch(batch_size)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    with torch.inference_mode():
        for n in names:  # warm-up
            built[n][1](batch)
        for _ in range(repeats):
            for n in names:
                start, start_cpu = time.perf_counter(), time.process_time()
                built[n][1](batch)
                wall[n].append(time.perf_counter() - start)
                cpu[n].append(time.process_time() - start_cpu)
    return wall, cpu


def main() -> None:
    names = ["HF BertForQuestionAnswering (sdpa) 12L", "ours 12L", *LENGTH_CONFIGS]
    bounds = [BOUND + n for n, lengths in LENGTH_CONFIGS.items() if lengths is not None] if ARGS.bound else []
    names += bounds
    flops = {n: build(n)[2] for n in names}
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, seq_length {ARGS.seq_length}, "
        f"cpu count {os.cpu_count()}, load avg {os.getloadavg()[0]:.2f}"
    )
    print(f"command: python -m benchmarks.encoder {' '.join(sys.argv[1:])}")
    for batch_size in ARGS.batch_sizes:
        repeats = ARGS.repeats if ARGS.repeats else (7 if batch_size == 1 else 3)
        wall, cpu = time_models(names, batch_size, repeats)
        med_wall = {n: statistics.median(t) for n, t in wall.items()}
        med_cpu = {n: statistics.median(t) for n, t in cpu.items()}
        med = med_cpu if ARGS.clock == "cpu" else med_wall
        memory = {n: measure_memory(n, batch_size) for n in names} if ARGS.memory else {}
        print(
            f"\n## batch {batch_size}, {repeats} timed repeats, load avg {os.getloadavg()[0]:.2f}; "
            f"ratios from {ARGS.clock} medians"
        )
        print(
            f"{'model':42s} {'wall med':>9s} {'wall min':>9s} {'cpu med':>9s} {'GFLOP/seq':>9s} "
            f"{'rss MiB':>9s} {'tensor MiB':>10s}"
        )
        for n in names:
            mem = (
                f"{memory[n]['rss_mib']:9.0f} {memory[n]['tensor_mib']:10.0f}"
                if memory
                else f"{'-':>9s} {'-':>10s}"
            )
            print(
                f"{n:42s} {med_wall[n]:9.3f} {min(wall[n]):9.3f} {med_cpu[n]:9.3f} {flops[n] / 1e9:9.2f} {mem}"
            )
        hf, ours = med["HF BertForQuestionAnswering (sdpa) 12L"], med["ours 12L"]
        print(
            f"ours vs HF (HF median / our median): {hf / ours:.3f}  ({'no slower' if hf >= ours else 'SLOWER'})"
        )
        print(f"{'vs ours 12L full length':42s} {'speed-up':>9s} {'FLOP red.':>9s} {'ratio':>7s}")
        for n in LENGTH_CONFIGS:
            speedup, reduction = ours / med[n], flops["ours 12L"] / flops[n]
            print(f"{n:42s} {speedup:9.2f} {reduction:9.2f} {speedup / reduction:7.1%}")
        for n in bounds:
            speedup, reduction = ours / med[n], flops["ours 12L"] / flops[n]
            print(f"{n:42s} {speedup:9.2f} {reduction:9.2f} {speedup / reduction:7.1%}")
        for n in bounds:
            name = n.removeprefix(BOUND)
            print(f"Drop-and-Restore time / no-selection bound, {name}: {med[name] / med[n]:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--seq-length", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=0, help="timed repeats (default 7 at batch 1, else 3)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="which median the ratios use: wall clock, or process CPU time (robust on a shared machine "
        "with --threads 1)",
    )
    parser.add_argument(
        "--bound",
        action="store_true",
        help="also time each length configuration without token selection (a lower bound)",
    )
    parser.add_argument(
        "--no-memory", dest="memory", action="store_false", help="skip the memory subprocesses"
    )
    parser.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)
    ARGS = parser.parse_args()
    if ARGS.threads:
        torch.set_num_threads(ARGS.threads)
    if ARGS.memory_probe:
        memory_probe(ARGS.memory_probe, ARGS.batch_sizes[0])
    else:
        main()
