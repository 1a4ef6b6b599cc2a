"""Timing that can be compared: configurations run interleaved, repeated, reported as median and spread.

On a shared machine the load changes while a benchmark runs. Timing configuration A
for a while and then B turns a change of load into a "speed-up". Here every round runs
each configuration once, in an order shuffled afresh each round (A, B, C; C, A, B; B, C, A
...), so that a drift of the machine hits all of them alike and none always runs first or
always right after the same other one (whose after-effects, evicted caches or another
runtime's threads, would slow it in every round). A configuration's
latency is the median of its rounds, with the inter-quartile range (IQR) as its spread.
The speed-up of B over a reference A is the median of the per-round ratios A_i / B_i,
and its spread is the IQR of those ratios.

A speed-up is *flagged* (not reported as a number a user may trust) when

- fewer than :data:`MIN_ROUNDS` rounds were timed;
- its relative spread (IQR / median of the per-round ratios) exceeds ``max_spread``
  (default :data:`MAX_SPREAD`): the rounds disagree on how much faster it is;
- its spread is larger than its effect (IQR > |median - 1|): the rounds disagree on
  whether it is faster at all; or
- (when every round does the same work, as ``bench`` does) the latencies of either
  configuration spread more than ``max_spread`` of their median.

:meth:`Speedup.fields` writes a flagged speed-up as ``None`` under its key, with the
measured ratio, its quartiles and the reason beside it; :meth:`Speedup.text` prints
``noisy`` or ``no diff`` instead of a number.

This module imports nothing of the package and not torch (:func:`device_sync` imports
torch only when asked for a CUDA device), so every room may use it.

Example::

    timings = time_interleaved([lambda: full(x), lambda: short(x)], warmup=2, repeats=20)
    ratio = speedup(timings[0], timings[1], steady_work=True)
    print(f"{timings[1].median * 1e3:.2f} ms, {ratio.text()}")  # "3.10 ms, 2.41x" or "3.10 ms, noisy"
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "MAX_SPREAD",
    "MIN_ROUNDS",
    "Clock",
    "Speedup",
    "Timing",
    "device_sync",
    "random_inputs",
    "round_order",
    "speedup",
    "speedup_cell",
    "synchronize",
    "time_interleaved",
    "timed",
]

Clock = Callable[[], float]
"""A clock in seconds (``time.perf_counter``; a fake one in tests)."""

MAX_SPREAD = 0.2
"""Largest relative spread (IQR / median) of a speed-up, or of a steady configuration's latencies,
that is reported as a number."""

MIN_ROUNDS = 3
"""Fewest timed rounds from which a speed-up is reported as a number."""

NO_EFFECT = "spread larger than the effect"
"""How the flag of a speed-up whose rounds do not agree on its direction begins."""

T = TypeVar("T")


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of already sorted values."""
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _relative(spread: float, median: float) -> float:
    return spread / abs(median) if median else math.inf


@dataclass(frozen=True)
class Timing:
    """Repeated measurements of one configuration (seconds) and their summary.

    Attributes:
        samples: the measurements, in the order they were taken (one per round).
        median, mean, min, max, p25, p75: their statistics; ``iqr`` is p75 - p25 and
            ``stdev`` the sample standard deviation (0 for one sample).
    """

    samples: tuple[float, ...]
    median: float
    mean: float
    min: float
    max: float
    p25: float
    p75: float
    iqr: float
    stdev: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Timing:
        """Summarise ``samples``.

        Raises:
            ValueError: if ``samples`` is empty (a caller's bug: nothing was timed).
        """
        if not samples:
            raise ValueError("no timings to summarise")
        values = tuple(float(s) for s in samples)
        ordered = sorted(values)
        p25, p75 = _quantile(ordered, 0.25), _quantile(ordered, 0.75)
        return cls(
            samples=values,
            median=statistics.median(ordered),
            mean=statistics.fmean(ordered),
            min=ordered[0],
            max=ordered[-1],
            p25=p25,
            p75=p75,
            iqr=p75 - p25,
            stdev=statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
        )

    @property
    def total(self) -> float:
        """The sum of the samples."""
        return math.fsum(self.samples)

    @property
    def relative_spread(self) -> float:
        """IQR / median (inf for a zero median)."""
        return _relative(self.iqr, self.median)

    def fields(self, prefix: str = "latency_", scale: float = 1.0, unit: str = "_s") -> dict[str, float]:
        """The statistics as row fields, e.g. ``latency_median_s`` (``scale`` multiplies each value)."""
        names = ("median", "p25", "p75", "iqr", "min", "max", "stdev")
        return {f"{prefix}{name}{unit}": scale * getattr(self, name) for name in names}


