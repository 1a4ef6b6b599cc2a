"""The no-answer threshold's units: the official probability threshold round-trips to transformers' rule.

transformers' ``utils_qa.postprocess_qa_predictions`` answers ``""`` when
``null_score - best_start_logit - best_end_logit > null_score_diff_threshold`` (a logit
difference); the official ``best_f1_thresh`` is a threshold on ``sigmoid`` of that
difference. The reference decoder below is written here from transformers' rules.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lit_distill.data.eval_set import EvalSet
from lit_distill.metrics.postprocess import (
    best_null_score_diff_threshold,
    postprocess_predictions,
    probability_from_threshold,
    threshold_from_probability,
)
from lit_distill.metrics.squad import squad_evaluate
from lit_distill.metrics.squad_metric import SquadMetric

WIDTH = 12  # [CLS] q q [SEP] then 7 context tokens, [SEP]


def _fixture(n: int = 40, seed: int = 0) -> tuple[EvalSet, np.ndarray, np.ndarray]:
    """``n`` questions, one or two windows each; half answerable; logits whose null score varies."""
    rng = np.random.default_rng(seed)
    contexts, answers, example_of, offsets = [], [], [], []
    for e in range(n):
        words = [f"w{e}t{i}" for i in range(7)]
        context = " ".join(words)
        spans, pos = [], 0
        for w in words:
            spans.append((pos, pos + len(w)))
            pos += len(w) + 1
        contexts.append(context)
        answers.append([words[int(rng.integers(7))]] if e % 2 else [])
        for _ in range(1 + e % 3 // 2):
            off = np.full((WIDTH, 2), -1, dtype=np.int32)
            off[4:11] = spans
            offsets.append(off)
            example_of.append(e)
    es = EvalSet(
        example_ids=[f"q{e}" for e in range(n)],
        contexts=contexts,
        answers=answers,
        feature_example_index=np.array(example_of),
        offsets=np.stack(offsets),
        version="2.0",
    )
    f = len(example_of)
    start = rng.normal(0, 2, (f, WIDTH)).astype(np.float32)
    end = rng.normal(0, 2, (f, WIDTH)).astype(np.float32)
    start[:, 0] += rng.normal(1, 3, f).astype(np.float32)  # [CLS]: sometimes above, sometimes below
    return es, start, end


def transformers_style(es: EvalSet, start: np.ndarray, end: np.ndarray, threshold: float) -> dict[str, str]:
    """transformers' utils_qa rules: n-best 20, max answer 30, min null over windows, ``""`` above the threshold.

    As there, the scores are float32 (numpy scalars) and the margin is ``(null - start) - end``.
    """
    out = {}
    for ex in range(es.n_examples):
        null, best = np.float32(np.inf), None
        for f in np.flatnonzero(es.feature_example_index == ex):
            null = min(null, start[f, 0] + end[f, 0])
            starts = np.argsort(start[f])[-1:-21:-1]
            ends = np.argsort(end[f])[-1:-21:-1]
            for s in starts:
                for e in ends:
                    if es.offsets[f, s, 0] < 0 or es.offsets[f, e, 0] < 0 or e < s or e - s + 1 > 30:
                        continue
                    score = start[f, s] + end[f, e]
                    if best is None or score > best[0]:
                        text = es.contexts[ex][es.offsets[f, s, 0] : es.offsets[f, e, 1]]
                        best = (score, start[f, s], end[f, e], text)
        assert best is not None
        diff = null - best[1] - best[2]
        out[es.example_ids[ex]] = "" if diff > threshold else best[3]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_official_probability_threshold_converts_to_transformers_logit_threshold(seed: int) -> None:
    es, start, end = _fixture(seed=seed)
    preds = postprocess_predictions(es, start, end)  # threshold 0, as written to predictions.json
    official = squad_evaluate(es.gold(), preds.answers, preds.na_probs)
    p = official["best_f1_thresh"]
    t = threshold_from_probability(p)
    rescored = squad_evaluate(es.gold(), transformers_style(es, start, end, t))
    assert rescored["f1"] == official["best_f1"]  # the converted threshold reaches the official best F1
    assert probability_from_threshold(t) == pytest.approx(p, abs=1e-12)


def test_the_probability_used_as_a_logit_threshold_gives_other_answers() -> None:
    """docs/search.md used to say "take best_f1_thresh": 0.x used as a logit threshold is another rule."""
    es, start, end = _fixture(seed=0)
    preds = postprocess_predictions(es, start, end)
    p = squad_evaluate(es.gold(), preds.answers, preds.na_probs)["best_f1_thresh"]
    assert 0 < p < 1
    assert transformers_style(es, start, end, p) != transformers_style(
        es, start, end, threshold_from_probability(p)
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_threshold_in_logit_units_reaches_its_f1(seed: int) -> None:
    es, start, end = _fixture(seed=seed)
    preds = postprocess_predictions(es, start, end)
    f1, t = best_null_score_diff_threshold(es.gold(), preds.spans)
    assert squad_evaluate(es.gold(), transformers_style(es, start, end, t))["f1"] == pytest.approx(
        f1, abs=1e-9
    )
    official = squad_evaluate(es.gold(), preds.answers, preds.na_probs)
    assert f1 >= official["best_f1"]  # it may also answer questions the threshold in use left empty
    # the metric's key is this threshold, and a metric set to it answers as transformers' rule does
    metric = SquadMetric().bind(es)
    metric.update(torch.from_numpy(start), torch.from_numpy(end), torch.arange(es.n_features))
    assert metric.compute()["best_null_score_diff_threshold"] == t
    tuned = SquadMetric(null_score_diff_threshold=t).bind(es)
    tuned.update(torch.from_numpy(start), torch.from_numpy(end), torch.arange(es.n_features))
    assert tuned.predictions()[0] == transformers_style(es, start, end, t)


def test_answering_nothing_best_gives_a_threshold_below_every_margin() -> None:
    es, start, end = _fixture(seed=0)
    es.answers = [[] for _ in es.answers]  # every question unanswerable: answering nothing is best
    preds = postprocess_predictions(es, start, end)
    f1, t = best_null_score_diff_threshold(es.gold(), preds.spans)
    assert f1 == 100.0 and all(s.null_score_diff > t for s in preds.spans.values())


def test_conversion_edges() -> None:
    assert threshold_from_probability(0.5) == 0.0
    assert threshold_from_probability(0.3) == pytest.approx(-0.8473, abs=1e-4)
    assert threshold_from_probability(0.0) == -math.inf and threshold_from_probability(1.0) == math.inf
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        threshold_from_probability(1.5)
