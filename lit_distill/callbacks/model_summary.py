"""Lightning's model summary without its "Total Flops: 0", with the project's FLOP count instead."""

from __future__ import annotations

import logging
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelSummary
from lightning.pytorch.utilities.model_summary.model_summary import _format_summary_table
from typing_extensions import override

__all__ = ["QAModelSummary"]

log = logging.getLogger("lightning.pytorch.callbacks.model_summary")


class QAModelSummary(ModelSummary):
    """Lightning's :class:`~lightning.pytorch.callbacks.ModelSummary` with a correct FLOP line.

    Lightning counts FLOPs only when the module has an ``example_input_array``
    and prints "0 Total Flops" otherwise. This summary drops Lightning's FLOP
    column and line and, for a module with a ``QAModel`` (``pl_module.model``),
    prints the forward FLOPs of one feature of the data's ``max_seq_length``
    counted by :func:`lit_distill.models.flops.forward_flops`.
    ``python -m lit_distill`` uses it in place of Lightning's default summary.
    """

    _flops_line: str | None = None

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._flops_line = _flops_line(trainer, pl_module)
        super().on_fit_start(trainer, pl_module)

    def summarize(  # type: ignore[override]
        self,
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        """Log the table without Lightning's FLOP column and total, plus the project's count."""
        data = [(name, column) for name, column in summary_data if name != "FLOPs"]
        table = _format_summary_table(
            total_parameters, trainable_parameters, model_size, total_training_modes, total_flops, *data
        )
        lines = [line for line in table.splitlines() if not line.rstrip().endswith("Total Flops")]
        if self._flops_line:
            lines.append(self._flops_line)
        log.info("\n" + "\n".join(lines))


def _flops_line(trainer: pl.Trainer, pl_module: pl.LightningModule) -> str | None:
    """``"1.2 G  Forward FLOPs per 384-token feature"`` for a QA module, else None."""
    from lightning.pytorch.utilities.model_summary.model_summary import get_human_readable_count

    from lit_distill.models.flops import forward_flops

    config = getattr(getattr(pl_module, "model", None), "config", None)
    settings = getattr(getattr(trainer, "datamodule", None), "settings", None)
    seq = getattr(settings, "max_seq_length", None)
    if config is None or not isinstance(seq, int):
        return None
    try:
        flops = forward_flops(config, seq)
    except (TypeError, ValueError, AttributeError):
        return None
    return f"{get_human_readable_count(flops):<10}Forward FLOPs per {seq}-token feature (lit_distill.models.flops)"
