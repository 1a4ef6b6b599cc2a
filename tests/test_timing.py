"""lit_distill.timing: interleaved rounds, median and spread, and the flag on speed-ups that cannot be trusted.

No test here reads a real clock: a fake clock advances by what each run "costs", and the load a
shared machine puts on a run is injected as a deterministic pattern.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from lit_distill.timing import (
    MAX_SPREAD,
    Speedup,
    Timing,
    round_order,
    speedup,
    speedup_cell,
    time_interleaved,
    timed,
)


class FakeClock:
    """A clock that only moves when a run says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def costs(self, name: str, seconds: Callable[[int], float], log: list[str]) -> Callable[[], None]:
        """A run that takes ``seconds(i)`` on its i-th call (warm-up included) and logs its name."""
        calls = itertools.count()

        def run() -> None:
            log.append(name)
            self.now += seconds(next(calls))

        return run


def test_timing_statistics() -> None:
    t = Timing.of([3.0, 1.0, 2.0, 4.0])
    assert t.samples == (3.0, 1.0, 2.0, 4.0)  # in round order, for pairing
    assert (t.median, t.min, t.max, t.p25, t.p75) == (2.5, 1.0, 4.0, 1.75, 3.25)
    assert t.iqr == pytest.approx(1.5) and t.relative_spread == pytest.approx(0.6) and t.total == 10.0
    assert t.fields(scale=1e3, unit="_ms")["latency_median_ms"] == 2500.0
    assert Timing.of([2.0]).stdev == 0.0
    with pytest.raises(ValueError, match="no timings"):
        Timing.of([])


def test_rounds_change_the_order_and_pair_samples_by_round() -> None:
    clock, log = FakeClock(), []
    runs = [clock.costs(name, lambda i, c=c: c, log) for name, c in (("a", 1.0), ("b", 2.0), ("c", 4.0))]
    timings = time_interleaved(runs, warmup=1, repeats=3, clock=clock)
    rounds = ["".join("abc"[i] for i in round_order(3, r)) for r in range(3)]
    assert log == ["a", "b", "c", *"".join(rounds)]  # warm-up in order, then each round in its order
    assert [t.samples for t in timings] == [(1.0,) * 3, (2.0,) * 3, (4.0,) * 3]
    assert round_order(0, 5) == [] and round_order(4, 7) == round_order(4, 7)  # reproducible


def test_no_configuration_always_runs_after_the_same_one() -> None:
    """A fixed cyclic order gave each configuration one predecessor in every round (the graph after
    BERT-base ran 3-7 % slower); each round's order is a new permutation."""
    orders = [round_order(5, r) for r in range(10)]
    assert all(sorted(o) == list(range(5)) for o in orders)
    for config in range(5):
        before = {o[o.index(config) - 1] if o.index(config) else None for o in orders}
        assert len(before) >= 3, (config, before)
    assert len({tuple(o) for o in orders}) >= 8


def test_timed_returns_the_result_and_syncs_around_the_run() -> None:
    clock, events = FakeClock(), []

    def run() -> str:
        events.append("run")
        clock.now += 0.5
        return "out"

    assert timed(run, clock, lambda: events.append("sync")) == ("out", 0.5)
    assert events == ["sync", "run", "sync"]


def test_a_steady_speed_up_is_reported() -> None:
    clock, log = FakeClock(), []
    full = clock.costs("full", lambda i: 10.0 + 0.1 * (i % 3), log)
    short = clock.costs("short", lambda i: 5.0 + 0.05 * (i % 3), log)
    ref, other = time_interleaved([full, short], warmup=1, repeats=12, clock=clock)
    ratio = speedup(ref, other, steady_work=True)
    assert ratio.trusted and ratio.value == pytest.approx(2.0) and ratio.text() == "2.00x"
    fields = ratio.fields("speedup_vs_full")
    assert fields["speedup_vs_full"] == pytest.approx(2.0) and fields["speedup_vs_full_flag"] is None
    assert speedup(ref, ref) == Speedup(1.0, 1.0, 1.0, 12)  # the reference itself


def test_a_configuration_timed_under_injected_load_is_flagged_not_reported() -> None:
    """Every third run of the short configuration lands on a load spike that triples its time."""
    clock, log = FakeClock(), []
    full = clock.costs("full", lambda i: 10.0, log)
    short = clock.costs("short", lambda i: 15.0 if i % 2 else 4.0, log)
    ref, other = time_interleaved([full, short], warmup=1, repeats=10, clock=clock)
    ratio = speedup(ref, other)
    assert not ratio.trusted and "spread" in (ratio.flag or "")
    assert ratio.text() == "noisy"
    row = ratio.fields("speedup_vs_full")
    assert row["speedup_vs_full"] is None  # what a reader compares is not a number
    assert row["speedup_vs_full_measured"] == ratio.value and row["speedup_vs_full_flag"] == ratio.flag
    assert speedup_cell(row, "speedup_vs_full") == "noisy"


def test_a_drifting_load_that_fakes_a_speed_up_one_after_the_other_cancels_when_interleaved() -> None:
    """Two identical configurations while the load doubles: sequential timing reads ~0.5x, interleaved ~1."""
    clock, log = FakeClock(), []
    load = itertools.count()

    def work() -> float:  # the same work; each run finds the machine 5 % busier than the last
        return 1.0 * (1.05 ** next(load))

    a = clock.costs("a", lambda i: work(), log)
    b = clock.costs("b", lambda i: work(), log)
    sequential = [time_interleaved([run], warmup=0, repeats=8, clock=clock)[0] for run in (a, b)]
    assert sequential[0].median / sequential[1].median < 0.7  # the artefact the interleaving removes
    ref, other = time_interleaved([a, b], warmup=0, repeats=8, clock=clock)
    ratio = speedup(ref, other)
    assert ratio.value == pytest.approx(1.0, abs=0.06)
    assert ratio.text() == "no diff" and (ratio.flag or "").startswith("spread larger than the effect")


def test_too_few_rounds_and_noisy_steady_latencies_are_flagged() -> None:
    few = speedup([2.0, 2.0], [1.0, 1.0])
    assert not few.trusted and "2 timed round(s)" in (few.flag or "")
    steady_ratio_noisy_self = speedup([10, 10, 30, 30, 10, 30], [5, 5, 15, 15, 5, 15], steady_work=True)
    assert steady_ratio_noisy_self.value == pytest.approx(2.0)  # the ratio agrees every round ...
    assert "latencies spread" in (steady_ratio_noisy_self.flag or "")  # ... but the latencies do not
    assert speedup([10, 10, 30, 30, 10, 30], [5, 5, 15, 15, 5, 15]).trusted  # rounds that differ by design
    with pytest.raises(ValueError, match="equal rounds"):
        speedup([1.0, 1.0, 1.0], [1.0, 1.0])
    ratios = [2.0, 2.5, 3.0, 3.5]  # median 2.75, IQR 0.75: 27 % of the median
    assert not speedup([1.0] * 4, [1 / r for r in ratios]).trusted
    assert speedup([1.0] * 4, [1 / r for r in ratios], max_spread=0.3).trusted
    assert MAX_SPREAD == 0.2
