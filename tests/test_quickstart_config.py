"""The configs ``python -m lit_distill quickstart`` runs (no training: fast)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lit_distill.commands.quickstart import CONFIG_DIR, _parser, _prepare_config


@pytest.mark.parametrize(
    ("argv", "config_name", "attr"),
    [
        ([], "teacher.yaml", "teacher_epochs"),
        ([], "distilbert.yaml", "student_epochs"),
        (["--teacher-epochs", "4"], "teacher.yaml", "teacher_epochs"),
        (["--student-epochs", "5"], "distilbert.yaml", "student_epochs"),
    ],
)
def test_quickstart_validates_once_after_the_last_epoch(
    tmp_path: Path, argv: list[str], config_name: str, attr: str
) -> None:
    args = _parser().parse_args([*argv, "--output-dir", str(tmp_path)])
    epochs = getattr(args, attr)
    config = _prepare_config(config_name, args, epochs)
    shipped = yaml.safe_load((CONFIG_DIR / config_name).read_text(encoding="utf-8"))
    expected_epochs = epochs if epochs is not None else shipped["trainer"]["max_epochs"]
    assert expected_epochs > 1  # otherwise the check below cannot tell once from every epoch
    assert config["trainer"]["max_epochs"] == expected_epochs
    assert config["trainer"]["check_val_every_n_epoch"] == expected_epochs
    # the shipped configs themselves still validate every epoch when run with `fit`
    assert shipped["trainer"].get("check_val_every_n_epoch", 1) == 1
