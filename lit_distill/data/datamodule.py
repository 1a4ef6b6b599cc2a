"""``SquadDataModule``: SQuAD 1.1/2.0 from one source: files, the Hugging Face Hub or the synthetic generator.

Batches follow ``docs/architecture.md``: ``input_ids``, ``attention_mask``,
``token_type_ids`` (B, L), ``feature_index``, ``start_positions``,
``end_positions`` (B,). ``L`` is the longest feature of the batch (or
``max_seq_length`` with ``pad_to_max_length=True``).

Under DDP, ``prepare_data`` (one process per node) generates synthetic data and
builds + caches the features; ``setup`` (every process) loads them from the cache.

Example:
    >>> from lit_distill.data import SyntheticSquad
    >>> dm = SquadDataModule(SyntheticSquad(), max_seq_length=128, doc_stride=64, batch_size=32)
    >>> dm.prepare_data(); dm.setup("fit")
    >>> batch = next(iter(dm.train_dataloader()))
    >>> sorted(batch)
    ['attention_mask', 'end_positions', 'feature_index', 'input_ids', 'start_positions', 'token_type_ids']
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from lit_distill.cache_dir import default_cache_dir
from lit_distill.checks import one_of, positive_int
from lit_distill.data.batches import collate_features
from lit_distill.data.cache import (
    examples_fingerprint,
    features_key,
    load_features,
    save_features,
    tokenizer_fingerprint,
)
from lit_distill.data.eval_set import EvalSet
from lit_distill.data.features import FeatureArrays, FeatureSettings, build_features
from lit_distill.data.resumable import make_resumable
from lit_distill.data.sources import SquadSource, source_config, source_from_config
from lit_distill.data.squad import LoadedSquad, SquadExample
from lit_distill.user_errors import UserInputError

__all__ = ["FeatureDataset", "SquadDataModule", "collate_features"]

Split = Literal["train", "validation", "test", "predict"]
_EVAL_SPLITS = ("validation", "test", "predict")


class FeatureDataset(Dataset[int]):
    """Indexes features; :func:`collate_features` gathers and pads them into a batch."""

    def __init__(self, features: FeatureArrays) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> int:
        return index


class _Collator:
    """Picklable collate function (DataLoader workers)."""

    def __init__(self, features: FeatureArrays, pad_id: int, pad_to: int | None) -> None:
        self.features, self.pad_id, self.pad_to = features, pad_id, pad_to

    def __call__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        return collate_features(self.features, indices, self.pad_id, self.pad_to)


class SquadDataModule(LightningDataModule):
    """SQuAD v1.1 / v2.0 data for every teacher and student.

    Every split is read from one :attr:`source` (:mod:`lit_distill.data.sources`): local
    files (:class:`~lit_distill.data.sources.SquadFiles`), a Hugging Face dataset
    (:class:`~lit_distill.data.sources.HubSquad`) or the project's synthetic data
    (:class:`~lit_distill.data.sources.SyntheticSquad`), given in a config by ``class_path``.

    Args:
        source: Where the examples come from (required).
        tokenizer: Hugging Face fast tokenizer name or directory; defaults to the tokenizer
            that comes with the source (the synthetic data's own).
        version: ``"1.1"`` (no unanswerable questions) or ``"2.0"``.
        max_seq_length: Tokens per feature.
        doc_stride: Overlapping tokens between windows of one context.
        max_query_length: Question tokens kept.
        batch_size: Training batch size.
        eval_batch_size: Evaluation batch size (default ``batch_size``).
        num_workers: DataLoader workers.
        pad_to_max_length: Pad every batch to ``max_seq_length`` instead of its longest feature.
        on_misaligned: ``"skip"`` misaligned answers with a counted warning, or ``"fail"``.
        cache_dir: Feature cache (and synthetic data) directory; default ``$LIT_DISTILL_CACHE``
            or ``~/.cache/lit_distill``.
        resumable_train_loader: Make the training loader resumable mid-epoch (a
            :class:`~lit_distill.data.resumable.ResumableLoader`): its order depends only on
            ``(seed, epoch)`` (``seed`` from ``seed_everything``) and a resumed epoch skips the
            batches the restored trainer progress says are done, so ``fit --ckpt_path last``
            sees exactly the batches an uninterrupted run would. The loader carries Lightning's
            ``state_dict`` / ``load_state_dict`` hooks.

    Raises:
        UserInputError: If ``source`` is missing or not a source, a value is not allowed,
            or no tokenizer is given for a source that has none.
    """

    def __init__(
        self,
        source: SquadSource | None = None,
        tokenizer: str | None = None,
        version: Literal["1.1", "2.0"] = "2.0",
        max_seq_length: int = 384,
        doc_stride: int = 128,
        max_query_length: int = 64,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        pad_to_max_length: bool = False,
        on_misaligned: Literal["skip", "fail"] = "skip",
        cache_dir: str | None = None,
        resumable_train_loader: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(source, SquadSource):
            raise UserInputError(
                f"data source is required, got {source!r}: give source: {{class_path: lit_distill.data.X, "
                "init_args: {...}} with X one of SquadFiles (local SQuAD JSON), HubSquad (Hugging Face "
                "dataset) or SyntheticSquad (generated offline data)"
            )
        self.source: SquadSource = source
        # the source as plain values, so that a checkpoint loads without unpickling code
        self.save_hyperparameters(
            {
                "source": source_config(source),
                "tokenizer": tokenizer,
                "version": version,
                "max_seq_length": max_seq_length,
                "doc_stride": doc_stride,
                "max_query_length": max_query_length,
                "batch_size": batch_size,
                "eval_batch_size": eval_batch_size,
                "num_workers": num_workers,
                "pad_to_max_length": pad_to_max_length,
                "on_misaligned": on_misaligned,
                "cache_dir": cache_dir,
                "resumable_train_loader": resumable_train_loader,
            }
        )
        self._hp: Any = self.hparams
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        one_of("version", version, ("1.1", "2.0"))
        one_of("on_misaligned", on_misaligned, ("skip", "fail"))
        positive_int("batch_size", batch_size)
        positive_int("eval_batch_size", eval_batch_size or batch_size)
        if tokenizer is None and source.default_tokenizer(self.cache_dir) is None:
            raise UserInputError(
                f"tokenizer is required with a {type(source).__name__} source "
                "(a Hugging Face fast tokenizer name or directory)"
            )
        self.settings = FeatureSettings(max_seq_length, doc_stride, max_query_length)
        self.settings.validate()
        self._version: Literal["1.1", "2.0"] = version
        self._tokenizer: Any = None
        self._examples: dict[str, list[SquadExample]] = {}
        self._features: dict[str, FeatureArrays] = {}
        self._keys: dict[str, str] = {}
        self._eval_sets: dict[str, EvalSet] = {}
        self.load_reports: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_init_args(cls, init_args: Mapping[str, Any]) -> SquadDataModule:
        """A data module from a config's ``data.init_args`` (its ``source`` a ``class_path`` node), for scripts.

        Raises:
            UserInputError: As the constructor, and for a ``source`` node that names no project source.
        """
        args = dict(init_args)
        if isinstance(args.get("source"), Mapping):
            args["source"] = source_from_config(args["source"])
        return cls(**args)

    # ----------------------------------------------------------------- public contract
    @property
    def version(self) -> Literal["1.1", "2.0"]:
        """``"1.1"`` or ``"2.0"``."""
        return self._version

    @property
    def tokenizer(self) -> Any:
        """The Hugging Face fast tokenizer in use (loaded on first access)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            name = self._hp.tokenizer or self.source.default_tokenizer(self.cache_dir)
            if self._hp.tokenizer is None:
                self.source.prepare(self.cache_dir)  # the tokenizer comes with the data
            self._tokenizer = AutoTokenizer.from_pretrained(name, use_fast=True)
        return self._tokenizer

    def train_dataset_fingerprint(self) -> str:
        """A string that changes whenever the training features change."""
        return self._key("train")

    def eval_set(self, split: str = "validation") -> EvalSet:
        """Examples + per-feature arrays the metric needs (``validation``, ``test`` or ``predict``)."""
        if split not in _EVAL_SPLITS:
            raise ValueError(f"split must be one of {', '.join(_EVAL_SPLITS)}, got {split!r}")
        split = _canonical(split)
        if split not in self._eval_sets:
            self._eval_sets[split] = EvalSet.from_features(
                self._get_examples(split), self._get_features(split), self.version
            )
        return self._eval_sets[split]

    def features(self, split: str) -> FeatureArrays:
        """Features of ``split`` (``train``, ``validation``, ``test``, ``predict``)."""
        return self._get_features(_canonical(split))

    def examples(self, split: str) -> list[SquadExample]:
        """Examples of ``split``."""
        return self._get_examples(_canonical(split))

    # ----------------------------------------------------------------- Lightning hooks
    def prepare_data(self) -> None:
        """Prepare the source (the synthetic data is generated), then build and cache every available split's features."""
        self.source.prepare(self.cache_dir)
        for split in ("train", "validation", "test"):
            if self._has_split(split):
                self._get_features(split)

    def setup(self, stage: str | None = None) -> None:
        """Load (from the cache) the splits ``stage`` needs."""
        needed = {
            "fit": ["train", "validation"],
            "validate": ["validation"],
            "test": ["test"],
            "predict": ["test"],
        }
        for split in needed.get(stage or "", ["train", "validation", "test"]):
            if not self._has_split(split):
                if stage is None and split == "train":
                    continue
                what = "train" if split == "train" else "validation"
                raise UserInputError(
                    f"stage {stage!r} needs a {split} split; set data.init_args.source.init_args.{what} "
                    "of the SquadFiles source (or use a HubSquad / SyntheticSquad source)"
                )
            self._get_features(split)

    def train_dataloader(self) -> DataLoader:
        loader = self._loader("train", shuffle=True, batch_size=self._hp.batch_size)
        if not self._hp.resumable_train_loader:
            return loader
        seed = int(os.environ.get("PL_GLOBAL_SEED", "0"))  # set by seed_everything
        return make_resumable(loader, seed, self._processed_train_batches)  # type: ignore[no-any-return]

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", shuffle=False, batch_size=self._eval_batch_size())

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False, batch_size=self._eval_batch_size())

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False, batch_size=self._eval_batch_size())

    # ----------------------------------------------------------------- internals
    def _processed_train_batches(self) -> int:
        """Batches of the current epoch already trained on (after a resume: those done before it)."""
        trainer = self.trainer
        if trainer is None:
            return 0
        return int(trainer.fit_loop.epoch_loop.batch_progress.current.completed)

    def _eval_batch_size(self) -> int:
        return int(self._hp.eval_batch_size or self._hp.batch_size)

    def _loader(self, split: str, shuffle: bool, batch_size: int) -> DataLoader:
        features = self._get_features(split)
        pad_id = self.tokenizer.pad_token_id
        collate = _Collator(
            features,
            0 if pad_id is None else int(pad_id),
            self.settings.max_seq_length if self._hp.pad_to_max_length else None,
        )
        return DataLoader(
            FeatureDataset(features),
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=collate,
            num_workers=self._hp.num_workers,
            persistent_workers=self._hp.num_workers > 0,
        )

    def _has_split(self, split: str) -> bool:
        return self.source.has_split(split)  # type: ignore[arg-type]

    def _load(self, split: str) -> LoadedSquad:
        return self.source.load(split, self.version, self._hp.on_misaligned, self.cache_dir)  # type: ignore[arg-type]

    def _get_examples(self, split: str) -> list[SquadExample]:
        if split not in self._examples:
            loaded = self._load(split)
            self._examples[split] = loaded.examples
            self.load_reports[split] = loaded.report.to_dict()
        return self._examples[split]

    def _key(self, split: str) -> str:
        if split not in self._keys:
            self._keys[split] = features_key(
                examples_fingerprint(self._get_examples(split)),
                tokenizer_fingerprint(self.tokenizer),
                self.settings,
            )
        return self._keys[split]

    def _get_features(self, split: str) -> FeatureArrays:
        if split not in self._features:
            path = self.cache_dir / "features" / self._key(split)
            features = load_features(path)
            if features is None:
                features = build_features(self._get_examples(split), self.tokenizer, self.settings)
                path.parent.mkdir(parents=True, exist_ok=True)
                save_features(features, path)
            self._features[split] = features
        return self._features[split]


def _canonical(split: str) -> str:
    if split == "predict":
        return "test"
    if split not in ("train", "validation", "test"):
        raise ValueError(f"split must be one of train, validation, test, predict, got {split!r}")
    return split
