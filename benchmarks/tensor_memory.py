"""Peak size of the live tensors during a computation, independent of the allocator.

A process's resident memory says how much the allocator holds, which depends on glibc's
heuristics (large blocks go back to the OS, smaller ones stay) as much as on the model.
:func:`peak_tensor_bytes` instead counts every tensor storage an operator creates and
releases it when the storage is freed, so two models are compared on what they keep alive.
Tensors that exist before the call (weights, inputs) are not counted.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class _StorageTracker(TorchDispatchMode):
    """Adds each new output storage's size, subtracts it when the storage is freed."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, int] = {}
        self.current = 0
        self.peak = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for value in tree_flatten(out)[0]:
            if not isinstance(value, torch.Tensor):
                continue
            storage = value.untyped_storage()
            key, size = storage.data_ptr(), storage.nbytes()
            if size == 0 or key in self.live:
                continue  # a view, or an op that returned an existing storage
            self.live[key] = size
            self.current += size
            self.peak = max(self.peak, self.current)
            weakref.finalize(storage, self._release, key)
        return out

    def _release(self, key: int) -> None:
        self.current -= self.live.pop(key, 0)


def peak_tensor_bytes(fn: Callable[[], Any]) -> int:
    """Largest total size of the tensors created by ``fn`` that were alive at the same time."""
    tracker = _StorageTracker()
    with tracker:
        result = fn()
    del result
    return tracker.peak
