"""``python -m lit_distill squad-eval``: a drop-in for the official ``evaluate-v2.0.py``.

Same arguments (``data_file pred_file [-o F] [-n NA] [-t T] [-p DIR] [-v]``),
same JSON keys and values, for SQuAD 2.0 and 1.1 data. Without ``--out-file``
the result is printed as indented JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lit_distill.data.squad_walk import iter_questions
from lit_distill.metrics.squad import compute_exact, compute_f1, squad_evaluate
from lit_distill.user_errors import UserInputError

__all__ = ["main", "read_gold"]


def _read_json(path: str, what: str) -> Any:
    from lit_distill.data.squad import SquadFormatError, read_json_file

    try:
        return read_json_file(path, what)
    except (FileNotFoundError, SquadFormatError) as exc:
        raise UserInputError(str(exc)) from exc


def read_gold(data: Any, source: str, duplicates: list[str] | None = None) -> dict[str, list[str]]:
    """Gold answer texts by question id, in data order, from a SQuAD JSON object.

    Only the fields the official script reads are needed (``data``,
    ``paragraphs``, ``qas``, ``id``, ``answers[].text``). A repeated question id
    keeps its last occurrence, as in the official script; each repetition is
    appended to ``duplicates`` when it is given.
    """
    gold: dict[str, list[str]] = {}
    for _, title, _, _, qa in iter_questions(data, source, UserInputError):
        answers = qa.get("answers")
        if not isinstance(answers, list) or not all(isinstance(a, Mapping) and "text" in a for a in answers):
            raise UserInputError(
                f"{source}, article {title!r}, question {qa['id']!r}: 'answers' must be a list of {{'text': ...}}"
            )
        qid = str(qa["id"])
        if qid in gold and duplicates is not None:
            duplicates.append(qid)
        gold[qid] = [str(a["text"]) for a in answers]
    return gold


def _check_mapping(obj: Any, source: str, value_type: type | tuple[type, ...], what: str) -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        raise UserInputError(f"{source}: must be a JSON object mapping question id to {what}")
    bad = [k for k, v in obj.items() if not isinstance(v, value_type) or isinstance(v, bool)]
    if bad:
        raise UserInputError(f"{source}: question {bad[0]!r} maps to {obj[bad[0]]!r}; expected {what}")
    return dict(obj)


def _check_probabilities(probs: Mapping[str, float], source: str) -> None:
    """No-answer probabilities must be finite numbers in [0, 1]."""
    for qid, value in probs.items():
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise UserInputError(
                f"{source}: question {qid!r} has no-answer probability {value!r}; "
                "expected a finite number in [0, 1]"
            )


def _warn_duplicates(duplicates: list[str], source: str) -> None:
    if not duplicates:
        return
    unique = list(dict.fromkeys(duplicates))
    shown = ", ".join(repr(q) for q in unique[:10]) + (", ..." if len(unique) > 10 else "")
    print(
        f"squad-eval: warning: {source}: {len(duplicates)} repeated question id(s) ({shown}); "
        "each id is scored once, by its last occurrence, as the official script does "
        "(`python -m lit_distill data-check` rejects such files)",
        file=sys.stderr,
    )


def _check_outputs(out_file: str | None, image_dir: str | None) -> None:
    """Fail before scoring when a result could not be written."""
    from lit_distill.preflight import check_writable_dir

    if out_file:
        target = Path(out_file).expanduser()
        if target.is_dir():
            raise UserInputError(f"--out-file {out_file!r} is a directory; give a file name")
        if not target.parent.is_dir():
            raise UserInputError(
                f"--out-file {out_file!r}: the directory {str(target.parent)!r} does not exist; create it first"
            )
        check_writable_dir(target.parent, "--out-file directory")
    if image_dir:
        check_writable_dir(image_dir, "--out-image-dir")


def _precision_recall(
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    n_positive: int,
    has_answer: Mapping[str, bool],
    image: Path | None,
    title: str,
) -> dict[str, float]:
    """Average precision of answering in order of increasing no-answer probability (official ``pr_*_ap``)."""
    order = sorted(na_probs, key=lambda k: na_probs[k])
    true_pos, avg_prec = 0.0, 0.0
    precisions, recalls = [1.0], [0.0]
    for i, qid in enumerate(order):
        if has_answer[qid]:
            true_pos += scores[qid]
        precision = true_pos / float(i + 1)
        recall = true_pos / float(n_positive)
        if i == len(order) - 1 or na_probs[qid] != na_probs[order[i + 1]]:
            avg_prec += precision * (recall - recalls[-1])
            precisions.append(precision)
            recalls.append(recall)
    if image is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plt.step(recalls, precisions, color="b", alpha=0.2, where="post")
        plt.fill_between(recalls, precisions, step="post", alpha=0.2, color="b")
        plt.xlabel("Recall")
        plt.ylabel("Precision")
        plt.xlim((0.0, 1.05))
        plt.ylim((0.0, 1.05))
        plt.title(title)
        plt.savefig(image)
        plt.clf()
    return {"ap": 100.0 * avg_prec}


def _pr_analysis(
    out: dict[str, Any],
    gold: Mapping[str, list[str]],
    preds: Mapping[str, str],
    na_probs: Mapping[str, float],
    image_dir: Path,
) -> None:
    from lit_distill.metrics.squad import normalize_answer

    has_answer = {q: bool(a) for q, a in gold.items()}
    n_positive = sum(has_answer.values())
    if n_positive == 0:
        return
    image_dir.mkdir(parents=True, exist_ok=True)
    exact_raw: dict[str, float] = {}
    f1_raw: dict[str, float] = {}
    for qid, answers in gold.items():
        if qid in preds:
            golds = [a for a in answers if normalize_answer(a)] or [""]
            exact_raw[qid] = max(compute_exact(a, preds[qid]) for a in golds)
            f1_raw[qid] = max(compute_f1(a, preds[qid]) for a in golds)
    oracle = {q: float(v) for q, v in has_answer.items()}
    for name, scores, title in (
        ("exact", exact_raw, "Precision-Recall curve for Exact Match score"),
        ("f1", f1_raw, "Precision-Recall curve for F1 score"),
        ("oracle", oracle, "Oracle Precision-Recall curve (binary task of HasAns vs. NoAns)"),
    ):
        result = _precision_recall(
            scores, na_probs, n_positive, has_answer, image_dir / f"pr_{name}.png", title
        )
        out[f"pr_{name}_ap"] = result["ap"]
    try:
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:  # pragma: no cover - matplotlib is an optional extra
        return
    for name, wanted in (("hasAns", True), ("noAns", False)):
        xs = [na_probs[q] for q, v in has_answer.items() if v is wanted]
        if xs:
            plt.hist(xs, weights=np.ones(len(xs)) / len(xs), bins=20, range=(0.0, 1.0))
            plt.xlabel("Model probability of no-answer")
            plt.ylabel("Proportion of dataset")
            plt.title(f"Histogram of no-answer probability: {name}")
            plt.savefig(image_dir / f"na_prob_hist_{name}.png")
            plt.clf()


def build_parser() -> argparse.ArgumentParser:
    """The official script's arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m lit_distill squad-eval",
        description="Score SQuAD predictions exactly like the official evaluate-v2.0.py (v2.0 and v1.1 data).",
    )
    parser.add_argument("data_file", metavar="data.json", help="Input data JSON file.")
    parser.add_argument(
        "pred_file", metavar="pred.json", help="Model predictions (question id -> answer text)."
    )
    parser.add_argument(
        "--out-file", "-o", metavar="eval.json", help="Write accuracy metrics to file (default is stdout)."
    )
    parser.add_argument(
        "--na-prob-file", "-n", metavar="na_prob.json", help="Model estimates of probability of no answer."
    )
    parser.add_argument(
        "--na-prob-thresh",
        "-t",
        type=float,
        default=1.0,
        help='Predict "" if no-answer probability exceeds this (default = 1.0).',
    )
    parser.add_argument(
        "--out-image-dir",
        "-p",
        metavar="out_images",
        default=None,
        help="Save precision-recall curves to directory.",
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="Accepted for compatibility (no effect)."
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``squad-eval``; returns 0 on success, 2 on bad usage, input files or output paths."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_outputs(args.out_file, args.out_image_dir)
        duplicates: list[str] = []
        gold = read_gold(_read_json(args.data_file, "data file"), args.data_file, duplicates)
        _warn_duplicates(duplicates, args.data_file)
        preds = _check_mapping(
            _read_json(args.pred_file, "prediction file"), args.pred_file, str, "an answer string"
        )
        na_probs = None
        if args.na_prob_file:
            na_probs = _check_mapping(
                _read_json(args.na_prob_file, "no-answer probability file"),
                args.na_prob_file,
                (int, float),
                "a number",
            )
            _check_probabilities(na_probs, args.na_prob_file)
        out = squad_evaluate(
            gold, preds, na_probs, na_prob_thresh=args.na_prob_thresh
        )  # UserInputError if none match
        if na_probs is not None and args.out_image_dir:
            _pr_analysis(out, gold, preds, na_probs, Path(args.out_image_dir))
    except UserInputError as exc:
        print(f"squad-eval: error: {exc}", file=sys.stderr)
        return 2
    if args.out_file:
        Path(args.out_file).write_text(json.dumps(out), encoding="utf-8")
    else:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
