"""Ragged features -> one padded batch (the architecture's batch contract), without Lightning.

:class:`~lit_distill.data.datamodule.SquadDataModule`'s loaders and the exported
artifacts' inference (:mod:`lit_distill.export.artifact`) both batch with
:func:`collate_features`; it lives apart from the data module so that inference
does not import Lightning.
"""

from __future__ import annotations

import numpy as np
import torch

from lit_distill.data.features import FeatureArrays

__all__ = ["collate_features"]


def collate_features(
    features: FeatureArrays, indices: list[int], pad_id: int, pad_to: int | None
) -> dict[str, torch.Tensor]:
    """Gather features ``indices`` into a padded batch (the architecture's batch contract)."""
    idx = np.asarray(indices, dtype=np.int64)  # (B,)
    starts = features.row_splits[idx]  # (B,)
    lengths = features.row_splits[idx + 1] - starts  # (B,)
    width = int(pad_to or lengths.max())
    mask = np.arange(width)[None, :] < lengths[:, None]  # (B, L)
    token_pos = (starts[:, None] + np.arange(width)[None, :])[mask]  # positions of real tokens
    input_ids = np.full((len(idx), width), pad_id, dtype=np.int64)
    input_ids[mask] = features.input_ids[token_pos]
    token_type_ids = np.zeros((len(idx), width), dtype=np.int64)
    token_type_ids[mask] = features.token_type_ids[token_pos]
    return {
        "input_ids": torch.from_numpy(input_ids),
        "attention_mask": torch.from_numpy(mask.astype(np.int64)),
        "token_type_ids": torch.from_numpy(token_type_ids),
        "feature_index": torch.from_numpy(idx),
        "start_positions": torch.from_numpy(features.start_positions[idx].astype(np.int64)),
        "end_positions": torch.from_numpy(features.end_positions[idx].astype(np.int64)),
    }
