"""Reports: the front flagged among feasible trials, JSON + CSV contents, PNG figures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from lit_distill.search.records import TrialRecord, flag_front
from lit_distill.search.report import write_report
from lit_distill.search.spec import load_spec

from .helpers import spec_dict, write_spec


def _records() -> list[TrialRecord]:
    def rec(n: int, knob: float, hidden: int, exact: float, params: float, **kw: object) -> TrialRecord:
        metrics = {"exact": exact, "num_parameters": params, "f1": exact + 5}
        return TrialRecord(
            n, "COMPLETE", "complete", exact >= 60, {"knob": knob, "hidden": hidden}, metrics, **kw
        )  # type: ignore[arg-type]

    return [
        rec(0, 0.3, 4, 90, 41),
        rec(1, 0.35, 2, 85, 21),
        rec(2, 0.5, 8, 70, 81),  # dominated by 0
        rec(3, 0.9, 1, 30, 11),  # best size but infeasible (exact < 60)
        rec(4, 0.31, 1, 65, 11),
        TrialRecord(5, "COMPLETE", "oom", False, {"knob": 0.1, "hidden": 64}, {}, reason="out of memory"),
        TrialRecord(6, "FAIL", "fail", False, {"knob": 0.2, "hidden": 3}, {}, reason="exited with code 1"),
    ]


def test_front_excludes_infeasible_and_dominated(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, spec_dict(tmp_path)))
    records = _records()
    front = flag_front(spec, records)
    assert [r.number for r in front] == [0, 1, 4]  # sorted by exact, best first
    assert [r.number for r in records if r.on_front] == [0, 1, 4]


def test_report_files(tmp_path: Path) -> None:
    raw = spec_dict(tmp_path)
    raw["baseline"] = {"label": "teacher", "metrics": {"exact": 92, "num_parameters": 300}}
    spec = load_spec(write_spec(tmp_path, raw))
    files = write_report(spec, _records(), tmp_path / "report")
    payload = json.loads(files["json"].read_text())
    assert [t["number"] for t in payload["front"]] == [0, 1, 4]
    assert payload["trial_counts"] == {"complete": 5, "oom": 1, "fail": 1}
    assert payload["baseline"]["metrics"]["exact"] == 92
    assert payload["objectives"] == [
        {"name": "exact", "objective": "maximize"},
        {"name": "num_parameters", "objective": "minimize"},
    ]
    with files["csv"].open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7
    assert rows[0]["on_front"] == "True" and rows[2]["on_front"] == "False" and rows[3]["feasible"] == "False"
    assert (
        rows[5]["outcome"] == "oom" and rows[5]["exact"] == "" and rows[6]["reason"] == "exited with code 1"
    )
    assert {"knob", "hidden", "exact", "num_parameters", "f1"} <= set(rows[0])
    for name in ("front", "importance", "parallel"):
        data = files[name].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name


def test_importance_from_few_trials_is_flagged_as_noise(tmp_path: Path) -> None:
    """#29.9: four trials give some parameter a large ω² by chance; the figure says it is noise."""
    from lit_distill.search.importance import main_effect_importance, noise_p_values
    from lit_distill.search.plots import plot_importance

    spec = load_spec(write_spec(tmp_path, spec_dict(tmp_path)))
    records = _records()[:4]
    note = plot_importance(spec, records, tmp_path / "importance.png")
    assert note is not None and "only 4 complete trials" in note and "noise-level" in note
    params = {
        "knob": [r.assignment["knob"] for r in records],
        "hidden": [r.assignment["hidden"] for r in records],
    }
    exact = [r.metrics["exact"] for r in records]
    assert max(main_effect_importance(params, exact).values()) > 0.3  # a large share ...
    assert min(noise_p_values(params, exact).values()) > 0.05  # ... that shuffled metrics reach too


def test_a_parameter_that_matters_beats_the_shuffled_metrics() -> None:
    import random

    from lit_distill.search.importance import noise_p_values

    rng = random.Random(0)
    a = [i / 39 for i in range(40)]
    b = [rng.random() for _ in range(40)]
    y = [10 * x + 0.1 * rng.random() for x in a]
    p = noise_p_values({"a": a, "b": b}, y)
    assert p["a"] <= 0.01 and p["b"] > 0.2, p
