"""lit_distill.metrics: official-compatible SQuAD scoring, post-processing, DDP-safe metric.

``SquadMetric`` (torchmetrics) is imported on first use, so that post-processing alone
(inference) does not import torchmetrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lit_distill.metric_names import METRIC_KEYS
from lit_distill.metrics.postprocess import QAPredictions, postprocess_predictions
from lit_distill.metrics.squad import compute_exact, compute_f1, normalize_answer, squad_evaluate

if TYPE_CHECKING:
    from lit_distill.metrics.squad_metric import SquadMetric

__all__ = [
    "METRIC_KEYS",
    "QAPredictions",
    "SquadMetric",
    "compute_exact",
    "compute_f1",
    "normalize_answer",
    "postprocess_predictions",
    "squad_evaluate",
]


def __getattr__(name: str) -> Any:
    if name == "SquadMetric":
        from lit_distill.metrics.squad_metric import SquadMetric

        return SquadMetric
    raise AttributeError(f"module 'lit_distill.metrics' has no attribute {name!r}")
