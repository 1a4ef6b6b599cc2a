"""One analysis run: every prediction file against one dataset, tables (and plots) written.

The library half of ``python -m lit_distill analyze`` (:mod:`lit_distill.commands.analyze`),
also run by ``search report --analysis-data`` (:mod:`lit_distill.analysis.search_front`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from lit_distill.analysis.categories import DEFAULT_MOSTLY_CORRECT_F1
from lit_distill.analysis.cuts import DEFAULT_ANSWER_EDGES, DEFAULT_CONTEXT_EDGES
from lit_distill.analysis.inputs import Dataset, read_na_probs, read_predictions
from lit_distill.analysis.model import ModelAnalysis, analyze_model
from lit_distill.analysis.outputs import write_outputs

__all__ = ["run_analysis"]


def run_analysis(
    dataset: Dataset,
    paths: Sequence[str],
    labels: Sequence[str],
    na_files: Sequence[str | None],
    out_dir: Path,
    *,
    na_prob_thresh: float = 1.0,
    mostly_correct_f1: float = DEFAULT_MOSTLY_CORRECT_F1,
    answer_edges: Sequence[int] = DEFAULT_ANSWER_EDGES,
    context_edges: Sequence[int] = DEFAULT_CONTEXT_EDGES,
    view: str = "given",
    plots: bool = True,
) -> tuple[list[ModelAnalysis], dict[str, Path]]:
    """Analyse every prediction file against ``dataset`` and write tables (and plots) to ``out_dir``.

    Raises:
        AnalysisInputError: On an unreadable or unusable file.
    """
    models = []
    for path, label, na_file in zip(paths, labels, na_files, strict=True):
        models.append(
            analyze_model(
                dataset,
                read_predictions(path),
                label,
                na_probs=read_na_probs(na_file) if na_file else None,
                na_prob_thresh=na_prob_thresh,
                mostly_correct_f1=mostly_correct_f1,
                answer_edges=answer_edges,
                context_edges=context_edges,
                predictions_path=str(path),
                na_probs_path=na_file,
            )
        )
    settings = {
        "mostly_correct_f1": mostly_correct_f1,
        "na_prob_thresh": na_prob_thresh,
        "answer_bins": list(answer_edges),
        "context_bins": list(context_edges),
        "compare_and_plot_view": view,
    }
    files = write_outputs(dataset, models, out_dir, settings, compare_view=view)
    if plots:
        from lit_distill.analysis.plots import PLOTS_NOTICE, draw_all, plots_available

        if plots_available():
            files.update(draw_all(dataset, models, view, out_dir))
        else:
            print(PLOTS_NOTICE, file=sys.stderr)
    return models, files
