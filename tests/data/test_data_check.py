"""``data-check``: counts and answer recall on the project's synthetic data; clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_distill.commands.data_check import load_tokenizer, main


def test_counts_and_answer_recall(
    synthetic_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    argv = ["--data", str(synthetic_dir / "train.json"), "--tokenizer", str(synthetic_dir / "tokenizer")]
    assert (
        main(
            [
                *argv,
                "--max-seq-length",
                "64",
                "--doc-stride",
                "16",
                "--max-query-length",
                "40",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads(out.read_text())
    data = json.loads((synthetic_dir / "train.json").read_text())
    qas = [qa for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]]
    assert report["version"] == "2.0"
    assert report["articles"] == len(data["data"])
    assert report["questions"] == len(qas) == 120
    assert report["unanswerable"] == sum(qa["is_impossible"] for qa in qas)
    assert report["features"] > report["questions"]  # 64-token windows split the long contexts
    assert report["features_per_example"]["max"] >= 2
    assert report["misaligned_answers"] == 0 and report["truncated_questions"] == 0
    assert report["answer_recall"] == 1.0  # whole-word answers, WordPiece never splits them badly


def test_recall_drops_when_answers_are_too_long(
    synthetic_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--data", str(synthetic_dir / "train.json"), "--tokenizer", str(synthetic_dir / "tokenizer")]
    assert main([*argv, "--max-answer-length", "4"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0.0 < report["answer_recall"] < 1.0


def test_misaligned_and_truncated_are_counted(
    tmp_path: Path, synthetic_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads((synthetic_dir / "dev.json").read_text())
    qas = [qa for a in data["data"] for p in a["paragraphs"] for qa in p["qas"] if qa["answers"]]
    qas[0]["answers"][0]["answer_start"] += 1
    qas[1]["question"] = "Who " + "really " * 40 + "knows?"
    path = tmp_path / "d.json"
    path.write_text(json.dumps(data))
    assert (
        main(
            ["--data", str(path), "--tokenizer", str(synthetic_dir / "tokenizer"), "--max-query-length", "40"]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["misaligned_answers"] == 1 and report["dropped_questions"] == 1
    assert report["misaligned"][0]["question_id"] == qas[0]["id"]
    assert report["truncated_questions"] == 1
    assert (
        main(
            ["--data", str(path), "--tokenizer", str(synthetic_dir / "tokenizer"), "--on-misaligned", "fail"]
        )
        == 2  # a user error (was 1)
    )
    assert f"question {qas[0]['id']!r}" in capsys.readouterr().err


def test_bad_input_and_usage(tmp_path: Path, synthetic_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tok = str(synthetic_dir / "tokenizer")
    # bad input is exit code 2 with one message, like every other user error (was 1)
    assert main(["--data", str(tmp_path / "none.json"), "--tokenizer", tok]) == 2
    assert "SQuAD file not found" in capsys.readouterr().err
    assert (
        main(["--data", str(synthetic_dir / "dev.json"), "--tokenizer", str(tmp_path / "no-such-dir")]) == 2
    )
    assert "cannot load tokenizer" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text(
        '{"data": [{"title": "T", "paragraphs": [{"context": "abc", "qas": [{"question": "q"}]}]}]}'
    )
    assert main(["--data", str(broken), "--tokenizer", tok]) == 2
    err = capsys.readouterr().err
    assert err.startswith("data-check: error: ") and "broken.json" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        main(["--tokenizer", tok])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["--data", "x", "--tokenizer", tok, "--max-seq-length", "0"])
    assert exc.value.code == 2


def test_a_vocab_txt_loads_its_whole_vocabulary(tmp_path: Path) -> None:
    # transformers 5's BertTokenizerFast ignores vocab_file= and keeps only the special tokens
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "##s"]
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(words) + "\n")
    tok = load_tokenizer(str(vocab))
    assert len(tok) == len(words)
    assert tok.convert_ids_to_tokens(tok("the cats sat")["input_ids"]) == [
        "[CLS]",
        "the",
        "cat",
        "##s",
        "sat",
        "[SEP]",
    ]
