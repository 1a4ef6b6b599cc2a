"""The project's own command lines, one module each, with ``main(argv) -> int``.

``python -m lit_distill COMMAND`` dispatches to the module named here (Lightning's
``fit``/``validate``/``test``/``predict`` go to :mod:`lit_distill.cli`): ``squad-eval``,
``data-check``, ``bench``, ``quickstart``, ``export``, ``search``, ``analyze``, ``replicate``,
and ``answer`` / ``predict`` / ``serve`` (answers from an exported model,
:mod:`lit_distill.inference`). Each module parses its arguments and calls its package
(``export`` :mod:`lit_distill.export`, ``analyze`` :mod:`lit_distill.analysis`, ``replicate``
:mod:`lit_distill.replicate`, ...). ``predict`` is shared with Lightning: with an exported
directory as its first argument it is this project's, otherwise Lightning's. Importing this
package imports no command module (each is imported only when its command runs).
"""

from __future__ import annotations

__all__ = ["PROJECT_COMMANDS", "is_artifact_predict"]

# name -> (module with ``main(argv) -> int``, one-line help)
PROJECT_COMMANDS: dict[str, tuple[str, str]] = {
    "squad-eval": (
        "lit_distill.commands.squad_eval",
        "score predictions like the official evaluate-v2.0.py / evaluate-v1.1.py",
    ),
    "data-check": (
        "lit_distill.commands.data_check",
        "diagnose a SQuAD-format dataset: counts, truncation, answer recall",
    ),
    "bench": (
        "lit_distill.commands.bench",
        "measure latency and throughput of a checkpoint, optionally with a length configuration",
    ),
    "quickstart": (
        "lit_distill.commands.quickstart",
        "offline demo: synthetic data, train a small teacher, distil a student, print EM/F1",
    ),
    "export": (
        "lit_distill.commands.export",
        "ship a model: Hugging Face directory or ONNX graph (+ INT8), evaluated, with a model card",
    ),
    "search": (
        "lit_distill.commands.search",
        "multi-objective search over distillation or length configurations (Optuna / SigOpt)",
    ),
    "analyze": ("lit_distill.commands.analyze", "error analysis by topic and category; teacher vs students"),
    "replicate": (
        "lit_distill.commands.replicate",
        "the whole chain on real SQuAD, stage by stage and resumably (docs/replication.md)",
    ),
    "answer": (
        "lit_distill.commands.answer",
        "answer one question about one context with an exported model (HF, ONNX, INT8)",
    ),
    "predict": (
        "lit_distill.commands.predict",
        "predict ARTIFACT --data F --output F: official-format predictions of an exported model",
    ),
    "serve": (
        "lit_distill.commands.serve",
        "HTTP server for an exported model (LitServe, dynamic batching; the serve extra)",
    ),
}


def is_artifact_predict(command: str, args: list[str]) -> bool:
    """Whether ``predict ARGS`` is this project's ``predict ARTIFACT ...`` rather than Lightning's.

    Lightning's ``predict`` takes only options (``--config``, ``--ckpt_path``, ...); ours
    starts with the exported directory. ``predict --help`` alone shows ours, which tells how
    to reach Lightning's (``predict --config CONFIG.yaml --help``).
    """
    return (
        command == "predict"
        and bool(args)
        and (not args[0].startswith("-") or args == ["--help"] or args == ["-h"])
    )
