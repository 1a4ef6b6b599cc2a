"""``squad-eval``: same arguments and output as the official evaluate-v2.0.py (numbers made by it, see fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_distill.commands.squad_eval import main

FIX = Path(__file__).parent / "fixtures"


def _f(name: str) -> str:
    return str(FIX / name)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["tiny-v2.json", "tiny-v2-pred.json"], "expected-tiny-v2.json"),
        (
            ["tiny-v2.json", "tiny-v2-pred.json", "--na-prob-file", "tiny-v2-na.json"],
            "expected-tiny-v2-na.json",
        ),
        (
            ["tiny-v2.json", "tiny-v2-pred.json", "-n", "tiny-v2-na.json", "-t", "0.5"],
            "expected-tiny-v2-na-t05.json",
        ),
        (["tiny-v1.1.json", "tiny-v1.1-pred.json"], "expected-tiny-v1.1.json"),
    ],
)
def test_out_file_matches_the_official_script(tmp_path: Path, argv: list[str], expected: str) -> None:
    args = [_f(a) if a.endswith(".json") else a for a in argv]
    out = tmp_path / "eval.json"
    assert main([*args, "--out-file", str(out)]) == 0
    assert out.read_text() == (FIX / expected).read_text()


def test_stdout_json_and_precision_recall_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images = tmp_path / "img"
    assert (
        main([_f("tiny-v2.json"), _f("tiny-v2-pred.json"), "-n", _f("tiny-v2-na.json"), "-p", str(images)])
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((FIX / "expected-tiny-v2-na-pr.json").read_text())
    assert {p.name for p in images.iterdir()} >= {"pr_exact.png", "pr_f1.png", "pr_oracle.png"}


def test_bad_files_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main([str(bad), _f("tiny-v2-pred.json")]) == 2
    assert "data file" in (err := capsys.readouterr().err) and "not valid JSON (" in err
    assert main([_f("tiny-v2.json"), str(tmp_path / "missing.json")]) == 2
    assert "prediction file not found" in capsys.readouterr().err
    nums = tmp_path / "nums.json"
    nums.write_text(json.dumps({"m1": 3}))
    assert main([_f("tiny-v2.json"), str(nums)]) == 2
    assert "question 'm1' maps to 3; expected an answer string" in capsys.readouterr().err
    probs = tmp_path / "p.json"
    probs.write_text(json.dumps({"m1": "high"}))
    assert main([_f("tiny-v2.json"), _f("tiny-v2-pred.json"), "-n", str(probs)]) == 2
    assert "expected a number" in capsys.readouterr().err
    shape = tmp_path / "shape.json"
    shape.write_text(json.dumps({"data": [{"title": "T"}]}))
    assert main([str(shape), _f("tiny-v2-pred.json")]) == 2
    assert "article 'T': no 'paragraphs' list" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tiny-v2.json"], "the following arguments are required: pred.json"),
        (
            ["tiny-v2.json", "tiny-v2-pred.json", "-t", "x"],
            "argument --na-prob-thresh/-t: invalid float value: 'x'",
        ),
        (
            ["tiny-v2.json", "tiny-v2-pred.json", "--bogus", "x"],
            "unrecognized arguments: --bogus x",
        ),
    ],
)
def test_bad_usage_exits_2_naming_the_argument(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The official script's usage errors: exit 2, the usage line, one error naming what is wrong, no output."""
    out = tmp_path / "eval.json"
    with pytest.raises(SystemExit) as exc:
        main([*(_f(a) if a.endswith(".json") else a for a in argv), "--out-file", str(out)])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], captured.err
    assert captured.err.startswith("usage: ") and "Traceback" not in captured.err
    assert captured.out == "" and not out.exists()


# ---- issue 14: repeated ids, bad probabilities and unwritable outputs, through `python -m lit_distill squad-eval`
def _cli(*args: str) -> int:
    from lit_distill.__main__ import main as lit_distill_main

    return lit_distill_main(["squad-eval", *args])


def test_repeated_question_id_is_a_counted_warning_and_scores_like_the_official_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads((FIX / "tiny-v2.json").read_text())
    first, second = data["data"][0]["paragraphs"][0]["qas"], data["data"][1]["paragraphs"][0]["qas"]
    # m7 appears again in the first article (earlier in the file) with a different, unanswerable gold
    repeated = [*first, {**second[0], "answers": [], "is_impossible": True}]
    dup = {
        **data,
        "data": [
            {**data["data"][0], "paragraphs": [{**data["data"][0]["paragraphs"][0], "qas": repeated}]},
            data["data"][1],
        ],
    }
    dup_file = tmp_path / "dup.json"
    dup_file.write_text(json.dumps(dup))
    assert _cli(str(dup_file), _f("tiny-v2-pred.json"), "-o", str(tmp_path / "dup-eval.json")) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "1 repeated question id(s) ('m7')" in err and str(dup_file) in err
    # the official script keeps the last occurrence of an id and counts it once: the original file
    assert _cli(_f("tiny-v2.json"), _f("tiny-v2-pred.json"), "-o", str(tmp_path / "eval.json")) == 0
    assert "warning" not in capsys.readouterr().err
    scored = json.loads((tmp_path / "dup-eval.json").read_text())
    assert scored == json.loads((tmp_path / "eval.json").read_text())
    assert scored["total"] == 12


@pytest.mark.parametrize("bad", [float("nan"), 1.5, -0.1, float("inf")])
def test_bad_no_answer_probability_is_an_error_naming_the_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: float
) -> None:
    probs = json.loads((FIX / "tiny-v2-na.json").read_text())
    probs["m5"] = bad
    path = tmp_path / "na.json"
    path.write_text(json.dumps(probs))  # NaN / Infinity as Python's json writes them
    out = tmp_path / "eval.json"
    assert _cli(_f("tiny-v2.json"), _f("tiny-v2-pred.json"), "-n", str(path), "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert "question 'm5'" in err and "[0, 1]" in err and "Traceback" not in err
    assert not out.exists()


def test_unwritable_outputs_fail_before_scoring(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [_f("tiny-v2.json"), _f("tiny-v2-pred.json"), "-n", _f("tiny-v2-na.json")]
    assert _cli(*args, "-o", str(tmp_path / "missing" / "eval.json")) == 2
    err = capsys.readouterr().err
    assert "--out-file" in err and "does not exist" in err
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    images = a_file / "images"  # its parent is a regular file: no directory can be made there
    out = tmp_path / "eval.json"
    assert _cli(*args, "-p", str(images), "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert "--out-image-dir" in err and str(a_file) in err
    assert not out.exists()  # nothing scored or written
