"""``SquadDataModule``: SQuAD 1.1/2.0 from files, the Hugging Face Hub or the synthetic generator.

Batches follow ``docs/architecture.md``: ``input_ids``, ``attention_mask``,
``token_type_ids`` (B, L), ``feature_index``, ``start_positions``,
``end_positions`` (B,). ``L`` is the longest feature of the batch (or
``max_seq_length`` with ``pad_to_max_length=True``).

Under DDP, ``prepare_data`` (one process per node) generates synthetic data and
builds + caches the features; ``setup`` (every process) loads them from the cache.

Example:
    >>> dm = SquadDataModule(synthetic=True, max_seq_length=128, doc_stride=64, batch_size=32)
    >>> dm.prepare_data(); dm.setup("fit")
    >>> batch = next(iter(dm.train_dataloader()))
    >>> sorted(batch)
    ['attention_mask', 'end_positions', 'feature_index', 'input_ids', 'start_positions', 'token_type_ids']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from lit_distill.cache_dir import default_cache_dir
from lit_distill.checks import fraction, one_of, positive_int
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
from lit_distill.data.sources import HubSource, SquadFilesSource, SquadSource, SyntheticSource, choose_source
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

    Exactly one source: local files (``train_file`` / ``validation_file`` /
    ``test_file``), a Hugging Face dataset (``hub_dataset``), or ``synthetic: true``.
    The arguments become one :attr:`source` (:mod:`lit_distill.data.sources`), which
    every split is read from.

    Args:
        train_file: SQuAD-format JSON for training.
        validation_file: SQuAD-format JSON for validation.
        test_file: SQuAD-format JSON for test/predict (default: the validation data).
        hub_dataset: Hugging Face dataset name with SQuAD columns (``rajpurkar/squad_v2``).
        hub_config: Optional configuration name of ``hub_dataset``.
        hub_train_split: Split of ``hub_dataset`` used for training.
        hub_validation_split: Split of ``hub_dataset`` used for validation (and test).
        synthetic: Use the project's synthetic dataset (generated into the cache directory).
        synthetic_train_size: Questions in the synthetic training split.
        synthetic_dev_size: Questions in the synthetic dev split.
        synthetic_search_size: Questions in the synthetic held-out search split.
        synthetic_seed: Seed of the synthetic data.
        synthetic_validation_split: ``"dev"`` (reported numbers) or ``"search"`` (length search).
        synthetic_long_fraction: Share of long synthetic paragraphs (several windows at 128 tokens).
        synthetic_unanswerable_fraction: Expected share of unanswerable synthetic questions.
        tokenizer: Hugging Face fast tokenizer name or directory; defaults to the
            synthetic data's own tokenizer when ``synthetic`` is true.
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
    """

    def __init__(
        self,
        train_file: str | None = None,
        validation_file: str | None = None,
        test_file: str | None = None,
        hub_dataset: str | None = None,
        hub_config: str | None = None,
        hub_train_split: str = "train",
        hub_validation_split: str = "validation",
        synthetic: bool = False,
        synthetic_train_size: int = 3000,
        synthetic_dev_size: int = 500,
        synthetic_search_size: int = 300,
        synthetic_seed: int = 0,
        synthetic_validation_split: Literal["dev", "search"] = "dev",
        synthetic_long_fraction: float = 0.15,
        synthetic_unanswerable_fraction: float = 0.35,
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
        self.save_hyperparameters()
        self._hp: Any = self.hparams
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.source: SquadSource = choose_source(
            SquadFilesSource(train_file, validation_file, test_file),
            HubSource(hub_dataset, hub_config, hub_train_split, hub_validation_split)
            if hub_dataset
            else None,
            SyntheticSource(
                self.cache_dir,
                synthetic_train_size,
                synthetic_dev_size,
                synthetic_search_size,
                synthetic_seed,
                synthetic_validation_split,
                synthetic_long_fraction,
                synthetic_unanswerable_fraction,
            )
            if synthetic
            else None,
        )
        one_of("version", version, ("1.1", "2.0"))
        one_of("synthetic_validation_split", synthetic_validation_split, ("dev", "search"))
        fraction("synthetic_long_fraction", synthetic_long_fraction)
        fraction("synthetic_unanswerable_fraction", synthetic_unanswerable_fraction)
        one_of("on_misaligned", on_misaligned, ("skip", "fail"))
        positive_int("batch_size", batch_size)
        positive_int("eval_batch_size", eval_batch_size or batch_size)
        if tokenizer is None and not synthetic:
            raise UserInputError("tokenizer is required (a Hugging Face fast tokenizer name or directory)")
        self.settings = FeatureSettings(max_seq_length, doc_stride, max_query_length)
        self.settings.validate()
        self._version: Literal["1.1", "2.0"] = version
        self._tokenizer: Any = None
        self._examples: dict[str, list[SquadExample]] = {}
        self._features: dict[str, FeatureArrays] = {}
        self._keys: dict[str, str] = {}
        self._eval_sets: dict[str, EvalSet] = {}
        self.load_reports: dict[str, dict[str, Any]] = {}

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

            name = self._hp.tokenizer or self.source.default_tokenizer()
            if self._hp.tokenizer is None:
                self.source.prepare()  # the tokenizer comes with the data
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
        self.source.prepare()
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
                what = "train_file" if split == "train" else "validation_file"
                raise UserInputError(
                    f"stage {stage!r} needs a {split} split; set data.{what} (or use hub_dataset / synthetic)"
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
        return self.source.load(split, self.version, self._hp.on_misaligned)  # type: ignore[arg-type]

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
