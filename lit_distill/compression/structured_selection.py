"""Which heads or feed-forward neurons to prune: the least important, or a seeded random choice.

The functions here work on any kind of *unit* a layer has several of (attention heads,
feed-forward neurons): a *unit map* is ``{layer: [unit, ...]}`` with the units to remove,
in the layer's current numbering. How many go is given either per layer (one count per
layer) or as one total over the model; every layer keeps at least one unit, and a count
that would empty a layer is an error naming the layer. With a total, importance-based
selection removes the least important units of the whole model (scores are normalised
per layer, :func:`lit_distill.compression.head_importance.normalize_per_layer`) and
random selection draws units uniformly; both skip a unit that is the last one left in
its layer. The head-only :mod:`lit_distill.compression.head_selection` is unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from torch import Tensor

from lit_distill.user_errors import UserInputError

__all__ = ["check_counts", "select_by_importance", "select_randomly", "validate_unit_map"]


def validate_unit_map(
    unit_map: Mapping[int, Sequence[int]], sizes: Sequence[int], unit: str = "neuron"
) -> dict[int, list[int]]:
    """Check a unit map against the per-layer sizes; sorted, without empty layers.

    Raises:
        UserInputError: naming the layer, for an unknown layer, an index out of range, a
            repeated index, or a layer that would lose every unit.
    """
    clean: dict[int, list[int]] = {}
    for layer, units in unit_map.items():
        layer = int(layer)
        if not 0 <= layer < len(sizes):
            raise UserInputError(
                f"{unit} map names layer {layer}, but the model has layers 0..{len(sizes) - 1}"
            )
        n, chosen = sizes[layer], [int(u) for u in units]
        if len(set(chosen)) != len(chosen):
            raise UserInputError(f"layer {layer}: {unit}s {chosen} contain duplicates")
        bad = [u for u in chosen if not 0 <= u < n]
        if bad:
            raise UserInputError(
                f"layer {layer}: {unit}s {bad[:8]} do not exist (the layer has {unit}s 0..{n - 1})"
            )
        if len(chosen) >= n:
            raise UserInputError(
                f"layer {layer}: pruning all {n} of its {unit}s would leave none; keep at least one"
            )
        if chosen:
            clean[layer] = sorted(chosen)
    return dict(sorted(clean.items()))


def check_counts(counts: Sequence[int] | None, total: int | None, sizes: Sequence[int], unit: str) -> None:
    """Exactly one of per-layer ``counts`` and a ``total``, each leaving a unit in every layer.

    Raises:
        UserInputError: naming the layer (per layer) or the most that can go (total).
    """
    if (counts is None) == (total is None):
        raise UserInputError(f"give exactly one of per-layer counts and a total number of {unit}s to prune")
    if counts is not None:
        if len(counts) != len(sizes):
            raise UserInputError(f"{len(counts)} {unit} counts for a model of {len(sizes)} layers")
        for layer, (count, n) in enumerate(zip(counts, sizes, strict=True)):
            if not 0 <= count < n:
                raise UserInputError(
                    f"layer {layer} has {n} {unit}s; pruning {count} is not possible (allowed: 0..{n - 1}, "
                    "a layer keeps at least one)"
                )
    elif total is not None and not 0 <= total <= sum(sizes) - len(sizes):
        raise UserInputError(
            f"pruning {total} of the model's {sum(sizes)} {unit}s is not possible: at most "
            f"{sum(sizes) - len(sizes)} can go while each of the {len(sizes)} layers keeps one"
        )


def _take(
    order: Sequence[tuple[int, int]], sizes: Sequence[int], counts: Sequence[int] | None, total: int | None
) -> dict[int, list[int]]:
    """Walk ``order`` ((layer, unit) pairs) and take units until the counts are met."""
    chosen: dict[int, list[int]] = {}
    left = total or 0
    for layer, u in order:
        have = len(chosen.get(layer, []))
        if counts is not None:
            if have < counts[layer]:
                chosen.setdefault(layer, []).append(u)
        elif left > 0 and have < sizes[layer] - 1:
            chosen.setdefault(layer, []).append(u)
            left -= 1
    return chosen


def select_by_importance(
    importance: Sequence[Tensor],
    counts: Sequence[int] | None = None,
    total: int | None = None,
    unit: str = "neuron",
) -> dict[int, list[int]]:
    """The least important units: ``counts[l]`` in each layer, or ``total`` over the model.

    Args:
        importance: one (units_l,) tensor of scores per layer (higher = more important).
        counts: units to prune in each layer.
        total: units to prune over the whole model.
        unit: the unit's name in error messages ("head", "neuron").

    Returns:
        A validated unit map; ties are broken by (layer, unit) order.
    """
    sizes = [int(t.numel()) for t in importance]
    check_counts(counts, total, sizes, unit)
    scored = sorted(
        (float(s), layer, u) for layer, t in enumerate(importance) for u, s in enumerate(t.flatten().tolist())
    )
    return validate_unit_map(_take([(layer, u) for _, layer, u in scored], sizes, counts, total), sizes, unit)


def select_randomly(
    sizes: Sequence[int],
    seed: int,
    counts: Sequence[int] | None = None,
    total: int | None = None,
    unit: str = "neuron",
) -> dict[int, list[int]]:
    """A seeded random choice of units (the same seed and shape always give the same map).

    Args:
        sizes: units in each layer.
        seed: the pruning seed.
        counts: units to prune in each layer.
        total: units to prune over the whole model.
        unit: the unit's name in error messages.
    """
    check_counts(counts, total, sizes, unit)
    order = [(layer, u) for layer, n in enumerate(sizes) for u in range(n)]
    random.Random(seed).shuffle(order)
    return validate_unit_map(_take(order, sizes, counts, total), sizes, unit)
