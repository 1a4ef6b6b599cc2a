"""The teacher-logit cache: sharded computation, assembly, lookup, files and keys."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from lit_distill.modules.teacher_cache import (
    PAD_LOGIT,
    TeacherLogits,
    assemble,
    cache_path,
    compute_teacher_logits,
    model_fingerprint,
)


class Items(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Features of varying real length, padded per batch by the collate function."""

    def __init__(self, n: int) -> None:
        self.lengths = [3 + (i % 4) for i in range(n)]

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> dict[str, object]:
        return {"input_ids": torch.arange(1, self.lengths[i] + 1) + i, "feature_index": i}


def collate(items: list[dict[str, object]]) -> dict[str, torch.Tensor]:
    width = max(len(it["input_ids"]) for it in items)  # type: ignore[arg-type]
    ids = torch.zeros(len(items), width, dtype=torch.long)
    for row, it in enumerate(items):
        seq = it["input_ids"]
        ids[row, : len(seq)] = seq  # type: ignore[arg-type]
    return {
        "input_ids": ids,
        "attention_mask": (ids > 0).long(),
        "feature_index": torch.tensor([it["feature_index"] for it in items]),
    }


def fake_teacher(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: object = None
) -> object:
    x = input_ids.float()
    return SimpleNamespace(start_logits=x * 0.5, end_logits=-x)


def test_shards_cover_the_dataset_and_assemble_like_one_process() -> None:
    data = Items(11)
    one = assemble(
        *compute_teacher_logits(fake_teacher, data, collate, batch_size=4, device=torch.device("cpu")), 11
    )
    parts = [
        compute_teacher_logits(
            fake_teacher, data, collate, batch_size=4, device=torch.device("cpu"), rank=r, world_size=3
        )
        for r in range(3)
    ]
    assert sorted(int(i) for p in parts for i in p[0]) == list(range(11))
    width = max(p[1].size(1) for p in parts)
    pad = lambda t: torch.nn.functional.pad(t, (0, width - t.size(1)), value=PAD_LOGIT)  # noqa: E731
    merged = assemble(
        torch.cat([p[0] for p in parts]),
        torch.cat([pad(p[1]) for p in parts]),
        torch.cat([pad(p[2]) for p in parts]),
        11,
    )
    assert bool(merged.filled.all())
    batch = torch.tensor([10, 0, 5])
    real = torch.arange(6)[None, :] < torch.tensor([data.lengths[i] for i in batch])[:, None]  # (3, 6)
    for a, b in zip(
        one.lookup(batch, 6, torch.device("cpu")), merged.lookup(batch, 6, torch.device("cpu")), strict=True
    ):
        # padding positions depend on how features were batched; real tokens must agree exactly
        assert torch.equal(a[real], b[real])
    start, end = one.lookup(torch.tensor([2]), 6, torch.device("cpu"))
    # feature 2 has 5 real tokens: ids 3..7; the sixth position is padding
    assert start[0, :5].tolist() == [1.5, 2.0, 2.5, 3.0, 3.5]
    assert end[0, :5].tolist() == [-3.0, -4.0, -5.0, -6.0, -7.0]


def test_lookup_pads_to_longer_batches_and_refuses_unknown_features() -> None:
    table = assemble(torch.tensor([0, 2, -1]), torch.ones(3, 2), torch.zeros(3, 2), 3)
    start, _ = table.lookup(torch.tensor([0, 2]), 4, torch.device("cpu"))
    assert start.tolist() == [[1.0, 1.0, PAD_LOGIT, PAD_LOGIT]] * 2
    with pytest.raises(KeyError, match=r"features \[1\] are not in the teacher-logit cache"):
        table.lookup(torch.tensor([1]), 2, torch.device("cpu"))
    with pytest.raises(KeyError, match="features \\[7\\]"):
        table.lookup(torch.tensor([7]), 2, torch.device("cpu"))


def test_save_load_round_trip(tmp_path: Path) -> None:
    table = assemble(torch.tensor([1, 0]), torch.randn(2, 3), torch.randn(2, 3), 2)
    path = tmp_path / "sub" / "c.pt"
    table.save(path, {"teacher": "t"})
    back = TeacherLogits.load(path)
    assert torch.equal(back.start, table.start) and torch.equal(back.end, table.end)
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_key_changes_with_teacher_weights_and_data() -> None:
    torch.manual_seed(0)
    a = nn.Linear(3, 2)
    fp = model_fingerprint(a)
    assert fp == model_fingerprint(a)
    with torch.no_grad():
        a.weight[0, 0] += 1e-3
    assert model_fingerprint(a) != fp
    assert cache_path("d", fp, "data1") != cache_path("d", fp, "data2")
    assert cache_path("d", fp, "data1") == cache_path("d", fp, "data1")


