"""``SigOptReporter``: log a run's metrics and checkpoints to a SigOpt run, when there is one."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info
from typing_extensions import override


def sigopt_run_context() -> tuple[ModuleType | None, str]:
    """The ``sigopt`` module if a SigOpt run context is active, else None and why not."""
    try:
        import sigopt
    except ImportError:
        return None, "the sigopt package is not installed (pip install 'lit_distill[sigopt]')"
    try:
        run_id = sigopt.get_run_id()
    except Exception as err:  # a misconfigured client must not break training
        return None, f"sigopt.get_run_id() failed ({type(err).__name__})"
    if run_id is None:
        return None, "no SigOpt run context (start the job with `sigopt run` or inside sigopt.create_run())"
    return sigopt, ""


class SigOptReporter(Callback):
    """Log validation metrics to the active SigOpt run (rank 0); a no-op without one.

    After every validation the ``val/…`` metrics are logged as a SigOpt *checkpoint*
    (SigOpt's name for intermediate metric values); at the end of ``fit``/``validate``
    the last values are logged as the run's metrics, with the best checkpoint file's
    path as metadata. Without the ``sigopt`` package or a run context, it prints one
    line saying so and does nothing else. Credentials are the SigOpt client's business
    (``SIGOPT_API_TOKEN``, ``SIGOPT_API_URL``); this callback never reads or logs them.

    Args:
        prefix: Prefix of the logged metrics to report (stripped in SigOpt).
        log_checkpoints: Also log the metrics after every validation, not only at the end.

    Example::

        trainer:
          callbacks:
            - class_path: lit_distill.callbacks.sigopt_reporter.SigOptReporter
    """

    def __init__(self, prefix: str = "val/", log_checkpoints: bool = True) -> None:
        super().__init__()
        self.prefix = prefix
        self.log_checkpoints = log_checkpoints
        self._sigopt: Any = None
        self._last: dict[str, float] = {}

    @property
    def active(self) -> bool:
        """Whether a SigOpt run context was found at setup."""
        return self._sigopt is not None

    @override
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not trainer.is_global_zero:
            return
        self._sigopt, why = sigopt_run_context()
        if self._sigopt is None:
            rank_zero_info(f"SigOptReporter: {why}; nothing is logged to SigOpt.")

    def _metrics(self, trainer: Trainer) -> dict[str, float]:
        out = {}
        for key, value in trainer.callback_metrics.items():
            if key.startswith(self.prefix):
                number = float(value.item() if isinstance(value, torch.Tensor) else value)
                if math.isfinite(number):
                    out[key[len(self.prefix) :]] = number
        return out

    @override
    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._sigopt is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        self._last = self._metrics(trainer)
        if self.log_checkpoints and self._last:
            self._sigopt.log_checkpoint(self._last)

    def _finish(self, trainer: Trainer) -> None:
        if self._sigopt is None or not trainer.is_global_zero:
            return
        for name, value in self._last.items():
            self._sigopt.log_metric(name, value)
        ckpt = (
            getattr(trainer.checkpoint_callback, "best_model_path", "") if trainer.checkpoint_callback else ""
        )
        if ckpt:
            self._sigopt.log_metadata("best_checkpoint", str(ckpt))

    @override
    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._finish(trainer)

    @override
    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage == "validate":
            self._finish(trainer)
