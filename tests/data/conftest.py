"""Shared fixtures for the data tests: one small synthetic dataset + tokenizer per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lit_distill.data.synthetic import make_synthetic_dataset

    out = tmp_path_factory.mktemp("synthetic")
    make_synthetic_dataset(out, n_train=120, n_dev=40, n_search=20, seed=0, vocab_size=600)
    return out


@pytest.fixture(scope="session")
def tokenizer(synthetic_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(synthetic_dir / "tokenizer"))
