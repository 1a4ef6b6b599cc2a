"""``python -m lit_distill analyze``: files written, comparison, squad-eval agreement, errors (exit 2)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from lit_distill.__main__ import main as dispatch
from lit_distill.commands.analyze import main
from lit_distill.commands.squad_eval import main as squad_eval

from .helpers import DATA, STUDENT, TEACHER, TEACHER_NA


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_teacher_vs_student(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["--data", str(DATA), "--predictions", str(TEACHER), "--compare", str(STUDENT)]
    args += ["--labels", "teacher", "student", "--output", str(out), "--no-plots"]
    assert dispatch(["analyze", *args]) == 0  # registered in PROJECT_COMMANDS
    captured = capsys.readouterr()
    assert "teacher right, student wrong: 2; student right, teacher wrong: 7 (given)" in captured.out
    err = captured.err
    assert "teacher: 1 prediction(s) for ids not in" in err and "'zz-unknown'" in err
    assert "teacher: 1 question(s) without a prediction" in err and "'b6'" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"][0]["problems"]["missing_ids"] == {"count": 1, "ids": ["b6"]}
    assert summary["comparisons"][0]["teacher right, student wrong"] == 2  # a6, a8
    assert summary["comparisons"][0]["student right, teacher wrong"] == 7  # a2 a4 a5 a7 a9 b3 b5

    rows = json.loads((out / "disagreements_teacher_vs_student.json").read_text())
    assert [(r["id"], r["right"]) for r in rows] == [
        ("a2", "student"),
        ("a4", "student"),
        ("a5", "student"),
        ("a6", "teacher"),
        ("a7", "student"),
        ("a8", "teacher"),
        ("a9", "student"),
        ("b3", "student"),
        ("b5", "student"),
    ]  # b6: the teacher has no prediction, so no disagreement
    a8 = rows[5]
    assert (
        a8["gold_answers"] == ["1999", "in 1999", "the year 1999"]
        and a8["question"] == "In what year was it?"
    )
    assert (a8["teacher_prediction"], a8["student_prediction"]) == ("year 1999", "")
    assert (a8["teacher_category"], a8["student_category"]) == ("correct", "label_has_answer")
    as_csv = _csv(out / "disagreements_teacher_vs_student.csv")
    assert as_csv[5]["gold_answers"] == "1999 | in 1999 | the year 1999"

    side = {(r["topic"], r["category"]): r for r in _csv(out / "compare_topics.csv")}
    alpha = side[("Alpha_topic", "correct")]
    assert (alpha["teacher"], alpha["student"], alpha["student - teacher"]) == ("3", "6", "3")
    assert (
        side[("Beta_topic", "questions")]["teacher"] == "5"
        and side[("Beta_topic", "questions")]["student"] == "6"
    )
    assert side[("(all)", "label_has_no_answer")]["student"] == "1"  # a6

    topics = _csv(out / "by_topic.csv")
    student_alpha = next(r for r in topics if r["model"] == "student" and r["group"] == "Alpha_topic")
    assert [student_alpha[c] for c in ("correct", "mostly_correct", "label_has_answer")] == ["6", "1", "1"]
    assert {"by_question_word.csv", "by_answer_length.csv", "by_context_length.csv"} <= {
        p.name for p in out.iterdir()
    }
    assert not list(out.glob("*.png"))


@pytest.mark.parametrize("thresh", ["1.0", "0.75"])
def test_overall_exact_equals_squad_eval_files(tmp_path: Path, thresh: str) -> None:
    out = tmp_path / "out"
    args = ["--data", str(DATA), "--predictions", str(TEACHER), "--na-prob-file", str(TEACHER_NA)]
    assert main([*args, "--na-prob-thresh", thresh, "--output", str(out), "--no-plots"]) == 0
    official = tmp_path / "eval.json"
    assert (
        squad_eval([str(DATA), str(TEACHER), "-n", str(TEACHER_NA), "-t", thresh, "-o", str(official)]) == 0
    )
    expected = json.loads(official.read_text())
    views = json.loads((out / "summary.json").read_text())["models"][0]["views"]
    assert views["given"]["overall"][0]["exact"] == expected["exact"]
    assert views["given"]["overall"][0]["f1"] == expected["f1"]
    assert views["given"]["official"]["best_exact_thresh"] == expected["best_exact_thresh"] == 0.15
    assert views["best_threshold"]["overall"][0]["exact"] == expected["best_exact"]


def test_plots_are_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    args = [
        "--data",
        str(DATA),
        "--predictions",
        str(TEACHER),
        "--compare",
        str(STUDENT),
        "--output",
        str(out),
    ]
    assert main(args) == 0  # default labels: the file stems
    for name in ("topics_teacher-pred", "topics_student-pred", "compare_topics", "compare_overall", "cuts"):
        data = (out / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name


def test_without_matplotlib_tables_and_one_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    out = tmp_path / "out"
    assert main(["--data", str(DATA), "--predictions", str(STUDENT), "--output", str(out)]) == 0
    notice = [line for line in capsys.readouterr().err.splitlines() if "matplotlib" in line]
    assert notice == [
        "tables written; for the PNG plots install matplotlib: pip install 'lit_distill[plots]'"
    ]
    assert (out / "by_topic.csv").is_file() and not list(out.glob("*.png"))


def _write(tmp_path: Path, name: str, obj: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return str(path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--labels", "a", "b"], "--labels: 2 label(s) ['a', 'b'] for 1 prediction file(s)"),
        (["--compare", str(STUDENT), "--labels", "x", "x"], "must be distinct"),
        (["--labels", "topic"], "not a column name"),
        (["--mostly-correct-f1", "1.5"], "--mostly-correct-f1 must be in [0, 1], got 1.5"),
        (["--answer-bins", "3,2"], "--answer-bins must be strictly increasing positive integers, got [3, 2]"),
        (["--answer-bins", "a,b"], "argument --answer-bins: expected comma-separated integers, got 'a,b'"),
        (["--view", "best_threshold"], "--view best_threshold needs a --na-prob-file for every model"),
        (["--na-prob-file", "x.json", "y.json"], "--na-prob-file: 2 file(s) for 1 model(s)"),
        (["--na-prob-file", "nope.json"], "no-answer probability file not found: nope.json"),
        (["--view", "everything"], "argument --view: invalid choice: 'everything'"),
    ],
)
def test_bad_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    args = ["--data", str(DATA), "--predictions", str(TEACHER), "--output", str(tmp_path / "o"), "--no-plots"]
    try:
        code = main([*args, *extra])
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(data: str, preds: str, *extra: str) -> str:
        assert main(["--data", data, "--predictions", preds, "--output", str(tmp_path / "o"), *extra]) == 2
        return capsys.readouterr().err

    assert "data file not found: missing.json" in run("missing.json", str(TEACHER))
    assert "not valid JSON" in run(_write(tmp_path, "broken.json", "{"), str(TEACHER))
    assert "top level must be an object with a 'data' list" in run(
        _write(tmp_path, "l.json", []), str(TEACHER)
    )
    bad = {"data": [{"title": "T", "paragraphs": [{"context": "c", "qas": [{"id": "q", "answers": "x"}]}]}]}
    assert "article 'T', question 'q': 'answers' must be a list" in run(
        _write(tmp_path, "b.json", bad), str(TEACHER)
    )
    assert "no prediction matches a question id" in run(str(DATA), _write(tmp_path, "empty.json", {}))
    assert "question 'a1' maps to 3; expected an answer string" in run(
        str(DATA), _write(tmp_path, "n.json", {"a1": 3})
    )
    na = _write(tmp_path, "na.json", {"a1": 0.5})
    assert "lack 13 predicted question id(s), e.g. 'a2'" in run(str(DATA), str(TEACHER), "--na-prob-file", na)
    blocker = _write(tmp_path, "file.txt", "x")
    err = run(str(DATA), str(TEACHER), "--output", blocker)
    assert "exists and is not a directory" in err and "Traceback" not in err
