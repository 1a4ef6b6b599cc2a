"""SquadMetric: batching, padding, duplicate features, and DDP (2 CPU processes, gloo) == 1 process."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lit_distill.data.eval_set import EvalSet
from lit_distill.metrics import METRIC_KEYS, SquadMetric, postprocess_predictions, squad_evaluate
from lit_distill.metrics.postprocess import best_null_score_diff_threshold

WIDTH = 14  # context tokens sit at positions 3..10; the last columns are padding


def _eval_set(n_examples: int = 9, seed: int = 0) -> EvalSet:
    """Examples of 1-2 windows; contexts 'w0 w1 ...'; gold answers picked from the context or empty."""
    rng = np.random.default_rng(seed)
    contexts, answers, example_of, offsets = [], [], [], []
    for e in range(n_examples):
        words = [f"w{e}x{i}" for i in range(8)]
        context = " ".join(words)
        spans = []
        pos = 0
        for w in words:
            spans.append((pos, pos + len(w)))
            pos += len(w) + 1
        contexts.append(context)
        answers.append([] if e % 3 == 2 else [words[int(rng.integers(0, 8))]])
        windows = [spans] if e % 2 == 0 else [spans[:5], spans[3:]]
        for win in windows:
            off = np.full((WIDTH, 2), -1, dtype=np.int32)
            off[3 : 3 + len(win)] = win
            offsets.append(off)
            example_of.append(e)
    return EvalSet(
        [f"q{e}" for e in range(n_examples)], contexts, answers, np.array(example_of), np.stack(offsets)
    )


def _logits(es: EvalSet, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(es.n_features, WIDTH, generator=g) * 3, torch.randn(
        es.n_features, WIDTH, generator=g
    ) * 3


def _feed(
    metric: SquadMetric, start: torch.Tensor, end: torch.Tensor, indices: list[int], batch: int = 3
) -> None:
    """Batches padded to their own longest feature (as the DataModule does): here drop trailing pad columns."""
    for lo in range(0, len(indices), batch):
        idx = torch.tensor(indices[lo : lo + batch])
        width = WIDTH - (lo // batch) % 3  # vary the batch width; the cut columns are never context
        metric.update(start[idx, :width], end[idx, :width], idx)


def test_metric_equals_postprocess_plus_official_scoring() -> None:
    es = _eval_set()
    start, end = _logits(es)
    metric = SquadMetric().bind(es)
    _feed(metric, start, end, list(range(es.n_features)))
    got = metric.compute()
    assert set(got) == set(METRIC_KEYS)
    preds = postprocess_predictions(es, start[:, : WIDTH - 2], end[:, : WIDTH - 2])
    want = squad_evaluate(es.gold(), preds.answers, preds.na_probs)
    threshold = got.pop("best_null_score_diff_threshold")
    assert got == pytest.approx({k: float(v) for k, v in want.items()})
    assert threshold == best_null_score_diff_threshold(es.gold(), preds.spans)[1]
    answers, na_probs = metric.predictions()
    assert answers == preds.answers and set(na_probs) == set(es.example_ids)


def test_duplicates_are_dropped_and_order_does_not_matter() -> None:
    es = _eval_set()
    start, end = _logits(es)
    once = SquadMetric().bind(es)
    _feed(once, start, end, list(range(es.n_features)))
    twice = SquadMetric().bind(es)
    order = [*reversed(range(es.n_features)), 0, 1, 2]  # DistributedSampler-style padding repeats
    _feed(twice, start, end, order)
    assert twice.compute() == once.compute()


def test_partial_evaluation_scores_only_seen_questions() -> None:
    es = _eval_set()
    start, end = _logits(es)
    metric = SquadMetric().bind(es)
    seen = [f for f in range(es.n_features) if es.feature_example_index[f] < 4]
    _feed(metric, start, end, seen)
    assert metric.compute()["total"] == 4.0


def test_errors() -> None:
    es = _eval_set()
    with pytest.raises(RuntimeError, match=r"bind\(eval_set\) must be called"):
        SquadMetric().update(torch.zeros(1, 3), torch.zeros(1, 3), torch.zeros(1, dtype=torch.long))
    metric = SquadMetric().bind(es)
    with pytest.raises(ValueError, match=r"feature_index must be \(B,\)"):
        metric.update(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
    metric.update(torch.zeros(1, 3), torch.zeros(1, 3), torch.tensor([999]))
    with pytest.raises(ValueError, match="feature_index out of range"):
        metric.compute()
    with pytest.raises(ValueError, match="n_best must be >= 1"):
        SquadMetric(n_best=0)


def _ddp_worker(rank: int, world: int, init_file: str, out_dir: str, es: EvalSet) -> None:
    import torch.distributed as dist
    from torch.utils.data import DistributedSampler

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        start, end = _logits(es)
        sampler = DistributedSampler(
            range(es.n_features), num_replicas=world, rank=rank, shuffle=True, seed=3
        )
        metric = SquadMetric().bind(es)
        _feed(metric, start, end, list(sampler), batch=2)
        result = metric.compute()
        answers, _ = metric.predictions()
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps({"metrics": result, "answers": answers}))
    finally:
        dist.destroy_process_group()


def test_ddp_two_processes_gloo_match_one_process(tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    es = _eval_set(n_examples=10)
    assert es.n_features == 15  # odd: DistributedSampler repeats a feature to even out 2 ranks
    start, end = _logits(es)
    single = SquadMetric().bind(es)
    _feed(single, start, end, list(range(es.n_features)), batch=2)
    want = single.compute()
    want_answers, _ = single.predictions()

    mp.start_processes(
        _ddp_worker,
        args=(2, str(tmp_path / "init"), str(tmp_path), es),
        nprocs=2,
        join=True,
        start_method="spawn",
    )
    for rank in range(2):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert got["answers"] == want_answers
        for key, value in want.items():
            assert math.isclose(got["metrics"][key], value, rel_tol=0, abs_tol=1e-12), key
