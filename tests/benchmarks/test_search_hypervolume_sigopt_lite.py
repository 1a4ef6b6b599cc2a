"""The SigOpt-Lite series of benchmarks/search_hypervolume.py on a toy objective (no model)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmarks import search_hypervolume as bench
from lit_distill.search.spec import load_spec
from tests.search.fake_sigopt import needs_lite
from tests.search.helpers import ROOT, TOY_FIT, write_spec


@needs_lite
def test_lite_series_proposes_valid_chains_and_is_seeded(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "configs/search/quickstart_length.yaml").read_text())
    raw.update(base_config=str(TOY_FIT), output_dir=str(tmp_path / "out"))
    spec = load_spec(write_spec(tmp_path, raw))
    seen: list[tuple[int, ...]] = []

    def evaluate(lengths: tuple[int, ...]) -> tuple[float, float]:
        seen.append(lengths)
        return float(sum(lengths[:2])), float(sum(lengths))  # score up, cost up: a trade-off

    values = bench.lite_search(spec, evaluate, 6, seed=0)
    assert len(values) == 6 and values == [evaluate(c) for c in seen[:6]]
    assert all(c[0] <= 128 and list(c) == sorted(c, reverse=True) and c[-1] >= 8 for c in seen)
    first = list(seen[:6])
    seen.clear()
    assert bench.lite_search(spec, evaluate, 6, seed=0) == values and seen[:6] == first  # seeded


def test_statistics_over_seeds_that_ran_that_long() -> None:
    assert bench.at_n([[1.0, 2.0], [1.0, 3.0, 4.0]], [2, 3], 3) == [4.0]
    assert bench.at_n([[1.0, 2.0], [1.0]], [2, 5], 2) == [2.0, 1.0]  # ended early: keeps its last value
    assert bench.spread([1.0, 2.0, 3.0]) == "2.000 (1.000–3.000)" and bench.spread([0.5]) == "0.500"
    with pytest.raises(ValueError):
        bench.at_n([[1.0]], [1, 2], 1)  # one requested count per run
