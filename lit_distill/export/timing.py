"""Latency of an exported artifact on random full-length inputs (``bench --runtime``, ``tools/bench_deploy.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lit_distill.export.timing_stats import summarize_times

__all__ = ["random_inputs", "time_interleaved"]


def random_inputs(vocab_size: int, batch_size: int, seq_length: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(B, L) int64 ids (no special ids below 5), an all-ones mask and zero segment ids.

    Every token is real, so a length configuration takes full effect.
    """
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, max(6, vocab_size), size=(batch_size, seq_length), dtype=np.int64)
    return ids, np.ones_like(ids), np.zeros_like(ids)


def time_interleaved(
    runs: Sequence[Callable[[], Any]], warmup: int = 2, repeats: int = 10
) -> list[dict[str, float]]:
    """Time each callable ``repeats`` times, one run of each per round (drifts hit all alike).

    Returns:
        Per callable, :func:`~lit_distill.export.timing_stats.summarize_times` of its seconds.
    """
    for run in runs:
        for _ in range(max(1, warmup)):
            run()
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for i, run in enumerate(runs):
            start = time.perf_counter()
            run()
            samples[i].append(time.perf_counter() - start)
    return [summarize_times(s) for s in samples]
