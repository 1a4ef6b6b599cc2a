"""Teacher span logits computed once per training set and reused across epochs and runs.

A frozen teacher in eval mode gives the same logits for a feature every time, so
the DistilBERT-style and TinyBERT prediction-layer losses read them from a cache
instead of running the teacher at every step. The cache is a file keyed by a
fingerprint of the teacher's weights and the data module's
``train_dataset_fingerprint()``: another run with the same teacher and data
reuses it; a different teacher or different features get a new file.

Under DDP every rank computes the logits of its own share of the features; the
shares are gathered so that every rank holds the whole table, and rank 0 writes
the file.

A run that trains on less than the whole training set (``limit_train_batches``,
``max_steps``; :func:`run_covers_training_set`) does not compute the whole table first:
its rows are filled as training meets their features (:meth:`TeacherLogits.fill`) and
the partial table is saved at the end. The file records which rows are filled, so a
later full run computes only the missing rows before its first step and never reads a
partial table as a complete one.

The file is written to a temporary name and renamed into place, and records a
SHA-256 of its tensors; :func:`load_cache` verifies it, and a truncated or
overwritten file is reported by name (a warning) and computed again.
"""

from __future__ import annotations

import hashlib
import io
import math
import pickle
import warnings
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from lit_distill.atomic_write import write_bytes

__all__ = [
    "TeacherLogits",
    "cache_path",
    "compute_teacher_logits",
    "empty_table",
    "load_cache",
    "model_fingerprint",
    "run_covers_training_set",
]

# fill value for positions past a feature's computed length (always padding; masked in the losses)
PAD_LOGIT = -1.0e4


def model_fingerprint(model: nn.Module) -> str:
    """Hash of every parameter and buffer (names, shapes, dtypes and values)."""
    h = hashlib.blake2b(digest_size=12)
    for name, tensor in sorted(model.state_dict().items()):
        h.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def cache_path(cache_dir: str | Path, teacher_fingerprint: str, data_fingerprint: str) -> Path:
    """File of the cache for one teacher and one training set."""
    key = hashlib.sha256(f"{teacher_fingerprint}|{data_fingerprint}".encode()).hexdigest()[:24]
    return Path(cache_dir) / f"teacher-logits-{key}.pt"


