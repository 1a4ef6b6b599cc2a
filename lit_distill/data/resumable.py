"""A training DataLoader that a run resumed mid-epoch continues exactly where it stopped.

Lightning resumes a mid-epoch checkpoint exactly only when the training
dataloader is *stateful* (has ``state_dict`` / ``load_state_dict``); a plain
``DataLoader(shuffle=True)`` draws a new order from the global RNG and the
resumed run sees different batches. :func:`make_resumable` rebuilds a plain
loader as a :class:`ResumableLoader`:

* the shuffling order of epoch ``e`` depends only on ``(seed, e)`` (Lightning
  calls ``set_epoch`` on the sampler; under DDP Lightning's ``DistributedSampler``
  does the same);
* at the first batch of an epoch it skips the batches the trainer's (restored)
  progress says are already done, so a resumed epoch continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

__all__ = ["EpochSeededSampler", "ResumableLoader", "make_resumable"]


class EpochSeededSampler(RandomSampler):
    """A random permutation per epoch, seeded by ``seed + epoch`` (not by the global RNG)."""

    def __init__(self, data_source: Any, seed: int = 0) -> None:
        super().__init__(data_source)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        yield from torch.randperm(len(self.data_source), generator=g).tolist()  # type: ignore[arg-type]


class ResumableLoader(DataLoader):  # type: ignore[type-arg]
    """A ``DataLoader`` that skips the batches of the current epoch the trainer already processed.

    At the first batch of every iteration it asks ``processed_batches()`` how many
    batches of the current epoch are done (0 in an ordinary epoch; after a resumed
    mid-epoch checkpoint, the number done before the interruption) and skips them.
    It reads the trainer's restored progress rather than relying on Lightning's
    dataloader ``load_state_dict``, which Lightning does not call when
    ``estimated_stepping_batches`` set up the loader before the checkpoint was restored.

    Args:
        *args: ``DataLoader`` arguments.
        processed_batches: returns how many batches of the current epoch are done.
        **kwargs: ``DataLoader`` keyword arguments.
    """

    def __init__(self, *args: Any, processed_batches: Callable[[], int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.processed_batches = processed_batches

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        iterator = super().__iter__()

        def skipping() -> Iterator[Any]:
            # read lazily, at the first batch: Lightning creates iterators before it restores
            # the checkpoint's progress and before it calls set_epoch on the sampler
            skip = int(self.processed_batches()) if self.processed_batches else 0
            for _ in range(skip):  # batches trained on before the interruption
                next(iterator, None)
            yield from iterator

        return skipping()

    def from_start(self) -> Iterator[Any]:
        """Every batch of the current epoch, none skipped (e.g. to measure importance at an epoch's end)."""
        return super().__iter__()

    def state_dict(self) -> dict[str, int]:
        """Marks the loader as resumable for Lightning (the position comes from the trainer's progress)."""
        return {"processed_batches": int(self.processed_batches()) if self.processed_batches else 0}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Nothing to do: the position is read from the trainer's restored progress."""


def make_resumable(loader: Any, seed: int, processed_batches: Callable[[], int]) -> Any:
    """Rebuild a plain shuffling or sequential ``DataLoader`` as a :class:`ResumableLoader`.

    Loaders that are already stateful, or that use their own sampler or batch sampler,
    are returned unchanged (with a warning for the latter).
    """
    if not isinstance(loader, DataLoader) or hasattr(loader, "state_dict") or loader.batch_size is None:
        return loader  # not a DataLoader, already stateful, or a custom batch sampler
    if isinstance(loader.sampler, RandomSampler) and type(loader.sampler) is RandomSampler:
        sampler: Any = EpochSeededSampler(loader.dataset, seed)
    elif type(loader.sampler) is SequentialSampler:
        sampler = SequentialSampler(loader.dataset)  # type: ignore[arg-type]
    else:
        rank_zero_warn(
            f"the training dataloader uses a custom sampler ({type(loader.sampler).__name__}); a run resumed "
            "mid-epoch will not see exactly the batches an uninterrupted run would"
        )
        return loader
    return ResumableLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        collate_fn=loader.collate_fn,
        num_workers=loader.num_workers,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        persistent_workers=loader.persistent_workers,
        processed_batches=processed_batches,
    )
