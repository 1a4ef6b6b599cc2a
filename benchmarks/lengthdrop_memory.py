"""Peak memory of one LengthDrop training step vs num_sandwich, per backward mode.

Measures, for num_sandwich = 0..N and backward = per_subnetwork / joint:

* ``peak_saved_mb``: the peak size of the tensors autograd keeps for backward
  (activations of every live graph), counted exactly with
  ``torch.autograd.graph.saved_tensors_hooks`` (each storage counted once);
* ``peak_rss_mb``: the process's resident memory high-water mark during the
  step above its level before the step (sampled every millisecond by a thread;
  noisier, includes the allocator's behaviour and the gradient buffer);
* ``step_s``: the step's wall time.

Each configuration runs in a fresh subprocess (clean allocator). The model is a
BERT-style encoder (default 4 layers, hidden 256, 4 heads) at sequence length
256, batch 8; LayerDrop is off so that every sub-network is the same size as in
LAT's worst case. Prints a table and ratios to the num_sandwich=0 step.

    python -m benchmarks.lengthdrop_memory [--max-sandwich 4] [--layers 4] [--hidden 256] [--seq 256] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class SavedTensorMeter:
    """Counts bytes of storages saved for backward that are still alive."""

    def __init__(self) -> None:
        self.live: dict[int, list[int]] = {}  # storage pointer -> [refcount, nbytes]
        self.current = 0
        self.peak = 0

    def pack(self, tensor: Any) -> Any:
        meter = self
        storage = tensor.untyped_storage()
        key, size = storage.data_ptr(), storage.nbytes()

        class Holder:
            def __init__(self) -> None:
                self.tensor = tensor
                entry = meter.live.setdefault(key, [0, size])
                if entry[0] == 0:
                    meter.current += size
                    meter.peak = max(meter.peak, meter.current)
                entry[0] += 1

            def __del__(self) -> None:
                entry = meter.live[key]
                entry[0] -= 1
                if entry[0] == 0:
                    meter.current -= entry[1]
                    del meter.live[key]

        return Holder()

    @staticmethod
    def unpack(holder: Any) -> Any:
        return holder.tensor


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_one(args: argparse.Namespace) -> dict[str, Any]:
    import lightning.pytorch as pl
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from lit_distill.callbacks.base import loss_contributors
    from lit_distill.callbacks.length_drop import LengthDrop
    from lit_distill.models.config import EncoderConfig
    from lit_distill.models.qa_model import QAModel

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    config = EncoderConfig(
        vocab_size=1000,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden,
        max_position_embeddings=max(512, args.seq),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = QAModel(config)

        def forward_model(self, batch: dict[str, Any], **kw: Any) -> Any:
            return self.model(batch["input_ids"], batch["attention_mask"], **kw)

        def training_step(self, batch: dict[str, Any], batch_idx: int) -> Any:
            out = self.forward_model(batch)
            loss = 0.5 * (
                F.cross_entropy(out.start_logits, batch["start_positions"])
                + F.cross_entropy(out.end_logits, batch["end_positions"])
            )
            for cb in loss_contributors(self.trainer):
                extra = cb.extra_loss(self.trainer, self, batch, out)
                if extra is not None:
                    loss = loss + extra
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=1e-3)

    meter = SavedTensorMeter()

    class Measure(pl.Callback):
        def __init__(self) -> None:
            self.results: list[dict[str, float]] = []
            self._hooks: Any = None

        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
            meter.peak = meter.current
            self._rss0 = _rss_bytes()
            self._rss_peak = self._rss0
            self._stop = False

            def sample() -> None:
                while not self._stop:
                    self._rss_peak = max(self._rss_peak, _rss_bytes())
                    time.sleep(0.001)

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
            self._hooks = torch.autograd.graph.saved_tensors_hooks(meter.pack, meter.unpack)
            self._hooks.__enter__()
            self._t0 = time.perf_counter()

        def on_train_batch_end(
            self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            elapsed = time.perf_counter() - self._t0
            self._hooks.__exit__(None, None, None)
            self._stop = True
            self._thread.join()
            self.results.append(
                {
                    "peak_saved_mb": meter.peak / 2**20,
                    "peak_rss_mb": (self._rss_peak - self._rss0) / 2**20,
                    "step_s": elapsed,
                }
            )

    n = args.batch * (args.steps + 1)
    g = torch.Generator().manual_seed(0)
    data = [
        {
            "input_ids": torch.randint(1, 1000, (args.seq,), generator=g),
            "attention_mask": torch.ones(args.seq, dtype=torch.long),
            "start_positions": torch.randint(0, args.seq, (), generator=g),
            "end_positions": torch.randint(0, args.seq, (), generator=g),
        }
        for _ in range(n)
    ]
    measure = Measure()
    callbacks: list[Any] = [measure]
    if args.num_sandwich >= 0:
        callbacks.insert(
            0,
            LengthDrop(
                num_sandwich=args.num_sandwich, layer_dropout_prob=0.0, backward=args.backward, seed=0
            ),
        )
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=args.steps + 1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
    trainer.fit(Module(), DataLoader(data, batch_size=args.batch))  # type: ignore[arg-type]
    steps = measure.results[1:]  # the first step warms the allocator up
    return {
        "num_sandwich": args.num_sandwich,
        "backward": args.backward if args.num_sandwich >= 0 else "none",
        "peak_saved_mb": max(s["peak_saved_mb"] for s in steps),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in steps),
        "step_s": sorted(s["step_s"] for s in steps)[len(steps) // 2],
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n")[0])
    parser.add_argument("--max-sandwich", type=int, default=4)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2, help="measured steps after one warm-up step")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--num-sandwich", type=int, default=-1, help=argparse.SUPPRESS)
    parser.add_argument("--backward", default="per_subnetwork", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args)))
        return 0
    common = [
        f"--layers={args.layers}",
        f"--hidden={args.hidden}",
        f"--heads={args.heads}",
        f"--seq={args.seq}",
        f"--batch={args.batch}",
        f"--steps={args.steps}",
        f"--threads={args.threads}",
    ]
    plan = [(-1, "none")] + [
        (k, mode) for k in range(args.max_sandwich + 1) for mode in ("per_subnetwork", "joint")
    ]
    rows = []
    for k, mode in plan:
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.lengthdrop_memory",
            "--one",
            f"--num-sandwich={k}",
            f"--backward={mode}",
            *common,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(f"  measured num_sandwich={k} backward={mode}", file=sys.stderr)
    base = next(r for r in rows if r["num_sandwich"] == -1)
    print(
        f"model: {args.layers} layers, hidden {args.hidden}, {args.heads} heads; batch {args.batch} x seq {args.seq}; "
        f"LayerDrop off; {args.threads} threads"
    )
    header = (
        f"{'num_sandwich':>12} {'backward':>15} {'saved MB':>9} {'x plain':>8} {'RSS MB':>8} {'step s':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        label = "no LD" if r["num_sandwich"] < 0 else str(r["num_sandwich"])
        ratio = r["peak_saved_mb"] / base["peak_saved_mb"]
        print(
            f"{label:>12} {r['backward']:>15} {r['peak_saved_mb']:>9.1f} {ratio:>7.2f}x "
            f"{r['peak_rss_mb']:>8.1f} {r['step_s']:>7.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
