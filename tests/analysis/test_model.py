"""Every table of one model on the hand-written fixture, against hand-counted numbers.

The fixture (fixtures/tiny-v2.json) has two topics. Teacher predictions, by hand
(default mostly-correct F1 0.5):

    Alpha_topic  a1 correct   a2 mostly_correct (F1 0.8)  a3 mostly_wrong  a4 label_has_answer
                 a5 label_has_no_answer  a6 correct  a7 mostly_correct (F1 0.5, tie)
                 a8 correct (third gold)  a9 mostly_correct (F1 0.8 via the second gold)
    Beta_topic   b1 correct  b2 correct  b3 mostly_correct (F1 0.667)  b4 mostly_wrong (F1 0.286)
                 b5 label_has_no_answer  b6 no prediction;  plus one prediction for an unknown id.
"""

from __future__ import annotations

import json

import pytest

from lit_distill.analysis.categories import CATEGORIES
from lit_distill.analysis.inputs import AnalysisInputError, load_dataset, parse_dataset
from lit_distill.analysis.model import analyze_model
from lit_distill.metrics.squad import squad_evaluate

from .helpers import DATA, TEACHER, TEACHER_NA, counts

C = CATEGORIES  # correct, mostly_correct, mostly_wrong, label_has_answer, label_has_no_answer


def _teacher(**kw: object):  # type: ignore[no-untyped-def]
    dataset = load_dataset(DATA)
    preds = json.loads(TEACHER.read_text())
    return dataset, analyze_model(dataset, preds, "teacher", **kw)  # type: ignore[arg-type]


def _rows(model, cut: str, view: str = "given") -> dict[str, tuple[object, ...]]:  # type: ignore[no-untyped-def]
    return {r["group"]: counts(r, C) for r in model.views[view].tables[cut]}


def test_dataset_reading() -> None:
    dataset = load_dataset(DATA)
    assert dataset.version == "2.0" and dataset.topics() == ["Alpha_topic", "Beta_topic"]
    assert len(dataset.questions) == 15 and dataset.questions[7].answers == (
        "1999",
        "in 1999",
        "the year 1999",
    )


def test_overall_and_topics() -> None:
    _, m = _teacher()
    #                      (answered, missing, correct, mostly_c, mostly_w, label_has_ans, label_has_no_ans)
    assert _rows(m, "overall") == {"(all)": (14, 1, 5, 4, 2, 1, 2)}
    assert _rows(m, "topic") == {"Alpha_topic": (9, 0, 3, 3, 1, 1, 1), "Beta_topic": (5, 1, 2, 1, 1, 0, 1)}
    overall = m.views["given"].tables["overall"][0]
    assert overall["exact"] == pytest.approx(100 * 5 / 14)
    f1s = [1, 0.8, 0, 0, 0, 1, 0.5, 1, 0.8, 1, 1, 2 / 3, 2 * (1 / 6) / (1 + 1 / 6), 0]
    assert overall["f1"] == pytest.approx(100 * sum(f1s) / 14)
    assert m.problems == {"unknown_ids": ["zz-unknown"], "missing_ids": ["b6"], "empty_on_v1": []}
    assert set(m.views) == {"given"}  # no probabilities: no best-threshold view


def test_question_word_answer_and_context_length() -> None:
    _, m = _teacher()
    assert _rows(m, "question_word") == {
        "what": (4, 0, 3, 1, 0, 0, 0),  # a1 a8 a9 b1
        "who": (3, 0, 1, 1, 1, 0, 0),  # a2 b2(whose) b4
        "when": (1, 1, 0, 0, 1, 0, 0),  # a3, b6 missing
        "how many": (1, 0, 0, 0, 0, 1, 0),
        "which": (1, 0, 0, 0, 0, 0, 1),
        "why": (1, 0, 1, 0, 0, 0, 0),
        "other": (3, 0, 0, 2, 0, 0, 1),  # a7 (where) b3 (how much) b5 (no question word)
    }
    assert _rows(m, "answer_length") == {  # empty bin 11+ left out; "no answer" last
        "1": (3, 0, 1, 1, 0, 1, 0),  # a4 a8 a9
        "2": (4, 1, 2, 2, 0, 0, 0),  # a1 a2 a7 b1, b6 missing
        "3": (1, 0, 0, 0, 1, 0, 0),  # a3
        "4-5": (1, 0, 0, 1, 0, 0, 0),  # b3
        "6-10": (1, 0, 0, 0, 1, 0, 0),  # b4
        "no answer": (4, 0, 2, 0, 0, 0, 2),  # a5 a6 b2 b5
    }
    # Alpha's paragraph has 18 words, Beta's 168
    assert _rows(m, "context_length") == {
        "1-100": (9, 0, 3, 3, 1, 1, 1),
        "151-200": (5, 1, 2, 1, 1, 0, 1),
    }
    _, m = _teacher(context_edges=(17, 18, 168))
    assert list(_rows(m, "context_length")) == ["18", "19-168"]  # inclusive upper edges