# ---- issue 14: the cache verifies its file
@pytest.mark.parametrize("how", ["truncated", "overwritten"])
def test_damaged_cache_file_is_named_and_computed_again(tmp_path: Path, how: str) -> None:
    from lit_distill.modules.teacher_cache import load_cache

    table = assemble(torch.arange(64), torch.randn(64, 200), torch.randn(64, 200), 64)
    path = tmp_path / "teacher-logits-x.pt"
    table.save(path, {"teacher": "t"})
    assert load_cache(path) is not None
    size = path.stat().st_size
    if how == "truncated":
        os.truncate(path, size // 2)
    else:  # tensor bytes: torch.load itself reads these without complaint
        with path.open("r+b") as f:
            f.seek(size // 2)
            f.write(b"\x7f" * 32)
    with pytest.raises(ValueError, match=f"teacher-logit cache {path}"):
        TeacherLogits.load(path)
    with pytest.warns(
        UserWarning, match=f"teacher-logit cache {path} .*computing the teacher's logits again"
    ):
        assert load_cache(path) is None


# ---- issue 29 item 4: a run shorter than one epoch computes only what it trains on
@pytest.mark.parametrize(
    ("steps", "accumulate", "world", "batches", "covers"),
    [
        (20, 1, 1, 268, False),  # --trainer.limit_train_batches 20 of 268
        (268, 1, 1, 268, True),  # one full epoch
        (536, 1, 1, 268, True),
        (30, 1, 1, 268, False),  # --trainer.max_steps 30
        (67, 2, 2, 268, True),  # 2 processes, 2 batches per step
        (float("inf"), 1, 1, 268, True),
        (0, 1, 1, 268, False),
    ],
)
def test_run_covers_training_set(
    steps: float, accumulate: int, world: int, batches: int, covers: bool
) -> None:
    from lit_distill.modules.teacher_cache import run_covers_training_set

    assert run_covers_training_set(steps, accumulate, world, batches) is covers


def test_fill_widens_the_table_and_tracks_missing_rows() -> None:
    from lit_distill.modules.teacher_cache import empty_table

    table = empty_table(4)
    assert not table.complete and table.missing() == [0, 1, 2, 3]
    table.fill(torch.tensor([2]), torch.ones(1, 2), -torch.ones(1, 2))
    table.fill(torch.tensor([0, 3]), torch.full((2, 3), 2.0), torch.zeros(2, 3))
    assert table.missing() == [1] and not table.complete
    start, end = table.lookup(torch.tensor([2, 0]), 3, torch.device("cpu"))
    assert start.tolist() == [[1.0, 1.0, PAD_LOGIT], [2.0, 2.0, 2.0]]
    assert end[0, :2].tolist() == [-1.0, -1.0]
    with pytest.raises(ValueError, match="outside the cache's 4 rows"):
        table.fill(torch.tensor([4]), torch.ones(1, 2), torch.ones(1, 2))
    table.fill(torch.tensor([1]), torch.ones(1, 1), torch.ones(1, 1))
    assert table.complete


def test_compute_only_the_given_indices_and_report_progress() -> None:
    data, seen = Items(11), []
    index, start, _ = compute_teacher_logits(
        fake_teacher,
        data,
        collate,
        batch_size=2,
        device=torch.device("cpu"),
        indices=[9, 3, 5],
        progress=seen.append,
    )
    assert sorted(index.tolist()) == [3, 5, 9] and start.size(0) == 3
    assert sum(seen) == 3 and len(seen) == 2  # one call per batch


def test_plain_progress_lines_in_a_log(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from lit_distill.modules.cache_progress import cache_progress

    out = io.StringIO()
    with cache_progress(100, bar=False, stream=out) as advance:
        for _ in range(50):
            advance(2)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in out.getvalue()
    assert lines[0].startswith("teacher logits: 20/100 features (20 %)") or lines[0].startswith(
        "teacher logits: 10/100 features (10 %)"
    )
    assert lines[-1].startswith("teacher logits: 100/100 features (100 %)") and "ETA 0:00:00" in lines[-1]
    err = io.StringIO()
    with cache_progress(10, bar=True, stream=err) as advance:  # a terminal: tqdm's bar
        advance(10)
    assert "teacher logits" in err.getvalue() and "10/10" in err.getvalue()
    with cache_progress(10, bar=False, enabled=False, stream=out) as advance:  # other DDP ranks
        advance(10)
    assert len(out.getvalue().splitlines()) == 10
