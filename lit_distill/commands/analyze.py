"""``python -m lit_distill analyze``: error analysis by topic and category, teacher vs students.

Example:
    python -m lit_distill analyze --data dev-v2.0.json --predictions teacher/predictions.json \\
        --na-prob-file teacher/null_odds.json student/null_odds.json \\
        --compare student/predictions.json --labels teacher student --output analysis/

Works on official-format files (``predictions.json``: id → answer; ``null_odds.json`` /
``na_prob.json``: id → no-answer probability), so it serves any tool's predictions.
Bad arguments or files: one message and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lit_distill.analysis.categories import CATEGORIES, DEFAULT_MOSTLY_CORRECT_F1, categories_for
from lit_distill.analysis.cuts import DEFAULT_ANSWER_EDGES, DEFAULT_CONTEXT_EDGES, check_edges
from lit_distill.analysis.inputs import (
    AnalysisInputError,
    Dataset,
    load_dataset,
)
from lit_distill.analysis.model import ModelAnalysis
from lit_distill.analysis.outputs import file_label
from lit_distill.analysis.run import run_analysis

__all__ = ["build_parser", "main"]

PROG = "python -m lit_distill analyze"
_RESERVED = {"topic", "category", "id", "question", "gold_answers", "right", "model", "view", "group"}
_SHOWN = 5  # ids named on the terminal per problem (all of them are in summary.json)


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # exit 2 with the usage and one line, as argparse does
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _edges(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    p = _ArgumentParser(
        prog=PROG,
        description="Error analysis of SQuAD predictions: categories (correct, mostly correct, mostly wrong, "
        "label has answer, label has no answer) per topic and overall, cuts by question word, answer length "
        "and context length, and teacher-vs-student comparisons. See docs/analysis.md.",
    )
    p.add_argument("--data", required=True, metavar="DEV.json", help="SQuAD 1.1 / 2.0 JSON file")
    p.add_argument(
        "--predictions", required=True, metavar="PRED.json", help="official predictions.json (first model)"
    )
    p.add_argument(
        "--compare",
        nargs="+",
        default=[],
        metavar="PRED.json",
        help="prediction files of models to compare with the first",
    )
    p.add_argument(
        "--na-prob-file",
        nargs="+",
        default=None,
        metavar="NA.json",
        help="no-answer probabilities: one file (first model) or one per model in order; '-' for none",
    )
    p.add_argument(
        "--na-prob-thresh",
        type=float,
        default=1.0,
        help='a question whose no-answer probability exceeds this counts as answered "" (default 1.0, as the official script)',
    )
    p.add_argument(
        "--labels", nargs="+", default=None, help="one name per model (default: from the file names)"
    )
    p.add_argument(
        "--mostly-correct-f1",
        type=float,
        default=DEFAULT_MOSTLY_CORRECT_F1,
        help=f"a wrong answer with token F1 at or above this is 'mostly correct' (default {DEFAULT_MOSTLY_CORRECT_F1})",
    )
    p.add_argument(
        "--answer-bins",
        type=_edges,
        default=DEFAULT_ANSWER_EDGES,
        help="inclusive upper edges of the answer-length bins in tokens (default 1,2,3,5,10)",
    )
    p.add_argument(
        "--context-bins",
        type=_edges,
        default=DEFAULT_CONTEXT_EDGES,
        help="inclusive upper edges of the context-length bins in words (default 100,150,200,300)",
    )
    p.add_argument(
        "--view",
        choices=("given", "best_threshold"),
        default="given",
        help="view used for the comparisons and plots (best_threshold needs a no-answer file per model)",
    )
    p.add_argument("--no-plots", action="store_true", help="tables only")
    p.add_argument("--output", required=True, metavar="DIR", help="output directory")
    return p


def default_labels(paths: Sequence[str]) -> list[str]:
    """A label per prediction file: its stem, or its folder's name for ``predictions.json``; made unique."""
    labels = []
    for i, path in enumerate(paths):
        p = Path(path)
        base = p.parent.name if p.stem == "predictions" and p.parent.name else p.stem
        labels.append(base if base not in labels else f"{base}_{i + 1}")
    return labels


