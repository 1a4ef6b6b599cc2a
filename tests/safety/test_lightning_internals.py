"""The Lightning names without a public equivalent that lit_distill uses (issue 33 item 4).

pyproject.toml pins Lightning to the minor versions tested; when a new version moves one of
these names, this test says which and where it is used, instead of a failure deep in a run.
"""

from __future__ import annotations

import re
from pathlib import Path

import lightning
import pytest
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelSummary
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def test_lightning_is_a_tested_minor_version() -> None:
    pin = re.search(r'"lightning>=([\d.]+),<([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin is not None, "pyproject.toml must pin lightning to the tested minor versions"
    low, high = Version(pin.group(1)), Version(pin.group(2))
    assert low <= Version(lightning.__version__) < high, (
        f"lightning {lightning.__version__} is outside the tested pin >={low},<{high}: run this test "
        "package and the CLI tests, then move the pin"
    )


def test_model_summary_keeps_its_depth_in_max_depth() -> None:
    """lit_distill/cli.py replaces Lightning's summary by QAModelSummary of the same depth."""
    if getattr(ModelSummary(max_depth=3), "_max_depth", None) != 3:
        pytest.fail(
            "lightning.pytorch.callbacks.ModelSummary no longer keeps its depth in `_max_depth`: "
            "update LitDistillCLI.instantiate_trainer (lit_distill/cli.py)"
        )


def test_the_fit_loop_keeps_its_train_dataloader_source_in_data_source() -> None:
    """lit_distill/callbacks/head_pruning.py reads it when there is no datamodule."""
    source = getattr(Trainer(logger=False, enable_checkpointing=False).fit_loop, "_data_source", None)
    if (
        source is None
        or not callable(getattr(source, "is_defined", None))
        or not callable(getattr(source, "dataloader", None))
    ):
        pytest.fail(
            "Trainer.fit_loop._data_source (with is_defined() and dataloader()) moved: update "
            "_train_batches in lit_distill/callbacks/head_pruning.py"
        )


def test_the_summary_table_formatter_is_where_qa_model_summary_imports_it() -> None:
    """lit_distill/callbacks/model_summary.py formats Lightning's table without its FLOP line."""
    try:
        from lightning.pytorch.utilities.model_summary.model_summary import _format_summary_table
    except ImportError:
        pytest.fail(
            "lightning.pytorch.utilities.model_summary.model_summary._format_summary_table moved: update "
            "lit_distill/callbacks/model_summary.py"
        )
    assert callable(_format_summary_table)
