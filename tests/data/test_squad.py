"""Reading and validating SQuAD JSON / hub-style rows: every bad-input case of issue 3."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from lit_distill.data.squad import (
    SquadDataWarning,
    SquadFormatError,
    load_squad_json,
    parse_squad_dict,
)
from lit_distill.data.squad_hub import rows_to_examples

CONTEXT = "Mira Tal built the lantern tower in 1820 near the harbour."


def _good() -> dict[str, Any]:
    return {
        "version": "v2.0",
        "data": [
            {
                "title": "Towers",
                "paragraphs": [
                    {
                        "context": CONTEXT,
                        "qas": [
                            {
                                "id": "q1",
                                "question": "Who built the lantern tower?",
                                "answers": [
                                    {"text": "Mira Tal", "answer_start": 0},
                                    {"text": "Mira", "answer_start": 0},
                                ],
                                "is_impossible": False,
                            },
                            {
                                "id": "q2",
                                "question": "When was the tower built?",
                                "answers": [{"text": "1820", "answer_start": 36}],
                                "is_impossible": False,
                            },
                            {"id": "q3", "question": "Who painted it?", "answers": [], "is_impossible": True},
                        ],
                    }
                ],
            }
        ],
    }


def _write(tmp_path: Path, data: Any, name: str = "d.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_reads_v2_and_keeps_every_gold_answer(tmp_path: Path) -> None:
    loaded = load_squad_json(_write(tmp_path, _good()), version="2.0")
    assert [e.id for e in loaded.examples] == ["q1", "q2", "q3"]
    q1, q2, q3 = loaded.examples
    assert q1.answer_texts == ("Mira Tal", "Mira") and q1.answer_starts == (0, 0)
    assert q1.title == "Towers" and q1.context == CONTEXT and not q1.is_impossible
    assert q2.answer_texts == ("1820",)
    assert q3.is_impossible and q3.answer_texts == ()
    assert loaded.n_articles == 1 and loaded.report.n_misaligned == 0


def test_reads_v11_without_is_impossible_field(tmp_path: Path) -> None:
    data = _good()
    qas = data["data"][0]["paragraphs"][0]["qas"]
    data["data"][0]["paragraphs"][0]["qas"] = [
        {k: v for k, v in qa.items() if k != "is_impossible"} for qa in qas[:2]
    ]
    loaded = load_squad_json(_write(tmp_path, data), version="1.1")
    assert [e.is_impossible for e in loaded.examples] == [False, False]


def test_not_json_names_the_file_and_position(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"data": [', "broken.json")
    with pytest.raises(SquadFormatError, match=r"SQuAD file .*broken\.json: not valid JSON .*line 1"):
        load_squad_json(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="SQuAD file not found"):
        load_squad_json(tmp_path / "nope.json")


def _mutated(path: str, action: str, value: Any = None) -> dict[str, Any]:
    """Apply one change at a dotted path of the good fixture ('del' or 'set')."""
    data = _good()
    keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
    node: Any = data
    for k in keys[:-1]:
        node = node[k]
    if action == "del":
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return data


P = "data.0.paragraphs.0"
Q1 = f"{P}.qas.0"


@pytest.mark.parametrize(
    ("mutation", "pattern"),
    [
        (("data", "del"), r"d\.json: top level must be an object with a 'data' list"),
        (("data", "set", {"x": 1}), r"'data' must be a list"),
        (("data.0.paragraphs", "del"), r"article 'Towers': article has no 'paragraphs' field"),
        ((f"{P}.qas", "del"), r"article 'Towers': paragraph 0 has no 'qas' field"),
        ((f"{P}.context", "del"), r"article 'Towers': paragraph 0 has no 'context' field"),
        ((f"{P}.context", "set", "   "), r"article 'Towers': paragraph 0 has an empty context"),
        ((f"{Q1}.question", "del"), r"article 'Towers', question 'q1': no 'question' field"),
        ((f"{Q1}.id", "del"), r"article 'Towers': paragraph 0: a question has no 'id' field"),
        ((f"{Q1}.answers", "set", []), r"question 'q1': answerable question without answers"),
        (
            (f"{Q1}.answers.0", "set", {"text": "Mira"}),
            r"question 'q1': answer 0 needs 'text' and 'answer_start'",
        ),
        (
            (f"{Q1}.answers.0.answer_start", "set", "0"),
            r"question 'q1': answer 0: 'answer_start' must be an integer",
        ),
        (
            (f"{P}.qas.2.answers", "set", [{"text": "x", "answer_start": 0}]),
            r"question 'q3': unanswerable .* has answers",
        ),
    ],
)
def test_malformed_data_names_file_article_and_question(
    tmp_path: Path, mutation: tuple, pattern: str
) -> None:
    path = _write(tmp_path, _mutated(*mutation))
    with pytest.raises(SquadFormatError, match=pattern):
        load_squad_json(path, version="2.0")


def test_duplicate_question_ids_are_an_error(tmp_path: Path) -> None:
    data = _good()
    data["data"].append(copy.deepcopy(data["data"][0]))
    data["data"][1]["title"] = "Copy"
    with pytest.raises(
        SquadFormatError, match=r"article 'Copy', question 'q1': duplicate question id .*'Towers'"
    ):
        load_squad_json(_write(tmp_path, data))


def test_unanswerable_question_in_a_v11_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SquadFormatError, match=r"question 'q3': unanswerable question .* version 1\.1 run"):
        load_squad_json(_write(tmp_path, _good()), version="1.1")


def test_bad_settings_list_the_valid_choices() -> None:
    with pytest.raises(ValueError, match=r"version must be one of '1\.1', '2\.0', got '3'"):
        parse_squad_dict(_good(), "x", version="3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"on_misaligned must be one of 'skip', 'fail'"):
        parse_squad_dict(_good(), "x", on_misaligned="keep")  # type: ignore[arg-type]


def _misaligned() -> dict[str, Any]:
    data = _good()
    qas = data["data"][0]["paragraphs"][0]["qas"]
    qas[0]["answers"][1]["answer_start"] = 3  # "Mira" is not at 3: one of two answers bad
    qas[1]["answers"][0]["answer_start"] = 30  # the only answer bad: question dropped
    return data


def test_misaligned_answers_skip_with_counted_warning_and_report(tmp_path: Path) -> None:
    with pytest.warns(SquadDataWarning, match=r"skipped 2 misaligned answer\(s\).* dropped 1 question"):
        loaded = load_squad_json(_write(tmp_path, _misaligned()), on_misaligned="skip")
    assert [e.id for e in loaded.examples] == ["q1", "q3"]
    assert loaded.examples[0].answer_texts == ("Mira Tal",)
    report = loaded.report
    assert report.n_misaligned == 2 and report.dropped_question_ids == ["q2"]
    assert [(m.question_id, m.answer_index, m.found) for m in report.misaligned] == [
        ("q1", 1, "a Ta"),
        ("q2", 0, "er i"),
    ]
    assert report.to_dict()["misaligned_answers"] == 2


def test_misaligned_answers_fail_setting_raises(tmp_path: Path) -> None:
    with pytest.raises(
        SquadFormatError, match=r"question 'q1': answer 1 'Mira': answer_start 3 points at 'a Ta'"
    ):
        load_squad_json(_write(tmp_path, _misaligned()), on_misaligned="fail")


def _rows() -> list[dict[str, Any]]:
    return [
        {
            "id": "a",
            "title": "T",
            "context": CONTEXT,
            "question": "Who?",
            "answers": {"text": ["Mira Tal"], "answer_start": [0]},
        },
        {
            "id": "b",
            "title": "T",
            "context": CONTEXT,
            "question": "Who else?",
            "answers": {"text": [], "answer_start": []},
        },
    ]


def test_hub_rows_convert_to_the_same_examples() -> None:
    loaded = rows_to_examples(_rows(), "hub", "2.0", "skip")
    assert [(e.id, e.answer_texts, e.is_impossible) for e in loaded.examples] == [
        ("a", ("Mira Tal",), False),
        ("b", (), True),
    ]
    with pytest.raises(
        SquadFormatError, match=r"hub, article 'T', question 'b': answerable question without answers"
    ):
        rows_to_examples(_rows(), "hub", "1.1", "skip")
    with pytest.raises(SquadFormatError, match=r"row 0 lacks column\(s\) \['answers'\]"):
        rows_to_examples([{"id": "a", "question": "q", "context": "c"}], "hub", "2.0", "skip")


def test_load_hub_squad_reads_a_local_dataset_directory(tmp_path: Path) -> None:
    from lit_distill.data.squad_hub import load_hub_squad

    json_path = tmp_path / "rows.jsonl"
    json_path.write_text("\n".join(json.dumps(r) for r in _rows()))
    loaded = load_hub_squad(
        "json", split="train", version="2.0", data_files=str(json_path), cache_dir=str(tmp_path / "c")
    )
    assert [e.id for e in loaded.examples] == ["a", "b"]