def _check_args(args: argparse.Namespace) -> tuple[list[str], list[str], list[str | None]]:
    paths = [args.predictions, *args.compare]
    labels = args.labels or default_labels(paths)
    if len(labels) != len(paths):
        raise AnalysisInputError(
            f"--labels: {len(labels)} label(s) {labels} for {len(paths)} prediction file(s); give one per model"
        )
    safe = [file_label(lbl) for lbl in labels]
    bad = [lbl for lbl in labels if not lbl.strip() or lbl in _RESERVED or lbl in CATEGORIES]
    if bad or len(set(labels)) != len(labels) or len(set(safe)) != len(safe):
        raise AnalysisInputError(
            f"--labels: {labels} must be distinct non-empty names (also as file names) and not a column name "
            f"({', '.join(sorted(_RESERVED | set(CATEGORIES)))})"
        )
    na_files: list[str | None] = [None] * len(paths)
    if args.na_prob_file is not None:
        given = [None if f == "-" else f for f in args.na_prob_file]
        if len(given) not in (1, len(paths)):
            raise AnalysisInputError(
                f"--na-prob-file: {len(given)} file(s) for {len(paths)} model(s); give one (first model) or one per model"
            )
        na_files[: len(given)] = given
    if not 0.0 <= args.mostly_correct_f1 <= 1.0:
        raise AnalysisInputError(f"--mostly-correct-f1 must be in [0, 1], got {args.mostly_correct_f1}")
    try:
        check_edges(args.answer_bins, "--answer-bins")
        check_edges(args.context_bins, "--context-bins")
    except ValueError as exc:
        raise AnalysisInputError(str(exc)) from exc
    if args.view == "best_threshold" and None in na_files:
        missing = [lbl for lbl, f in zip(labels, na_files, strict=True) if f is None]
        raise AnalysisInputError(
            f"--view best_threshold needs a --na-prob-file for every model; none for {missing}"
        )
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise AnalysisInputError(f"--output: {out} exists and is not a directory")
    return paths, labels, na_files


def _report_problems(model: ModelAnalysis, dataset: Dataset) -> None:
    texts = {
        "unknown_ids": f"prediction(s) for ids not in {dataset.source} (ignored)",
        "missing_ids": "question(s) without a prediction (left out of the scores, as the official script does)",
        "empty_on_v1": 'no-answer ("") prediction(s) on SQuAD 1.1 data (a 2.0 prediction set? counted as mostly wrong)',
    }
    for name, ids in model.problems.items():
        if ids:
            shown = ", ".join(repr(i) for i in ids[:_SHOWN]) + (", …" if len(ids) > _SHOWN else "")
            print(f"{model.label}: {len(ids)} {texts[name]}: {shown} (all in summary.json)", file=sys.stderr)


def _print_summary(
    dataset: Dataset, models: Sequence[ModelAnalysis], files: dict[str, Path], view: str
) -> None:
    cats = categories_for(dataset.version)
    print(
        f"{dataset.source}: SQuAD {dataset.version}, {len(dataset.questions)} questions, {len(dataset.topics())} topics"
    )
    for m in models:
        for v in m.views.values():
            row = v.tables["overall"][0]
            counts = ", ".join(f"{c} {row[c]}" for c in cats)
            at = f" at threshold {v.threshold:.4g}" if v.threshold is not None else ""
            print(f"  {m.label} [{v.name}{at}]: exact {row['exact']:.2f}, f1 {row['f1']:.2f} ({counts})")
    first = models[0]
    for other in models[1:]:
        sa, sb = first.views[view].scored, other.views[view].scored
        both = [q for q in sa if q in sb]
        right = [(sa[q].category == "correct", sb[q].category == "correct") for q in both]
        a_only = sum(ra and not rb for ra, rb in right)
        b_only = sum(rb and not ra for ra, rb in right)
        print(
            f"  {first.label} right, {other.label} wrong: {a_only}; "
            f"{other.label} right, {first.label} wrong: {b_only} ({view})"
        )
    print(f"wrote {len(files)} files to {files['summary'].parent}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``analyze``; returns 0, or 2 on bad arguments or files."""
    args = build_parser().parse_args(argv)
    try:
        paths, labels, na_files = _check_args(args)
        dataset = load_dataset(args.data)
        models, files = run_analysis(
            dataset,
            paths,
            labels,
            na_files,
            Path(args.output),
            na_prob_thresh=args.na_prob_thresh,
            mostly_correct_f1=args.mostly_correct_f1,
            answer_edges=args.answer_bins,
            context_edges=args.context_bins,
            view=args.view,
            plots=not args.no_plots,
        )
    except AnalysisInputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. an output directory that cannot be written
        print(f"{PROG}: error: {exc.strerror or exc}: {exc.filename or args.output}", file=sys.stderr)
        return 2
    for m in models:
        _report_problems(m, dataset)
    _print_summary(dataset, models, files, args.view)
    return 0


if __name__ == "__main__":
    sys.exit(main())
