"""Summary statistics for repeated timings (the latency of `bench` and of exported artifacts)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

__all__ = ["summarize_times"]


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of already sorted values."""
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize_times(times: Sequence[float]) -> dict[str, float]:
    """Median and spread of repeated measurements (seconds).

    Returns:
        ``median``, ``mean``, ``min``, ``max``, ``p25``, ``p75``, ``iqr``
        (p75 − p25) and ``stdev`` (0 for a single run).

    Raises:
        ValueError: if ``times`` is empty.
    """
    if not times:
        raise ValueError("no timings to summarise")
    ordered = sorted(float(t) for t in times)
    p25, p75 = _quantile(ordered, 0.25), _quantile(ordered, 0.75)
    return {
        "median": statistics.median(ordered),
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "p25": p25,
        "p75": p75,
        "iqr": p75 - p25,
        "stdev": statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
    }
