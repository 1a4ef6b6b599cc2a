"""Random QA features for the benchmarks (no tokenizer, no files): a tiny LightningDataModule."""

from __future__ import annotations

import argparse

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset


class RandomFeatures(Dataset):  # type: ignore[type-arg]
    """``n`` features of length ``seq_length`` with random ids, real lengths and gold spans."""

    def __init__(self, n: int, seq_length: int, vocab_size: int, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.input_ids = torch.randint(1, vocab_size, (n, seq_length), generator=g)
        lengths = torch.randint(seq_length // 2, seq_length + 1, (n,), generator=g)
        self.attention_mask = (torch.arange(seq_length)[None, :] < lengths[:, None]).long()
        self.input_ids = self.input_ids * self.attention_mask
        self.token_type_ids = (torch.arange(seq_length)[None, :] >= 16).long() * self.attention_mask
        self.start = (torch.rand(n, generator=g) * (lengths - 1).float()).long()
        self.end = torch.minimum(self.start + 3, lengths - 1)

    def __len__(self) -> int:
        return self.input_ids.size(0)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {
            "input_ids": self.input_ids[i],
            "attention_mask": self.attention_mask[i],
            "token_type_ids": self.token_type_ids[i],
            "start_positions": self.start[i],
            "end_positions": self.end[i],
            "feature_index": torch.tensor(i),
        }


class RandomQADataModule(LightningDataModule):
    """Training batches only, in a fixed order (no shuffling), with a fingerprint for the logit cache."""

    def __init__(self, n: int, seq_length: int, vocab_size: int, batch_size: int) -> None:
        super().__init__()
        self.dataset = RandomFeatures(n, seq_length, vocab_size)
        self.batch_size = batch_size
        self.key = f"random-{n}-{seq_length}-{vocab_size}"

    def train_dataloader(self) -> DataLoader:  # type: ignore[type-arg]
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False)

    def train_dataset_fingerprint(self) -> str:
        return self.key


def parse_bench_args(description: str | None, prog: str) -> argparse.Namespace:
    """The options both training benchmarks share (``prog``: how the benchmark is run); applies ``--threads``."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--features", type=int, default=96)
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    return args
