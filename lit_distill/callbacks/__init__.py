"""Lightning callbacks of lit_distill.

Short class names work in YAML and on the command line
(``--trainer.callbacks+=LengthDrop``); full class paths always do.
A callback that defines ``extra_loss(trainer, pl_module, batch, outputs)``
contributes a term to the training loss (:class:`LossContributor`); one that defines
``trial_metrics(trainer, pl_module)`` adds entries to a search trial's ``metrics.json``
(:class:`TrialResult`).
"""

from lit_distill.callbacks.base import LossContributor
from lit_distill.callbacks.head_pruning import HeadPruning
from lit_distill.callbacks.last_checkpoint import LastCheckpoint
from lit_distill.callbacks.length_drop import LengthDrop
from lit_distill.callbacks.length_eval import LengthConfigEvaluator
from lit_distill.callbacks.plain_progress import PlainProgress
from lit_distill.callbacks.sigopt_reporter import SigOptReporter
from lit_distill.callbacks.structured_pruning import StructuredPruning
from lit_distill.callbacks.trial_result import TrialResult

__all__ = [
    "HeadPruning",
    "LastCheckpoint",
    "LengthConfigEvaluator",
    "LengthDrop",
    "LossContributor",
    "PlainProgress",
    "SigOptReporter",
    "StructuredPruning",
    "TrialResult",
]
