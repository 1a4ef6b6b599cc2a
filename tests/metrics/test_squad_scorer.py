"""The scorer against numbers produced by the official evaluate-v2.0.py on fixtures written for the project.

The ``expected-*.json`` files were made once by running the official script
(outside this repository) on the fixture data, predictions and no-answer files
next to them, e.g.
``python evaluate-v2.0.py tiny-v2.json tiny-v2-pred.json -n tiny-v2-na.json -t 0.5 -o expected-tiny-v2-na-t05.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_distill.metrics.squad import compute_exact, compute_f1, normalize_answer, squad_evaluate

FIX = Path(__file__).parent / "fixtures"


def _gold(name: str) -> dict[str, list[str]]:
    data = json.loads((FIX / name).read_text())
    return {
        qa["id"]: [a["text"] for a in qa["answers"]]
        for art in data["data"]
        for p in art["paragraphs"]
        for qa in p["qas"]
    }


def _load(name: str) -> dict:
    return json.loads((FIX / name).read_text())


@pytest.mark.parametrize(
    ("data", "pred", "na", "thresh", "expected"),
    [
        ("tiny-v2.json", "tiny-v2-pred.json", None, 1.0, "expected-tiny-v2.json"),
        ("tiny-v2.json", "tiny-v2-pred.json", "tiny-v2-na.json", 1.0, "expected-tiny-v2-na.json"),
        ("tiny-v2.json", "tiny-v2-pred.json", "tiny-v2-na.json", 0.5, "expected-tiny-v2-na-t05.json"),
        ("tiny-v1.1.json", "tiny-v1.1-pred.json", None, 1.0, "expected-tiny-v1.1.json"),
        ("syn40-v2.json", "syn40-pred.json", "syn40-na.json", 1.0, "expected-syn40-na.json"),
        ("syn40-v2.json", "syn40-pred.json", "syn40-na.json", 0.3, "expected-syn40-na-t03.json"),
    ],
)
def test_matches_the_official_script_exactly(
    data: str, pred: str, na: str | None, thresh: float, expected: str
) -> None:
    out = squad_evaluate(_gold(data), _load(pred), _load(na) if na else None, na_prob_thresh=thresh)
    want = _load(expected)
    assert list(out) == list(want)  # same keys, same order
    assert out == want  # bit-identical floats


def test_normalisation_and_token_f1() -> None:
    assert normalize_answer("The  Quick, brown fox!") == "quick brown fox"
    assert normalize_answer("an apple a day") == "apple day"
    assert compute_exact("Asa Morrow", "asa morrow.") == 1
    assert compute_f1("cheese, rope and lamps", "rope and cheese") == pytest.approx(2 * 1.0 * 0.75 / 1.75)
    assert compute_f1("", "") == 1 and compute_f1("", "x") == 0 and compute_f1("the", "") == 1


def test_missing_predictions_are_reported_and_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    gold = _gold("syn40-v2.json")
    preds = _load("syn40-pred-missing.json")
    (missing,) = set(gold) - set(preds)
    out = squad_evaluate(gold, preds)
    assert f"Missing prediction for {missing}" in capsys.readouterr().err
    assert out["total"] == 39
    complete = squad_evaluate({k: v for k, v in gold.items() if k != missing}, preds)
    assert out["exact"] == complete["exact"] and out["f1"] == complete["f1"]
    assert out["HasAns_total"] + out["NoAns_total"] == 39


def test_best_scores_of_a_partly_predicted_file_are_percentages_of_the_scored_questions() -> None:
    # A validation limited to a few batches predicts a few questions of a SQuAD 2.0 file: the
    # unanswerable questions nobody predicted must not count in best_exact / best_f1 (they
    # once did, giving best_exact 661.88 with 160 questions scored).
    gold = {"a": ["x"], "b": [], "c": [], "d": [], "e": [], "f": []}
    preds = {"a": "x", "b": "y"}
    na = {"a": 0.1, "b": 0.9}
    out = squad_evaluate(gold, preds, na, report_missing=False)
    alone = squad_evaluate({"a": ["x"], "b": []}, preds, na)
    assert out["best_exact"] == alone["best_exact"] == 100.0  # a answered, b left empty above 0.1
    assert out["best_f1"] == alone["best_f1"] == 100.0
    assert out["best_f1_thresh"] == alone["best_f1_thresh"] == 0.1
    worst = squad_evaluate(gold, {"a": "z", "b": "y"}, {"a": 0.5, "b": 0.1}, report_missing=False)
    assert 0.0 <= worst["best_exact"] <= 100.0 and worst["best_exact"] == 50.0  # b right only when empty


def test_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="no prediction matches a question id"):
        squad_evaluate({"a": ["x"]}, {"b": "x"}, report_missing=False)
    with pytest.raises(ValueError, match=r"no-answer probabilities lack 1 predicted id\(s\), e\.g\. 'a'"):
        squad_evaluate({"a": ["x"]}, {"a": "x"}, {"b": 0.2})
