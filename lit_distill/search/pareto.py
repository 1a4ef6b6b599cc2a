"""Pure Pareto maths: dominance, the non-dominated front, and 2-D hypervolume."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Direction = Literal["maximize", "minimize"]


def _as_min(point: Sequence[float], directions: Sequence[Direction]) -> list[float]:
    return [-v if d == "maximize" else v for v, d in zip(point, directions, strict=True)]


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[Direction]) -> bool:
    """Whether ``a`` is at least as good as ``b`` everywhere and better somewhere."""
    am, bm = _as_min(a, directions), _as_min(b, directions)
    return all(x <= y for x, y in zip(am, bm, strict=True)) and any(
        x < y for x, y in zip(am, bm, strict=True)
    )


def pareto_mask(points: Sequence[Sequence[float]], directions: Sequence[Direction]) -> list[bool]:
    """For each point, whether no other point dominates it (duplicates both stay on the front)."""
    return [not any(dominates(q, p, directions) for q in points) for p in points]


def hypervolume_2d(
    points: Sequence[Sequence[float]], reference: Sequence[float], directions: Sequence[Direction]
) -> float:
    """Area dominated by ``points`` and bounded by ``reference`` (two objectives).

    Points that do not strictly improve on the reference in both objectives add nothing.

    Raises:
        ValueError: If the points do not have exactly two objectives.
    """
    if len(directions) != 2 or len(reference) != 2:
        raise ValueError(f"hypervolume_2d needs two objectives, got directions {list(directions)}")
    ref = _as_min(reference, directions)
    pts = sorted(
        {
            tuple(_as_min(p, directions))
            for p in points
            if all(v < r for v, r in zip(_as_min(p, directions), ref, strict=False))
        }
    )
    area = 0.0
    best_y = ref[1]
    for x, y in pts:  # sorted by the first objective, ascending
        if y < best_y:
            area += (ref[0] - x) * (best_y - y)
            best_y = y
    return area