@dataclass(frozen=True)
class Speedup:
    """How much faster a configuration ran than a reference, from interleaved rounds.

    Attributes:
        value: median of the per-round ratios reference time / this time.
        p25, p75: quartiles of those ratios.
        rounds: how many rounds were paired.
        flag: why ``value`` is not to be trusted (None when it is).
    """

    value: float
    p25: float
    p75: float
    rounds: int
    flag: str | None = None

    @property
    def trusted(self) -> bool:
        """Whether the speed-up may be reported as a number."""
        return self.flag is None

    def text(self) -> str:
        """``"2.41x"``, or ``"noisy"`` / ``"no diff"`` for a flagged speed-up."""
        return f"{self.value:.2f}x" if self.flag is None else _flag_word(self.flag)

    def fields(self, key: str) -> dict[str, Any]:
        """Row fields: ``key`` (None when flagged), ``key_measured``, ``key_p25``, ``key_p75``, ``key_flag``."""
        return {
            key: self.value if self.flag is None else None,
            f"{key}_measured": self.value,
            f"{key}_p25": self.p25,
            f"{key}_p75": self.p75,
            f"{key}_flag": self.flag,
        }


def speedup(
    reference: Timing | Sequence[float],
    other: Timing | Sequence[float],
    *,
    steady_work: bool = False,
    max_spread: float = MAX_SPREAD,
    min_rounds: int = MIN_ROUNDS,
) -> Speedup:
    """The speed-up of ``other`` over ``reference``, timed in the same rounds, and whether to trust it.

    Args:
        reference: the reference's time in each round.
        other: the other configuration's time in the same rounds (paired by position).
        steady_work: every round did the same work (one input timed again and again), so
            that a configuration's own latencies should agree; flag either when they spread
            more than ``max_spread``. False when rounds differ (e.g. one batch each).
        max_spread: the largest relative spread (IQR / median) reported as a number.
        min_rounds: the fewest rounds reported as a number.

    Returns:
        The speed-up; exactly 1 (never flagged) when ``other`` is ``reference`` itself.

    Raises:
        ValueError: if the two were not timed in the same number of rounds (a caller's bug).
    """
    ref = reference if isinstance(reference, Timing) else Timing.of(reference)
    if other is reference:  # the reference itself: 1 by definition
        return Speedup(value=1.0, p25=1.0, p75=1.0, rounds=len(ref.samples))
    oth = other if isinstance(other, Timing) else Timing.of(other)
    if len(ref.samples) != len(oth.samples):
        raise ValueError(f"paired timings need equal rounds, got {len(ref.samples)} and {len(oth.samples)}")
    ratios = Timing.of([r / o if o > 0 else math.inf for r, o in zip(ref.samples, oth.samples, strict=True)])
    spread = ratios.iqr
    flag: str | None = None
    if len(ratios.samples) < min_rounds:
        flag = f"{len(ratios.samples)} timed round(s); at least {min_rounds} are needed to judge the spread"
    elif steady_work and max(ref.relative_spread, oth.relative_spread) > max_spread:
        worst = max(ref.relative_spread, oth.relative_spread)
        flag = f"latencies spread {worst:.0%} of their median (IQR), more than {max_spread:.0%}"
    elif _relative(spread, ratios.median) > max_spread:
        flag = f"per-round speed-ups spread {_relative(spread, ratios.median):.0%} (IQR), more than {max_spread:.0%}"
    elif spread > abs(ratios.median - 1.0):
        flag = f"{NO_EFFECT}: IQR {spread:.3f} of the per-round speed-ups > |{ratios.median:.3f} - 1|"
    return Speedup(value=ratios.median, p25=ratios.p25, p75=ratios.p75, rounds=len(ratios.samples), flag=flag)


