"""SigOptReporter: logs to a SigOpt run when one is active, one notice and nothing else otherwise."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lit_distill.callbacks.sigopt_reporter import SigOptReporter
from tests.search.toy import ToyData, ToyQA, quiet_trainer


def _fake_sigopt(run_id: str | None) -> tuple[ModuleType, list[tuple[str, Any]]]:
    calls: list[tuple[str, Any]] = []
    module = ModuleType("sigopt")
    module.get_run_id = lambda: run_id  # type: ignore[attr-defined]
    module.log_checkpoint = lambda values: calls.append(("checkpoint", dict(values)))  # type: ignore[attr-defined]
    module.log_metric = lambda name, value: calls.append(("metric", (name, value)))  # type: ignore[attr-defined]
    module.log_metadata = lambda key, value: calls.append(("metadata", (key, value)))  # type: ignore[attr-defined]
    return module, calls


def _fit(tmp_path: Path, callback: SigOptReporter) -> None:
    quiet_trainer(str(tmp_path), [callback]).fit(ToyQA(knob=0.3), ToyData())


def test_logs_checkpoints_and_final_metrics_in_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module, calls = _fake_sigopt("run-7")
    monkeypatch.setitem(sys.modules, "sigopt", module)
    callback = SigOptReporter()
    _fit(tmp_path, callback)
    assert callback.active
    kinds = [k for k, _ in calls]
    assert kinds.count("checkpoint") == 1
    checkpoint = next(v for k, v in calls if k == "checkpoint")
    assert checkpoint["exact"] == pytest.approx(90.0) and checkpoint["f1"] == pytest.approx(95.0)
    metrics = dict(v for k, v in calls if k == "metric")
    assert metrics["exact"] == pytest.approx(90.0) and "val/exact" not in metrics


@pytest.mark.parametrize("installed", [True, False])
def test_no_run_context_is_a_no_op_with_one_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, installed: bool
) -> None:
    module, calls = _fake_sigopt(None)
    monkeypatch.setitem(sys.modules, "sigopt", module if installed else None)  # None: import fails
    # Lightning stops propagation at its logger when it is imported before logging is set up;
    # let the notice reach caplog whatever the test order
    monkeypatch.setattr(logging.getLogger("lightning.pytorch"), "propagate", True)
    callback = SigOptReporter()
    with caplog.at_level("INFO"):
        _fit(tmp_path, callback)
    assert not callback.active and calls == []
    notices = [r.getMessage() for r in caplog.records if "SigOptReporter" in r.getMessage()]
    assert len(notices) == 1
    assert ("no SigOpt run context" if installed else "not installed") in notices[0]
