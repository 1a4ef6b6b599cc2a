"""``DeployedLatency``: a trial's latency (and optionally F1) measured on the deployed artifact.

A length-configuration search run with only :class:`~lit_distill.callbacks.trial_result.TrialResult`
optimises ``eval_time_s``, the fp32 PyTorch model's evaluation time. With this callback
each trial also exports its model with the trial's length configuration
(``model.init_args.length_config``) to ONNX, quantises it to INT8 as
``python -m lit_distill export --to onnx --int8`` does, and times the graph in ONNX
Runtime the way ``bench --runtime onnxruntime`` and ``python -m benchmarks.deploy`` do
(random ids, every token real, ``seq_length`` tokens, median of ``repeats``).
``TrialResult`` adds the numbers to ``metrics.json``:

- ``deployed_latency_ms``: median latency of one batch of ``batch_size`` sequences;
- with ``evaluate=True``, ``deployed_exact`` / ``deployed_f1``: the artifact's scores on
  the validation split (same windows and post-processing as the module's own ``f1``).

The measurement runs after the validation loop (when ``TrialResult`` collects), so
``eval_time_s`` still times PyTorch's evaluation only. It needs the ``export`` extra.

Example::

    trainer:
      callbacks:
        - class_path: lit_distill.callbacks.DeployedLatency
          init_args: {int8: true, threads: 1}
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from typing_extensions import override

from lit_distill.checks import is_int
from lit_distill.metric_names import DEPLOYED_METRIC_KEYS as DEPLOYED_METRICS
from lit_distill.user_errors import UserInputError

__all__ = ["DEPLOYED_METRICS", "DeployedLatency"]


class DeployedLatency(Callback):
    """Export the run's model (with its length configuration) to ONNX / INT8 and time it.

    Args:
        int8: Quantise the graph to INT8 (ONNX Runtime's dynamic quantiser), as ``export --int8``.
        int8_scheme: The INT8 scheme (``lit_distill.export.quantize.INT8_SCHEMES``).
        batch_size: Sequences per timed batch.
        seq_length: Tokens per sequence (capped at the model's positions).
        threads: ONNX Runtime intra-op threads (None: the runtime's choice).
        warmup: Untimed runs first.
        repeats: Timed runs; the median is reported.
        evaluate: Also score the artifact on the validation split (``deployed_exact`` / ``deployed_f1``).
    """

    def __init__(
        self,
        int8: bool = True,
        int8_scheme: str | None = None,
        batch_size: int = 1,
        seq_length: int = 384,
        threads: int | None = None,
        warmup: int = 2,
        repeats: int = 10,
        evaluate: bool = False,
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("batch_size", batch_size, 1),
            ("seq_length", seq_length, 2),
            ("warmup", warmup, 0),
            ("repeats", repeats, 1),
        ):
            if not is_int(value) or value < low:
                raise UserInputError(f"DeployedLatency: {name} must be an integer >= {low}, got {value!r}")
        if threads is not None and (not is_int(threads) or threads < 1):
            raise UserInputError(f"DeployedLatency: threads must be an integer >= 1 or null, got {threads!r}")
        from lit_distill.export.quantize import DEFAULT_INT8_SCHEME, INT8_SCHEMES

        self.int8_scheme = int8_scheme or DEFAULT_INT8_SCHEME
        if int8 and self.int8_scheme not in INT8_SCHEMES:
            raise UserInputError(
                f"DeployedLatency: int8_scheme {self.int8_scheme!r}; known schemes: {', '.join(INT8_SCHEMES)}"
            )
        if int8 and INT8_SCHEMES[self.int8_scheme].static:
            dynamic = [k for k, v in INT8_SCHEMES.items() if not v.static]
            raise ValueError(
                f"DeployedLatency: int8_scheme {self.int8_scheme!r} is calibrated (static), which a search trial "
                f"has no calibration windows for; choose a dynamic scheme: {', '.join(dynamic)}"
            )
        self.int8 = int8
        self.batch_size = batch_size
        self.seq_length = seq_length
        self.threads = threads
        self.warmup = warmup
        self.repeats = repeats
        self.evaluate = evaluate
        self.last: dict[str, Any] = {}  # what the last measurement exported (length configuration, graph)

    @override
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        from lit_distill.export.errors import require

        require("onnx")  # fail before the run, naming the extra
        require("onnxruntime")

    def trial_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        """Export, time (and evaluate) the run's model now; the keys of :data:`DEPLOYED_METRICS`."""
        from lit_distill.export.artifact import onnx_forward, onnx_session
        from lit_distill.export.onnx_export import export_onnx
        from lit_distill.export.quantize import quantize_int8
        from lit_distill.timing import random_inputs, time_interleaved

        model = getattr(pl_module, "model", None)
        if model is None or not hasattr(model, "encoder"):
            raise AttributeError(
                f"DeployedLatency: {type(pl_module).__name__} has no `model` (a QAModel) to export"
            )
        length = getattr(pl_module, "length_config", None)
        model = copy.deepcopy(model).float().cpu().eval()
        seq_length = min(self.seq_length, model.config.max_position_embeddings)
        with tempfile.TemporaryDirectory(prefix="lit_distill-deployed-") as tmp:
            graph = export_onnx(model, Path(tmp) / "model.onnx", length)
            if self.int8:
                graph = quantize_int8(graph, Path(tmp) / "model.int8.onnx", self.int8_scheme)
            forward = onnx_forward(onnx_session(graph, self.threads))
            inputs = random_inputs(model.config.vocab_size, self.batch_size, seq_length)
            stats = time_interleaved([lambda: forward(*inputs)], self.warmup, self.repeats)[0]
            metrics = {"deployed_latency_ms": 1e3 * stats.median}
            if self.evaluate:
                metrics.update(_scores(forward, trainer, pl_module))
            self.last = {"length_config": length, "int8": self.int8, "graph": graph.name}
        return metrics


def _scores(forward: Any, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
    """``deployed_exact`` / ``deployed_f1`` of ``forward`` on the data module's validation split."""
    from lit_distill.metrics.squad_metric import SquadMetric

    datamodule = getattr(trainer, "datamodule", None)
    if datamodule is None or not hasattr(datamodule, "eval_set"):
        raise UserInputError("DeployedLatency(evaluate=True) needs a data module with eval_set(split)")
    metric = SquadMetric(
        n_best=getattr(pl_module, "n_best_size", 20),
        max_answer_length=getattr(pl_module, "max_answer_length", 30),
    ).bind(datamodule.eval_set("validation"))
    for batch in datamodule.val_dataloader():
        ids = batch["input_ids"].numpy()
        mask = batch["attention_mask"].numpy()
        types = batch.get("token_type_ids", torch.zeros_like(batch["input_ids"])).numpy()
        start, end = forward(ids, mask, types)  # (B, L) each
        metric.update(
            torch.from_numpy(np.ascontiguousarray(start)),
            torch.from_numpy(np.ascontiguousarray(end)),
            batch["feature_index"],
        )
    scores = metric.compute()
    return {"deployed_exact": float(scores["exact"]), "deployed_f1": float(scores["f1"])}
