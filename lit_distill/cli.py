"""The LightningCLI of lit_distill (subclass mode for models and data)."""

from __future__ import annotations

from typing import Any

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningCLI


class LitDistillCLI(LightningCLI):
    """LightningCLI with subclass mode for both the module and the data module.

    Any ``LightningModule`` / ``LightningDataModule`` importable by ``class_path``
    can be used; the project's own are found by their short names once imported
    by ``lit_distill.modules`` and ``lit_distill.data``. Every option can also
    come from an environment variable, e.g. ``LIT_DISTILL_FIT__TRAINER__MAX_EPOCHS=3``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _register_project_classes()
        kwargs.setdefault("model_class", LightningModule)
        kwargs.setdefault("datamodule_class", LightningDataModule)
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("subclass_mode_data", True)
        parser_kwargs = kwargs.setdefault("parser_kwargs", {})
        parser_kwargs.setdefault("env_prefix", "LIT_DISTILL")
        parser_kwargs.setdefault("default_env", True)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("auto_configure_optimizers", False)
        super().__init__(*args, **kwargs)


def _register_project_classes() -> None:
    """Import the project's modules, data modules and callbacks so short class names resolve."""
    import importlib

    for name in ("lit_distill.modules", "lit_distill.data", "lit_distill.callbacks"):
        importlib.import_module(name)
