"""lit_distill.data: SQuAD reading and validation, features, synthetic data, the DataModule."""

from typing import TYPE_CHECKING, Any

from lit_distill.data.eval_set import EvalSet
from lit_distill.data.features import FeatureArrays, FeatureSettings, build_features
from lit_distill.data.sources import HubSquad, SquadFiles, SquadSource, SyntheticSquad
from lit_distill.data.squad import (
    LoadedSquad,
    LoadReport,
    SquadDataWarning,
    SquadExample,
    SquadFormatError,
    load_squad_json,
)
from lit_distill.data.squad_hub import load_hub_squad
from lit_distill.data.synthetic import generate_squad_json, make_synthetic_dataset
from lit_distill.data.wordpiece import train_wordpiece_tokenizer

if TYPE_CHECKING:
    from lit_distill.data.datamodule import SquadDataModule


def __getattr__(name: str) -> Any:
    # SquadDataModule imports Lightning; load it only when asked for, so that the
    # metrics (and DDP worker processes) import quickly.
    if name == "SquadDataModule":
        from lit_distill.data.datamodule import SquadDataModule

        return SquadDataModule
    raise AttributeError(f"module 'lit_distill.data' has no attribute {name!r}")


__all__ = [
    "EvalSet",
    "FeatureArrays",
    "FeatureSettings",
    "HubSquad",
    "LoadReport",
    "LoadedSquad",
    "SquadDataModule",
    "SquadDataWarning",
    "SquadExample",
    "SquadFiles",
    "SquadFormatError",
    "SquadSource",
    "SyntheticSquad",
    "build_features",
    "generate_squad_json",
    "load_hub_squad",
    "load_squad_json",
    "make_synthetic_dataset",
    "train_wordpiece_tokenizer",
]