def test_threshold_changes_categories() -> None:
    _, m = _teacher(mostly_correct_f1=0.75)  # a7 (0.5) and b3 (0.667) drop to mostly wrong
    assert _rows(m, "overall") == {"(all)": (14, 1, 5, 2, 4, 1, 2)}
    # wrong non-empty answers to answerable questions: F1 0.8 (a2), 0 (a3), 0.5 (a7), 0.8 (a9), 0.667 (b3), 0.286 (b4)
    assert m.views["given"].mostly_correct_sweep == {
        "0.1": 5, "0.2": 5, "0.3": 4, "0.4": 4, "0.5": 4, "0.6": 3, "0.7": 2, "0.8": 2, "0.9": 0
    }  # fmt: skip


def test_no_answer_probabilities_given_and_best_threshold() -> None:
    probs = json.loads(TEACHER_NA.read_text())
    _, m = _teacher(na_probs=probs, na_prob_thresh=0.75)
    # above 0.75: a3 (answerable -> label_has_answer), a4 (already empty), a6 and b5 (unanswerable -> correct)
    assert _rows(m, "overall") == {"(all)": (14, 1, 6, 4, 1, 2, 1)}
    best = m.views["best_threshold"]
    assert best.threshold == 0.15  # hand sweep: b1, a1, a8 answered, everything else "no answer"
    assert _rows(m, "overall", "best_threshold") == {"(all)": (14, 1, 7, 0, 0, 7, 0)}
    assert (
        best.tables["overall"][0]["exact"] == pytest.approx(m.views["given"].official["best_exact"]) == 50.0
    )


@pytest.mark.parametrize("thresh", [1.0, 0.75, 0.3])
def test_overall_exact_equals_the_official_scorer(thresh: float) -> None:
    dataset, m = _teacher(na_probs=json.loads(TEACHER_NA.read_text()), na_prob_thresh=thresh)
    preds = json.loads(TEACHER.read_text())
    official = squad_evaluate(
        dataset.gold(), preds, json.loads(TEACHER_NA.read_text()), thresh, report_missing=False
    )
    row = m.views["given"].tables["overall"][0]
    assert row["exact"] == official["exact"] and row["f1"] == official["f1"]  # bit-identical sums
    assert row["questions"] == official["total"]


def test_empty_predictions() -> None:
    dataset = load_dataset(DATA)
    everything_empty = {q.id: "" for q in dataset.questions}
    m = analyze_model(dataset, everything_empty, "empty")
    # 11 answerable -> label_has_answer, 4 unanswerable (a5 a6 b2 b5) -> correct
    assert _rows(m, "overall") == {"(all)": (15, 0, 4, 0, 0, 11, 0)}
    with pytest.raises(AnalysisInputError, match="no prediction matches a question id"):
        analyze_model(dataset, {}, "nothing", predictions_path="preds.json")
    with pytest.raises(AnalysisInputError, match=r"lack 1 predicted question id\(s\), e.g. 'a2'"):
        analyze_model(dataset, {"a1": "x", "a2": "y"}, "m", na_probs={"a1": 0.1}, na_probs_path="na.json")


def test_squad_1_1_with_a_2_0_prediction_set() -> None:
    raw = json.loads(DATA.read_text())
    raw["version"] = "1.1"
    for article in raw["data"]:
        for para in article["paragraphs"]:
            para["qas"] = [qa for qa in para["qas"] if qa["answers"]]
    dataset = parse_dataset(raw, "v1.json")
    assert dataset.version == "1.1"
    m = analyze_model(dataset, json.loads(TEACHER.read_text()), "teacher")
    assert m.problems["empty_on_v1"] == ["a4"]
    row = m.views["given"].tables["overall"][0]
    assert set(row) >= {"correct", "mostly_correct", "mostly_wrong"} and "label_has_answer" not in row
    # answerable teacher answers: a1 a8 b1 correct; a2 a7 a9 b3 mostly correct; a3 a4(empty) b4 mostly wrong
    assert (row["questions"], row["correct"], row["mostly_correct"], row["mostly_wrong"]) == (10, 3, 4, 3)
