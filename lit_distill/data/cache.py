"""On-disk feature cache (Hugging Face ``datasets`` / Arrow), keyed by inputs and settings.

The key hashes the examples (ids, questions, contexts, answers), the tokenizer's
full serialised form and the feature settings, so any change to one of them
builds the features again, and nothing else does.

An entry is written to a temporary directory beside it and renamed into place
(:func:`lit_distill.atomic_write.replace_directory`), and its
metadata records the size and SHA-256 of every file. An entry whose files do not
match (truncated, overwritten, missing) is removed with a warning naming it, and
the features are built again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from lit_distill.atomic_write import replace_directory
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

_SCHEMA = "features-v2"  # v2: per-file sizes and SHA-256 in the metadata
_META = "lit_distill_features.json"
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
    if path.exists():  # another process finished first; keep theirs
        return
    from datasets.utils import logging as ds_logging

    bars_were_on = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()
    try:
        with replace_directory(path, size_hint=table.nbytes) as tmp:
            datasets.Dataset(table).save_to_disk(str(tmp))
            meta = {
                "schema": _SCHEMA,
                "n_truncated_questions": features.n_truncated_questions,
                "files": _file_digests(tmp),
            }
            (tmp / _META).write_text(json.dumps(meta))
    finally:
        if bars_were_on:
            ds_logging.enable_progress_bar()


def _file_digests(directory: Path) -> dict[str, list[Any]]:
    """``{relative name: [size, sha256]}`` of every file under ``directory`` but the metadata."""
    digests: dict[str, list[Any]] = {}
    for file in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != _META):
        h = hashlib.sha256()
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digests[file.relative_to(directory).as_posix()] = [file.stat().st_size, h.hexdigest()]
    return digests


def _discard(path: Path, reason: str) -> None:
    warnings.warn(
        f"feature cache {path} is corrupt ({reason}); removing it and building the features again",
        stacklevel=3,
    )
    shutil.rmtree(path, ignore_errors=True)


def load_features(path: str | Path) -> FeatureArrays | None:
    """Load cached features, or ``None`` if there is no valid cache entry at ``path``.

    An entry of an older schema is ignored (and replaced by the caller); a corrupt one
    (files that differ from the sizes and checksums recorded when it was written) is
    removed with a warning naming it.
    """
    import datasets

    path = Path(path)
    meta_file = path / _META
    if not path.is_dir():
        return None
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError) as exc:
        _discard(path, f"unreadable {_META}: {exc}")
        return None
    if not isinstance(meta, dict) or meta.get("schema") != _SCHEMA:
        shutil.rmtree(path, ignore_errors=True)  # written by another version: rebuild
        return None
    actual = _file_digests(path)
    if actual != meta.get("files"):
        expected = meta.get("files") or {}
        differ = sorted(set(expected) ^ set(actual) | {k for k in expected if actual.get(k) != expected[k]})
        _discard(path, f"{', '.join(differ) or 'metadata'} differ from what was written")
        return None
    try:
        table = datasets.load_from_disk(str(path)).data.table
    except Exception as exc:  # checksums matched, yet datasets cannot read it: rebuild
        _discard(path, f"{type(exc).__name__}: {exc}")
        return None
    ragged = {name: table.column(name).combine_chunks() for name in _RAGGED}
    row_splits = ragged["input_ids"].offsets.to_numpy().astype(np.int64)
    return FeatureArrays(
        row_splits=row_splits - row_splits[0],
        **{name: col.flatten().to_numpy() for name, col in ragged.items()},
        **{name: table.column(name).to_numpy() for name in _FLAT},
        n_truncated_questions=int(meta["n_truncated_questions"]),
    )
