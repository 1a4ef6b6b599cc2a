"""LAT-style evolutionary search over length configurations (a baseline for the benchmark).

Written from the description in Kim & Cho (2021), "Length-Adaptive Transformer":
the parents are the Pareto front (score ↑, cost ↓) of everything evaluated so far;
each generation adds ``mutation_size`` mutants and ``crossover_size`` crossovers.

* Mutation: copy a random parent; each layer, with probability ``mutation_prob``,
  draws a new length uniformly between the next layer's length (of the parent) and
  the previous layer's (already mutated) length, so the chain stays non-increasing.
* Crossover: the element-wise mean of two random parents, rounded up; the mean of two
  non-increasing chains is non-increasing.

Configurations already evaluated are not evaluated again (they do not use budget).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from lit_distill.search.pareto import pareto_mask

Chain = tuple[int, ...]


@dataclass
class Evaluated:
    """One evaluated configuration and its (score, cost)."""

    config: Chain
    score: float
    cost: float


@dataclass
class EvolutionConfig:
    """Settings of the evolutionary search (defaults follow LAT's SQuAD script)."""

    population_size: int = 20
    mutation_size: int = 30
    crossover_size: int = 30
    mutation_prob: float = 0.5
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


def evolutionary_search(
    evaluate: Callable[[Chain], tuple[float, float]],
    n_layers: int,
    low: int,
    high: int,
    budget: int,
    config: EvolutionConfig | None = None,
) -> list[Evaluated]:
    """Run the search until ``budget`` distinct configurations were evaluated.

    Args:
        evaluate: Configuration → (score to maximise, cost to minimise).
        n_layers: Chain length.
        low: Smallest allowed length.
        high: Largest allowed length.
        budget: Number of evaluations.
        config: Population and operator settings.

    Returns:
        Every evaluation in order (for hypervolume-vs-evaluations curves).
    """
    cfg = config or EvolutionConfig()
    rng = random.Random(cfg.seed)
    history: list[Evaluated] = []
    seen: set[Chain] = set()

    def add(chain: Chain) -> bool:
        if chain in seen or len(history) >= budget:
            return False
        seen.add(chain)
        score, cost = evaluate(chain)
        history.append(Evaluated(chain, score, cost))
        return True

    attempts = 0
    while len(history) < min(cfg.population_size, budget) and attempts < cfg.max_attempts:
        attempts += 0 if add(random_chain(rng, n_layers, low, high)) else 1
    while len(history) < budget:
        points = [[e.score, e.cost] for e in history]
        parents = [
            e.config
            for e, keep in zip(history, pareto_mask(points, ("maximize", "minimize")), strict=True)
            if keep
        ]
        progress = len(history)
        for _ in range(cfg.mutation_size):
            add(mutate(rng, rng.choice(parents), cfg.mutation_prob, low, high))
        for _ in range(cfg.crossover_size):
            if len(parents) >= 2:
                add(crossover(*rng.sample(parents, 2)))
        if len(history) == progress:  # the front bred nothing new: inject a random chain
            attempts = 0
            while not add(random_chain(rng, n_layers, low, high)) and attempts < cfg.max_attempts:
                attempts += 1
            if attempts >= cfg.max_attempts:
                break
    return history
