"""Reading a stage's scores: SQuAD 2.0's best threshold, in the units ``predict`` takes, also for older run folders."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from lit_distill.replicate.driver import assemble
from lit_distill.replicate.results import fit_metrics

HEADER = "epoch,step,train/loss,val/best_f1,val/best_f1_thresh,val/exact,val/f1,val/HasAns_f1,val/NoAns_f1\n"


def _log(stage_dir: Path, version: int, rows: str, header: str = HEADER) -> None:
    where = stage_dir / "logs" / f"version_{version}"
    where.mkdir(parents=True)
    (where / "metrics.csv").write_text(header + rows)


def test_fit_metrics_reads_the_last_validation_and_turns_the_threshold_into_logit_units(
    tmp_path: Path,
) -> None:
    _log(tmp_path, 0, "0,9,1.5,,,,,,\n0,10,,51.0,0.2,40.0,45.0,30.0,60.0\n")
    _log(tmp_path, 1, "1,20,1.2,,,,,,\n1,21,,52.5,0.25,41.0,46.0,31.0,61.0\n")
    scores = fit_metrics(tmp_path)
    assert scores is not None
    assert (scores["f1"], scores["best_f1"]) == (46.0, 52.5)
    # answering "" when the probability exceeds 0.25 is answering "" when null - best exceeds logit(0.25)
    assert scores["best_f1_threshold"] == pytest.approx(math.log(0.25 / 0.75), rel=1e-6)


def test_fit_metrics_prefers_the_threshold_logged_in_logit_units(tmp_path: Path) -> None:
    header = HEADER.rstrip("\n") + ",val/best_null_score_diff_threshold\n"
    _log(tmp_path, 0, "0,10,,52.5,0.25,41.0,46.0,31.0,61.0,-1.5\n", header)
    scores = fit_metrics(tmp_path)
    assert scores is not None and scores["best_f1_threshold"] == -1.5


def test_assemble_reads_the_best_threshold_from_the_logs_also_for_a_stage_finished_without_it(
    tmp_path: Path,
) -> None:
    _log(tmp_path / "teacher", 0, "0,10,,52.7,0.5,44.2,48.2,41.1,55.3\n")
    results: dict[str, Any] = {"teacher": {"exact": 44.2, "f1": 48.2, "HasAns_f1": 41.1, "NoAns_f1": 55.3}}
    summary = assemble(cast(Any, SimpleNamespace(out=tmp_path)), results)
    teacher = next(r for r in summary["models"] if r["stage"] == "teacher")
    assert teacher["best_f1"] == 52.7 and teacher["best_f1_threshold"] == 0.0
    # a stage that never finished gets nothing invented
    student = next(r for r in summary["models"] if r["stage"] == "distilbert_kd")
    assert "best_f1" not in student
