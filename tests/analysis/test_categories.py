"""The category rule and the cuts on hand-made strings."""

from __future__ import annotations

import pytest

from lit_distill.analysis.categories import categories_for, classify, score_predictions
from lit_distill.analysis.cuts import (
    answer_length,
    bin_labels,
    check_edges,
    context_length,
    length_bin,
    question_word,
)


@pytest.mark.parametrize(
    ("answers", "prediction", "category", "exact", "f1"),
    [
        (["the lazy dog"], "Lazy dog.", "correct", 1.0, 1.0),  # normalisation: case, article, punctuation
        (["red fox"], "red fox jumped", "mostly_correct", 0.0, 0.8),  # one extra word
        (["in the early morning"], "near the river", "mostly_wrong", 0.0, 0.0),
        (["one"], "", "label_has_answer", 0.0, 0.0),
        (["one"], " . ", "label_has_answer", 0.0, 0.0),  # normalises to nothing = "no answer"
        ([], "the dog", "label_has_no_answer", 0.0, 0.0),
        ([], "", "correct", 1.0, 1.0),
        ([], "the", "correct", 1.0, 1.0),  # official: normalises to "" like the empty gold
    ],
)
def test_each_category(answers: list[str], prediction: str, category: str, exact: float, f1: float) -> None:
    scored = classify(answers, prediction)
    assert (scored.category, scored.exact) == (category, exact)
    assert scored.f1 == pytest.approx(f1)


def test_tie_at_the_threshold_is_mostly_correct() -> None:
    # gold {river, bank}, prediction {river, side}: precision = recall = 1/2, F1 exactly 0.5
    assert classify(["river bank"], "river side").f1 == 0.5
    assert classify(["river bank"], "river side", mostly_correct_f1=0.5).category == "mostly_correct"
    assert classify(["river bank"], "river side", mostly_correct_f1=0.51).category == "mostly_wrong"
    # F1 = 2·(2/3)·1 / (2/3 + 1) = 0.8 up to float rounding: still a tie at 0.8
    assert classify(["red fox"], "red fox jumped", mostly_correct_f1=0.8).category == "mostly_correct"
    assert classify(["red fox"], "red fox jumped", mostly_correct_f1=0.81).category == "mostly_wrong"


def test_multiple_gold_answers_take_the_best() -> None:
    # exact against the third gold ("year 1999" after normalisation), not the first
    assert classify(["1999", "in 1999", "the year 1999"], "year 1999").category == "correct"
    # F1 0.667 against "red", 0.8 against "bright red colour": the maximum decides
    scored = classify(["red", "bright red colour"], "red colour", mostly_correct_f1=0.75)
    assert scored.f1 == pytest.approx(0.8) and scored.category == "mostly_correct"
    assert classify(["red"], "red colour", mostly_correct_f1=0.75).category == "mostly_wrong"


def test_squad_1_1_has_no_no_answer_categories() -> None:
    assert categories_for("1.1") == ("correct", "mostly_correct", "mostly_wrong")
    assert len(categories_for("2.0")) == 5
    assert classify(["one"], "", version="1.1").category == "mostly_wrong"


def test_no_answer_threshold_overrides_the_answer() -> None:
    gold = {"x": ["red fox"], "y": [], "z": ["dog"]}
    preds = {"x": "red fox", "y": "a cat", "z": "dog"}
    probs = {"x": 0.9, "y": 0.8, "z": 0.5}
    scored = score_predictions(gold, preds, na_probs=probs, na_prob_thresh=0.5)
    assert [scored[q].category for q in "xyz"] == ["label_has_answer", "correct", "correct"]
    assert scored["x"].thresholded and scored["x"].prediction == "" and not scored["z"].thresholded
    assert "w" not in score_predictions({**gold, "w": ["a"]}, preds)  # no prediction: left out


@pytest.mark.parametrize(
    ("question", "word"),
    [
        ("What did the fox jump over?", "what"),
        ("In what year was it?", "what"),  # first question word, not first word
        ("The Normans came from which country?", "which"),
        ("WHO built it", "who"),
        ("Whose ship sank?", "who"),
        ("To whom was it given?", "who"),
        ("When did it sail?", "when"),
        ("How many foxes were there?", "how many"),
        ("How much cargo was loaded?", "other"),
        ("How did it end?", "other"),
        ("Where is the bank?", "other"),
        ("Why was the dog sleeping?", "why"),
        ("Name the harbour.", "other"),
        ("", "other"),
        ("When and why did it happen?", "when"),
        ("What's the name?", "other"),  # "what's" is one token, not a question word
    ],
)
def test_question_word(question: str, word: str) -> None:
    assert question_word(question) == word


def test_lengths_and_bins() -> None:
    assert answer_length(["the lazy dog", "lazy dog"]) == 2  # first gold, normalised
    assert (
        answer_length([" . ", "Captain Orla Venn of the northern guild"]) == 6
    )  # skips a gold that is empty
    assert answer_length([]) is None
    assert context_length("one  two\nthree") == 3
    assert bin_labels((1, 2, 3, 5, 10)) == ["1", "2", "3", "4-5", "6-10", "11+"]
    edges = (1, 2, 3, 5, 10)
    assert [length_bin(n, edges) for n in (0, 1, 2, 3, 4, 5, 6, 10, 11, 99)] == [
        "1", "1", "2", "3", "4-5", "4-5", "6-10", "6-10", "11+", "11+"
    ]  # fmt: skip
    assert length_bin(None, edges) == "no answer"
    assert length_bin(100, (100, 150)) == "1-100" and length_bin(101, (100, 150)) == "101-150"
    for bad in ((), (0, 5), (5, 5), (10, 5)):
        with pytest.raises(ValueError, match="strictly increasing"):
            check_edges(bad, "--answer-bins")
