"""The feature cache verifies its files: a truncated or overwritten entry is rebuilt with a warning naming it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lit_distill.data.cache import load_features, save_features
from lit_distill.data.datamodule import SquadDataModule
from lit_distill.data.features import FeatureArrays
from lit_distill.data.sources import SyntheticSquad


def _features() -> FeatureArrays:
    n_tokens = 4000  # large enough that the middle of the Arrow file is column data
    rng = np.random.default_rng(0)
    return FeatureArrays(
        row_splits=np.array([0, 1500, n_tokens], dtype=np.int64),
        input_ids=rng.integers(0, 30000, n_tokens, dtype=np.int32),
        token_type_ids=rng.integers(0, 2, n_tokens).astype(np.int8),
        offset_start=rng.integers(-1, 500, n_tokens, dtype=np.int32),
        offset_end=rng.integers(-1, 500, n_tokens, dtype=np.int32),
        example_index=np.array([0, 1], dtype=np.int32),
        start_positions=np.array([3, 0], dtype=np.int32),
        end_positions=np.array([5, 0], dtype=np.int32),
        n_truncated_questions=1,
    )


def _damage(entry: Path, how: str) -> Path:
    (arrow,) = entry.glob("*.arrow")
    size = arrow.stat().st_size
    if how == "truncated":
        os.truncate(arrow, size // 2)
    else:  # same size, different bytes
        with arrow.open("r+b") as f:
            f.seek(size // 2)
            block = f.read(64)
            f.seek(size // 2)
            f.write(bytes(b ^ 0xFF for b in block))
    return arrow


def test_round_trip_is_verified_and_silent(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    features = _features()
    save_features(features, tmp_path / "entry")
    back = load_features(tmp_path / "entry")
    assert back is not None and np.array_equal(back.input_ids, features.input_ids)
    assert back.n_truncated_questions == 1
    assert not [w for w in recwarn if "feature cache" in str(w.message)]


@pytest.mark.parametrize("how", ["truncated", "overwritten"])
def test_damaged_entry_is_discarded_with_a_warning_naming_it(tmp_path: Path, how: str) -> None:
    entry = tmp_path / "entry"
    save_features(_features(), entry)
    arrow = _damage(entry, how)
    with pytest.warns(UserWarning, match=rf"feature cache {entry} is corrupt \({arrow.name} differ"):
        assert load_features(entry) is None
    assert not entry.exists()  # removed, so that the rebuilt features are saved in its place


def test_datamodule_rebuilds_a_corrupt_cache(tmp_path: Path) -> None:
    args: dict[str, Any] = dict(
        source=SyntheticSquad(train_size=24, dev_size=8, search_size=4),
        max_seq_length=64,
        doc_stride=32,
        batch_size=4,
        cache_dir=str(tmp_path),
    )
    first = SquadDataModule(**args)
    first.setup("fit")
    expected = first.features("train")
    entries = [p.parent for p in (tmp_path / "features").glob("*/lit_distill_features.json")]
    entry = next(e for e in entries if len(load_features(e) or []) == len(expected))
    _damage(entry, "overwritten")
    again = SquadDataModule(**args)
    with pytest.warns(UserWarning, match=rf"feature cache {entry} is corrupt"):
        again.setup("fit")
    rebuilt = again.features("train")
    assert np.array_equal(rebuilt.input_ids, expected.input_ids)
    assert np.array_equal(rebuilt.start_positions, expected.start_positions)
    assert load_features(entry) is not None  # written again, valid
