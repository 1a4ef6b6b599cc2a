"""Where a :class:`~lit_distill.data.datamodule.SquadDataModule` reads its examples: one object per kind.

The data module takes one ``source``, given in a config by ``class_path``::

    data:
      class_path: lit_distill.data.SquadDataModule
      init_args:
        source:
          class_path: lit_distill.data.SyntheticSquad
          init_args: {train_size: 3000, dev_size: 500}

:class:`SquadFiles` reads official-format SQuAD JSON files, :class:`HubSquad` a
Hugging Face dataset, :class:`SyntheticSquad` the project's generated data. A
source answers three questions: which splits it has, how to load one split as
examples, and (for the synthetic data) what to generate first and which
tokenizer comes with it. Another kind of source is a subclass of
:class:`SquadSource`, named by its ``class_path``.

:func:`source_config` is how a data module records its source in a checkpoint
(plain values only); :func:`source_from_hparams` reads it back, from the recorded
``source`` or from the flat keys of checkpoints written before the sources existed
(:data:`OLD_DATA_KEYS`).
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lit_distill.checks import fraction, non_negative_int, one_of, positive_int
from lit_distill.data.squad import LoadedSquad, OnMisaligned, SquadVersion, load_squad_json
from lit_distill.user_errors import UserInputError

__all__ = [
    "OLD_DATA_KEYS",
    "HubSquad",
    "SquadFiles",
    "SquadSource",
    "SyntheticSquad",
    "old_data_key_in",
    "old_data_key_message",
    "source_config",
    "source_from_config",
    "source_from_hparams",
]

Split = Literal["train", "validation", "test"]


class SquadSource(ABC):
    """What the data module asks of a data source.

    ``cache_dir`` is the data module's cache directory (features, generated data).
    """

    @abstractmethod
    def has_split(self, split: Split) -> bool:
        """Whether the source can give ``split``."""

    @abstractmethod
    def load(
        self, split: Split, version: SquadVersion, on_misaligned: OnMisaligned, cache_dir: Path
    ) -> LoadedSquad:
        """The validated examples of ``split``."""

    def prepare(self, cache_dir: Path) -> None:
        """Make the data available (download or generate); called once, before loading. Default: nothing."""
        return None

    def default_tokenizer(self, cache_dir: Path) -> str | None:
        """The tokenizer that comes with the data, if any (default: none)."""
        return None


@dataclass(frozen=True)
class SquadFiles(SquadSource):
    """Official-format SQuAD JSON files; the test split falls back to the validation file.

    Args:
        train: SQuAD JSON for training (``fit``); was ``train_file``.
        validation: SQuAD JSON for validation; was ``validation_file``.
        test: SQuAD JSON for ``test`` / ``predict`` (default: ``validation``); was ``test_file``.
    """

    train: str | None = None
    validation: str | None = None
    test: str | None = None

    def __post_init__(self) -> None:
        if not (self.train or self.validation or self.test):
            raise UserInputError(
                "SquadFiles needs at least one of train, validation, test (paths of SQuAD JSON files)"
            )

    def has_split(self, split: Split) -> bool:
        if split == "train":
            return bool(self.train)
        return bool(self.test if split == "test" and self.test else self.validation)

    def load(
        self, split: Split, version: SquadVersion, on_misaligned: OnMisaligned, cache_dir: Path
    ) -> LoadedSquad:
        path = (
            self.train
            if split == "train"
            else (self.test if split == "test" and self.test else self.validation)
        )
        return load_squad_json(str(path), version, on_misaligned)


@dataclass(frozen=True)
class HubSquad(SquadSource):
    """A Hugging Face dataset with SQuAD columns; test uses the validation split.

    Args:
        dataset: Dataset name (``rajpurkar/squad_v2``, ``rajpurkar/squad``) or a local dataset directory.
        config: Optional configuration name of ``dataset``.
        train_split: Split used for training (slices such as ``"train[:10%]"`` work).
        validation_split: Split used for validation and test (``"validation[:50%]"``).
    """

    dataset: str
    config: str | None = None
    train_split: str = "train"
    validation_split: str = "validation"

    def __post_init__(self) -> None:
        for name in ("dataset", "train_split", "validation_split"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise UserInputError(f"HubSquad {name} must be a non-empty string, got {value!r}")

    def has_split(self, split: Split) -> bool:
        return True

    def load(
        self, split: Split, version: SquadVersion, on_misaligned: OnMisaligned, cache_dir: Path
    ) -> LoadedSquad:
        from lit_distill.data.squad_hub import load_hub_squad

        hub_split = self.train_split if split == "train" else self.validation_split
        return load_hub_squad(self.dataset, hub_split, version, self.config, on_misaligned)


@dataclass(frozen=True)
class SyntheticSquad(SquadSource):
    """The project's synthetic SQuAD 2.0 data, generated once into ``cache_dir/synthetic/<settings>``.

    It comes with its own offline WordPiece tokenizer (the data module's default).

    Args:
        train_size: Questions in the training split.
        dev_size: Questions in the dev split (reported numbers).
        search_size: Questions in the held-out search split (the length search).
        seed: Seed of the data.
        validation_split: Which split validation and test read: ``"dev"`` or ``"search"``.
        long_fraction: Share of long paragraphs (several windows at 128 tokens).
        unanswerable_fraction: Expected share of unanswerable questions.
    """

    train_size: int = 3000
    dev_size: int = 500
    search_size: int = 300
    seed: int = 0
    validation_split: Literal["dev", "search"] = "dev"
    long_fraction: float = 0.15
    unanswerable_fraction: float = 0.35

    def __post_init__(self) -> None:
        for name in ("train_size", "dev_size", "search_size"):
            positive_int(f"SyntheticSquad {name}", getattr(self, name))
        non_negative_int("SyntheticSquad seed", self.seed)
        one_of("SyntheticSquad validation_split", self.validation_split, ("dev", "search"))
        fraction("SyntheticSquad long_fraction", self.long_fraction)
        fraction("SyntheticSquad unanswerable_fraction", self.unanswerable_fraction)

    def directory(self, cache_dir: Path) -> Path:
        """Where the data of these settings lives under ``cache_dir``."""
        name = (
            f"seed{self.seed}-{self.train_size}-{self.dev_size}-{self.search_size}"
            f"-long{self.long_fraction:g}-na{self.unanswerable_fraction:g}"
        )
        return cache_dir / "synthetic" / name

    def has_split(self, split: Split) -> bool:
        return True

    def load(
        self, split: Split, version: SquadVersion, on_misaligned: OnMisaligned, cache_dir: Path
    ) -> LoadedSquad:
        self.prepare(cache_dir)
        name = "train" if split == "train" else self.validation_split
        return load_squad_json(self.directory(cache_dir) / f"{name}.json", version, on_misaligned)

    def prepare(self, cache_dir: Path) -> None:
        """Generate the data unless a complete copy exists (written to a temporary name, then renamed)."""
        from lit_distill.data.synthetic import make_synthetic_dataset

        out = self.directory(cache_dir)
        if (out / "done").is_file():
            return
        tmp = out.with_name(out.name + ".tmp")
        make_synthetic_dataset(
            tmp,
            self.train_size,
            self.dev_size,
            self.search_size,
            self.seed,
            long_fraction=self.long_fraction,
            unanswerable_fraction=self.unanswerable_fraction,
        )
        (tmp / "done").write_text("ok")
        if not out.exists():
            tmp.rename(out)

    def default_tokenizer(self, cache_dir: Path) -> str | None:
        return str(self.directory(cache_dir) / "tokenizer")


_SOURCES: dict[str, type[SquadSource]] = {c.__name__: c for c in (SquadFiles, HubSquad, SyntheticSquad)}

# The data module's arguments before it took one ``source`` -> (source class, its field; None: the class alone).
OLD_DATA_KEYS: dict[str, tuple[type[SquadSource], str | None]] = {
    "train_file": (SquadFiles, "train"),
    "validation_file": (SquadFiles, "validation"),
    "test_file": (SquadFiles, "test"),
    "hub_dataset": (HubSquad, "dataset"),
    "hub_config": (HubSquad, "config"),
    "hub_train_split": (HubSquad, "train_split"),
    "hub_validation_split": (HubSquad, "validation_split"),
    "synthetic": (SyntheticSquad, None),
    "synthetic_train_size": (SyntheticSquad, "train_size"),
    "synthetic_dev_size": (SyntheticSquad, "dev_size"),
    "synthetic_search_size": (SyntheticSquad, "search_size"),
    "synthetic_seed": (SyntheticSquad, "seed"),
    "synthetic_validation_split": (SyntheticSquad, "validation_split"),
    "synthetic_long_fraction": (SyntheticSquad, "long_fraction"),
    "synthetic_unanswerable_fraction": (SyntheticSquad, "unanswerable_fraction"),
}


def old_data_key_message(key: str) -> str:
    """One line telling a user of the old data key ``key`` its new spelling (``key`` in :data:`OLD_DATA_KEYS`)."""
    cls, field = OLD_DATA_KEYS[key]
    path = f"lit_distill.data.{cls.__name__}"
    if field is None:
        new = f"data.init_args.source: {{class_path: {path}}}"
    else:
        new = (
            f"data.init_args.source: {{class_path: {path}, init_args: {{{field}: ...}}}} "
            f"(--data.init_args.source.init_args.{field} once the source is a {cls.__name__})"
        )
    return f"data key {key!r} was replaced by one source object: use {new}; see docs/data.md"


_UNKNOWN_OPTION = re.compile(r"(?:Option|Key) '([A-Za-z_][\w.]*)' is not (?:accepted|expected)")


def old_data_key_in(message: str) -> str | None:
    """The first old data key that a jsonargparse error ``message`` about ``SquadDataModule`` rejects, if any."""
    if "SquadDataModule" not in message:
        return None
    for match in _UNKNOWN_OPTION.finditer(message):
        key = match.group(1).rsplit(".", 1)[-1]
        if key in OLD_DATA_KEYS:
            return key
    return None


def source_config(source: SquadSource) -> dict[str, Any]:
    """``source`` as a config node of plain values (``class_path`` + ``init_args``), as checkpoints record it."""
    cls = type(source)
    path = (
        f"lit_distill.data.{cls.__name__}"
        if _SOURCES.get(cls.__name__) is cls
        else f"{cls.__module__}.{cls.__qualname__}"
    )
    init_args: dict[str, Any] = {}
    if dataclasses.is_dataclass(source) and not isinstance(source, type):
        init_args = dataclasses.asdict(source)
    return {"class_path": path, "init_args": init_args}


def source_from_config(node: Mapping[str, Any]) -> SquadSource:
    """The project's source that a config node (``class_path`` + ``init_args``) names.

    ``class_path`` is ``SquadFiles``, ``HubSquad`` or ``SyntheticSquad`` (with or without its
    module); nothing else is imported.

    Raises:
        UserInputError: For another ``class_path``, ``init_args`` that is not a mapping, or a
            value the class refuses.
    """
    name = str(node.get("class_path", "")).rsplit(".", 1)[-1]
    cls = _SOURCES.get(name)
    init_args = node.get("init_args") or {}
    if cls is None or not isinstance(init_args, Mapping):
        raise UserInputError(
            f"source must be {{class_path: lit_distill.data.X, init_args: {{...}}}} with X one of "
            f"{', '.join(_SOURCES)}; got {dict(node)!r}"
        )
    try:
        return cls(**init_args)
    except TypeError as err:  # an argument the class does not take
        raise UserInputError(f"source {name}: {err}") from None


def source_from_hparams(hparams: Mapping[str, Any]) -> SquadSource | None:
    """The project's source that a data module's recorded hyper-parameters describe, or None.

    Reads the ``source`` node (:func:`source_config`) or, for a checkpoint written before the
    sources existed, the old flat keys (:data:`OLD_DATA_KEYS`: ``synthetic``, ``hub_dataset``,
    ``train_file``, ...). Only the project's three source classes are built (a checkpoint is
    data: nothing named in it is imported); another class, or values they refuse, give None.
    """
    node = hparams.get("source")
    try:
        if isinstance(node, Mapping):
            return source_from_config(node)
        for cls, flag in ((SyntheticSquad, "synthetic"), (HubSquad, "hub_dataset"), (SquadFiles, None)):
            old = {key: field for key, (c, field) in OLD_DATA_KEYS.items() if c is cls and field}
            values = {old[k]: v for k, v in hparams.items() if k in old and v is not None}
            given = hparams.get(flag) if flag else any(values.values())
            if given:
                return cls(**values)
    except (UserInputError, TypeError):
        return None
    return None
