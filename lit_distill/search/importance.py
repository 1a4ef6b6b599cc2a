"""Parameter importance as the share of a metric's variance each parameter's main effect explains.

For each parameter the trials are grouped (by category, or into equal-count bins of
its value, on a log scale for log parameters) and the omega-squared effect size

    ω² = (SS_between − (k − 1)·MS_within) / (SS_total + MS_within)

is reported, clipped at 0. Unlike the raw between-group share (η²), ω² corrects for
the spread that ``k`` groups explain by chance, so a parameter that does nothing
scores about 0 even with few trials. It is a first-order (main-effect) analysis like
the first-order terms of fANOVA; interactions are not attributed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lit_distill.checks import is_number


def _groups(values: Sequence[Any], numeric: bool, log: bool, bins: int) -> list[int]:
    if not numeric:
        labels: list[Any] = []
        for v in values:
            if v not in labels:
                labels.append(v)
        return [labels.index(v) for v in values]
    keyed = [math.log(v) if log and v > 0 else float(v) for v in values]
    order = sorted(range(len(keyed)), key=lambda i: keyed[i])
    group = [0] * len(keyed)
    for rank, i in enumerate(order):
        group[i] = min(bins - 1, rank * bins // len(keyed))
    # equal values must share a group
    first: dict[float, int] = {}
    for i in order:
        group[i] = first.setdefault(keyed[i], group[i])
    return group


def omega_squared(groups: Sequence[int], y: Sequence[float]) -> float:
    """ω² of ``y`` explained by the grouping (0 when it explains no more than chance)."""
    n = len(y)
    labels = sorted(set(groups))
    k = len(labels)
    if n <= k or k < 2:
        return 0.0
    mean = sum(y) / n
    ss_total = sum((v - mean) ** 2 for v in y)
    if ss_total == 0:
        return 0.0
    ss_between = 0.0
    for g in labels:
        members = [v for v, gg in zip(y, groups, strict=True) if gg == g]
        ss_between += len(members) * (sum(members) / len(members) - mean) ** 2
    ms_within = (ss_total - ss_between) / (n - k)
    return max(0.0, (ss_between - (k - 1) * ms_within) / (ss_total + ms_within))


def main_effect_importance(
    params: Mapping[str, Sequence[Any]],
    y: Sequence[float],
    log_params: frozenset[str] = frozenset(),
    bins: int | None = None,
) -> dict[str, float]:
    """ω² of ``y`` for each parameter, sorted from most to least important.

    Args:
        params: Parameter name → its value in each trial (same order as ``y``).
        y: The metric in each trial.
        log_params: Names of parameters binned on a log scale.
        bins: Groups per numeric parameter (default ``clamp(n // 4, 2, 6)``).

    Raises:
        ValueError: If fewer than 3 trials are given or lengths differ.
    """
    n = len(y)
    if n < 3:
        raise ValueError(f"need at least 3 trials, got {n}")
    k = bins or max(2, min(6, n // 4))
    out = {}
    for name, values in params.items():
        if len(values) != n:
            raise ValueError(f"parameter {name!r} has {len(values)} values for {n} trials")
        numeric = all(is_number(v) for v in values)
        out[name] = omega_squared(_groups(values, numeric, name in log_params, k), y)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
