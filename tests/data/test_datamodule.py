"""SquadDataModule: sources, batch contract, eval sets, on-disk cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import lit_distill.data.datamodule as dm_module
from lit_distill.data.datamodule import SquadDataModule

SMALL = {"synthetic_train_size": 60, "synthetic_dev_size": 30, "synthetic_search_size": 20}
KEYS = {"input_ids", "attention_mask", "token_type_ids", "feature_index", "start_positions", "end_positions"}


def _synthetic(tmp_path: Path, **kw: Any) -> SquadDataModule:
    args = {
        "synthetic": True,
        "max_seq_length": 96,
        "doc_stride": 32,
        "batch_size": 4,
        "cache_dir": str(tmp_path),
    }
    return SquadDataModule(**{**args, **SMALL, **kw})


def test_synthetic_batches_follow_the_contract(tmp_path: Path) -> None:
    dm = _synthetic(tmp_path)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.version == "2.0" and dm.tokenizer.is_fast
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == KEYS
    b, width = batch["input_ids"].shape
    assert b == 4 and width <= 96
    for key in ("attention_mask", "token_type_ids"):
        assert batch[key].shape == (b, width) and batch[key].dtype == torch.long
    for key in ("feature_index", "start_positions", "end_positions"):
        assert batch[key].shape == (b,) and batch[key].dtype == torch.long
    # Padding lines up with the attention mask, and every row starts with [CLS].
    assert (batch["input_ids"][batch["attention_mask"] == 0] == dm.tokenizer.pad_token_id).all()
    assert (batch["input_ids"][:, 0] == dm.tokenizer.cls_token_id).all()
    # Gold positions point at the answer text of the example.
    features, examples = dm.features("train"), dm.examples("train")
    hits = 0
    for i in range(len(features)):
        s, e = features.start_positions[i], features.end_positions[i]
        ex = examples[features.example_index[i]]
        if s == 0:
            continue
        lo = features.row_splits[i]
        assert ex.context[features.offset_start[lo + s] : features.offset_end[lo + e]] == ex.answer_texts[0]
        hits += 1
    assert hits > 0


def test_eval_batches_cover_every_feature_once_and_match_the_eval_set(tmp_path: Path) -> None:
    dm = _synthetic(tmp_path, eval_batch_size=7)
    dm.prepare_data()
    dm.setup("validate")
    seen = torch.cat([b["feature_index"] for b in dm.val_dataloader()])
    es = dm.eval_set("validation")
    assert seen.tolist() == list(range(es.n_features))
    assert es.n_examples == 30 and es.offsets.shape[0] == es.n_features
    assert es.feature_example_index.max() == es.n_examples - 1
    assert len(set(es.example_ids)) == 30
    # default test split = validation data
    assert dm.eval_set("test").example_ids == es.example_ids
    assert dm.eval_set("predict").example_ids == es.example_ids


def test_search_split_is_distinct_from_dev(tmp_path: Path) -> None:
    dev = _synthetic(tmp_path).eval_set("validation")
    search = _synthetic(tmp_path, synthetic_validation_split="search").eval_set("validation")
    assert not set(dev.example_ids) & set(search.example_ids)


def test_cache_is_reused_and_keyed_by_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _synthetic(tmp_path)
    first.prepare_data()
    fp = first.train_dataset_fingerprint()

    def no_build(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("features were built again although inputs and settings are unchanged")

    monkeypatch.setattr(dm_module, "build_features", no_build)
    again = _synthetic(tmp_path)
    again.setup("fit")
    assert again.train_dataset_fingerprint() == fp
    a, b = first.features("train"), again.features("train")
    for name in (
        "row_splits",
        "input_ids",
        "token_type_ids",
        "offset_start",
        "example_index",
        "end_positions",
    ):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    monkeypatch.undo()
    other = _synthetic(tmp_path, max_seq_length=80)
    assert other.train_dataset_fingerprint() != fp


def test_local_files_and_pad_to_max_length(tmp_path: Path, synthetic_dir: Path) -> None:
    dm = SquadDataModule(
        train_file=str(synthetic_dir / "train.json"),
        validation_file=str(synthetic_dir / "dev.json"),
        tokenizer=str(synthetic_dir / "tokenizer"),
        max_seq_length=64,
        doc_stride=16,
        max_query_length=24,
        batch_size=5,
        pad_to_max_length=True,
        cache_dir=str(tmp_path),
    )
    dm.prepare_data()
    dm.setup("fit")
    assert next(iter(dm.train_dataloader()))["input_ids"].shape == (5, 64)
    assert next(iter(dm.val_dataloader()))["input_ids"].shape == (5, 64)
    assert len(dm.features("train")) > 120  # 120 questions, some long contexts -> several windows


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({}, r"exactly one data source.*got none"),
        ({"synthetic": True, "hub_dataset": "x"}, r"exactly one data source.*\['hub_dataset', 'synthetic'\]"),
        ({"validation_file": "d.json"}, r"tokenizer is required"),
        ({"synthetic": True, "version": "3.0"}, r"version must be one of '1\.1', '2\.0', got '3\.0'"),
        ({"synthetic": True, "batch_size": 0}, r"batch_size must be a positive integer, got 0"),
        ({"synthetic": True, "doc_stride": 400}, r"doc_stride \(400\) must be smaller than max_seq_length"),
        (
            {"synthetic": True, "on_misaligned": "keep"},
            r"on_misaligned must be one of 'skip', 'fail', got 'keep'",
        ),
        (
            {"synthetic": True, "synthetic_unanswerable_fraction": 2.0},
            r"synthetic_unanswerable_fraction must be a finite number in \[0, 1\], got 2\.0",
        ),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        SquadDataModule(**kwargs)


def test_fit_without_train_file_is_a_clear_error(tmp_path: Path, synthetic_dir: Path) -> None:
    dm = SquadDataModule(
        validation_file=str(synthetic_dir / "dev.json"),
        tokenizer=str(synthetic_dir / "tokenizer"),
        cache_dir=str(tmp_path),
    )
    with pytest.raises(ValueError, match=r"stage 'fit' needs a train split; set data\.train_file"):
        dm.setup("fit")
