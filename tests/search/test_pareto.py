"""Pareto front, hypervolume and parameter importance: pure functions on hand-checked cases."""

from __future__ import annotations

import random

import pytest

from lit_distill.search.importance import main_effect_importance, omega_squared
from lit_distill.search.pareto import dominates, hypervolume_2d, pareto_mask

MAX_MIN = ("maximize", "minimize")


def test_dominance_respects_directions() -> None:
    assert dominates([90, 10], [80, 20], MAX_MIN)
    assert not dominates([90, 30], [80, 20], MAX_MIN)
    assert not dominates([90, 10], [90, 10], MAX_MIN)
    assert dominates([1, 1], [2, 2], ("minimize", "minimize"))


def test_pareto_mask() -> None:
    points = [[90, 30], [80, 10], [85, 20], [70, 25], [90, 30]]
    assert pareto_mask(points, MAX_MIN) == [True, True, True, False, True]


def test_hypervolume_2d_hand_computed() -> None:
    # maximise f1, minimise time; reference (0, 10)
    pts = [[80, 2], [60, 1], [90, 5]]
    # as minimisation: (-80,2), (-60,1), (-90,5); ref (0,10): boxes union
    # sorted by x: (-90,5): 90*5=450; (-80,2): 80*3=240; (-60,1): 60*1=60 -> 750
    assert hypervolume_2d(pts, [0, 10], MAX_MIN) == pytest.approx(750.0)
    assert hypervolume_2d([*pts, [70, 3]], [0, 10], MAX_MIN) == pytest.approx(750.0)  # dominated: no change
    assert hypervolume_2d([[-5, 1]], [0, 10], MAX_MIN) == 0.0  # worse than the reference
    with pytest.raises(ValueError, match="two objectives"):
        hypervolume_2d([[1, 2, 3]], [0, 0, 0], ("minimize",) * 3)


def test_importance_finds_the_parameter_that_matters() -> None:
    rng = random.Random(0)
    x = [rng.random() for _ in range(60)]
    noise = [rng.random() for _ in range(60)]
    cat = [rng.choice(["a", "b"]) for _ in range(60)]
    y = [10 * a + (3.0 if c == "b" else 0.0) for a, c in zip(x, cat, strict=True)]
    imp = main_effect_importance({"x": x, "noise": noise, "cat": cat}, y)
    assert next(iter(imp)) == "x"
    assert imp["cat"] > 0.05
    assert imp["noise"] < 0.05
    assert omega_squared([0, 0, 1, 1], [1.0, 1.0, 1.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="at least 3 trials"):
        main_effect_importance({"x": [1, 2]}, [1.0, 2.0])
