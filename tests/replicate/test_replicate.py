"""``python -m lit_distill replicate`` end to end on a tiny synthetic SQuAD 2.0 split with a tiny random encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from lit_distill.replicate.driver import LABELS, MODEL_STAGES
from tests.replicate.conftest import run_replicate


def _args(encoder: Path, squad: Path, out: Path) -> list[str]:
    return [
        "--encoder", str(encoder), "--output", str(out), "--split-from", str(squad),
        "--heldout-articles", "A6,A7", "--epochs", "1", "--limit-train-batches", "1",
        "--max-seq-length", "48", "--doc-stride", "16", "--batch-size", "8", "--bench-repeats", "1",
        "--threads", "1",
    ]  # fmt: skip


def test_replicate_runs_every_stage_and_its_table_is_consistent(
    tiny_encoder: Path, tiny_squad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run_replicate([*_args(tiny_encoder, tiny_squad, out), "--stop-after", "teacher"]) == 0
    printed = capsys.readouterr().out
    assert "teacher " in printed and "distilbert_kd" not in printed
    partial = json.loads((out / "results.json").read_text())["models"]
    assert [r["stage"] for r in partial if "f1" in r] == ["teacher"]
    # the full run picks up after the finished teacher
    assert run_replicate(_args(tiny_encoder, tiny_squad, out)) == 0
    printed = capsys.readouterr().out
    assert printed.count("finished before: skipped") == 1
    summary = json.loads((out / "results.json").read_text())
    rows = {r["stage"]: r for r in summary["models"]}
    assert set(rows) == {*MODEL_STAGES, "int8"}
    for stage, row in rows.items():
        assert LABELS[stage] in printed
        for key in ("exact", "f1", "HasAns_f1", "NoAns_f1"):
            assert 0.0 <= row[key] <= 100.0, (stage, key)
        # the held-out articles A6, A7 hold 6 answerable and 6 unanswerable questions
        assert row["f1"] == pytest.approx((row["HasAns_f1"] + row["NoAns_f1"]) / 2, abs=0.01), stage
    assert "HasAns F1" in printed and "NoAns F1" in printed and "threshold" in printed
    for stage in MODEL_STAGES:  # SQuAD 2.0: the F1-best no-answer threshold, in logit-difference units
        row = rows[stage]
        # the official sweep starts from answering nothing (6 of 12 right) and only keeps a gain
        assert row["best_f1"] >= max(row["f1"], 50.0) - 0.01, stage
        assert isinstance(row["best_f1_threshold"], float), stage

    # sizes: 4-layer teacher, students from teacher layers [1, 3], half the heads pruned
    encoder = load_file(str(tiny_encoder / "model.safetensors"))
    pooler = sum(v.numel() for k, v in encoder.items() if "pooler" in k)
    qa_head = 32 * 2 + 2
    assert rows["teacher"]["parameters"] == sum(v.numel() for v in encoder.values()) - pooler + qa_head
    assert (rows["teacher"]["layers"], rows["teacher"]["heads"]) == (4, 16)
    for stage in ("distilbert_kd", "distilbert_nokd", "tinybert_pd", "lengthdrop"):
        assert (rows[stage]["layers"], rows[stage]["heads"]) == (2, 8), stage
    assert rows["distilbert_kd"]["parameters"] == rows["distilbert_nokd"]["parameters"]
    assert rows["distilbert_kd"]["parameters"] < rows["teacher"]["parameters"]
    for stage in ("prune_importance", "prune_random"):
        assert rows[stage]["heads"] == 4
        assert rows[stage]["parameters"] < rows["distilbert_kd"]["parameters"]
    assert rows["teacher"]["speedup_vs_teacher"] == pytest.approx(1.0)
    # every model is timed in the same rounds as the teacher; one round (--bench-repeats 1) is too
    # few to trust a ratio, so each speed-up is flagged: null, measured beside it, "noisy" in the table
    for stage, row in rows.items():
        if stage != "teacher":
            assert row["speedup_vs_teacher"] is None and "timed round" in row["speedup_vs_teacher_flag"], (
                stage
            )
            assert row["speedup_vs_teacher_measured"] > 0, stage
    assert "noisy" in printed

    # the Drop-and-Restore curve's full-length rows are the same models scored again in other runs
    curve = {r["config"]: r for r in summary["length_curve"]}
    assert curve["full"]["f1_before"] == pytest.approx(rows["tinybert_pd"]["f1"], abs=0.01)
    assert curve["full"]["f1_after"] == pytest.approx(rows["lengthdrop"]["f1"], abs=0.01)
    assert len(curve) == 6 and "0.9-0.8" in curve
    goals = summary["goals"]
    assert goals["distillation_gain_f1"] == round(
        rows["distilbert_kd"]["f1"] - rows["distilbert_nokd"]["f1"], 2
    )
    assert (out / "results.csv").read_text().count("\n") == len(rows) + 1
    assert (out / "teacher" / "config.yaml").is_file()  # each stage is a rerunnable fit config

    # a second run finds every stage finished and rebuilds the same table
    assert run_replicate(_args(tiny_encoder, tiny_squad, out)) == 0
    printed = capsys.readouterr().out
    assert printed.count("finished before: skipped") == 12
    assert json.loads((out / "results.json").read_text())["models"] == summary["models"]


def test_replicate_bad_inputs_exit_2_with_one_message(
    tiny_encoder: Path, tiny_squad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(tiny_encoder, tiny_squad, tmp_path / "run")
    bad_encoder = [*args]
    bad_encoder[1] = str(tmp_path / "nowhere")
    assert run_replicate(bad_encoder) == 2
    assert f"--encoder {tmp_path / 'nowhere'}: no such directory" in capsys.readouterr().err
    bad_article = [*args]
    bad_article[7] = "A6,Atlantis"
    assert run_replicate(bad_article) == 2
    err = capsys.readouterr().err
    assert "--heldout-articles: Atlantis not in" in err and "A0" in err
    (tmp_path / "empty").mkdir()
    not_a_model = [*args]
    not_a_model[1] = str(tmp_path / "empty")
    assert run_replicate(not_a_model) == 2
    assert "no config.json" in capsys.readouterr().err
    assert not (tmp_path / "run" / "teacher").exists()


def test_teacher_epochs_override_only_the_teacher_stage(
    tiny_encoder: Path, tiny_squad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lit_distill.commands.replicate import build_parser
    from lit_distill.replicate.settings import settings

    args = build_parser().parse_args(
        [*_args(tiny_encoder, tiny_squad, tmp_path / "run"), "--teacher-epochs", "4"]
    )
    profile = settings(args).profile
    assert profile.teacher_epochs == 4 and profile.student_epochs == 1 and profile.pd_epochs == 1
    assert run_replicate([*_args(tiny_encoder, tiny_squad, tmp_path / "run"), "--teacher-epochs", "0"]) == 2
    assert "--teacher-epochs must be >= 1, got 0" in capsys.readouterr().err
