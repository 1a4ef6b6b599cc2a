"""``predict`` / ``answer`` / ``QuestionAnswerer`` on the HF, ONNX and INT8 exports of a trained tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lit_distill.__main__ import main as dispatch
from lit_distill.commands.squad_eval import main as squad_eval
from lit_distill.inference import QuestionAnswerer

ROOT = Path(__file__).resolve().parents[2]
KINDS = ["hf", "onnx", "int8"]


def manifest(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "lit_distill_export.json").read_text())


@pytest.mark.parametrize("kind", KINDS)
def test_predict_scores_what_export_reported(
    kind: str, exports: dict[str, Path], trained: dict[str, Path], tmp_path: Path
) -> None:
    directory = exports[kind]
    preds, probs = tmp_path / "predictions.json", tmp_path / "null_odds.json"
    argv = ["predict", str(directory), "--data", str(trained["dev"]), "--output", str(preds)]
    assert dispatch([*argv, "--na-prob-file", str(probs), "--threads", "1"]) == 0
    answers = json.loads(preds.read_text())
    assert len(answers) == 12 and set(json.loads(probs.read_text())) == set(answers)
    assert 3 <= sum(1 for a in answers.values() if a) <= 9  # spans and "no answer" both decoded
    scores = tmp_path / "eval.json"
    assert squad_eval([str(trained["dev"]), str(preds), "-n", str(probs), "-o", str(scores)]) == 0
    got = json.loads(scores.read_text())
    card = (directory / "README.md").read_text()
    for key, label in (("exact", "EM"), ("f1", "F1"), ("HasAns_f1", "HasAns F1"), ("NoAns_f1", "NoAns F1")):
        assert f"| {label} | {got[key]:.2f} |" in card, (key, got[key])


def test_export_records_the_decoding_and_the_tuned_threshold(
    exports: dict[str, Path], trained: dict[str, Path]
) -> None:
    import torch

    checkpoint = torch.load(trained["ckpt"], weights_only=False)
    tuned = checkpoint["lit_distill"]["tuned_null_score_diff_threshold"]
    data = checkpoint["datamodule_hyper_parameters"]
    windows = (data["max_seq_length"], data["doc_stride"])  # training's validation windows
    m = manifest(exports["tuned"])
    assert m["null_score_diff_threshold"] == tuned["null_score_diff_threshold"]
    assert "validation" in m["threshold_source"]
    for kind in KINDS:
        m = manifest(exports[kind])
        assert m["squad_version"] == "2.0" and m["manifest_version"] == 2
        assert m["threshold_source"] == "--null-score-diff-threshold"
        assert (m["max_seq_length"], m["doc_stride"]) == windows
        assert "README.md" not in m["files"] and all((exports[kind] / f).is_file() for f in m["files"])


def test_answerer_matches_predict_and_explains_its_answer(
    exports: dict[str, Path], trained: dict[str, Path]
) -> None:
    from lit_distill.inference.questions import read_questions

    qa = QuestionAnswerer.from_artifact(exports["onnx"], threads=1)
    examples = read_questions(trained["dev"])[:4]
    by_file = qa.predict_examples(examples)
    answers = qa.answer_many([{"question": e.question, "context": e.context} for e in examples])
    for example, answer in zip(examples, answers, strict=True):
        assert answer.text == by_file.answers[example.id]  # one pair alone decodes as in a batch
        assert answer.no_answer == (answer.null_score_diff > qa.decoding.null_score_diff_threshold)
        if not answer.no_answer:
            assert example.context[answer.start : answer.end] == answer.text


def test_answer_command_prints_one_answer(
    exports: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "answer",
        str(exports["hf"]),
        "--question",
        "who plays the lute ?",
        "--context",
        "nobody plays here .",
    ]
    assert dispatch([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"text", "score", "no_answer", "null_score_diff", "no_answer_probability"}
    huge = ["--null-score-diff-threshold", "1e9"]  # nothing is ever "no answer" above this
    assert dispatch([*args, *huge]) == 0
    assert not capsys.readouterr().out.startswith("no answer")
    assert dispatch([*args, "--null-score-diff-threshold=-1e9"]) == 0
    assert capsys.readouterr().out.startswith("no answer")


def test_bad_input_is_one_line_and_exit_2(
    exports: dict[str, Path], trained: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hf = str(exports["hf"])
    latin1 = tmp_path / "context.txt"
    latin1.write_bytes("caf\xe9 in paris".encode("latin-1"))
    cases = [
        (["answer", hf, "--question", "  ", "--context", "paris ."], "question is empty"),
        (["answer", hf, "--question", "where ?", "--context", ""], "context is empty"),
        (["answer", hf, "--question", "where ?", "--context-file", str(latin1)], "not UTF-8"),
        (["answer", str(tmp_path / "nowhere"), "--question", "q", "--context", "c"], "does not exist"),
        (["answer", str(tmp_path), "--question", "q", "--context", "c"], "has no lit_distill_export.json"),
        (
            ["predict", hf, "--data", str(trained["dev"]), "--output", str(trained["dev"])],
            "is one of the command's inputs",
        ),
        (
            ["predict", hf, "--data", str(tmp_path / "none.json"), "--output", str(tmp_path / "p.json")],
            "no such file",
        ),
        (["predict", hf, "--data", str(latin1), "--output", str(tmp_path / "p.json")], "not"),
    ]
    for argv, message in cases:
        assert dispatch(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "p.json").exists()


def test_predict_answers_a_file_without_gold_answers(exports: dict[str, Path], tmp_path: Path) -> None:
    data = {
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {"context": "alice lives in paris .", "qas": [{"id": "a", "question": "where ?"}]}
                ],
            }
        ]
    }
    (tmp_path / "questions.json").write_text(json.dumps(data))
    out = tmp_path / "predictions.json"
    assert (
        dispatch(
            [
                "predict",
                str(exports["int8"]),
                "--data",
                str(tmp_path / "questions.json"),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert set(json.loads(out.read_text())) == {"a"}


def test_lightning_predict_is_still_reachable() -> None:
    from lit_distill.commands import is_artifact_predict

    assert not is_artifact_predict("predict", ["--config", "c.yaml", "--ckpt_path", "x.ckpt"])
    assert is_artifact_predict("predict", ["deploy/int8", "--data", "d.json"])
    res = subprocess.run(
        [sys.executable, "-m", "lit_distill", "predict", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert res.returncode == 0 and "ARTIFACT" in res.stdout and "--config CONFIG.yaml" in res.stdout


def test_module_threshold_decides_validation_answers(trained: dict[str, Path], tmp_path: Path) -> None:
    """QAModule's null_score_diff_threshold (a run-time argument) reaches the metric; validation retunes."""
    from lit_distill.modules import Teacher
    from tests.inference.conftest import SMALL
    from tests.modules.conftest import make_datamodule, trainer

    scores = {}
    for threshold in (-1e9, 1e9):  # every answer "" / never ""
        module = Teacher(model_config=SMALL, null_score_diff_threshold=threshold)
        t = trainer(tmp_path)
        (result,) = t.validate(
            module, datamodule=make_datamodule(trained["cache"]), ckpt_path=str(trained["ckpt"])
        )
        scores[threshold] = result
        assert module.tuned_threshold is not None and module.tuned_threshold["in_use"] == threshold
    assert scores[-1e9]["val/NoAns_f1"] == 100.0 and scores[-1e9]["val/HasAns_f1"] == 0.0
    assert scores[1e9]["val/NoAns_f1"] == 0.0
    assert (
        scores[-1e9]["val/best_null_score_diff_threshold"]
        == scores[1e9]["val/best_null_score_diff_threshold"]
    )
