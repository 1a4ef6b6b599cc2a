"""Fixtures for the model tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from ._tiny import HF_CLASSES


@pytest.fixture
def hf_checkpoint(tmp_path: Path) -> Callable[..., tuple[torch.nn.Module, Path]]:
    """Build, save and return a tiny random Hugging Face model of the named class."""

    def make(cls_name: str, **kw: object) -> tuple[torch.nn.Module, Path]:
        cls, make_config = HF_CLASSES[cls_name]
        torch.manual_seed(0)
        model = cls(make_config(**kw)).eval()
        directory = tmp_path / cls_name
        model.save_pretrained(directory)
        return model, directory

    return make
