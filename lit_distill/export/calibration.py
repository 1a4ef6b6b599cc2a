"""Calibration windows for static INT8: SQuAD windows fed to ONNX Runtime's calibrator one at a time.

Static (calibrated) quantisation fixes every activation's scale from the values it
takes on real inputs. The inputs are windows of a SQuAD file (training windows: the
questions and contexts the model was trained on, never the evaluation split), cut the
way the artifact's evaluation cuts them, and fed with batch size 1 at their real
length, so that no padding token's activation widens a range.

:class:`WindowReader` is what ``onnxruntime.quantization.quantize_static`` reads: the
calibration data reader protocol (``get_next``, plus ``__len__`` and ``set_range`` for
the calibrator's strided mode, which the quantiser here always uses with a stride of
one window, because ONNX Runtime's histogram calibrators (percentile, entropy) stack
the values of one pass into one array and so need equal shapes within it; with
Drop-and-Restore in the graph the kept length differs from window to window).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lit_distill.data.datamodule import collate_features
from lit_distill.data.features import FeatureSettings
from lit_distill.export.errors import ExportInputError
from lit_distill.export.evaluate import prepare_eval

__all__ = ["DEFAULT_CALIBRATION_WINDOWS", "Feed", "WindowReader", "calibration_windows"]

DEFAULT_CALIBRATION_WINDOWS = 128
"""Windows a static scheme calibrates on unless told otherwise (ONNX Runtime's examples use 100-500)."""

Feed = dict[str, np.ndarray]
"""One input of the graph: ``input_ids``, ``attention_mask``, ``token_type_ids``, each (1, n) int64."""


def calibration_windows(
    path: str | Path,
    tokenizer: Any,
    settings: FeatureSettings,
    count: int = DEFAULT_CALIBRATION_WINDOWS,
    seed: int = 0,
) -> list[Feed]:
    """Up to ``count`` windows of the SQuAD file ``path``, chosen at random (seeded), each at its real length.

    Args:
        path: A SQuAD 1.1 / 2.0 file (``--calibration-file``), e.g. the training split.
        tokenizer: The model's tokenizer.
        settings: The windows (the artifact's evaluation settings).
        count: How many windows (all of them when the file has fewer).
        seed: Which windows.

    Raises:
        ExportInputError: naming ``--calibration-file`` (missing, not SQuAD, another vocabulary)
            or ``--calibration-windows`` (not a positive integer).
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ExportInputError("--calibration-windows", f"must be an integer >= 1, got {count!r}")
    try:
        data = prepare_eval(path, tokenizer, settings)
    except ExportInputError as err:
        raise ExportInputError("--calibration-file", str(err).split(": ", 1)[-1]) from err
    total = len(data.features)
    chosen = np.sort(np.random.default_rng(seed).permutation(total)[: min(count, total)])
    feeds: list[Feed] = []
    for index in chosen:
        batch = collate_features(data.features, [int(index)], data.pad_id, None)  # (1, n) each
        feeds.append({k: batch[k].numpy() for k in ("input_ids", "attention_mask", "token_type_ids")})
    return feeds


class WindowReader:
    """ONNX Runtime's calibration data reader over prepared windows (one window per ``get_next``).

    Args:
        feeds: The windows (:func:`calibration_windows`).
        input_names: The graph's inputs; a window's other arrays are left out (DistilBERT
            graphs take no ``token_type_ids``).
    """

    def __init__(self, feeds: Sequence[Feed], input_names: Sequence[str]) -> None:
        if not feeds:
            raise ValueError("WindowReader needs at least one calibration window")
        names = set(input_names)
        self.feeds = [{k: v for k, v in feed.items() if k in names} for feed in feeds]
        self._start, self._end, self._next = 0, len(self.feeds), 0

    def __len__(self) -> int:
        return len(self.feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        """Read windows ``start_index`` .. ``end_index - 1`` next (ONNX Runtime's strided calibration)."""
        self._start, self._end, self._next = start_index, min(end_index, len(self.feeds)), start_index

    def get_next(self) -> Feed | None:
        """The next window of the current range, or None at its end."""
        if self._next >= self._end:
            return None
        self._next += 1
        return self.feeds[self._next - 1]

    def rewind(self) -> None:
        """Start the current range again."""
        self._next = self._start
