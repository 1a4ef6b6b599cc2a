"""SquadDataModule: sources, batch contract, eval sets, on-disk cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import lit_distill.data.datamodule as dm_module
from lit_distill.data.datamodule import SquadDataModule
from lit_distill.data.sources import (
    HubSquad,
    SquadFiles,
    SyntheticSquad,
    source_config,
    source_from_hparams,
)
from lit_distill.user_errors import UserInputError

SMALL = {"train_size": 60, "dev_size": 30, "search_size": 20}
KEYS = {"input_ids", "attention_mask", "token_type_ids", "feature_index", "start_positions", "end_positions"}


def _synthetic(tmp_path: Path, validation_split: Any = "dev", **kw: Any) -> SquadDataModule:
    args = {
        "source": SyntheticSquad(**SMALL, validation_split=validation_split),
        "max_seq_length": 96,
        "doc_stride": 32,
        "batch_size": 4,
        "cache_dir": str(tmp_path),
    }
    return SquadDataModule(**{**args, **kw})


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
    search = _synthetic(tmp_path, validation_split="search").eval_set("validation")
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
        SquadFiles(train=str(synthetic_dir / "train.json"), validation=str(synthetic_dir / "dev.json")),
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
        ({}, r"data source is required, got None: give source: .*SquadFiles.*HubSquad.*SyntheticSquad"),
        ({"source": "rajpurkar/squad_v2"}, r"data source is required, got 'rajpurkar/squad_v2'"),
        ({"source": SquadFiles(validation="d.json")}, r"tokenizer is required with a SquadFiles source"),
        ({"source": HubSquad("x")}, r"tokenizer is required with a HubSquad source"),
        ({"version": "3.0"}, r"version must be one of '1\.1', '2\.0', got '3\.0'"),
        ({"batch_size": 0}, r"batch_size must be a positive integer, got 0"),
        ({"doc_stride": 400}, r"doc_stride \(400\) must be smaller than max_seq_length"),
        ({"on_misaligned": "keep"}, r"on_misaligned must be one of 'skip', 'fail', got 'keep'"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs: dict, pattern: str) -> None:
    with pytest.raises(UserInputError, match=pattern):
        SquadDataModule(
            **({"source": SyntheticSquad()} if "source" not in kwargs and kwargs else {}), **kwargs
        )


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: SquadFiles(), r"SquadFiles needs at least one of train, validation, test"),
        (lambda: HubSquad(""), r"HubSquad dataset must be a non-empty string, got ''"),
        (
            lambda: HubSquad("x", validation_split=" "),
            r"HubSquad validation_split must be a non-empty string",
        ),
        (
            lambda: SyntheticSquad(train_size=0),
            r"SyntheticSquad train_size must be a positive integer, got 0",
        ),
        (lambda: SyntheticSquad(seed=-1), r"SyntheticSquad seed must be an integer >= 0, got -1"),
        (lambda: SyntheticSquad(validation_split="test"), r"SyntheticSquad validation_split must be one of"),  # type: ignore[arg-type]
        (
            lambda: SyntheticSquad(unanswerable_fraction=2.0),
            r"SyntheticSquad unanswerable_fraction must be a finite number in \[0, 1\], got 2\.0",
        ),
    ],
)
def test_bad_source_fields_are_errors_naming_the_field(make: Any, pattern: str) -> None:
    with pytest.raises(UserInputError, match=pattern):
        make()


def test_the_source_is_recorded_as_plain_values_and_read_back(tmp_path: Path) -> None:
    source = SyntheticSquad(train_size=48, validation_split="search")
    dm = SquadDataModule(source, cache_dir=str(tmp_path))
    assert dm.hparams["source"] == {
        "class_path": "lit_distill.data.SyntheticSquad",
        "init_args": {
            "train_size": 48,
            "dev_size": 500,
            "search_size": 300,
            "seed": 0,
            "validation_split": "search",
            "long_fraction": 0.15,
            "unanswerable_fraction": 0.35,
        },
    }
    assert source_from_hparams(dm.hparams) == source
    for other in (
        SquadFiles(train="t.json"),
        HubSquad("rajpurkar/squad", validation_split="validation[:5%]"),
    ):
        assert source_from_hparams({"source": source_config(other)}) == other


@pytest.mark.parametrize(
    ("old", "source"),
    [
        (
            {"synthetic": True, "synthetic_train_size": 48, "synthetic_dev_size": 12, "synthetic_seed": 3,
             "hub_train_split": "train", "train_file": None},
            SyntheticSquad(train_size=48, dev_size=12, seed=3),
        ),
        (
            {"synthetic": False, "hub_dataset": "rajpurkar/squad", "hub_config": None,
             "hub_validation_split": "validation[:50%]", "synthetic_train_size": 3000},
            HubSquad("rajpurkar/squad", validation_split="validation[:50%]"),
        ),
        (
            {"synthetic": False, "hub_dataset": None, "train_file": "t.json", "validation_file": "d.json",
             "test_file": None},
            SquadFiles(train="t.json", validation="d.json"),
        ),
        ({"synthetic": False, "hub_dataset": None, "train_file": None}, None),
        ({"source": {"class_path": "my.own.Source", "init_args": {}}}, None),
        ({"source": {"class_path": "lit_distill.data.SyntheticSquad", "init_args": {"train_size": -1}}}, None),
    ],
)  # fmt: skip
def test_a_checkpoint_of_the_flat_data_keys_reads_as_its_source(old: dict[str, Any], source: Any) -> None:
    """Checkpoints written before the data module took one ``source`` still describe their data."""
    assert source_from_hparams(old) == source


def test_fit_without_a_train_split_is_a_clear_error(tmp_path: Path, synthetic_dir: Path) -> None:
    dm = SquadDataModule(
        SquadFiles(validation=str(synthetic_dir / "dev.json")),
        tokenizer=str(synthetic_dir / "tokenizer"),
        cache_dir=str(tmp_path),
    )
    with pytest.raises(
        UserInputError,
        match=r"stage 'fit' needs a train split; set data\.init_args\.source\.init_args\.train",
    ):
        dm.setup("fit")


def test_from_init_args_reads_a_config_s_source_node(tmp_path: Path) -> None:
    """Scripts give a config's ``data.init_args`` (benchmarks' ``--data`` JSON); the source by class name."""
    dm = SquadDataModule.from_init_args(
        {
            "source": {"class_path": "SyntheticSquad", "init_args": {"train_size": 48}},
            "cache_dir": str(tmp_path),
        }
    )
    assert dm.source == SyntheticSquad(train_size=48)
    with pytest.raises(UserInputError, match=r"source must be .* SquadFiles, HubSquad, SyntheticSquad"):
        SquadDataModule.from_init_args({"source": {"class_path": "os.system"}})
    with pytest.raises(UserInputError, match=r"source SquadFiles: .*'train_file'"):
        SquadDataModule.from_init_args(
            {"source": {"class_path": "SquadFiles", "init_args": {"train_file": "t"}}}
        )
