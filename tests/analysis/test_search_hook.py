"""``search report --analysis-data`` (:func:`lit_distill.commands.search.write_search_report`): the front trials that wrote predictions, analysed side by side."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lit_distill.commands.search import write_search_report as write_report
from lit_distill.search.records import TrialRecord
from lit_distill.search.spec import SearchSpecError, load_spec
from tests.search.helpers import spec_dict, write_spec

from .helpers import DATA, STUDENT, TEACHER, TEACHER_NA


def _record(n: int, exact: float, params: float, trial_dir: Path) -> TrialRecord:
    metrics = {"exact": exact, "num_parameters": params, "f1": exact}
    return TrialRecord(
        n, "COMPLETE", "complete", True, {"knob": 0.5, "hidden": 4}, metrics, trial_dir=str(trial_dir)
    )


def test_report_analyses_front_trials_with_predictions(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, spec_dict(tmp_path)))
    dirs = [tmp_path / f"t{i}" for i in range(4)]
    for d in dirs:
        d.mkdir()
    shutil.copy(TEACHER, dirs[0] / "predictions.json")
    shutil.copy(TEACHER_NA, dirs[0] / "null_odds.json")
    (dirs[1] / "holdout").mkdir()
    (dirs[1] / "holdout" / "predictions.json").write_text(json.dumps({"other-split": "x"}))  # no shared id
    (dirs[1] / "version_0").mkdir()
    shutil.copy(STUDENT, dirs[1] / "version_0" / "predictions.json")
    # trial 2: on the front, no predictions; trial 3: dominated by trial 0, has predictions
    shutil.copy(STUDENT, dirs[3] / "predictions.json")
    records = [_record(0, 90, 40, dirs[0]), _record(1, 80, 20, dirs[1]), _record(2, 70, 10, dirs[2])]
    records.append(_record(3, 60, 50, dirs[3]))

    files = write_report(spec, records, tmp_path / "report", plots=False, analysis_data=DATA)
    summary = json.loads(files["analysis_summary"].read_text())
    models = summary["models"]
    assert [m["label"] for m in models] == ["trial_0", "trial_1"]  # front order, best exact first
    assert models[0]["na_probs"] == str(dirs[0] / "null_odds.json") and models[1]["na_probs"] is None
    assert models[1]["predictions"] == str(dirs[1] / "version_0" / "predictions.json")
    assert summary["comparisons"][0]["trial_0 right, trial_1 wrong"] == 2
    assert (tmp_path / "report" / "analysis" / "disagreements_trial_0_vs_trial_1.csv").is_file()
    assert files["json"].is_file()  # the usual report is still there

    without = write_report(spec, records, tmp_path / "plain", plots=False)
    assert not any(name.startswith("analysis") for name in without)


def test_report_analysis_errors_are_spec_errors(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, spec_dict(tmp_path)))
    with pytest.raises(SearchSpecError, match=r"--analysis-data: data file not found: .*nope\.json"):
        write_report(spec, [], tmp_path / "r", plots=False, analysis_data=tmp_path / "nope.json")
    files = write_report(
        spec, [], tmp_path / "r", plots=False, analysis_data=DATA
    )  # empty front: nothing to do
    assert not any(name.startswith("analysis") for name in files)
