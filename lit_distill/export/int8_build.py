"""The INT8 step of ``export --to onnx --int8``: scheme, calibration windows and the sensitivity fallback.

:class:`Int8Options` is what the command line and :func:`~lit_distill.export.api.export_model`
accept; :func:`prepare_int8` reads the calibration and sensitivity files before anything is
written (so a bad file stops the export at once); :func:`build_int8` quantises the fp32
graph and, with a budget, keeps the most sensitive groups in fp32
(:mod:`lit_distill.export.sensitivity`). What was done is returned as a JSON-ready dict
that the export writes to ``int8_report.json`` beside the graph.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lit_distill.data.features import FeatureSettings
from lit_distill.export.artifact import onnx_forward, onnx_session
from lit_distill.export.calibration import DEFAULT_CALIBRATION_WINDOWS, Feed, calibration_windows
from lit_distill.export.errors import ExportInputError, require
from lit_distill.export.evaluate import EvalData, evaluate, prepare_eval
from lit_distill.export.quantize import DEFAULT_INT8_SCHEME, int8_groups, int8_scheme, quantize_int8
from lit_distill.export.sensitivity import check_budget, sensitivity_fallback

__all__ = ["INT8_REPORT", "Int8Inputs", "Int8Options", "build_int8", "prepare_int8"]

INT8_REPORT = "int8_report.json"


@dataclass(frozen=True)
class Int8Options:
    """How ``export --int8`` quantises.

    Attributes:
        scheme: A name of :data:`~lit_distill.export.quantize.INT8_SCHEMES` (``--int8-scheme``).
        calibration_file: SQuAD file whose windows calibrate a static scheme (``--calibration-file``;
            training text, not the evaluation file).
        calibration_windows: How many of its windows (``--calibration-windows``).
        budget: With a value, the sensitivity fallback keeps groups in fp32 until INT8 loses at
            most this many F1 points against the fp32 graph on the sensitivity split (``--int8-budget``).
        sensitivity_file: SQuAD file the fallback scores on (``--sensitivity-file``; default the
            calibration file).
    """

    scheme: str = DEFAULT_INT8_SCHEME
    calibration_file: str | Path | None = None
    calibration_windows: int = DEFAULT_CALIBRATION_WINDOWS
    budget: float | None = None
    sensitivity_file: str | Path | None = None

    def check(self) -> None:
        """Raise :class:`ExportInputError` naming the option when the options do not fit together."""
        scheme = int8_scheme(self.scheme)
        if scheme.static and self.calibration_file is None:
            raise ExportInputError(
                "--calibration-file",
                f"--int8-scheme {self.scheme} is calibrated: give a SQuAD file of training text to calibrate on",
            )
        if self.budget is not None:
            check_budget(self.budget)
            if self.sensitivity_file is None and self.calibration_file is None:
                raise ExportInputError(
                    "--int8-budget",
                    "the fallback measures F1 on a split of its own: give --sensitivity-file (or --calibration-file)",
                )
        elif self.sensitivity_file is not None:
            raise ExportInputError("--sensitivity-file", "only with --int8-budget")


@dataclass
class Int8Inputs:
    """The files of :class:`Int8Options`, read: calibration windows and the sensitivity split."""

    windows: list[Feed] | None
    sensitivity: EvalData | None


def prepare_int8(options: Int8Options, tokenizer: Any, settings: FeatureSettings) -> Int8Inputs:
    """Check ``options`` and read their files with the model's tokenizer and windows.

    Raises:
        ExportInputError: naming the option at fault.
    """
    options.check()
    windows = None
    if options.calibration_file is not None:
        windows = calibration_windows(
            options.calibration_file, tokenizer, settings, options.calibration_windows
        )
    sensitivity = None
    if options.budget is not None:
        path = options.sensitivity_file or options.calibration_file
        try:
            sensitivity = prepare_eval(str(path), tokenizer, settings)
        except ExportInputError as err:
            option = "--sensitivity-file" if options.sensitivity_file else "--calibration-file"
            raise ExportInputError(option, str(err).split(": ", 1)[-1]) from err
    return Int8Inputs(windows, sensitivity)


def build_int8(
    fp32: Path,
    target: Path,
    options: Int8Options,
    inputs: Int8Inputs,
    threads: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Quantise ``fp32`` into ``target`` as ``options`` say; returns the report (``int8_report.json``).

    Args:
        fp32: The fp32 graph (with its length configuration).
        target: Where the INT8 graph goes.
        options: Scheme, calibration and budget.
        inputs: Their files, read by :func:`prepare_int8`.
        threads: ONNX Runtime threads for the sensitivity evaluations.
        log: Where progress lines go.
    """
    scheme = int8_scheme(options.scheme)
    windows = inputs.windows if scheme.static else None
    report: dict[str, Any] = {
        "scheme": options.scheme,
        "calibration": scheme.calibration,
        "calibration_file": None if windows is None else Path(str(options.calibration_file)).name,
        "calibration_windows": None if windows is None else len(windows),
        "kept_fp32": [],
    }
    with tempfile.TemporaryDirectory(prefix=".int8-", dir=target.parent) as tmp:
        work = Path(tmp)
        cache = work / "calibration.json"
        if options.budget is None or inputs.sensitivity is None:
            quantize_int8(fp32, target, scheme, windows, calibration_cache=cache)
            return report
        onnx = require("onnx")
        groups = int8_groups(onnx.load(str(fp32)))
        data = inputs.sensitivity
        made: list[Path] = []

        def quantize(keep: Sequence[str]) -> Path:
            made.append(work / f"candidate-{len(made)}.onnx")
            return quantize_int8(
                fp32, made[-1], scheme, windows, keep_fp32_nodes=keep, calibration_cache=cache
            )

        def score(graph: Path) -> float:
            return float(evaluate(onnx_forward(onnx_session(graph, threads)), data, latency_samples=1)["f1"])

        chosen, fallback = sensitivity_fallback(groups, quantize, score, score(fp32), options.budget, log)
        shutil.copyfile(chosen, target)
    report.update(
        kept_fp32=fallback.kept_fp32,
        sensitivity_file=Path(data.path).name,
        fallback={**asdict(fallback), "within_budget": fallback.within_budget},
    )
    return report
