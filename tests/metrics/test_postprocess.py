"""Vectorised logits → answers against a plain loop written here from the rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lit_distill.data.eval_set import EvalSet
from lit_distill.metrics.postprocess import postprocess_predictions

CONTEXTS = ["alpha beta gamma delta epsilon", "red green blue", "one two three four five six seven"]


def _eval_set(version: str = "2.0") -> EvalSet:
    """3 examples; example 0 and 2 have two windows each. Layout: [CLS] q q [SEP] context... [SEP] pad."""
    width = 10
    feats: list[tuple[int, list[tuple[int, int]]]] = []

    def words(ctx: str) -> list[tuple[int, int]]:
        spans, pos = [], 0
        for w in ctx.split():
            start = ctx.index(w, pos)
            spans.append((start, start + len(w)))
            pos = start + len(w)
        return spans

    w0, w1, w2 = words(CONTEXTS[0]), words(CONTEXTS[1]), words(CONTEXTS[2])
    feats += [(0, w0[:3]), (0, w0[2:]), (1, w1), (2, w2[:5]), (2, w2[3:])]
    offsets = np.full((len(feats), width, 2), -1, dtype=np.int32)
    for f, (_, spans) in enumerate(feats):
        for j, span in enumerate(spans):
            offsets[f, 4 + j] = span
    return EvalSet(
        example_ids=["e0", "e1", "e2"],
        contexts=CONTEXTS,
        answers=[["beta"], [], ["three four"]],
        feature_example_index=np.array([e for e, _ in feats]),
        offsets=offsets,
        version=version,
    )


def _reference(
    es: EvalSet, start: np.ndarray, end: np.ndarray, n_best: int, max_len: int, thr: float, v2: bool
):
    answers, probs = {}, {}
    for ex in range(es.n_examples):
        best = None  # (score, s_logit, e_logit, text)
        null = math.inf
        for f in np.flatnonzero(es.feature_example_index == ex):
            null = min(null, float(start[f, 0] + end[f, 0]))
            starts = sorted(range(start.shape[1]), key=lambda i: -start[f, i])[:n_best]
            ends = sorted(range(end.shape[1]), key=lambda i: -end[f, i])[:n_best]
            for s in starts:
                for e in ends:
                    if es.offsets[f, s, 0] < 0 or es.offsets[f, e, 0] < 0 or e < s or e - s + 1 > max_len:
                        continue
                    score = float(start[f, s] + end[f, e])
                    if best is None or score > best[0]:
                        text = es.contexts[ex][es.offsets[f, s, 0] : es.offsets[f, e, 1]]
                        best = (score, float(start[f, s]), float(end[f, e]), text)
        qid = es.example_ids[ex]
        if best is None:
            answers[qid], probs[qid] = "", 1.0
            continue
        diff = null - best[1] - best[2]
        probs[qid] = 1 / (1 + math.exp(-diff))
        answers[qid] = "" if v2 and diff > thr else best[3]
    return answers, probs


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    ("version", "n_best", "max_len", "thr"), [("2.0", 20, 30, 0.0), ("2.0", 3, 2, 1.5), ("1.1", 2, 3, 0.0)]
)
def test_matches_the_plain_loop(seed: int, version: str, n_best: int, max_len: int, thr: float) -> None:
    es = _eval_set(version)
    rng = np.random.default_rng(seed)
    start = rng.normal(size=(es.n_features, 10)).astype(np.float32) * 2
    end = rng.normal(size=(es.n_features, 10)).astype(np.float32) * 2
    got = postprocess_predictions(
        es, start, end, n_best=n_best, max_answer_length=max_len, null_score_diff_threshold=thr
    )
    want_answers, want_probs = _reference(es, start, end, n_best, max_len, thr, version == "2.0")
    assert got.answers == want_answers
    assert got.na_probs == pytest.approx(want_probs, abs=1e-6)
    if version == "1.1":
        assert all(a for q, a in got.answers.items() if want_probs[q] < 1.0)


def test_answer_spans_windows_and_null() -> None:
    es = _eval_set()
    start = np.zeros((es.n_features, 10), dtype=np.float32)
    end = np.zeros((es.n_features, 10), dtype=np.float32)
    start[:, 1] = end[:, 1] = 50.0  # question token: never an answer
    start[0, 5], end[0, 5] = 5.0, 5.0  # "beta" in window 0 of e0
    start[3, 6], end[4, 5] = 4.0, 4.0  # e2: start in window 0, end in window 1 -> not a pair
    start[4, 4], end[4, 5] = 3.0, 3.0  # e2 window 1: "four five"
    start[2, 0], end[2, 0] = 9.0, 9.0  # e1: strong [CLS] -> no answer
    got = postprocess_predictions(es, start, end)
    assert got.answers == {"e0": "beta", "e1": "", "e2": "four five"}
    assert got.na_probs["e1"] > 0.99 and got.na_probs["e0"] < 0.01
    # v1.1 ignores the null score
    assert postprocess_predictions(es, start, end, version="1.1").answers["e1"] in CONTEXTS[1].split()


def test_subset_of_features_and_tensor_input() -> None:
    es = _eval_set()
    rng = np.random.default_rng(0)
    start = torch.from_numpy(rng.normal(size=(es.n_features, 10)).astype(np.float32))
    end = torch.from_numpy(rng.normal(size=(es.n_features, 10)).astype(np.float32))
    sub = postprocess_predictions(es, start[[2, 3]], end[[2, 3]], feature_indices=torch.tensor([2, 3]))
    assert set(sub.answers) == {"e1", "e2"}
    full = postprocess_predictions(es, start, end)
    assert sub.answers["e1"] == full.answers["e1"]


def test_bad_arguments() -> None:
    es = _eval_set()
    x = np.zeros((es.n_features, 10), dtype=np.float32)
    with pytest.raises(ValueError, match="must both be"):
        postprocess_predictions(es, x, x[:, :5])
    with pytest.raises(ValueError, match="feature_indices has 1 entries for 5 rows"):
        postprocess_predictions(es, x, x, feature_indices=np.array([0]))
    with pytest.raises(ValueError, match="n_best and max_answer_length must be >= 1"):
        postprocess_predictions(es, x, x, n_best=0)
