"""The names of the metrics a run reports, in one torch-free place.

:data:`METRIC_KEYS` are the SQuAD scores of :class:`lit_distill.metrics.SquadMetric`
(the official ``evaluate-v2.0.py`` names); :data:`TRIAL_METRICS` adds what a
search trial's ``TrialResult`` callback measures on the model. The search reads
these names without importing torch.
"""

from __future__ import annotations

__all__ = ["DEPLOYED_METRIC_KEYS", "METRIC_KEYS", "MODEL_METRIC_KEYS", "TRIAL_METRICS", "V2_ONLY_PREFIXES"]

METRIC_KEYS: tuple[str, ...] = (
    "exact",
    "f1",
    "total",
    "HasAns_exact",
    "HasAns_f1",
    "HasAns_total",
    "NoAns_exact",
    "NoAns_f1",
    "NoAns_total",
    "best_exact",
    "best_exact_thresh",
    "best_f1",
    "best_f1_thresh",
    "best_null_score_diff_threshold",
)
"""The SQuAD scores, under the official script's names; the last is ours: the F1-best no-answer
threshold in logit-difference units (``best_f1_thresh`` is a probability)."""

V2_ONLY_PREFIXES: tuple[str, ...] = ("NoAns_", "best_")
"""Prefixes of the scores left out for SQuAD 1.1 data."""

MODEL_METRIC_KEYS: tuple[str, ...] = (
    "num_parameters",
    "num_parameters_no_embeddings",
    "eval_time_s",
    "run_time_s",
)
"""Sizes and times a trial measures next to the scores (see ``callbacks/trial_result.py``)."""

DEPLOYED_METRIC_KEYS: tuple[str, ...] = ("deployed_latency_ms", "deployed_exact", "deployed_f1")
"""What the ``DeployedLatency`` callback measures on the exported ONNX / INT8 artifact (docs/deploy.md)."""

TRIAL_METRICS: frozenset[str] = frozenset(METRIC_KEYS + MODEL_METRIC_KEYS + DEPLOYED_METRIC_KEYS)
"""Metrics a ``fit``/``validate`` trial writes through ``TrialResult`` (see docs/architecture.md)."""
