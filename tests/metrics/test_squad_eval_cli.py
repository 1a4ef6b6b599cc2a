"""``squad-eval``: same arguments and output as the official evaluate-v2.0.py (numbers made by it, see fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_distill.metrics.squad_eval import main

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
    assert main([str(bad), _f("tiny-v2-pred.json")]) == 1
    assert "data file" in (err := capsys.readouterr().err) and "not valid JSON (" in err
    assert main([_f("tiny-v2.json"), str(tmp_path / "missing.json")]) == 1
    assert "prediction file not found" in capsys.readouterr().err
    nums = tmp_path / "nums.json"
    nums.write_text(json.dumps({"m1": 3}))
    assert main([_f("tiny-v2.json"), str(nums)]) == 1
    assert "question 'm1' maps to 3; expected an answer string" in capsys.readouterr().err
    probs = tmp_path / "p.json"
    probs.write_text(json.dumps({"m1": "high"}))
    assert main([_f("tiny-v2.json"), _f("tiny-v2-pred.json"), "-n", str(probs)]) == 1
    assert "expected a number" in capsys.readouterr().err
    shape = tmp_path / "shape.json"
    shape.write_text(json.dumps({"data": [{"title": "T"}]}))
    assert main([str(shape), _f("tiny-v2-pred.json")]) == 1
    assert "article 'T': no 'paragraphs' list" in capsys.readouterr().err


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([_f("tiny-v2.json")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main([_f("tiny-v2.json"), _f("tiny-v2-pred.json"), "-t", "x"])
    assert exc.value.code == 2
