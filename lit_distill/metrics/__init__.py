"""lit_distill.metrics: official-compatible SQuAD scoring, post-processing, DDP-safe metric."""

from lit_distill.metrics.postprocess import QAPredictions, postprocess_predictions
from lit_distill.metrics.squad import compute_exact, compute_f1, normalize_answer, squad_evaluate
from lit_distill.metrics.squad_metric import METRIC_KEYS, SquadMetric

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
