"""Fixtures of the replicate tests (and tests/reference/): a tiny random BERT directory and a tiny SQuAD 2.0 split."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from lit_distill.commands.replicate import build_parser
from lit_distill.replicate.driver import replicate

_THINGS = ["river", "castle", "engine", "garden", "bridge", "harbour", "temple", "market"]
_PLACES = ["north", "south", "east", "west", "valley", "island", "forest", "desert"]
_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORDS = ["the", "is", "in", "what", "where", "who", "built", "old", "a", "?", ".", "by", "people", "was"]


def _article(title: str, rng: random.Random, qid: list[int]) -> dict[str, object]:
    paragraphs = []
    for _ in range(3):
        thing, place, other = rng.choice(_THINGS), rng.choice(_PLACES), rng.choice(_THINGS)
        context = f"the old {thing} is in the {place} . the {other} was built by people ."
        start = context.index(f"the {place}") + len("the ")
        qas = [
            {
                "id": f"q{qid[0]}",
                "question": f"where is the {thing} ?",
                "answers": [{"text": place, "answer_start": start}],
                "is_impossible": False,
            },
            {
                "id": f"q{qid[0] + 1}",
                "question": f"where is the {rng.choice([t for t in _THINGS if t not in (thing, other)])} ?",
                "answers": [],
                "plausible_answers": [{"text": place, "answer_start": start}],
                "is_impossible": True,
            },
        ]
        qid[0] += 2
        paragraphs.append({"context": context, "qas": qas})
    return {"title": title, "paragraphs": paragraphs}


@pytest.fixture(scope="session")
def tiny_squad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``squad.json``: 8 articles (A0..A7) of 6 questions each, half unanswerable (SQuAD 2.0)."""
    where = tmp_path_factory.mktemp("squad")
    rng, qid = random.Random(0), [0]
    data = {"version": "v2.0", "data": [_article(f"A{i}", rng, qid) for i in range(8)]}
    path = where / "squad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 4-layer, 32-wide BertModel directory with a WordPiece tokenizer over the fixture's words."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    where = tmp_path_factory.mktemp("encoder")
    vocab = where / "vocab.txt"
    vocab.write_text("\n".join(_SPECIAL + _WORDS + _THINGS + _PLACES) + "\n")
    BertTokenizerFast(
        vocab={w: i for i, w in enumerate(vocab.read_text().split())}, do_lower_case=True
    ).save_pretrained(str(where))
    config = BertConfig(
        vocab_size=len(_SPECIAL + _WORDS + _THINGS + _PLACES),
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(str(where))
    return where


def run_replicate(argv: list[str]) -> int:
    """``python -m lit_distill replicate ARGV`` with every stage run in this process (fast, and coverable)."""
    from lit_distill.__main__ import main

    return replicate(build_parser().parse_args(argv), in_process=main)
