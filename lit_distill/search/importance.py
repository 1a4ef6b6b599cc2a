"""Parameter importance as the share of a metric's variance each parameter's main effect explains.

For each parameter the trials are grouped (by category, or into equal-count bins of
its value, on a log scale for log parameters) and the omega-squared effect size

    ω² = (SS_between − (k − 1)·MS_within) / (SS_total + MS_within)

is reported, clipped at 0. Unlike the raw between-group share (η²), ω² corrects for
the spread that ``k`` groups explain by chance, so a parameter that does nothing
scores about 0 even with few trials. It is a first-order (main-effect) analysis like
the first-order terms of fANOVA; interactions are not attributed.

With few trials even ω² is mostly noise: four trials in two bins of two can give any
parameter a large share by chance. :func:`noise_p_values` says, per parameter, how often
the same binning explains as much of a *shuffled* metric (a permutation test); the
figure greys out parameters that chance explains as well (p > :data:`NOISE_P`) and
says so when there are fewer than :data:`MIN_TRIALS` complete trials.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lit_distill.checks import is_number

NOISE_P = 0.05
"""A parameter's ω² counts as signal when shuffled metrics reach it in at most this share of permutations."""
MIN_TRIALS = 10
"""Below this many complete trials the importance figure warns that its bars are noise-level."""


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
    out = {name: omega_squared(g, y) for name, g in _all_groups(params, y, log_params, bins).items()}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _all_groups(
    params: Mapping[str, Sequence[Any]], y: Sequence[float], log_params: frozenset[str], bins: int | None
) -> dict[str, list[int]]:
    """Each parameter's grouping of the trials (see :func:`main_effect_importance`)."""
    n = len(y)
    if n < 3:
        raise ValueError(f"need at least 3 trials, got {n}")
    k = bins or max(2, min(6, n // 4))
    out = {}
    for name, values in params.items():
        if len(values) != n:
            raise ValueError(f"parameter {name!r} has {len(values)} values for {n} trials")
        numeric = all(is_number(v) for v in values)
        out[name] = _groups(values, numeric, name in log_params, k)
    return out


def _omega_squared_rows(onehot: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """ω² of every row of ``ys`` (P, n) for one grouping ``onehot`` (n, k); vectorised :func:`omega_squared`."""
    n, k = onehot.shape
    if n <= k or k < 2:
        return np.zeros(len(ys))
    mean = ys.mean(axis=1, keepdims=True)  # (P, 1)
    ss_total = ((ys - mean) ** 2).sum(axis=1)  # (P,)
    sizes = onehot.sum(axis=0)  # (k,)
    group_means = (ys @ onehot) / sizes  # (P, k)
    ss_between = (sizes * (group_means - mean) ** 2).sum(axis=1)  # (P,)
    ms_within = (ss_total - ss_between) / (n - k)
    with np.errstate(divide="ignore", invalid="ignore"):
        omega = (ss_between - (k - 1) * ms_within) / (ss_total + ms_within)
    return np.where(ss_total > 0, np.clip(omega, 0.0, None), 0.0)


def noise_p_values(
    params: Mapping[str, Sequence[Any]],
    y: Sequence[float],
    log_params: frozenset[str] = frozenset(),
    bins: int | None = None,
    permutations: int = 999,
    seed: int = 0,
) -> dict[str, float]:
    """Per parameter, the share of shuffled metrics whose ω² reaches the real one (a permutation test).

    Shuffling ``y`` keeps each parameter's binning and breaks any link between the two, so
    the p-value is how often chance alone explains as much; the shuffles are seeded, so the
    result is reproducible. A parameter with ω² = 0 gets p = 1.

    Raises:
        ValueError: As :func:`main_effect_importance`.
    """
    groups = _all_groups(params, y, log_params, bins)
    rng = np.random.default_rng(seed)
    values = np.asarray(y, dtype=float)  # (n,)
    shuffled = np.stack([rng.permutation(values) for _ in range(permutations)])  # (P, n)
    out = {}
    for name, g in groups.items():
        labels = sorted(set(g))
        onehot = np.array([[1.0 if gi == label else 0.0 for label in labels] for gi in g])  # (n, k)
        real = omega_squared(g, y)
        if real <= 0:
            out[name] = 1.0
            continue
        reached = int((_omega_squared_rows(onehot, shuffled) >= real - 1e-12).sum())
        out[name] = (1 + reached) / (1 + permutations)
    return out
