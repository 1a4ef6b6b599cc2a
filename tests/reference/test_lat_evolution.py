"""LAT-style evolutionary search: operators keep chains valid, the search respects its budget and improves."""

from __future__ import annotations

import itertools
import random

from lit_distill.search.pareto import hypervolume_2d
from tests.reference.lat_evolution import (
    Evaluated,
    EvolutionConfig,
    constant_ratio_chain,
    crossover,
    evolutionary_search,
    lat_front,
    mutate,
    random_chain,
    seed_chains,
    upper_hull,
)


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


def _toy(chain: tuple[int, ...]) -> tuple[float, float]:
    """Score saturates with the first layers' lengths; cost is the total length."""
    return sum(min(v, 40) for v in chain[:3]) + 0.1 * sum(chain[3:]), float(sum(chain))


def test_population_is_seeded_like_lat() -> None:
    # smallest LengthDrop sub-network (ceil(0.8 · previous)), the full model, then chains of one
    # constant drop ratio each, evenly spaced in total tokens between the two (LAT's run_squad.py)
    seeds = seed_chains(4, 8, 128, 3, 0.2)
    assert seeds[:2] == [(103, 83, 67, 54), (128, 128, 128, 128)]
    fractions = [sum(c) / (4 * 128) for c in seeds[2:]]
    assert fractions == sorted(fractions)
    gaps = [b - a for a, b in itertools.pairwise([307 / 512, *fractions, 1.0])]
    assert max(gaps) - min(gaps) < 0.02  # evenly spaced up to the rounding of lengths
    history = evolutionary_search(_toy, 4, 8, 128, budget=5, config=EvolutionConfig(population_size=3))
    assert [e.config for e in history] == seeds


def test_chains_outside_the_cost_window_are_rejected_before_evaluation() -> None:
    evaluated: list[tuple[int, ...]] = []

    def evaluate(chain: tuple[int, ...]) -> tuple[float, float]:
        evaluated.append(chain)
        return _toy(chain)

    costed: list[tuple[int, ...]] = []

    def cost(chain: tuple[int, ...]) -> float:
        costed.append(chain)
        return float(sum(chain))

    history = evolutionary_search(
        evaluate, 6, 4, 128, budget=80, config=EvolutionConfig(population_size=10, seed=2), cost=cost
    )
    smallest = sum(constant_ratio_chain(6, 4, 128, 0.2))
    assert len(history) == 80 == len(evaluated)
    assert all(e.cost >= smallest for e in history)
    assert any(sum(c) < smallest for c in costed)  # proposed, priced, never evaluated
    assert not any(sum(c) < smallest for c in evaluated)


def test_lat_front_and_upper_hull() -> None:
    pts = [
        Evaluated((i,), s, c)
        for i, (s, c) in enumerate([(0.5, 0), (0.5, 1), (3, 2), (3.2, 3), (5, 4), (4, 5)])
    ]
    front = lat_front(pts)
    # the cheapest, each scoring above the last kept, and the costliest even though it is dominated
    assert [e.config[0] for e in front] == [0, 2, 3, 4, 5]
    # (3, 3.2) lies below the line from (2, 3) to (4, 5): not on the upper hull
    assert [e.config[0] for e in upper_hull(front[:-1])] == [0, 2, 4]
    same_cost = [Evaluated((0,), 1, 0), Evaluated((1,), 2, 1), Evaluated((2,), 3, 1), Evaluated((3,), 4, 2)]
    assert [e.config[0] for e in lat_front(same_cost)] == [0, 2, 3]


def test_hull_parents_option_runs_and_stays_in_the_window() -> None:
    history = evolutionary_search(
        _toy, 6, 4, 128, budget=60, config=EvolutionConfig(population_size=8, parents="hull", seed=3)
    )
    assert len(history) == 60 == len({e.config for e in history})
    assert all(_valid(e.config, 4, 128) for e in history)
