"""How many heads and feed-forward neurons to prune for a budget, and the gradual schedule.

Pure arithmetic on the model's shape. A budget is either

* separate fractions of the heads and of the neurons (``head_fraction``, ``ffn_fraction``), or
* a target fraction of the encoder's FLOPs or parameters to remove, taken from heads,
  from neurons, or from both (then the same fraction of each, and the neurons make up
  what rounding leaves).

``scope="global"`` counts over the whole model (which layers lose what is then up to
the selection: the least important units, or a random draw); ``scope="per_layer"``
applies the budget to every layer on its own. Every layer keeps at least one head and
one neuron: a budget that needs more is an error naming the layer (or, globally, the
most that can be removed).

Costs: with no length configuration a layer's FLOPs are exactly linear in its head
count and FFN width (:func:`lit_distill.models.flops.layer_flops`), so each head and each
neuron has a fixed cost: per head ``2n·H·3dh + 4n²·dh + 2n·dh·H`` FLOPs and
``4·H·dh + 3·dh`` parameters, per neuron ``4n·H`` FLOPs and ``2H + 1`` parameters (n:
``seq_length``). A layer's parameters also hold ``6H`` that no pruning removes (output
biases and the two LayerNorms). "Encoder" means the transformer layers: the embeddings
and the span head are not counted.

Gradual schedule (Zhu & Gupta 2017's cubic schedule, which Hugging Face's nn_pruning
also uses): after step ``k`` of ``N`` the share ``1 - (1 - k/N)^3`` of the final budget
is removed, so most goes early, while the model still has capacity to recover.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lit_distill.checks import is_number
from lit_distill.models.config import EncoderConfig
from lit_distill.user_errors import UserInputError

__all__ = [
    "Budget",
    "Metric",
    "Parts",
    "Scope",
    "budget_for_fractions",
    "budget_for_target",
    "encoder_cost",
    "scaled",
    "schedule_share",
    "unit_costs",
]

Metric = Literal["flops", "parameters"]
Parts = Literal["heads", "ffn", "both"]
Scope = Literal["global", "per_layer"]


@dataclass(frozen=True)
class Budget:
    """Units to remove, relative to a reference shape: per layer (lists) or over the model (ints)."""

    heads: list[int] | int
    neurons: list[int] | int


def unit_costs(config: EncoderConfig, metric: Metric, seq_length: int) -> tuple[int, int]:
    """(cost of one head, cost of one neuron) in FLOPs per sequence of ``seq_length`` tokens or parameters."""
    hidden, dh, n = config.hidden_size, config.attention_head_size, seq_length
    if metric == "flops":
        return 2 * n * hidden * 3 * dh + 4 * n * n * dh + 2 * n * dh * hidden, 4 * n * hidden
    return 4 * hidden * dh + 3 * dh, 2 * hidden + 1


def _fixed(config: EncoderConfig, metric: Metric) -> int:
    return 0 if metric == "flops" else 6 * config.hidden_size


def encoder_cost(config: EncoderConfig, metric: Metric, seq_length: int) -> int:
    """The transformer layers' FLOPs per sequence (no length configuration) or parameters."""
    head, neuron = unit_costs(config, metric, seq_length)
    fixed = _fixed(config, metric)
    return sum(
        fixed + h * head + w * neuron
        for h, w in zip(config.layer_heads, config.layer_intermediate_sizes, strict=True)
    )


def _check_fraction(name: str, value: object) -> float:
    if not is_number(value) or not 0 < value <= 1:
        raise UserInputError(f"{name}={value!r}: a fraction must be a number in (0, 1]")
    return float(value)


def budget_for_fractions(
    heads: Sequence[int],
    neurons: Sequence[int],
    head_fraction: float | None,
    ffn_fraction: float | None,
    scope: Scope,
) -> Budget:
    """Remove ``head_fraction`` of the heads and ``ffn_fraction`` of the neurons (None: none).

    Raises:
        UserInputError: for a fraction outside (0, 1] or a count that would empty a layer.
    """
    if head_fraction is None and ffn_fraction is None:
        raise UserInputError("give head_fraction, ffn_fraction or both")
    out: list[list[int] | int] = []
    for name, frac, sizes, unit in (
        ("head_fraction", head_fraction, heads, "head"),
        ("ffn_fraction", ffn_fraction, neurons, "neuron"),
    ):
        f = 0.0 if frac is None else _check_fraction(name, frac)
        if scope == "per_layer":
            counts = [round(f * n) for n in sizes]
            for layer, (count, n) in enumerate(zip(counts, sizes, strict=True)):
                if count >= n:
                    raise UserInputError(
                        f"{name}={frac}: layer {layer} has {n} {unit}s and would lose {count}, every one; "
                        f"a layer keeps at least one (use a smaller fraction)"
                    )
            out.append(counts)
        else:
            total, most = round(f * sum(sizes)), sum(sizes) - len(sizes)
            if total > most:
                raise UserInputError(
                    f"{name}={frac} means pruning {total} of {sum(sizes)} {unit}s, but at most {most} can go "
                    f"while each of the {len(sizes)} layers keeps one"
                )
            out.append(total)
    return Budget(out[0], out[1])


