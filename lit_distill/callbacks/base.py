"""The loss-contribution protocol between callbacks and the QA modules.

A callback that wants to add a term to the training loss (LengthDrop's
sub-networks, a user's regulariser, ...) defines ``extra_loss``.
:meth:`lit_distill.modules.QAModule.training_step` computes its own loss from the
full model's outputs, then calls ``extra_loss`` on every callback in
``trainer.callbacks`` that has it, adds each returned tensor to the loss and logs
it as ``train/extra_<CallbackClassName>``. Extra forward passes go through
``pl_module.forward_model(batch, **model_kwargs)``.

Example:
    A callback that keeps the start logits small::

        class SmallLogits(Callback):
            def __init__(self, weight: float = 0.01) -> None:
                self.weight = weight

            def extra_loss(self, trainer, pl_module, batch, outputs):
                return self.weight * outputs.start_logits.pow(2).mean()

    and in YAML::

        trainer:
          callbacks:
            - class_path: my_package.SmallLogits
              init_args: {weight: 0.01}
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import lightning.pytorch as pl
from torch import Tensor

__all__ = ["LossContributor", "loss_contributors"]


@runtime_checkable
class LossContributor(Protocol):
    """Anything with an ``extra_loss`` method (normally a Lightning ``Callback``)."""

    def extra_loss(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: dict[str, Tensor], outputs: Any
    ) -> Tensor | None:
        """Return a scalar tensor to add to the training loss, or ``None`` to add nothing.

        Args:
            trainer: the running trainer.
            pl_module: the module being trained (a :class:`lit_distill.modules.QAModule`).
            batch: the training batch (keys as in docs/architecture.md).
            outputs: the full model's ``QAOutput`` for this batch (with gradients).
        """
        ...


def loss_contributors(trainer: pl.Trainer) -> list[LossContributor]:
    """The callbacks of ``trainer`` that contribute to the loss, in callback order."""
    return [cb for cb in trainer.callbacks if isinstance(cb, LossContributor)]  # type: ignore[attr-defined]
