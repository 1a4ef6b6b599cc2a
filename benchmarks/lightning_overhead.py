"""Benchmark: the project's Lightning student step vs a plain PyTorch loop doing the same work.

Both train the same 6-layer student (copied from a BERT-base-shaped random teacher)
with the DistilBERT-style loss against cached teacher logits, AdamW with the same
parameter groups and linear schedule, on the same random batches in the same
order, on CPU. Prints the steady-state epoch time of each and Lightning's overhead.

    python -m benchmarks.lightning_overhead --features 96 --seq-length 128 --batch-size 16 --epochs 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.harness import RandomQADataModule, parse_bench_args
from benchmarks.teacher_cache import timed_fit
from lit_distill.losses import distilbert_span_loss
from lit_distill.models.config import EncoderConfig
from lit_distill.models.qa_model import QAModel
from lit_distill.models.surgery import select_layers
from lit_distill.modules import DistilBertStudent
from lit_distill.modules.optim import build_optimizer
from lit_distill.modules.teacher_cache import assemble, compute_teacher_logits


def lightning_epochs(teacher_dir: Path, logit_cache_dir: Path, args: argparse.Namespace) -> list[float]:
    torch.manual_seed(0)
    data = RandomQADataModule(args.features, args.seq_length, 30522, args.batch_size)
    module = DistilBertStudent(
        teacher=str(teacher_dir), logit_cache_dir=str(logit_cache_dir), warmup_ratio=0.1
    )
    return timed_fit(module, data, args.epochs).epochs


def plain_epochs(teacher: QAModel, args: argparse.Namespace) -> list[float]:
    torch.manual_seed(0)
    data = RandomQADataModule(args.features, args.seq_length, 30522, args.batch_size)
    loader = data.train_dataloader()
    teacher.eval()
    logits = assemble(
        *compute_teacher_logits(teacher, data.dataset, None, batch_size=64, device=torch.device("cpu")),
        len(data.dataset),
    )
    student = select_layers(teacher, list(range(0, 12, 2))).train().requires_grad_(True)
    optimizer, scheduler = build_optimizer(
        [student],
        learning_rate=3e-5,
        weight_decay=0.01,
        adam_epsilon=1e-8,
        warmup_steps=0,
        warmup_ratio=0.1,
        total_steps=len(loader) * args.epochs,
    )
    times = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        for batch in loader:
            out = student(batch["input_ids"], batch["attention_mask"], token_type_ids=batch["token_type_ids"])
            t_start, t_end = logits.lookup(
                batch["feature_index"], batch["input_ids"].size(1), torch.device("cpu")
            )
            loss = distilbert_span_loss(
                out.start_logits,
                out.end_logits,
                t_start,
                t_end,
                batch["start_positions"],
                batch["end_positions"],
                temperature=2.0,
                alpha_ce=0.5,
                alpha_squad=0.5,
                mask=batch["attention_mask"],
            )["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    args = parse_bench_args(__doc__, f"python -m {__spec__.name}")
    with tempfile.TemporaryDirectory() as tmp:
        teacher_dir = Path(tmp) / "teacher"
        torch.manual_seed(0)
        teacher = QAModel(EncoderConfig())  # BERT-base shape, random weights
        teacher.save(teacher_dir)
        plain = plain_epochs(teacher, args)
        lit = lightning_epochs(teacher_dir, Path(tmp) / "cache", args)
    print(
        f"features={args.features} seq_length={args.seq_length} batch_size={args.batch_size} "
        f"epochs={args.epochs} threads={torch.get_num_threads()}"
    )
    print(f"plain PyTorch epoch: {min(plain):.2f} s  (epochs: {[round(e, 2) for e in plain]})")
    print(f"Lightning epoch:     {min(lit):.2f} s  (epochs: {[round(e, 2) for e in lit]})")
    print(f"Lightning overhead: {100 * (min(lit) / min(plain) - 1):+.1f} %")


if __name__ == "__main__":
    main()
