"""tests/reference/hf_reference.py on a tiny SQuAD 2.0 split with a tiny random encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lit_distill.replicate.inputs import split_by_article
from tests.reference.hf_reference import decode, main, read_examples, tokenize


def test_features_point_at_the_answer_tokens_or_cls(tiny_encoder: Path, tiny_squad: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_encoder))
    examples = read_examples(json.loads(tiny_squad.read_text()))[:6]
    feats = tokenize(examples, tokenizer, max_len=16, stride=4)
    assert len(feats["input_ids"]) > len(examples)  # long contexts overflow into several windows
    found = set()
    for f, e in enumerate(feats["example_index"]):
        s, t = int(feats["start_positions"][f]), int(feats["end_positions"][f])
        if s == 0:
            assert t == 0
            continue
        text = tokenizer.decode(feats["input_ids"][f][s : t + 1])
        assert text == examples[e]["answer_texts"][0]
        found.add(e)
    assert found == {i for i, e in enumerate(examples) if e["answer_texts"]}  # every answer in some window


def test_decode_takes_the_best_span_or_no_answer() -> None:
    examples = [{"id": "a", "context": "red green blue"}, {"id": "b", "context": "red green blue"}]
    offsets = [None, (0, 3), (4, 9), (10, 14)]
    feats = {"example_index": [0, 1], "offsets": [offsets, offsets]}
    start = np.array([[0.0, 0.0, 5.0, 0.0], [9.0, 0.0, 1.0, 0.0]])  # (F, L)
    end = np.array([[0.0, 0.0, 0.0, 4.0], [9.0, 0.0, 1.0, 0.0]])
    predictions, odds = decode(examples, feats, start, end, "2.0")
    assert predictions == {"a": "green blue", "b": ""}
    assert odds["a"] == pytest.approx(1 / (1 + np.exp(9.0))) and odds["b"] == pytest.approx(
        1 / (1 + np.exp(-16.0))
    )
    assert decode(examples, feats, start, end, "1.1")[0]["b"] == "green"


def test_hf_reference_trains_scores_and_summarises_seeds(
    tiny_encoder: Path, tiny_squad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, heldout = split_by_article(tiny_squad, ["A6", "A7"], tmp_path)
    out = tmp_path / "hf.json"
    args = ["--train", str(train), "--eval", str(heldout), "--encoder", str(tiny_encoder), "--seeds", "1,2"]
    args += [
        "--epochs",
        "1",
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--max-seq-length",
        "48",
        "--doc-stride",
        "16",
    ]
    assert main([*args, "--output", str(out), "--threads", "1"]) == 0
    summary = json.loads(out.read_text())
    assert [r["seed"] for r in summary["runs"]] == [1, 2] and summary["version"] == "2.0"
    for run in summary["runs"]:
        assert run["total"] == 12 and run["HasAns_total"] == 6 and run["steps"] == 2
    f1 = [r["f1"] for r in summary["runs"]]
    assert summary["f1_mean"] == pytest.approx(sum(f1) / 2)
    assert "seed 1: EM" in capsys.readouterr().out
    assert main([*args[:6], "--seeds", "x"]) == 2
    assert main([*args[:2], "--eval", str(tmp_path / "missing.json"), *args[4:]]) == 2
    assert "--eval" in capsys.readouterr().err
