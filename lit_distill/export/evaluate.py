"""EM / F1 (HasAns / NoAns) and latency of an exported artifact on a SQuAD-format file.

The answers are those of :func:`predict_answers`, the one path from questions and
contexts to answers that ``predict``, ``answer`` and ``serve`` share
(:class:`lit_distill.inference.QuestionAnswerer`): the artifact's windows, its forward,
and the project's post-processing with the artifact's decoding settings.
"""

from __future__ import annotations

import itertools
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lit_distill.data.batches import collate_features
from lit_distill.data.eval_set import EvalSet
from lit_distill.data.features import FeatureArrays, FeatureSettings, build_features
from lit_distill.data.squad import SquadExample, load_squad_json
from lit_distill.export.artifact import Decoding, Forward, span_logits
from lit_distill.export.errors import ExportInputError
from lit_distill.metric_names import METRIC_KEYS
from lit_distill.metrics.postprocess import QAPredictions, postprocess_predictions
from lit_distill.metrics.squad import squad_evaluate
from lit_distill.timing import Timing, time_interleaved

__all__ = [
    "UNKNOWN_TOKEN_LIMIT",
    "EvalData",
    "build_eval_data",
    "evaluate",
    "predict_answers",
    "prepare_eval",
    "score_predictions",
]

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


def build_eval_data(
    examples: list[SquadExample], tokenizer: Any, settings: FeatureSettings, path: str = ""
) -> EvalData:
    """Tokenise ``examples`` into the windows of ``settings`` (raises ``ValueError`` from the features)."""
    features = build_features(examples, tokenizer, settings)
    version = "2.0" if any(e.is_impossible for e in examples) else "1.1"
    return EvalData(
        path=path,
        examples=examples,
        features=features,
        eval_set=EvalSet.from_features(examples, features, version),
        pad_id=int(tokenizer.pad_token_id or 0),
    )


def read_eval_examples(
    eval_file: str | Path, limit: int | None = None, option: str = "--eval-file"
) -> list[SquadExample]:
    """The questions of a SQuAD-format file (the first ``limit`` of them, in file order).

    Raises:
        ExportInputError: naming ``option`` (missing, not SQuAD, no questions).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # misaligned answers are skipped, as in training
            loaded = load_squad_json(eval_file, "2.0", "skip")
    except (OSError, ValueError) as err:
        raise ExportInputError(option, str(err)) from err
    examples = list(loaded.examples)[:limit]
    if not examples:
        raise ExportInputError(option, f"{eval_file} has no questions to evaluate")
    return examples


def prepare_eval(
    eval_file: str | Path,
    tokenizer: Any,
    settings: FeatureSettings | None = None,
    limit: int | None = None,
    option: str = "--eval-file",
) -> EvalData:
    """Read and tokenise ``eval_file``; reject a file whose vocabulary does not fit ``tokenizer``.

    Args:
        eval_file: A SQuAD-format JSON file.
        tokenizer: The model's fast tokenizer.
        settings: The windows (default 384 / 128 / 64).
        limit: Only the first ``limit`` questions of the file (all by default).
        option: The option that named the file, for messages.

    Raises:
        ExportInputError: naming ``option`` (missing, not SQuAD, empty, vocabulary mismatch).
    """
    examples = read_eval_examples(eval_file, limit, option)
    try:
        data = build_eval_data(examples, tokenizer, settings or FeatureSettings(), str(eval_file))
    except ValueError as err:
        raise ExportInputError(option, f"{eval_file}: {err}") from err
    features = data.features
    unk = tokenizer.unk_token_id
    share = float(np.mean(features.input_ids == unk)) if unk is not None and len(features.input_ids) else 0.0
    if share > UNKNOWN_TOKEN_LIMIT:
        raise ExportInputError(
            option,
            f"{eval_file}: {share:.1%} of its tokens are unknown ([UNK]) to the model's tokenizer "
            f"({len(tokenizer)} tokens; at most {UNKNOWN_TOKEN_LIMIT:.0%} allowed): its vocabulary does "
            "not fit this model; evaluate it with the tokenizer the model was trained with",
        )
    return data


def predict_answers(
    forward: Forward, data: EvalData, decoding: Decoding | None = None, batch_size: int = 16
) -> QAPredictions:
    """Answers, no-answer probabilities and best spans of ``forward`` on ``data``'s questions.

    Args:
        forward: An artifact's forward (:func:`~lit_distill.export.artifact.load_artifact`).
        data: The questions, cut into the artifact's windows.
        decoding: The artifact's decoding settings (its manifest's); None: n-best 20, longest
            answer 30, threshold 0 and the SQuAD version of ``data`` (2.0 when it has an
            unanswerable question).
        batch_size: Windows per forward call.
    """
    start, end = span_logits(forward, data.features, data.pad_id, data.eval_set.max_length, batch_size)
    decoding = decoding or Decoding(squad_version=data.eval_set.version)
    return postprocess_predictions(
        data.eval_set,
        start,
        end,
        n_best=decoding.n_best_size,
        max_answer_length=decoding.max_answer_length,
        null_score_diff_threshold=decoding.null_score_diff_threshold,
        version=decoding.squad_version,
    )


def score_predictions(data: EvalData, preds: QAPredictions) -> dict[str, Any]:
    """The official scores of ``preds`` against ``data``'s gold answers (the keys the card reports)."""
    metrics = squad_evaluate(data.eval_set.gold(), preds.answers, preds.na_probs, report_missing=False)
    keep = [k for k in METRIC_KEYS if not k.startswith("best_")]  # the card reports the given threshold
    return {k: metrics[k] for k in keep if k in metrics}


def _batch(data: EvalData, indices: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    batch = collate_features(data.features, indices, data.pad_id, None)
    return batch["input_ids"].numpy(), batch["attention_mask"].numpy(), batch["token_type_ids"].numpy()


def _latency(forward: Forward, data: EvalData, samples: int, warmup: int = 2) -> Timing:
    """Batch-1 forward passes over the first ``samples`` features (real lengths), one per round."""
    batches = [_batch(data, [i]) for i in range(min(samples, len(data.features)))]
    order = itertools.cycle(batches)  # the warm-up takes the first ones, then every feature once per cycle
    return time_interleaved([lambda: forward(*next(order))], warmup, len(batches))[0]


def evaluate(
    forward: Forward,
    data: EvalData,
    batch_size: int = 16,
    latency_samples: int = 32,
    decoding: Decoding | None = None,
) -> dict[str, Any]:
    """Score ``forward`` on ``data`` as the official script does, and time it.

    Args:
        forward: The artifact's forward.
        data: The evaluation questions in the artifact's windows.
        batch_size: Windows per forward call.
        latency_samples: Windows timed one by one.
        decoding: The artifact's decoding settings (see :func:`predict_answers`).

    Returns:
        ``exact``, ``f1``, ``total`` (and ``HasAns_*`` / ``NoAns_*`` where the data has such
        questions), ``latency_ms`` (median batch-1 latency over ``latency_samples``
        features at their real length) and ``eval_seconds`` (the whole evaluation).
    """
    began = time.perf_counter()
    preds = predict_answers(forward, data, decoding, batch_size)
    seconds = time.perf_counter() - began
    out = score_predictions(data, preds)
    out["latency_ms"] = 1e3 * _latency(forward, data, latency_samples).median
    out["eval_seconds"] = seconds
    return out