@dataclass
class TeacherLogits:
    """Start and end logits of every training feature, rows indexed by ``feature_index``.

    Attributes:
        start: ``(N, L)`` float.
        end: ``(N, L)`` float.
        filled: ``(N,)`` bool, which rows were computed.
    """

    start: Tensor
    end: Tensor
    filled: Tensor

    @property
    def complete(self) -> bool:
        """Whether every row is computed."""
        return bool(self.filled.all())

    def missing(self) -> list[int]:
        """The feature indices whose rows are not computed yet."""
        return [int(i) for i in (~self.filled).nonzero().flatten()]

    def fill(self, index: Tensor, start: Tensor, end: Tensor) -> None:
        """Put computed rows in place (``index (n,)``, ``start``/``end (n, W)``); widens the table if needed.

        Positions past a row's width (and past the table's former width) hold ``PAD_LOGIT``.
        """
        index = index.detach().cpu().long()
        if index.numel() and int(index.max()) >= self.filled.numel():
            raise ValueError(
                f"feature index {int(index.max())} is outside the cache's {self.filled.numel()} rows"
            )
        width = max(self.start.size(1), start.size(1))
        if width > self.start.size(1):
            pad = (0, width - self.start.size(1))
            self.start = torch.nn.functional.pad(self.start, pad, value=PAD_LOGIT)
            self.end = torch.nn.functional.pad(self.end, pad, value=PAD_LOGIT)
        pad = (0, width - start.size(1))
        self.start[index] = torch.nn.functional.pad(start.detach().cpu(), pad, value=PAD_LOGIT).to(
            self.start.dtype
        )
        self.end[index] = torch.nn.functional.pad(end.detach().cpu(), pad, value=PAD_LOGIT).to(self.end.dtype)
        self.filled[index] = True

    def lookup(self, feature_index: Tensor, length: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """Cached ``(start, end)`` logits, each ``(B, length)``, for a batch.

        Raises:
            KeyError: when a feature of the batch is not in the cache (the training set changed).
        """
        index = feature_index.detach().cpu().long()
        if bool((index < 0).any() or (index >= self.filled.numel()).any()) or not bool(
            self.filled[index].all()
        ):
            missing = [int(i) for i in index if i < 0 or i >= self.filled.numel() or not self.filled[i]]
            raise KeyError(
                f"features {missing[:10]} are not in the teacher-logit cache ({self.filled.numel()} rows); "
                "the training set changed after the cache was built: delete the cache file or set use_cache false"
            )
        start, end = self.start[index], self.end[index]  # (B, L_cache)
        width = start.size(1)
        if width < length:
            pad = (0, length - width)
            start = torch.nn.functional.pad(start, pad, value=PAD_LOGIT)
            end = torch.nn.functional.pad(end, pad, value=PAD_LOGIT)
        return start[:, :length].to(device).float(), end[:, :length].to(device).float()

    def digest(self) -> str:
        """SHA-256 of the three tensors (dtype, shape and bytes)."""
        h = hashlib.sha256()
        for tensor in (self.start, self.end, self.filled):
            h.update(f"{tensor.dtype}:{tuple(tensor.shape)}".encode())
            h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
        return h.hexdigest()

    def save(self, path: Path, meta: dict[str, str]) -> None:
        """Write atomically (:func:`lit_distill.atomic_write.write_bytes`), with the tensors' SHA-256."""
        data = {"start": self.start, "end": self.end, "filled": self.filled}
        buffer = io.BytesIO()
        torch.save({**data, "meta": {**meta, "sha256": self.digest()}}, buffer)
        write_bytes(path, buffer.getbuffer())

    @classmethod
    def load(cls, path: Path) -> TeacherLogits:
        """Read a file written by :meth:`save` and verify its checksum.

        Raises:
            ValueError: naming the file when it is truncated, corrupt or does not match its checksum.
        """
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            table = cls(start=data["start"], end=data["end"], filled=data["filled"])
            recorded = data["meta"]["sha256"]
        except FileNotFoundError:
            raise
        except (
            RuntimeError,
            OSError,
            EOFError,
            KeyError,
            TypeError,
            pickle.UnpicklingError,
            zipfile.BadZipFile,
        ) as exc:
            raise ValueError(
                f"teacher-logit cache {path} is unreadable ({type(exc).__name__}: {exc})"
            ) from exc
        if table.digest() != recorded:
            raise ValueError(
                f"teacher-logit cache {path} does not match the checksum recorded when it was written"
            )
        return table


def load_cache(path: Path) -> TeacherLogits | None:
    """:meth:`TeacherLogits.load`, or ``None`` with a warning naming the file when it is corrupt (rebuild it)."""
    try:
        return TeacherLogits.load(path)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        warnings.warn(f"{exc}; computing the teacher's logits again", stacklevel=2)
        return None


def empty_table(num_features: int) -> TeacherLogits:
    """A table of ``num_features`` rows, none computed yet."""
    return assemble(torch.zeros(0, dtype=torch.long), torch.zeros(0, 1), torch.zeros(0, 1), num_features)


def run_covers_training_set(
    planned_steps: float, accumulate_grad_batches: int, world_size: int, batches_per_epoch: int
) -> bool:
    """Whether a run meets as many training batches as one full epoch has.

    Only then does computing the whole table before the first step pay off; a run cut
    short by ``limit_train_batches`` or ``max_steps`` (a smoke test: 20 batches of
    thousands) fills the rows it meets instead.

    Args:
        planned_steps: the optimiser steps of the whole run (Lightning's
            ``trainer.estimated_stepping_batches``, per process; ``inf`` when unbounded).
        accumulate_grad_batches: batches per optimiser step.
        world_size: processes, each training on its own share of every epoch.
        batches_per_epoch: batches of one full epoch in one process (no limit, no sampler split).
    """
    if not math.isfinite(planned_steps):
        return True
    return planned_steps * accumulate_grad_batches * world_size >= batches_per_epoch


@torch.no_grad()
def compute_teacher_logits(
    teacher: Callable[..., object],
    dataset: Dataset,  # type: ignore[type-arg]
    collate_fn: Callable[[list[object]], dict[str, Tensor]] | None,
    *,
    batch_size: int,
    device: torch.device,
    rank: int = 0,
    world_size: int = 1,
    dtype: torch.dtype = torch.float32,
    indices: Sequence[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Run the teacher over this rank's share of ``dataset`` (or of ``indices`` of it).

    Rank ``r`` takes the items ``r, r + world_size, ...`` so that the shares are
    disjoint and cover the dataset.

    Args:
        indices: compute only these items (e.g. the rows a partial cache lacks); default all.
        progress: called after each batch with the number of items that batch held.

    Returns:
        ``(feature_index (n,), start (n, L), end (n, L))`` for this rank's items,
        ``L`` being the longest batch seen (shorter batches padded with a very low logit).
    """
    items = list(range(len(dataset))) if indices is None else list(indices)  # type: ignore[arg-type]
    indices = items[rank::world_size]
    loader = DataLoader(
        torch.utils.data.Subset(dataset, indices), batch_size=batch_size, shuffle=False, collate_fn=collate_fn
    )
    rows: list[tuple[Tensor, Tensor, Tensor]] = []
    for batch in loader:
        out = teacher(
            batch["input_ids"].to(device),
            batch["attention_mask"].to(device),
            token_type_ids=batch["token_type_ids"].to(device) if "token_type_ids" in batch else None,
        )
        rows.append(
            (
                batch["feature_index"].cpu().long(),
                out.start_logits.to("cpu", dtype),  # type: ignore[attr-defined]
                out.end_logits.to("cpu", dtype),  # type: ignore[attr-defined]
            )
        )
        if progress is not None:
            progress(int(batch["input_ids"].size(0)))
    width = max((r[1].size(1) for r in rows), default=1)
    index = torch.cat([r[0] for r in rows]) if rows else torch.zeros(0, dtype=torch.long)
    start = _cat_padded([r[1] for r in rows], width, dtype)
    end = _cat_padded([r[2] for r in rows], width, dtype)
    return index, start, end


def _cat_padded(parts: Iterable[Tensor], width: int, dtype: torch.dtype) -> Tensor:
    padded = [torch.nn.functional.pad(p, (0, width - p.size(1)), value=PAD_LOGIT) for p in parts]
    return torch.cat(padded) if padded else torch.zeros(0, width, dtype=dtype)


def assemble(index: Tensor, start: Tensor, end: Tensor, num_features: int) -> TeacherLogits:
    """Place gathered rows at their ``feature_index`` (rows with index < 0 are padding and dropped)."""
    keep = index >= 0
    index, start, end = index[keep], start[keep], end[keep]
    if index.numel() and int(index.max()) >= num_features:
        num_features = int(index.max()) + 1
    width = start.size(1) if start.ndim == 2 else 1
    table_start = torch.full((num_features, width), PAD_LOGIT, dtype=start.dtype)
    table_end = torch.full((num_features, width), PAD_LOGIT, dtype=end.dtype)
    filled = torch.zeros(num_features, dtype=torch.bool)
    table_start[index] = start
    table_end[index] = end
    filled[index] = True
    return TeacherLogits(start=table_start, end=table_end, filled=filled)