def _group_counts(
    heads: int,
    neurons: int,
    layers: int,
    costs: tuple[int, int],
    fixed: int,
    target: float,
    parts: Parts,
    where: str,
) -> tuple[int, int]:
    """(heads, neurons) to remove from a group (a layer, or the model) to cut ``target`` of its cost."""
    head_cost, neuron_cost = costs
    total = layers * fixed + heads * head_cost + neurons * neuron_cost
    need = target * total
    most_heads = heads - layers if parts in ("heads", "both") else 0
    most_neurons = neurons - layers if parts in ("ffn", "both") else 0
    if parts == "heads":
        k_heads, k_neurons = math.ceil(need / head_cost - 1e-9), 0
    elif parts == "ffn":
        k_heads, k_neurons = 0, math.ceil(need / neuron_cost - 1e-9)
    else:
        share = need / (heads * head_cost + neurons * neuron_cost)
        k_heads = min(round(share * heads), most_heads)
        k_neurons = max(0, math.ceil((need - k_heads * head_cost) / neuron_cost - 1e-9))
    if k_heads > most_heads or k_neurons > most_neurons:
        reachable = (most_heads * head_cost + most_neurons * neuron_cost) / total
        raise UserInputError(
            f"target={target} of {where} needs more than pruning {parts} can remove while every layer keeps one "
            f"head and one neuron: at most {reachable:.4f} can go"
        )
    return k_heads, k_neurons


def budget_for_target(
    config: EncoderConfig, target: float, metric: Metric, parts: Parts, scope: Scope, seq_length: int
) -> Budget:
    """Units to remove so that ``target`` of the encoder's FLOPs (or parameters) goes.

    Args:
        config: the model's shape now (the reference the target is a fraction of).
        target: fraction in (0, 1] of the encoder's cost to remove.
        metric: ``"flops"`` (per sequence of ``seq_length`` tokens) or ``"parameters"``.
        parts: remove ``"heads"``, ``"ffn"`` neurons, or ``"both"`` (the same fraction of each).
        scope: ``"global"`` (over the model) or ``"per_layer"`` (each layer loses ``target`` of its cost).
        seq_length: tokens per sequence for the FLOPs.

    Raises:
        UserInputError: for a target outside (0, 1], or one that cannot be met while every
            layer keeps a head and a neuron (naming the layer and the most that can go).
    """
    target = _check_fraction("target", target)
    costs, fixed = unit_costs(config, metric, seq_length), _fixed(config, metric)
    what = "encoder FLOPs" if metric == "flops" else "encoder parameters"
    heads, widths = config.layer_heads, config.layer_intermediate_sizes
    if scope == "global":
        k_heads, k_neurons = _group_counts(
            sum(heads), sum(widths), len(heads), costs, fixed, target, parts, f"the {what}"
        )
        return Budget(k_heads, k_neurons)
    pairs = [
        _group_counts(h, w, 1, costs, fixed, target, parts, f"layer {i}'s {what}")
        for i, (h, w) in enumerate(zip(heads, widths, strict=True))
    ]
    return Budget([p[0] for p in pairs], [p[1] for p in pairs])


def schedule_share(step: int, steps: int) -> float:
    """Share of the final budget removed after ``step`` of ``steps`` pruning steps (cubic; 1.0 at the end)."""
    if not 1 <= step <= steps:
        raise ValueError(f"step {step} outside 1..{steps}")
    return 1.0 - (1.0 - step / steps) ** 3


def scaled(counts: list[int] | int, share: float) -> list[int] | int:
    """``share`` of a budget's counts, rounded (per layer or total)."""
    if isinstance(counts, int):
        return round(share * counts)
    return [round(share * c) for c in counts]
