"""Which attention heads to prune: by importance or by a seeded random choice.

A *head map* is ``{layer: [head, ...]}`` with the heads to remove from each
layer, indexed in the layer's current numbering. Every function here refuses
to empty a layer: pruning every head of a layer, or more heads than it has, is
an error that names the layer.

How many heads go is given either per layer (``heads_per_layer``: one int for
every layer or a list with one int per layer) or globally (``amount``: a float
in (0, 1) is a fraction of all heads, an int >= 1 a number of heads). With a
global amount, importance-based selection removes the least important heads of
the whole model (scores normalised per layer) and random selection draws heads
uniformly; both skip a head that is the last one left in its layer.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from torch import Tensor

from lit_distill.user_errors import UserInputError

__all__ = [
    "count_to_prune",
    "per_layer_counts",
    "select_heads_by_importance",
    "select_heads_randomly",
    "validate_head_map",
]


def validate_head_map(
    head_map: Mapping[int, Sequence[int]], num_heads_per_layer: Sequence[int]
) -> dict[int, list[int]]:
    """Check a head map against the model and return it normalised (sorted, no empty layers).

    Raises:
        UserInputError: naming the layer, for an unknown layer, a head index out of
            range, a repeated head, or a layer that would lose every head.
    """
    num_layers = len(num_heads_per_layer)
    clean: dict[int, list[int]] = {}
    for layer, heads in head_map.items():
        layer = int(layer)
        if not 0 <= layer < num_layers:
            raise UserInputError(
                f"head map names layer {layer}, but the model has layers 0..{num_layers - 1}"
            )
        n = num_heads_per_layer[layer]
        heads = [int(h) for h in heads]
        if len(set(heads)) != len(heads):
            raise UserInputError(f"layer {layer}: heads {heads} contain duplicates")
        bad = [h for h in heads if not 0 <= h < n]
        if bad:
            raise UserInputError(f"layer {layer}: heads {bad} do not exist (the layer has heads 0..{n - 1})")
        if len(heads) >= n:
            raise UserInputError(
                f"layer {layer}: pruning {len(heads)} of its {n} heads would leave none; keep at least one"
            )
        if heads:
            clean[layer] = sorted(heads)
    return dict(sorted(clean.items()))


def per_layer_counts(heads_per_layer: int | Sequence[int], num_heads_per_layer: Sequence[int]) -> list[int]:
    """Expand ``heads_per_layer`` (heads to prune) to one count per layer and check it.

    Raises:
        UserInputError: for a wrong list length, a negative count, or a count that
            would remove every head of a layer (the error names the layer).
    """
    num_layers = len(num_heads_per_layer)
    if isinstance(heads_per_layer, int):
        counts = [heads_per_layer] * num_layers
    else:
        counts = [int(c) for c in heads_per_layer]
        if len(counts) != num_layers:
            raise UserInputError(
                f"heads_per_layer has {len(counts)} entries but the model has {num_layers} layers"
            )
    for layer, (count, n) in enumerate(zip(counts, num_heads_per_layer, strict=True)):
        if count < 0:
            raise UserInputError(f"heads_per_layer: layer {layer} has a negative count {count}")
        if count >= n:
            raise UserInputError(
                f"heads_per_layer: layer {layer} has {n} heads, pruning {count} would leave none "
                f"(at most {n - 1})"
            )
    return counts


def count_to_prune(amount: float | int, num_heads_per_layer: Sequence[int]) -> int:
    """Number of heads a global ``amount`` means (fraction in (0, 1) or count >= 1), rounded.

    Raises:
        UserInputError: for a non-positive amount, a fraction >= 1 given as float, or a
            count that cannot be met while keeping one head in every layer.
    """
    total = sum(num_heads_per_layer)
    most = total - len(num_heads_per_layer)
    if isinstance(amount, bool) or amount <= 0:
        raise UserInputError(f"amount must be a fraction in (0, 1) or a number of heads >= 1, got {amount!r}")
    if isinstance(amount, float):
        if amount >= 1.0:
            raise UserInputError(
                f"amount as a fraction must be < 1, got {amount}; give an int for a head count"
            )
        count = round(amount * total)
    else:
        count = int(amount)
    if count > most:
        raise UserInputError(
            f"amount={amount!r} means pruning {count} of {total} heads, but at most {most} can go "
            f"while every one of the {len(num_heads_per_layer)} layers keeps one head"
        )
    return count


def _check_choice(amount: float | int | None, heads_per_layer: int | Sequence[int] | None) -> None:
    if (amount is None) == (heads_per_layer is None):
        raise UserInputError("give exactly one of amount= (global) and heads_per_layer= (per layer)")


def select_heads_by_importance(
    importance: Sequence[Tensor],
    amount: float | int | None = None,
    heads_per_layer: int | Sequence[int] | None = None,
) -> dict[int, list[int]]:
    """The least important heads, globally (``amount``) or per layer (``heads_per_layer``).

    Args:
        importance: one (heads_l,) tensor of scores per layer (higher = more important).
        amount: fraction or number of heads to prune over the whole model.
        heads_per_layer: heads to prune in each layer (int or one per layer).

    Returns:
        A validated head map. Ties are broken by (layer, head) order.
    """
    _check_choice(amount, heads_per_layer)
    sizes = [int(t.numel()) for t in importance]
    scored = [
        (float(s), layer, head) for layer, t in enumerate(importance) for head, s in enumerate(t.tolist())
    ]
    scored.sort()
    chosen: dict[int, list[int]] = {}
    if heads_per_layer is not None:
        counts = per_layer_counts(heads_per_layer, sizes)
        for _, layer, head in scored:
            if len(chosen.get(layer, [])) < counts[layer]:
                chosen.setdefault(layer, []).append(head)
    elif amount is not None:
        left = count_to_prune(amount, sizes)
        for _, layer, head in scored:
            if left == 0:
                break
            if len(chosen.get(layer, [])) < sizes[layer] - 1:
                chosen.setdefault(layer, []).append(head)
                left -= 1
    return validate_head_map(chosen, sizes)


def select_heads_randomly(
    num_heads_per_layer: Sequence[int],
    seed: int,
    amount: float | int | None = None,
    heads_per_layer: int | Sequence[int] | None = None,
) -> dict[int, list[int]]:
    """A seeded random choice of heads (the SigOpt experiment's "pruning seed").

    The same seed and model shape always give the same head map.

    Args:
        num_heads_per_layer: heads in each layer.
        seed: the pruning seed.
        amount: fraction or number of heads to prune over the whole model.
        heads_per_layer: heads to prune in each layer (int or one per layer).
    """
    _check_choice(amount, heads_per_layer)
    rng = random.Random(seed)
    chosen: dict[int, list[int]] = {}
    if heads_per_layer is not None:
        counts = per_layer_counts(heads_per_layer, num_heads_per_layer)
        for layer, (count, n) in enumerate(zip(counts, num_heads_per_layer, strict=True)):
            if count:
                chosen[layer] = rng.sample(range(n), count)
    elif amount is not None:
        left = count_to_prune(amount, num_heads_per_layer)
        candidates = [(layer, head) for layer, n in enumerate(num_heads_per_layer) for head in range(n)]
        rng.shuffle(candidates)
        for layer, head in candidates:
            if left == 0:
                break
            if len(chosen.get(layer, [])) < num_heads_per_layer[layer] - 1:
                chosen.setdefault(layer, []).append(head)
                left -= 1
    return validate_head_map(chosen, num_heads_per_layer)
