"""Where a :class:`~lit_distill.data.datamodule.SquadDataModule` reads its examples: one object per kind.

A source answers three questions: which splits it has, how to load one split as
examples, and (for the synthetic data) what to generate first and which tokenizer
comes with it. :func:`choose_source` turns the data module's arguments into exactly
one source; it is the only place that tells local files, a Hugging Face dataset and
the synthetic data apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from lit_distill.data.squad import LoadedSquad, OnMisaligned, SquadVersion, load_squad_json
from lit_distill.user_errors import UserInputError

__all__ = ["HubSource", "SquadFilesSource", "SquadSource", "SyntheticSource", "choose_source"]

Split = Literal["train", "validation", "test"]


class SquadSource(Protocol):
    """What the data module asks of a data source."""

    def has_split(self, split: Split) -> bool:
        """Whether the source can give ``split``."""
        ...

    def load(self, split: Split, version: SquadVersion, on_misaligned: OnMisaligned) -> LoadedSquad:
        """The validated examples of ``split``."""
        ...

    def prepare(self) -> None:
        """Make the data available (download or generate); called once, before loading."""
        ...

    def default_tokenizer(self) -> str | None:
        """The tokenizer that comes with the data, if any."""
        ...


@dataclass(frozen=True)
class SquadFilesSource:
    """Official-format SQuAD JSON files; the test split falls back to the validation file."""

    train_file: str | None = None
    validation_file: str | None = None
    test_file: str | None = None

    def has_split(self, split: Split) -> bool:
        if split == "train":
            return self.train_file is not None
        return (self.test_file if split == "test" else None) is not None or self.validation_file is not None

    def load(self, split: Split, version: SquadVersion, on_misaligned: OnMisaligned) -> LoadedSquad:
        path = (
            self.train_file
            if split == "train"
            else (self.test_file if split == "test" and self.test_file else self.validation_file)
        )
        return load_squad_json(str(path), version, on_misaligned)

    def prepare(self) -> None:
        """Nothing to prepare: the files are read when a split is loaded."""

    def default_tokenizer(self) -> str | None:
        return None


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face dataset with SQuAD columns; test uses the validation split."""

    name: str
    config: str | None = None
    train_split: str = "train"
    validation_split: str = "validation"

    def has_split(self, split: Split) -> bool:
        return True

    def load(self, split: Split, version: SquadVersion, on_misaligned: OnMisaligned) -> LoadedSquad:
        from lit_distill.data.squad_hub import load_hub_squad

        hub_split = self.train_split if split == "train" else self.validation_split
        return load_hub_squad(self.name, hub_split, version, self.config, on_misaligned)

    def prepare(self) -> None:
        """Nothing to prepare: ``datasets`` downloads (or reads its cache) when a split is loaded."""

    def default_tokenizer(self) -> str | None:
        return None


@dataclass(frozen=True)
class SyntheticSource:
    """The project's synthetic data, generated once into ``cache_dir/synthetic/<settings>``.

    Validation and test read ``validation_split`` (``"dev"`` for reported numbers,
    ``"search"`` for the held-out length search).
    """

    cache_dir: Path
    train_size: int = 3000
    dev_size: int = 500
    search_size: int = 300
    seed: int = 0
    validation_split: Literal["dev", "search"] = "dev"
    long_fraction: float = 0.15
    unanswerable_fraction: float = 0.35

    @property
    def directory(self) -> Path:
        """Where the data of these settings lives."""
        name = (
            f"seed{self.seed}-{self.train_size}-{self.dev_size}-{self.search_size}"
            f"-long{self.long_fraction:g}-na{self.unanswerable_fraction:g}"
        )
        return self.cache_dir / "synthetic" / name

    def has_split(self, split: Split) -> bool:
        return True

    def load(self, split: Split, version: SquadVersion, on_misaligned: OnMisaligned) -> LoadedSquad:
        self.prepare()
        name = "train" if split == "train" else self.validation_split
        return load_squad_json(self.directory / f"{name}.json", version, on_misaligned)

    def prepare(self) -> None:
        """Generate the data unless a complete copy exists (written to a temporary name, then renamed)."""
        from lit_distill.data.synthetic import make_synthetic_dataset

        out = self.directory
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

    def default_tokenizer(self) -> str | None:
        return str(self.directory / "tokenizer")


def choose_source(
    files: SquadFilesSource, hub: HubSource | None, synthetic: SyntheticSource | None
) -> SquadSource:
    """The one source given; an error naming what was given when it is not exactly one.

    Raises:
        UserInputError: If no source or several are given.
    """
    given: list[tuple[str, SquadSource]] = []
    if files.train_file or files.validation_file or files.test_file:
        given.append(("files", files))
    if hub is not None:
        given.append(("hub_dataset", hub))
    if synthetic is not None:
        given.append(("synthetic", synthetic))
    if len(given) != 1:
        raise UserInputError(
            "give exactly one data source: train_file/validation_file (local SQuAD JSON), "
            f"hub_dataset (Hugging Face name) or synthetic: true; got {[n for n, _ in given] or 'none'}"
        )
    return given[0][1]
