"""``python -m lit_distill quickstart`` end to end at a reduced scale (the full run is timed by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_distill.commands.quickstart import main
from lit_distill.models.qa_model import QAModel
from lit_distill.modules import DistilBertStudent


def test_quickstart_trains_teacher_and_student_and_leaves_loadable_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "qs"
    code = main(
        [
            "--output-dir",
            str(out),
            "--train-size",
            "40",
            "--dev-size",
            "10",
            "--teacher-epochs",
            "1",
            "--student-epochs",
            "1",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    teacher, student = summary["teacher"], summary["student"]
    assert teacher["layers"] == 4 and student["layers"] == 2
    assert student["parameters"] < teacher["parameters"]
    for name, role in (("teacher", teacher), ("student", student)):
        assert 0.0 <= role["exact"] <= 100.0 and 0.0 <= role["f1"] <= 100.0
        # the summary reports the run's own final validation scores (its metrics.csv) ...
        logged = _last_logged(out / name, ("val/exact", "val/f1", "val/HasAns_f1", "val/NoAns_f1"))
        for key in ("exact", "f1", "HasAns_f1", "NoAns_f1"):
            assert role[key] == pytest.approx(logged[f"val/{key}"], abs=1e-6), (name, key)
        # ... which obey the official script's arithmetic: F1 >= EM, overall F1 between its parts
        assert role["f1"] >= role["exact"] - 1e-9
        parts = (role["HasAns_f1"], role["NoAns_f1"])
        assert min(parts) - 1e-6 <= role["f1"] <= max(parts) + 1e-6
        assert QAModel.from_pretrained(role["model_dir"]).config.num_hidden_layers == role["layers"]
        assert Path(role["checkpoint"]).is_file()
    assert Path(teacher["model_dir"]) == out / "teacher" / "model"
    assert DistilBertStudent.load_from_checkpoint(student["checkpoint"]).model.config.num_hidden_layers == 2
    printed = capsys.readouterr().out
    assert "teacher" in printed and "student" in printed and "EM" in printed
    # the configs actually used are kept next to the results
    assert (out / "student" / "fit_config.yaml").is_file()


def _last_logged(run_dir: Path, keys: tuple[str, ...]) -> dict[str, float]:
    """The last value of each key in the run's CSVLogger ``metrics.csv`` files."""
    import csv

    found: dict[str, float] = {}
    files = sorted(run_dir.rglob("metrics.csv"))
    assert files, f"no metrics.csv under {run_dir}"
    for path in files:
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                found.update({k: float(row[k]) for k in keys if row.get(k)})
    assert set(found) == set(keys), (sorted(found), keys)
    return found


def test_quickstart_rejects_bad_sizes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--output-dir", str(tmp_path), "--train-size", "0"]) == 2
    assert "--train-size must be a positive integer, got 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("student_em", "said"), [(65.6, "3.60 above"), (61.2, "0.80 below"), (62.0, "equal to")]
)
def test_summary_line_says_which_way_the_student_differs(student_em: float, said: str) -> None:
    from lit_distill.commands.quickstart import _table

    row = {"layers": 2, "parameters": 10, "f1": 1.0, "train_time_s": 1.0, "model_dir": "m"}
    summary = {
        "output_dir": "runs/q",
        "teacher": {**row, "exact": 62.0},
        "student": {**row, "exact": student_em},
    }
    assert f"student EM {said} the teacher's" in _table(summary)
