"""``python -m lit_distill quickstart``: the whole workflow offline, in a few minutes on a laptop CPU.

1. Generate synthetic SQuAD 2.0 data and a WordPiece tokenizer trained on it.
2. Train a small teacher from scratch (``configs/quickstart/teacher.yaml``).
3. Distil it into a student with half its layers, DistilBERT-style
   (``configs/quickstart/distilbert.yaml``).
4. Print exact match and F1 of both on the synthetic dev split.

Every step is an ordinary ``fit`` run of the shipped YAML configs; the configs
actually used (with the output directory filled in) are written next to the
results, so any step can be rerun with ``python -m lit_distill fit --config``.

Outputs (``--output-dir``, default ``runs/quickstart``)::

    data/                      synthetic data, tokenizer and feature cache
    teacher/model/             the teacher (QAModel.from_pretrained + its tokenizer)
    teacher/checkpoints/last.ckpt
    student/model/             the student
    student/checkpoints/last.ckpt
    summary.json               EM/F1 of both, sizes and times
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from lit_distill.user_errors import UserInputError

__all__ = ["main", "run_quickstart"]

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "quickstart"
DEFAULT_OUTPUT = "runs/quickstart"
_PLACEHOLDER = "runs/quickstart"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lit_distill quickstart",
        description="Offline demo: synthetic data, train a small teacher, distil a student, print EM/F1.",
    )
    p.add_argument(
        "--output-dir", default=DEFAULT_OUTPUT, help=f"where everything goes (default {DEFAULT_OUTPUT})"
    )
    p.add_argument(
        "--train-size", type=int, default=None, help="synthetic training questions (default: config)"
    )
    p.add_argument("--dev-size", type=int, default=None, help="synthetic dev questions (default: config)")
    p.add_argument("--teacher-epochs", type=int, default=None, help="teacher epochs (default: config)")
    p.add_argument("--student-epochs", type=int, default=None, help="student epochs (default: config)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and of training (default 0)")
    p.add_argument(
        "--config-dir",
        default=str(CONFIG_DIR),
        help="directory with teacher.yaml and distilbert.yaml (default: the repository's configs/quickstart)",
    )
    return p


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UserInputError(f"--{name} must be a positive integer, got {value}")


def _retarget(node: Any, output_dir: str) -> Any:
    """Replace the ``runs/quickstart`` prefix of every path in a config by ``output_dir``."""
    if isinstance(node, dict):
        return {k: _retarget(v, output_dir) for k, v in node.items()}
    if isinstance(node, list):
        return [_retarget(v, output_dir) for v in node]
    if isinstance(node, str) and (node == _PLACEHOLDER or node.startswith(_PLACEHOLDER + "/")):
        return output_dir + node[len(_PLACEHOLDER) :]
    return node


def _prepare_config(name: str, args: argparse.Namespace, epochs: int | None) -> dict[str, Any]:
    path = Path(args.config_dir) / name
    if not path.is_file():
        raise FileNotFoundError(
            f"quickstart config {path} not found; run from a source checkout (pip install -e .) "
            "or pass --config-dir with teacher.yaml and distilbert.yaml"
        )
    config = _retarget(yaml.safe_load(path.read_text(encoding="utf-8")), str(args.output_dir))
    config["seed_everything"] = args.seed
    synthetic = config["data"]["init_args"]["source"].setdefault("init_args", {})  # a SyntheticSquad
    synthetic["seed"] = args.seed
    if args.train_size is not None:
        synthetic["train_size"] = args.train_size
    if args.dev_size is not None:
        synthetic["dev_size"] = args.dev_size
    if epochs is not None:
        config["trainer"]["max_epochs"] = epochs
    # the quickstart reports only the final scores: validate once, after the last epoch
    # (a validation of the 500 dev questions costs about 5 % of a teacher epoch;
    # training does not depend on it, so the models are the same as with every-epoch checks)
    config["trainer"]["check_val_every_n_epoch"] = int(config["trainer"].get("max_epochs") or 1)
    return config


def _fit(config: dict[str, Any], where: Path) -> dict[str, float]:
    """Run ``fit`` with ``config`` (written to ``where/config.yaml``); returns the final ``val/`` metrics."""
    from lit_distill.cli import LitDistillCLI

    where.mkdir(parents=True, exist_ok=True)
    config_file = where / "fit_config.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    argv, sys.argv = sys.argv, sys.argv[:1]  # LightningCLI warns when both args and sys.argv are given
    try:
        cli = LitDistillCLI(args=["fit", "--config", str(config_file)])
    finally:
        sys.argv = argv
    metrics = cli.trainer.callback_metrics
    return {k[len("val/") :]: float(v) for k, v in metrics.items() if k.startswith("val/")}


def run_quickstart(args: argparse.Namespace) -> dict[str, Any]:
    """Run the two steps; returns the summary written to ``summary.json``."""
    from lit_distill.models.qa_model import QAModel
    from lit_distill.models.surgery import count_parameters

    for name in ("train-size", "dev-size", "teacher-epochs", "student-epochs"):
        _positive(name, getattr(args, name.replace("-", "_")))
    out = Path(args.output_dir)
    summary: dict[str, Any] = {"output_dir": str(out)}
    for role, config_name, epochs in (
        ("teacher", "teacher.yaml", args.teacher_epochs),
        ("student", "distilbert.yaml", args.student_epochs),
    ):
        config = _prepare_config(config_name, args, epochs)
        print(
            f"\n=== quickstart: {role} ({config['model']['class_path'].rsplit('.', 1)[-1]}) ===", flush=True
        )
        start = time.perf_counter()
        scores = _fit(config, out / role)
        model_dir = Path(config["model"]["init_args"]["export_dir"])
        model = QAModel.from_pretrained(model_dir)
        summary[role] = {
            "exact": scores.get("exact"),
            "f1": scores.get("f1"),
            "HasAns_f1": scores.get("HasAns_f1"),
            "NoAns_f1": scores.get("NoAns_f1"),
            "layers": model.config.num_hidden_layers,
            "parameters": count_parameters(model),
            "train_time_s": round(time.perf_counter() - start, 1),
            "model_dir": str(model_dir),
            "checkpoint": str(out / role / "checkpoints" / "last.ckpt"),
        }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _table(summary: dict[str, Any]) -> str:
    rows = ["", "model    layers  parameters   EM      F1     train time  saved in"]
    for role in ("teacher", "student"):
        r = summary[role]
        rows.append(
            f"{role:<8} {r['layers']:>6}  {r['parameters']:>10,}  {r['exact']:6.2f}  {r['f1']:6.2f}  "
            f"{r['train_time_s']:>8.1f} s  {r['model_dir']}"
        )
    gap = summary["student"]["exact"] - summary["teacher"]["exact"]
    relation = f"{abs(gap):.2f} {'above' if gap > 0 else 'below'}" if gap else "equal to"
    rows.append(f"\nstudent EM {relation} the teacher's; summary in {summary['output_dir']}/summary.json")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m lit_distill quickstart``; returns the exit code."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        summary = run_quickstart(args)
    except (FileNotFoundError, UserInputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(_table(summary))
    return 0
