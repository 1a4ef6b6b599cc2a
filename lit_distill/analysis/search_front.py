"""The error analysis of a search's Pareto front (``search report --analysis-data DEV.json``).

For every front trial (best first objective first) that wrote a ``predictions.json``
somewhere under its trial directory, the analysis compares the trials side by side, the
first as reference, labelled ``trial_<number>``. When a trial directory holds several
prediction files (e.g. a holdout evaluation in a subdirectory), the one sharing the most
question ids with the data is used (ties: the shallowest, then the first by name); a
``null_odds.json`` next to it is used as its no-answer probabilities.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lit_distill.analysis.inputs import AnalysisInputError, Dataset, load_dataset, read_predictions
from lit_distill.analysis.run import run_analysis

__all__ = ["analyze_front", "find_predictions"]

log = logging.getLogger("lit_distill.search")


def find_predictions(trial_dir: Path, dataset: Dataset) -> Path | None:
    """The trial's prediction file that best matches ``dataset`` (rule in the module docstring)."""
    ids = {q.id for q in dataset.questions}
    best: tuple[int, int, str] | None = None
    chosen = None
    for path in sorted(trial_dir.rglob("predictions.json")):
        overlap = len(ids.intersection(read_predictions(path)))
        key = (-overlap, len(path.relative_to(trial_dir).parts), str(path))
        if overlap and (best is None or key < best):
            best, chosen = key, path
    return chosen


def analyze_front(front: Sequence[Any], data: Path, out_dir: Path, plots: bool = True) -> dict[str, Path]:
    """Analyse the front trials that wrote predictions; returns name → path of the files written.

    Args:
        front: Report records (``number``, ``trial_dir``), best first.
        data: The SQuAD file the predictions answer.
        out_dir: Where the analysis goes (``<report>/analysis``).
        plots: Draw the PNG figures (needs matplotlib).

    Raises:
        SearchSpecError: If the data or a prediction file is unusable (the message says which).
    """
    from lit_distill.search.spec import SearchSpecError

    try:
        dataset = load_dataset(data)
        paths, labels, na_files = [], [], []
        for record in front:
            found = find_predictions(Path(record.trial_dir), dataset) if record.trial_dir else None
            if found is None:
                log.info("analysis: trial %d wrote no predictions for %s", record.number, data)
                continue
            paths.append(str(found))
            labels.append(f"trial_{record.number}")
            na_file = found.parent / "null_odds.json"
            na_files.append(str(na_file) if na_file.is_file() else None)
        if not paths:
            log.warning("analysis: no Pareto-front trial wrote predictions for %s; nothing analysed", data)
            return {}
        _, files = run_analysis(dataset, paths, labels, na_files, out_dir, plots=plots)
    except AnalysisInputError as exc:
        raise SearchSpecError(f"--analysis-data: {exc}") from exc
    log.info("analysis of %d front trial(s): %s", len(paths), out_dir)
    return {f"analysis_{name}": path for name, path in files.items()}
