"""Synthetic SQuAD-2.0 data and the offline tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_distill.data.synthetic import generate_squad_json, make_synthetic_dataset


def _questions(data: dict) -> list[tuple[str, dict]]:
    return [(p["context"], qa) for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]]


def test_generate_is_deterministic_and_seed_dependent() -> None:
    a = generate_squad_json(60, seed=3)
    assert a == generate_squad_json(60, seed=3)
    assert a != generate_squad_json(60, seed=4)


def test_generated_answers_point_at_their_text() -> None:
    data = generate_squad_json(400, seed=1)
    qs = _questions(data)
    assert len(qs) == 400
    n_impossible = 0
    lengths = set()
    for context, qa in qs:
        if qa["is_impossible"]:
            n_impossible += 1
            assert qa["answers"] == []
            continue
        (answer,) = qa["answers"]
        start = answer["answer_start"]
        assert context[start : start + len(answer["text"])] == answer["text"]
        lengths.add(len(answer["text"].split()))
    assert 0.2 < n_impossible / len(qs) < 0.5
    assert lengths == {1, 2, 3, 4, 5}
    assert len({qa["id"] for _, qa in qs}) == len(qs)
    assert all(a["title"] for a in data["data"])


@pytest.mark.parametrize("bad", [{"n_questions": 0}, {"n_questions": 5, "long_fraction": 1.5}])
def test_generate_rejects_bad_arguments(bad: dict) -> None:
    with pytest.raises(ValueError, match="must be"):
        generate_squad_json(**bad)


def test_make_synthetic_dataset_writes_splits_and_a_loadable_tokenizer(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    paths = make_synthetic_dataset(tmp_path / "a", n_train=80, n_dev=30, n_search=20, seed=0, vocab_size=400)
    splits = {k: json.loads(paths[k].read_text()) for k in ("train", "dev", "search")}
    assert [len(_questions(splits[k])) for k in ("train", "dev", "search")] == [80, 30, 20]
    dev_ids = {qa["id"] for _, qa in _questions(splits["dev"])}
    search_ids = {qa["id"] for _, qa in _questions(splits["search"])}
    assert not dev_ids & search_ids
    assert {c for c, _ in _questions(splits["dev"])}.isdisjoint({c for c, _ in _questions(splits["search"])})

    tok = AutoTokenizer.from_pretrained(str(paths["tokenizer"]))
    assert tok.is_fast
    assert tok.cls_token_id == 2 and tok.pad_token_id == 0
    context, qa = _questions(splits["train"])[0]
    enc = tok(qa["question"], context, return_offsets_mapping=True)
    assert tok.unk_token_id not in enc["input_ids"]
    tokens = tok.convert_ids_to_tokens(enc["input_ids"])
    assert tokens[0] == "[CLS]" and tokens.count("[SEP]") == 2

    again = make_synthetic_dataset(tmp_path / "b", n_train=80, n_dev=30, n_search=20, seed=0, vocab_size=400)
    for key in ("train", "dev", "search"):
        assert paths[key].read_bytes() == again[key].read_bytes()
    tok_a = (paths["tokenizer"] / "tokenizer.json").read_text()
    assert tok_a == (again["tokenizer"] / "tokenizer.json").read_text()
