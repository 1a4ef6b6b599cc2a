"""Benchmark: vectorised post-processing vs. the classic loop over n-best candidates.

The baseline below is the usual implementation (the algorithm of Hugging Face's
``postprocess_qa_predictions``, written here from its description): for every
feature, sort start and end logits, loop over the n-best starts x n-best ends,
skip spans outside the context / reversed / too long, collect candidates per
example, sort them, compare the best with the minimum null score.

Both run on the same logits from ONE run and must give identical answers.
Logits: random normal plus a bump at the gold span (so answers are realistic),
seeded.

    python -m benchmarks.postprocess --data $SQUAD_DIR/dev-v2.0-half.json \
        --vocab $SQUAD_DIR/bert-base-uncased-vocab.txt
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np


def loop_postprocess(
    eval_set, start_logits, end_logits, n_best=20, max_answer_length=30, threshold=0.0, v2=True
):
    """Classic per-feature, per-candidate loop (the baseline), step by step as the usual implementation.

    Per example: loop over its features, track the minimum null score, pair the
    n-best starts with the n-best ends, keep valid spans (with their offsets),
    sort, keep the n best, add the null prediction (v2), extract their texts,
    softmax the n-best scores into probabilities (the n-best list users get),
    then choose the best non-null answer and compare it with the null score.
    """
    by_example = collections.defaultdict(list)
    for f, ex in enumerate(eval_set.feature_example_index):
        by_example[int(ex)].append(f)
    answers, na_probs, all_nbest = {}, {}, {}
    for ex, feats in by_example.items():
        min_null_prediction = None
        prelim = []
        context = eval_set.contexts[ex]
        for f in feats:
            s_logits, e_logits = start_logits[f], end_logits[f]
            offsets = eval_set.offsets[f]
            feature_null_score = s_logits[0] + e_logits[0]
            if min_null_prediction is None or min_null_prediction["score"] > feature_null_score:
                min_null_prediction = {
                    "offsets": (0, 0),
                    "score": feature_null_score,
                    "start_logit": s_logits[0],
                    "end_logit": e_logits[0],
                }
            start_indexes = np.argsort(s_logits)[-1 : -n_best - 1 : -1].tolist()
            end_indexes = np.argsort(e_logits)[-1 : -n_best - 1 : -1].tolist()
            for s in start_indexes:
                for e in end_indexes:
                    if s >= len(offsets) or e >= len(offsets) or offsets[s][0] < 0 or offsets[e][0] < 0:
                        continue
                    if e < s or e - s + 1 > max_answer_length:
                        continue
                    prelim.append(
                        {
                            "offsets": (offsets[s][0], offsets[e][1]),
                            "score": s_logits[s] + e_logits[e],
                            "start_logit": s_logits[s],
                            "end_logit": e_logits[e],
                        }
                    )
        predictions = sorted(prelim, key=lambda x: x["score"], reverse=True)[:n_best]
        if v2 and min_null_prediction is not None:
            predictions.append(min_null_prediction)
            null_score = min_null_prediction["score"]
        for pred in predictions:
            pred["text"] = context[pred["offsets"][0] : pred["offsets"][1]]
        scores = np.array([pred.pop("score") for pred in predictions])
        exp_scores = np.exp(scores - np.max(scores))
        probs = exp_scores / exp_scores.sum()
        for prob, pred in zip(probs, predictions, strict=True):
            pred["probability"] = prob
        qid = eval_set.example_ids[ex]
        all_nbest[qid] = predictions
        non_null = [p for p in predictions if p["offsets"] != (0, 0)]
        if not non_null:
            answers[qid], na_probs[qid] = "", 1.0
            continue
        best = non_null[0]
        if not v2 and min_null_prediction is not None:
            null_score = min_null_prediction["score"]
        diff = float(null_score - best["start_logit"] - best["end_logit"])
        na_probs[qid] = 1.0 / (1.0 + np.exp(-diff))
        answers[qid] = "" if v2 and diff > threshold else best["text"]
    return answers, na_probs


def main() -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--vocab", required=True, help="BERT vocab.txt")
    parser.add_argument("--version", default="2.0", choices=["1.1", "2.0"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from lit_distill.data import EvalSet, FeatureSettings, build_features, load_squad_json
    from lit_distill.metrics.postprocess import postprocess_predictions
    from lit_distill.models.loading import wordpiece_tokenizer

    torch.set_num_threads(1)
    tok = wordpiece_tokenizer(args.vocab, do_lower_case=True)
    examples = load_squad_json(args.data, version=args.version).examples
    features = build_features(examples, tok, FeatureSettings(384, 128, 64))
    es = EvalSet.from_features(examples, features, args.version)
    rng = np.random.default_rng(args.seed)
    shape = (es.n_features, es.max_length)
    start = rng.normal(size=shape).astype(np.float32)
    end = rng.normal(size=shape).astype(np.float32)
    rows = np.arange(es.n_features)
    start[rows, features.start_positions] += 4.0
    end[rows, features.end_positions] += 4.0

    t0 = time.perf_counter()
    base_answers, base_probs = loop_postprocess(es, start, end, v2=args.version == "2.0")
    t_loop = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = postprocess_predictions(es, start, end)
    t_fast = time.perf_counter() - t0

    same = fast.answers == base_answers
    max_prob_diff = max(abs(fast.na_probs[q] - base_probs[q]) for q in base_probs)
    print(f"questions: {es.n_examples}  features: {es.n_features}  n_best: 20")
    print(f"loop baseline: {t_loop:.3f} s   vectorised: {t_fast:.3f} s   speed-up: {t_loop / t_fast:.1f}x")
    print(
        f"identical answers: {same}  ({sum(fast.answers[q] == base_answers[q] for q in base_answers)}/{len(base_answers)})"
    )
    print(f"max |na_prob difference|: {max_prob_diff:.2e}")


if __name__ == "__main__":
    main()
