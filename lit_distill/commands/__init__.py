"""The project's own command lines, one module each, with ``main(argv) -> int``.

``python -m lit_distill COMMAND`` dispatches to the module named here (Lightning's
``fit``/``validate``/``test``/``predict`` go to :mod:`lit_distill.cli`). The commands
whose module lives here: ``squad-eval``, ``data-check``, ``bench``, ``quickstart`` and
``search``. ``export`` and ``analyze`` are the front doors of their own packages
(:mod:`lit_distill.export.cli`, :mod:`lit_distill.analysis.command`) and are listed
here so that every command can be seen in one place. Importing this package imports
no command module (each is imported only when its command runs).
"""

from __future__ import annotations

__all__ = ["PROJECT_COMMANDS"]

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
        "lit_distill.export.cli",
        "ship a model: Hugging Face directory or ONNX graph (+ INT8), evaluated, with a model card",
    ),
    "search": (
        "lit_distill.commands.search",
        "multi-objective search over distillation or length configurations (Optuna / SigOpt)",
    ),
    "analyze": ("lit_distill.analysis.command", "error analysis by topic and category; teacher vs students"),
}
