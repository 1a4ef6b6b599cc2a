"""LengthDrop sampling: which layers a sub-network runs and how many tokens each keeps.

Follows the Length-Adaptive Transformer (Kim & Cho 2021, "LAT"). A *length
configuration* is a tuple with one sequence length per layer; lengths never
increase from one layer to the next. Starting from the input length ``L``:

* the **smallest** sub-network keeps ``ceil(previous · (1 − bound))`` tokens in
  every layer (``bound`` is ``length_drop_ratio_bound``, 0.2 by default, i.e. each
  layer keeps ceil(0.8 × the previous length));
* a **random** sub-network keeps ``randint(ceil(previous · (1 − bound)), previous)``
  tokens (both ends included) in every layer.

A layer skipped by LayerDrop does not shorten the sequence (its entry repeats
the previous length). No length goes below ``min_length`` (at least 1, so the
[CLS] token, which the encoder always keeps, survives every layer).

All randomness comes from a :class:`random.Random` passed in, so a seeded
generator gives the same sub-networks on every run and on every DDP rank.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lit_distill.user_errors import UserInputError

__all__ = [
    "SubNetwork",
    "sample_layer_skips",
    "sample_length_config",
    "sample_sandwich",
    "smallest_length_config",
]


@dataclass(frozen=True)
class SubNetwork:
    """One sampled sub-network.

    Attributes:
        length_config: one sequence length per layer (non-increasing).
        skip_layers: indices of the layers LayerDrop skips (sorted, may be empty).
        smallest: whether this is the sandwich's smallest sub-network.
    """

    length_config: tuple[int, ...]
    skip_layers: tuple[int, ...]
    smallest: bool = False


def _check_common(seq_length: int, num_layers: int, bound: float, min_length: int) -> None:
    if seq_length < 1:
        raise ValueError(f"seq_length must be >= 1, got {seq_length}")
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    if not 0.0 <= bound < 1.0:
        raise UserInputError(f"length_drop_ratio_bound must be in [0, 1), got {bound}")
    if min_length < 1:
        raise UserInputError(f"min_length must be >= 1 (the [CLS] token is always kept), got {min_length}")


def _shrink(
    seq_length: int,
    num_layers: int,
    skip_layers: Sequence[int],
    min_length: int,
    next_length: Callable[[int], int],
) -> tuple[int, ...]:
    """Apply ``next_length`` layer by layer (skipped layers keep the length), floored at ``min_length``."""
    skipped = set(skip_layers)
    floor = min(min_length, seq_length)
    length = seq_length
    lengths: list[int] = []
    for layer in range(num_layers):
        if layer not in skipped:
            length = next_length(length)
        length = max(length, floor)
        lengths.append(length)
    return tuple(lengths)


def smallest_length_config(
    seq_length: int,
    num_layers: int,
    bound: float = 0.2,
    skip_layers: Sequence[int] = (),
    min_length: int = 2,
) -> tuple[int, ...]:
    """The smallest sub-network's lengths: each layer keeps ceil(previous · (1 − bound)).

    Args:
        seq_length: input sequence length (the batch's padded length, as in LAT).
        num_layers: number of encoder layers.
        bound: ``length_drop_ratio_bound``, the largest fraction a layer may drop.
        skip_layers: layers skipped by LayerDrop; they keep the previous length.
        min_length: no layer keeps fewer tokens (>= 1: [CLS] is always kept).

    Returns:
        One length per layer, non-increasing.

    Example:
        >>> smallest_length_config(384, 6)
        (308, 247, 198, 159, 128, 103)
    """
    _check_common(seq_length, num_layers, bound, min_length)
    return _shrink(seq_length, num_layers, skip_layers, min_length, lambda n: math.ceil(n * (1.0 - bound)))


def sample_length_config(
    seq_length: int,
    num_layers: int,
    rng: random.Random,
    bound: float = 0.2,
    skip_layers: Sequence[int] = (),
    min_length: int = 2,
) -> tuple[int, ...]:
    """A random sub-network's lengths: each layer keeps randint(ceil(prev · (1 − bound)), prev).

    Args:
        seq_length: input sequence length (the batch's padded length, as in LAT).
        num_layers: number of encoder layers.
        rng: the source of randomness (seed it for reproducible sampling).
        bound: ``length_drop_ratio_bound``, the largest fraction a layer may drop.
        skip_layers: layers skipped by LayerDrop; they keep the previous length.
        min_length: no layer keeps fewer tokens (>= 1: [CLS] is always kept).

    Returns:
        One length per layer, non-increasing, each >= ``min(min_length, seq_length)``.
    """
    _check_common(seq_length, num_layers, bound, min_length)
    return _shrink(
        seq_length,
        num_layers,
        skip_layers,
        min_length,
        lambda n: rng.randint(math.ceil(n * (1.0 - bound)), n),
    )


def sample_layer_skips(
    num_layers: int,
    rng: random.Random,
    layer_dropout_prob: float | None = 0.2,
    layer_dropout_bound: int = 0,
    smallest: bool = False,
) -> tuple[int, ...]:
    """LayerDrop: which layers a sub-network skips.

    With ``layer_dropout_prob`` set, every layer is skipped independently with
    that probability (LAT's rule; ``layer_dropout_bound`` is then unused). With
    ``layer_dropout_prob=None`` the *last* layers are dropped: the smallest
    sub-network drops exactly ``layer_dropout_bound`` of them, a random one drops
    ``randint(0, layer_dropout_bound)``.

    At least one layer always runs. LAT would allow an empty network when every
    coin comes up "drop" (probability ``p ** num_layers``); here one layer, chosen
    by ``rng``, is kept instead.

    Args:
        num_layers: number of encoder layers.
        rng: the source of randomness.
        layer_dropout_prob: probability of skipping each layer, or None.
        layer_dropout_bound: most trailing layers dropped when ``layer_dropout_prob`` is None.
        smallest: whether this is for the sandwich's smallest sub-network.

    Returns:
        Sorted indices of the skipped layers.
    """
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    if layer_dropout_prob is not None and not 0.0 <= layer_dropout_prob < 1.0:
        raise UserInputError(f"layer_dropout_prob must be in [0, 1) or None, got {layer_dropout_prob}")
    if layer_dropout_bound < 0:
        raise UserInputError(f"layer_dropout_bound must be >= 0, got {layer_dropout_bound}")
    if layer_dropout_prob is not None:
        if layer_dropout_prob == 0.0:
            return ()
        skipped = [layer for layer in range(num_layers) if rng.random() < layer_dropout_prob]
        if len(skipped) == num_layers:
            skipped.remove(rng.randrange(num_layers))
        return tuple(skipped)
    bound = min(layer_dropout_bound, num_layers - 1)
    n_drop = bound if smallest else rng.randint(0, bound)
    return tuple(range(num_layers - n_drop, num_layers))


def sample_sandwich(
    seq_length: int,
    num_layers: int,
    rng: random.Random,
    num_sandwich: int = 2,
    length_drop_ratio_bound: float = 0.2,
    layer_dropout_prob: float | None = 0.2,
    layer_dropout_bound: int = 0,
    min_length: int = 2,
) -> list[SubNetwork]:
    """The ``num_sandwich + 1`` sub-networks of one LengthDrop step, the smallest first.

    Args:
        seq_length: input sequence length (the batch's padded length).
        num_layers: number of encoder layers.
        rng: the source of randomness (seeded generator for reproducible runs).
        num_sandwich: number of random sub-networks besides the smallest.
        length_drop_ratio_bound: the largest fraction of tokens one layer may drop.
        layer_dropout_prob: LayerDrop probability per layer, or None.
        layer_dropout_bound: see :func:`sample_layer_skips`.
        min_length: no layer keeps fewer tokens.

    Returns:
        ``num_sandwich + 1`` sub-networks; the first has ``smallest=True``.
    """
    if num_sandwich < 0:
        raise UserInputError(f"num_sandwich must be >= 0, got {num_sandwich}")
    subnets: list[SubNetwork] = []
    for i in range(num_sandwich + 1):
        smallest = i == 0
        skips = sample_layer_skips(
            num_layers, rng, layer_dropout_prob, layer_dropout_bound, smallest=smallest
        )
        if smallest:
            lengths = smallest_length_config(
                seq_length, num_layers, length_drop_ratio_bound, skips, min_length=min_length
            )
        else:
            lengths = sample_length_config(
                seq_length, num_layers, rng, length_drop_ratio_bound, skips, min_length=min_length
            )
        subnets.append(SubNetwork(length_config=lengths, skip_layers=skips, smallest=smallest))
    return subnets
