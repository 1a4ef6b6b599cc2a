"""LAT's evolutionary search over length configurations: a baseline for benchmarks/search_hypervolume.py (not part of the package).

Follows what Kim & Cho's (2021) Length-Adaptive Transformer code does in its SQuAD
search (``run_squad.py --do_search`` with ``length_adaptive_transformer/evolution.py``):

* **Seeds.** The smallest sub-network of LengthDrop training (each layer keeps
  ceil((1 − bound) · previous), ``bound = length_drop_ratio_bound``) and the full model
  come first; their costs close the **cost window** [smallest, full]. Then
  ``population_size`` chains with one constant drop ratio each, the ratios chosen so that
  the chains' total token counts (LAT's FLOPs proxy) are evenly spaced between the
  smallest chain's and the full one's (endpoints excluded).
* **Window.** A chain whose cost falls outside the window is rejected and does not join
  the population (with a ``cost`` function given, before it is evaluated).
* **Generation.** The population is cut to LAT's Pareto front (sorted by cost; the
  cheapest, every chain that scores higher than the last kept one, and the costliest).
  Then ``mutation_size`` mutants and ``crossover_size`` crossovers are *added to the
  population* (a chain counts when it joins the population); parents are drawn from the
  population as it grows, so this generation's children can be parents too. LAT also
  computes the upper convex hull of the front and saves it as the generation's
  "parents", but breeds from the population; ``parents="hull"`` breeds from the hull
  instead (not what LAT's code does).
* **Mutation.** Each layer, with probability ``mutation_prob``, draws a new length
  uniformly between the parent's next-layer length and the previous (already mutated)
  length, so the chain stays non-increasing. **Crossover:** the element-wise mean of two
  parents, rounded up.

Deviations (all because this search runs on any chain space, not LAT's fixed one): LAT's
FLOPs proxy hard-codes 12 layers and 384 tokens, here the chain's own length and upper
bound are used (identical for a 12-layer, 384-token model); LAT's lowest length is 2, here
the search space's ``low``; the search stops after ``budget`` evaluations instead of a
number of generations; LAT's front drops the previous point when a new one has an equal
cost *and* scores higher, which its code tests against the wrong field (the gene's first
length instead of its cost), here the equal-cost rule is applied as intended.
Configurations already evaluated are not evaluated again (they do not use budget).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Chain = tuple[int, ...]


@dataclass
class Evaluated:
    """One evaluated configuration and its (score, cost)."""

    config: Chain
    score: float
    cost: float


@dataclass
class EvolutionConfig:
    """Settings of the evolutionary search (defaults are LAT's SQuAD defaults)."""

    population_size: int = 20
    mutation_size: int = 30
    crossover_size: int = 30
    mutation_prob: float = 0.5
    length_drop_ratio_bound: float = 0.2
    parents: Literal["front", "hull"] = "front"
    seed: int = 0
    max_attempts: int = 1000


def random_chain(rng: random.Random, n_layers: int, low: int, high: int) -> Chain:
    """A uniformly drawn non-increasing chain: each length uniform between ``low`` and the previous one."""
    out: list[int] = []
    upper = high
    for _ in range(n_layers):
        upper = rng.randint(low, upper)
        out.append(upper)
    return tuple(out)


def constant_ratio_chain(n_layers: int, low: int, high: int, ratio: float) -> Chain:
    """Each layer keeps ceil((1 − ratio) · previous) of ``high`` tokens, at least ``low``."""
    out: list[int] = []
    length = high
    for _ in range(n_layers):
        length = max(math.ceil(length * (1 - ratio)), low)
        out.append(length)
    return tuple(out)


def token_fraction(ratio: float, n_layers: int, high: int) -> float:
    """Total tokens of :func:`constant_ratio_chain` relative to the full chain (LAT's FLOPs proxy)."""
    return sum(constant_ratio_chain(n_layers, 0, high, ratio)) / (n_layers * high)


def ratio_for_fraction(fraction: float, n_layers: int, high: int) -> float:
    """The drop ratio whose constant-ratio chain keeps ``fraction`` of the tokens (bisection, as LAT)."""
    lo, hi = 0.0, 1.0
    while hi - lo > 1e-12:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fraction <= token_fraction(mid, n_layers, high) else (lo, mid)
    return lo


def seed_chains(n_layers: int, low: int, high: int, size: int, bound: float) -> list[Chain]:
    """LAT's initial genes: the smallest sub-network, the full model, ``size`` evenly spaced in tokens."""
    smallest = constant_ratio_chain(n_layers, low, high, bound)
    start = token_fraction(bound, n_layers, high)
    fractions = [start + (1 - start) * (i + 1) / (size + 1) for i in range(size)]
    spaced = [
        constant_ratio_chain(n_layers, low, high, ratio_for_fraction(f, n_layers, high)) for f in fractions
    ]
    return [smallest, tuple([high] * n_layers), *spaced]


def mutate(rng: random.Random, parent: Chain, prob: float, low: int, high: int) -> Chain:
    """LAT mutation (see the module docstring); the result is non-increasing within [low, high]."""
    child: list[int] = []
    for i, length in enumerate(parent):
        if rng.random() < prob:
            upper = high if i == 0 else child[i - 1]
            lower = low if i == len(parent) - 1 else min(parent[i + 1], upper)
            child.append(rng.randint(lower, upper))
        else:
            child.append(min(length, child[i - 1]) if i else length)
    return tuple(child)


def crossover(a: Chain, b: Chain) -> Chain:
    """Element-wise mean of two chains, rounded up."""
    return tuple((x + y + 1) // 2 for x, y in zip(a, b, strict=True))


def lat_front(population: list[Evaluated]) -> list[Evaluated]:
    """LAT's Pareto front: by cost, the cheapest, each one scoring above the last kept, the costliest."""
    ordered = sorted(population, key=lambda e: (e.cost, e.score))
    front = [ordered[0]]
    for e in ordered[1:-1]:
        if e.score > front[-1].score:
            if e.cost == front[-1].cost:
                front.pop()
            front.append(e)
    if len(ordered) > 1:
        front.append(ordered[-1])
    return front


def upper_hull(front: list[Evaluated]) -> list[Evaluated]:
    """Upper convex hull in (cost, score) of a front sorted by cost (LAT's ``convex_hull``)."""
    hull = front[:2]
    for e in front[2:]:
        if hull[-1].score >= e.score:
            continue
        while len(hull) >= 2 and _turn(hull[-2], hull[-1], e) >= 0:
            hull.pop()
        hull.append(e)
    return hull


def _turn(a: Evaluated, b: Evaluated, c: Evaluated) -> float:
    """Twice the signed area of (a, b, c) in (cost, score); >= 0: b is on or below the line a–c."""
    return (b.cost - a.cost) * (c.score - a.score) - (b.score - a.score) * (c.cost - a.cost)


def _mutant(rng: random.Random, pool: list[Evaluated], cfg: EvolutionConfig, low: int, high: int) -> Chain:
    return mutate(rng, rng.choice(pool).config, cfg.mutation_prob, low, high)


def _cross(rng: random.Random, pool: list[Evaluated]) -> Chain:
    a, b = rng.sample(pool, 2)
    return crossover(a.config, b.config)


class _BudgetSpent(Exception):
    pass


def evolutionary_search(
    evaluate: Callable[[Chain], tuple[float, float]],
    n_layers: int,
    low: int,
    high: int,
    budget: int,
    config: EvolutionConfig | None = None,
    cost: Callable[[Chain], float] | None = None,
) -> list[Evaluated]:
    """Run LAT's search until ``budget`` distinct configurations were evaluated.

    Args:
        evaluate: Configuration → (score to maximise, cost to minimise).
        n_layers: Chain length.
        low: Smallest allowed length.
        high: Largest allowed length.
        budget: Number of evaluations.
        config: Population and operator settings.
        cost: Cheap configuration → cost (as LAT's MACs count): chains outside the cost
            window are rejected without being evaluated. Without it the window is checked
            on the evaluated cost, and a rejected chain has used one evaluation.

    Returns:
        Every evaluation in order (for hypervolume-vs-evaluations curves); shorter than
        ``budget`` only when no new chain can be bred.
    """
    cfg = config or EvolutionConfig()
    rng = random.Random(cfg.seed)
    history: list[Evaluated] = []
    store: dict[Chain, Evaluated] = {}
    population: list[Evaluated] = []
    window = [-math.inf, math.inf]

    def add(chain: Chain) -> bool:
        """LAT's add_gene: evaluate if new, join the population if inside the window."""
        if chain not in store:
            if cost is not None and cost(chain) < window[0]:
                return False
            if len(history) >= budget:
                raise _BudgetSpent
            score, value = evaluate(chain)
            store[chain] = Evaluated(chain, score, value)
            history.append(store[chain])
        entry = store[chain]
        if window[0] <= entry.cost <= window[1] and entry not in population:
            population.append(entry)
            return True
        return False

    def breed(pool: list[Evaluated], count: int, child: Callable[[list[Evaluated]], Chain]) -> bool:
        added = attempts = 0
        while added < count:
            if add(child(pool)):
                added, attempts = added + 1, 0
            else:
                attempts += 1
                if attempts >= cfg.max_attempts:
                    return False
        return True

    seeds = seed_chains(n_layers, low, high, cfg.population_size, cfg.length_drop_ratio_bound)
    try:
        for chain in seeds[:2]:
            add(chain)
        window[:] = [store[seeds[0]].cost, store[seeds[1]].cost]
        for chain in seeds[2:]:
            add(chain)
        stale = 0
        while stale < 10:  # ten generations without a new evaluation: nothing new can be bred
            before = len(history)
            population[:] = lat_front(population)
            pool = population if cfg.parents == "front" else upper_hull(list(population))
            ok = breed(pool, cfg.mutation_size, lambda p: _mutant(rng, p, cfg, low, high))
            if len(pool) >= 2:
                ok = breed(pool, cfg.crossover_size, lambda p: _cross(rng, p)) and ok
            stale = stale + 1 if len(history) == before else 0
            if not ok and stale:
                break
    except _BudgetSpent:
        pass
    return history
