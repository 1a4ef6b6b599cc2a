"""LAT-style evolutionary search: operators keep chains valid, the search respects its budget and improves."""

from __future__ import annotations

import itertools
import random

from lit_distill.search.evolution import EvolutionConfig, crossover, evolutionary_search, mutate, random_chain
from lit_distill.search.pareto import hypervolume_2d


def _valid(chain: tuple[int, ...], low: int, high: int) -> bool:
    return all(low <= v <= high for v in chain) and all(a >= b for a, b in itertools.pairwise(chain))


def test_operators_keep_chains_non_increasing_and_in_bounds() -> None:
    rng = random.Random(0)
    for _ in range(500):
        a, b = random_chain(rng, 6, 8, 128), random_chain(rng, 6, 8, 128)
        assert _valid(a, 8, 128) and _valid(b, 8, 128)
        assert _valid(mutate(rng, a, 0.5, 8, 128), 8, 128)
        assert _valid(crossover(a, b), 8, 128)
    assert crossover((10, 5), (7, 4)) == (9, 5)
    assert mutate(rng, (50, 40, 30), 0.0, 8, 128) == (50, 40, 30)


def test_search_uses_its_budget_without_repeats_and_improves_the_front() -> None:
    calls: list[tuple[int, ...]] = []

    def evaluate(chain: tuple[int, ...]) -> tuple[float, float]:
        calls.append(chain)
        # score saturates with the length of the first layers; cost is the total length
        score = sum(min(v, 40) for v in chain[:3]) + 0.1 * sum(chain[3:])
        return score, float(sum(chain))

    history = evolutionary_search(
        evaluate, 6, 4, 128, budget=120, config=EvolutionConfig(population_size=10, seed=1)
    )
    assert len(history) == 120 == len(calls) == len(set(calls))
    assert all(_valid(e.config, 4, 128) for e in history)

    def hv(entries: list) -> float:  # type: ignore[type-arg]
        return hypervolume_2d(
            [[e.score, e.cost] for e in entries], [0.0, 6 * 128.0], ("maximize", "minimize")
        )

    assert hv(history) > hv(history[:10])
    front = [e.config for e in history if not any(o.score >= e.score and o.cost < e.cost for o in history)]
    initial = {e.config for e in history[:10]}
    assert any(c not in initial for c in front)  # offspring made it onto the front
