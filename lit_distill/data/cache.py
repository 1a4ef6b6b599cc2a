"""On-disk feature cache (Hugging Face ``datasets`` / Arrow), keyed by inputs and settings.

The key hashes the examples (ids, questions, contexts, answers), the tokenizer's
full serialised form and the feature settings, so any change to one of them
builds the features again, and nothing else does.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from lit_distill.data.features import FeatureArrays, FeatureSettings
from lit_distill.data.squad import SquadExample

__all__ = [
    "default_cache_dir",
    "examples_fingerprint",
    "features_key",
    "load_features",
    "save_features",
    "tokenizer_fingerprint",
]

_SCHEMA = "features-v1"
_RAGGED = ("input_ids", "token_type_ids", "offset_start", "offset_end")
_FLAT = ("example_index", "start_positions", "end_positions")


def default_cache_dir() -> Path:
    """``$LIT_DISTILL_CACHE`` or ``~/.cache/lit_distill``."""
    return Path(os.environ.get("LIT_DISTILL_CACHE", Path.home() / ".cache" / "lit_distill"))


def examples_fingerprint(examples: Sequence[SquadExample]) -> str:
    """Hash of everything in the examples that features depend on."""
    h = hashlib.sha256()
    for e in examples:
        h.update(
            json.dumps(
                [e.id, e.question, e.context, e.answer_texts, e.answer_starts, e.is_impossible],
                ensure_ascii=False,
            ).encode()
        )
    return h.hexdigest()


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Hash of the tokenizer's full serialised form (vocabulary, normaliser, template)."""
    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()


def features_key(examples_fp: str, tokenizer_fp: str, settings: FeatureSettings) -> str:
    """Cache key of one split's features."""
    payload = json.dumps([_SCHEMA, examples_fp, tokenizer_fp, asdict(settings)], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def save_features(features: FeatureArrays, path: str | Path) -> None:
    """Write features as an Arrow dataset (``datasets.Dataset.save_to_disk``), atomically."""
    import datasets
    import pyarrow as pa

    path = Path(path)
    offsets = pa.array(features.row_splits.astype(np.int64), type=pa.int64())
    columns: dict[str, Any] = {
        name: pa.LargeListArray.from_arrays(offsets, pa.array(getattr(features, name))) for name in _RAGGED
    }
    columns.update({name: pa.array(getattr(features, name)) for name in _FLAT})
    table = pa.table(columns)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    from datasets.utils import logging as ds_logging

    bars_were_on = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()
    try:
        datasets.Dataset(table).save_to_disk(str(tmp))
    finally:
        if bars_were_on:
            ds_logging.enable_progress_bar()
    (tmp / "lit_distill_features.json").write_text(
        json.dumps({"schema": _SCHEMA, "n_truncated_questions": features.n_truncated_questions})
    )
    if path.exists():  # another process finished first; keep theirs
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        return
    tmp.rename(path)


def load_features(path: str | Path) -> FeatureArrays | None:
    """Load cached features, or ``None`` if there is no complete cache entry at ``path``."""
    import datasets

    path = Path(path)
    meta_file = path / "lit_distill_features.json"
    if not meta_file.is_file():
        return None
    meta = json.loads(meta_file.read_text())
    if meta.get("schema") != _SCHEMA:
        return None
    table = datasets.load_from_disk(str(path)).data.table
    ragged = {name: table.column(name).combine_chunks() for name in _RAGGED}
    row_splits = ragged["input_ids"].offsets.to_numpy().astype(np.int64)
    return FeatureArrays(
        row_splits=row_splits - row_splits[0],
        **{name: col.flatten().to_numpy() for name, col in ragged.items()},
        **{name: table.column(name).to_numpy() for name in _FLAT},
        n_truncated_questions=int(meta["n_truncated_questions"]),
    )
