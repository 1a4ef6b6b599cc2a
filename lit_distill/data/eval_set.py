"""What post-processing and the metric need to turn logits into answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lit_distill.data.features import FeatureArrays
from lit_distill.data.squad import SquadExample

__all__ = ["EvalSet"]


@dataclass
class EvalSet:
    """Examples and per-feature arrays of one evaluation split.

    Attributes:
        example_ids: (E,) question ids.
        contexts: (E,) context strings.
        answers: (E,) gold answer texts per question (empty list for unanswerable).
        feature_example_index: (F,) int64 example of each feature (features of one example are consecutive).
        offsets: (F, L, 2) int32 character span of each token in its context; -1 outside the context.
        version: ``"1.1"`` or ``"2.0"``.
    """

    example_ids: list[str]
    contexts: list[str]
    answers: list[list[str]]
    feature_example_index: np.ndarray
    offsets: np.ndarray
    version: str = "2.0"

    @property
    def n_examples(self) -> int:
        """Number of questions."""
        return len(self.example_ids)

    @property
    def n_features(self) -> int:
        """Number of features (windows)."""
        return len(self.feature_example_index)

    @property
    def max_length(self) -> int:
        """Width ``L`` of ``offsets`` (the longest feature)."""
        return int(self.offsets.shape[1])

    def gold(self) -> dict[str, list[str]]:
        """Gold answer texts by question id (empty list = unanswerable)."""
        return dict(zip(self.example_ids, self.answers, strict=True))

    @classmethod
    def from_features(
        cls, examples: Sequence[SquadExample], features: FeatureArrays, version: str = "2.0"
    ) -> EvalSet:
        """Build from examples and their features (as :func:`build_features` returns them)."""
        return cls(
            example_ids=[e.id for e in examples],
            contexts=[e.context for e in examples],
            answers=[list(e.answer_texts) for e in examples],
            feature_example_index=features.example_index.astype(np.int64),
            offsets=features.padded_offsets(),
            version=version,
        )