def _flag_word(flag: str) -> str:
    return "no diff" if flag.startswith(NO_EFFECT) else "noisy"


def speedup_cell(row: Mapping[str, Any], key: str) -> str:
    """How a table prints the speed-up that :meth:`Speedup.fields` wrote into ``row`` under ``key``.

    ``"2.41x"``; ``"noisy"`` or ``"no diff"`` when flagged; ``"-"`` when the row has none.
    """
    if row.get(f"{key}_measured") is None:
        return "-"
    flag = row.get(f"{key}_flag")
    return f"{row[f'{key}_measured']:.2f}x" if flag is None else _flag_word(flag)


def round_order(count: int, round_index: int) -> list[int]:
    """The order in which round ``round_index`` runs ``count`` configurations.

    A permutation drawn afresh for each round, seeded by the round (so reproducible), so that no
    configuration always runs right after the same one: a fixed cyclic order slowed the graph
    that always followed BERT-base by 3-7 % (its caches evicted), which medians cannot remove.
    """
    order = list(range(count))
    random.Random(round_index).shuffle(order)
    return order


def timed(
    run: Callable[[], T], clock: Clock = time.perf_counter, sync: Callable[[], None] | None = None
) -> tuple[T, float]:
    """``run()`` and the seconds it took (``sync`` waits for queued device work before each reading)."""
    if sync is not None:
        sync()
    start = clock()
    result = run()
    if sync is not None:
        sync()
    return result, clock() - start


def time_interleaved(
    runs: Sequence[Callable[[], Any]],
    warmup: int = 2,
    repeats: int = 10,
    *,
    clock: Clock = time.perf_counter,
    sync: Callable[[], None] | None = None,
) -> list[Timing]:
    """Time each callable ``repeats`` times, one run of each per round, in a new order each round.

    Args:
        runs: the configurations, each a callable doing the work once.
        warmup: untimed runs of each before the first round (at least one: it checks the run works).
        repeats: timed rounds.
        clock: the clock (seconds).
        sync: called before and after each timed run (e.g. :func:`device_sync`'s CUDA barrier).

    Returns:
        One :class:`Timing` per callable, its samples in round order (so that
        :func:`speedup` pairs them by round).

    Raises:
        ValueError: for ``repeats`` < 1 (a caller's bug; commands check their options).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for run in runs:
        for _ in range(max(1, warmup)):
            run()
    samples: list[list[float]] = [[] for _ in runs]
    for round_index in range(repeats):
        for i in round_order(len(runs), round_index):
            samples[i].append(timed(runs[i], clock, sync)[1])
    return [Timing.of(s) for s in samples]


def device_sync(device: Any) -> Callable[[], None] | None:
    """A barrier for queued work on ``device`` (a ``torch.device`` or its name): CUDA only, else None."""
    if str(getattr(device, "type", device)).split(":")[0] != "cuda":
        return None
    import torch

    return lambda: torch.cuda.synchronize(device)


def synchronize(device: Any) -> None:
    """Wait for queued work on ``device`` (CUDA); nothing elsewhere."""
    sync = device_sync(device)
    if sync is not None:
        sync()


def random_inputs(vocab_size: int, batch_size: int, seq_length: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(B, L) int64 ids (no special ids below 5), an all-ones mask and zero segment ids.

    Every token is real, so a length configuration takes full effect.
    """
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, max(6, vocab_size), size=(batch_size, seq_length), dtype=np.int64)
    return ids, np.ones_like(ids), np.zeros_like(ids)
