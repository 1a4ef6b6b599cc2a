"""CPU latency of the deployment path, side by side in one run, against BERT-base (= 1.0).

Rows (random weights, every token real, sequence length 384, batch 1 and 8, one thread
count for PyTorch and ONNX Runtime alike), all timed round-robin in the same run:

    HF BertForQuestionAnswering 12L-768 fp32 (PyTorch)      = 1.0
    ours 6L-768 fp32 (PyTorch)
    ours 6L-768 + length configuration (PyTorch)
    MiniLM-shaped L6-H384 fp32 (PyTorch)
    L6-H384 + length configuration (PyTorch)
    L6-H384 + length, ONNX Runtime fp32
    L6-H384 + length, ONNX Runtime INT8 (dynamic, linear layers)

Each row prints its speed-up, its FLOP ratio (``lit_distill.models.flops``: BERT-base
FLOPs / the row's FLOPs) and the share of the FLOP ratio the speed-up reaches.
The length configuration defaults to QuaLA-MiniLM's [315, 251, 242, 159, 142, 33].

Usage::

    python -m benchmarks.deploy                      # threads = 2, repeats 10
    python -m benchmarks.deploy --threads 1 --repeats 5 --batch-sizes 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lit_distill.export.artifact import onnx_forward, onnx_session
from lit_distill.export.onnx_export import export_onnx
from lit_distill.export.quantize import DEFAULT_INT8_SCHEME, INT8_SCHEMES, quantize_int8
from lit_distill.models.config import EncoderConfig
from lit_distill.models.flops import forward_flops
from lit_distill.models.qa_model import QAModel
from lit_distill.replicate.front import bert_base_qa
from lit_distill.timing import random_inputs, speedup, time_interleaved

QUALA = [315, 251, 242, 159, 142, 33]
BASE = EncoderConfig()  # BERT-base: 12 layers, 768 wide, 12 heads, 3072 feed-forward
STUDENT = EncoderConfig(num_hidden_layers=6)
MINILM = EncoderConfig(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536)


def _torch_run(model: Any, inputs: tuple[torch.Tensor, ...], **kwargs: Any) -> Callable[[], Any]:
    def run() -> Any:
        with torch.inference_mode():
            return model(*inputs, **kwargs)

    return run


def build_rows(
    work: Path, length: list[int], threads: int, int8_scheme: str = DEFAULT_INT8_SCHEME
) -> list[tuple[str, EncoderConfig, list[int] | None, Any]]:
    """(label, shape, length configuration, factory of a run for given numpy inputs) per row."""
    torch.manual_seed(0)
    student, minilm = QAModel(STUDENT).eval(), QAModel(MINILM).eval()
    fp32 = export_onnx(minilm, work / "minilm.onnx", length)
    int8 = quantize_int8(fp32, work / "minilm.int8.onnx", int8_scheme)
    # timed in the same rounds as each other and PyTorch: no spinning threads (see onnx_session)
    sessions = {
        kind: onnx_session(graph, threads, spinning=False) for kind, graph in (("fp32", fp32), ("int8", int8))
    }
    hf = bert_base_qa()

    def torch_row(model: Any, cfg: list[int] | None) -> Any:
        def factory(inputs: tuple[Any, ...]) -> Callable[[], Any]:
            tensors = tuple(torch.from_numpy(x) for x in inputs)
            if model is hf:
                return _torch_run(hf, (tensors[0], tensors[1], tensors[2]))
            return _torch_run(model, tensors, length_config=cfg)

        return factory

    def ort_row(kind: str) -> Any:
        forward = onnx_forward(sessions[kind])
        return lambda inputs: lambda: forward(*inputs)

    return [
        ("HF BertForQuestionAnswering 12L-768 fp32", BASE, None, torch_row(hf, None)),
        ("ours 6L-768 fp32", STUDENT, None, torch_row(student, None)),
        ("ours 6L-768 + length", STUDENT, length, torch_row(student, length)),
        ("L6-H384 fp32", MINILM, None, torch_row(minilm, None)),
        ("L6-H384 + length", MINILM, length, torch_row(minilm, length)),
        ("L6-H384 + length + ONNX Runtime", MINILM, length, ort_row("fp32")),
        ("L6-H384 + length + ORT INT8", MINILM, length, ort_row("int8")),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--threads", type=int, default=2, help="PyTorch and ONNX Runtime intra-op threads")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--seq-length", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--length-config", default=json.dumps(QUALA), help="absolute per-layer lengths (6 layers)"
    )
    parser.add_argument(
        "--int8-scheme", default=DEFAULT_INT8_SCHEME, choices=list(INT8_SCHEMES), help="INT8 row's scheme"
    )
    parser.add_argument("--output", default=None, help="write the rows as JSON")
    args = parser.parse_args()
    length = [int(v) for v in json.loads(args.length_config)]
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    print(
        f"torch {torch.__version__}, threads {args.threads}, seq {args.seq_length}, repeats {args.repeats}, "
        f"INT8 scheme {args.int8_scheme}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs"
    )
    base_flops = forward_flops(BASE, args.seq_length)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        rows = build_rows(Path(tmp), length, args.threads, args.int8_scheme)
        for batch in args.batch_sizes:
            inputs = random_inputs(BASE.vocab_size, batch, args.seq_length, seed=batch)
            stats = time_interleaved([factory(inputs) for *_, factory in rows], args.warmup, args.repeats)
            print(f"\nbatch {batch}")
            print(
                f"{'model':<42} {'median ms':>10} {'IQR ms':>8} {'speed-up':>9} {'FLOP ratio':>11} {'share':>7}"
            )
            for (label, shape, cfg, _), s in zip(rows, stats, strict=True):
                flop_ratio = base_flops / forward_flops(shape, args.seq_length, length_config=cfg)
                ratio = speedup(stats[0], s, steady_work=True)
                share = f"{ratio.value / flop_ratio:.0%}" if ratio.trusted else "-"
                print(
                    f"{label:<42} {s.median * 1e3:>10.1f} {s.iqr * 1e3:>8.1f} {ratio.text():>9} "
                    f"{flop_ratio:>10.2f}x {share:>7}"
                )
                results.append(
                    {
                        "model": label,
                        "batch_size": batch,
                        "median_s": s.median,
                        "iqr_s": s.iqr,
                        **ratio.fields("speedup"),
                        "flop_ratio": flop_ratio,
                        "share": ratio.value / flop_ratio if ratio.trusted else None,
                    }
                )
    if args.output:
        Path(args.output).write_text(
            json.dumps({"threads": args.threads, "load": load, "rows": results}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
