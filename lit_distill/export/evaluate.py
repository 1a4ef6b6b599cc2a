"""EM / F1 (HasAns / NoAns) and latency of an exported artifact on a SQuAD-format file."""

from __future__ import annotations

import itertools
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lit_distill.data.datamodule import collate_features
from lit_distill.data.eval_set import EvalSet
from lit_distill.data.features import FeatureArrays, FeatureSettings, build_features
from lit_distill.data.squad import SquadExample, load_squad_json
from lit_distill.export.artifact import Forward
from lit_distill.export.errors import ExportInputError
from lit_distill.metric_names import METRIC_KEYS
from lit_distill.metrics.postprocess import postprocess_predictions
from lit_distill.metrics.squad import squad_evaluate
from lit_distill.timing import Timing, time_interleaved

__all__ = ["UNKNOWN_TOKEN_LIMIT", "EvalData", "evaluate", "prepare_eval"]

UNKNOWN_TOKEN_LIMIT = 0.02
"""Largest share of [UNK] tokens an evaluation file may have under the model's tokenizer.

Real SQuAD under BERT's uncased vocabulary has well under 0.1 %; a file written for
another vocabulary (or another language) has far more."""


@dataclass
class EvalData:
    """An evaluation file tokenised for one tokenizer."""

    path: str
    examples: list[SquadExample]
    features: FeatureArrays
    eval_set: EvalSet
    pad_id: int


def prepare_eval(eval_file: str | Path, tokenizer: Any, settings: FeatureSettings | None = None) -> EvalData:
    """Read and tokenise ``eval_file``; reject a file whose vocabulary does not fit ``tokenizer``.

    Raises:
        ExportInputError: naming ``--eval-file`` (missing, not SQuAD, empty, vocabulary mismatch).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # misaligned answers are skipped, as in training
            loaded = load_squad_json(eval_file, "2.0", "skip")
    except (OSError, ValueError) as err:
        raise ExportInputError("--eval-file", str(err)) from err
    examples = list(loaded.examples)
    if not examples:
        raise ExportInputError("--eval-file", f"{eval_file} has no questions to evaluate")
    version = "2.0" if any(e.is_impossible for e in examples) else "1.1"
    try:
        features = build_features(examples, tokenizer, settings or FeatureSettings())
    except ValueError as err:
        raise ExportInputError("--eval-file", f"{eval_file}: {err}") from err
    unk = tokenizer.unk_token_id
    share = float(np.mean(features.input_ids == unk)) if unk is not None and len(features.input_ids) else 0.0
    if share > UNKNOWN_TOKEN_LIMIT:
        raise ExportInputError(
            "--eval-file",
            f"{eval_file}: {share:.1%} of its tokens are unknown ([UNK]) to the model's tokenizer "
            f"({len(tokenizer)} tokens; at most {UNKNOWN_TOKEN_LIMIT:.0%} allowed): its vocabulary does "
            "not fit this model; evaluate it with the tokenizer the model was trained with",
        )
    return EvalData(
        path=str(eval_file),
        examples=examples,
        features=features,
        eval_set=EvalSet.from_features(examples, features, version),
        pad_id=int(tokenizer.pad_token_id or 0),
    )


def _batch(data: EvalData, indices: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    batch = collate_features(data.features, indices, data.pad_id, None)
    return batch["input_ids"].numpy(), batch["attention_mask"].numpy(), batch["token_type_ids"].numpy()


def _latency(forward: Forward, data: EvalData, samples: int, warmup: int = 2) -> Timing:
    """Batch-1 forward passes over the first ``samples`` features (real lengths), one per round."""
    batches = [_batch(data, [i]) for i in range(min(samples, len(data.features)))]
    order = itertools.cycle(batches)  # the warm-up takes the first ones, then every feature once per cycle
    return time_interleaved([lambda: forward(*next(order))], warmup, len(batches))[0]


def evaluate(
    forward: Forward, data: EvalData, batch_size: int = 16, latency_samples: int = 32
) -> dict[str, Any]:
    """Score ``forward`` on ``data`` as the official script does, and time it.

    Returns:
        ``exact``, ``f1``, ``total`` (and ``HasAns_*`` / ``NoAns_*`` where the data has such
        questions), ``latency_ms`` (median batch-1 latency over ``latency_samples``
        features at their real length) and ``eval_seconds`` (the whole evaluation).
    """
    n = len(data.features)
    width = data.eval_set.max_length
    start = np.full((n, width), -1e9, dtype=np.float32)
    end = np.full((n, width), -1e9, dtype=np.float32)
    order = np.argsort(data.features.lengths, kind="stable")  # similar lengths share a batch
    began = time.perf_counter()
    for lo in range(0, n, batch_size):
        indices = [int(i) for i in order[lo : lo + batch_size]]
        ids, mask, types = _batch(data, indices)
        s, e = forward(ids, mask, types)  # (b, l) each
        start[indices, : s.shape[1]] = s
        end[indices, : e.shape[1]] = e
    seconds = time.perf_counter() - began
    preds = postprocess_predictions(data.eval_set, start, end)
    metrics = squad_evaluate(data.eval_set.gold(), preds.answers, preds.na_probs, report_missing=False)
    keep = [k for k in METRIC_KEYS if not k.startswith("best_")]  # the card reports the given threshold
    out: dict[str, Any] = {k: metrics[k] for k in keep if k in metrics}
    out["latency_ms"] = 1e3 * _latency(forward, data, latency_samples).median
    out["eval_seconds"] = seconds
    return out
