"""Per-group INT8 sensitivity and fp32 fallback under an accuracy budget.

Quantising every weight product at once can cost more F1 than a user accepts, and
the cost is rarely spread evenly: one layer's feed-forward products or the QA head may
carry most of it. The fallback measures that and keeps the worst groups in fp32:

1. quantise everything; if the F1 lost against the fp32 graph is within ``budget``, stop;
2. otherwise quantise one group at a time (every other product fp32) and measure the F1
   each loses alone (the group's *sensitivity*);
3. keep groups in fp32, the most sensitive first, re-quantising and measuring after each,
   until the loss is within ``budget`` (at worst every group is fp32: the fp32 graph).

F1 is measured on a calibration / search split, never on the split that is reported.
The loop is written against two callables (quantise with these nodes kept fp32; score a
graph), so it is tested without ONNX Runtime; :func:`lit_distill.export.int8_build.build_int8`
wires it to ``quantize_int8`` and the artifact evaluation. This is the accuracy-driven
fallback of Intel Neural Compressor's tuning and of ONNX Runtime's quantisation debugging
examples, on named groups of this project's graphs
(:func:`~lit_distill.export.quantize.int8_groups`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lit_distill.export.errors import ExportInputError

__all__ = ["FallbackReport", "check_budget", "sensitivity_fallback"]


@dataclass
class FallbackReport:
    """What the fallback measured and chose.

    Attributes:
        budget: Largest F1 loss against fp32 allowed (F1 points).
        fp32_f1: The fp32 graph's F1 on the sensitivity split.
        all_int8_f1: F1 with every group quantised.
        final_f1: F1 of the graph returned.
        group_loss: Group -> F1 lost with only that group quantised (empty when quantising
            everything was within the budget, so no group was measured alone).
        kept_fp32: Groups kept in fp32, most sensitive first.
        steps: ``{"kept_fp32": [...], "f1": ...}`` after each fallback step, the first with none kept.
    """

    budget: float
    fp32_f1: float
    all_int8_f1: float
    final_f1: float
    group_loss: dict[str, float] = field(default_factory=dict)
    kept_fp32: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def within_budget(self) -> bool:
        """Whether the returned graph loses at most ``budget`` F1."""
        return self.fp32_f1 - self.final_f1 <= self.budget + 1e-9


def check_budget(budget: float) -> float:
    """``budget`` as a float, or :class:`ExportInputError` naming ``--int8-budget``."""
    if (
        isinstance(budget, bool)
        or not isinstance(budget, int | float)
        or not math.isfinite(budget)
        or budget < 0
    ):
        raise ExportInputError("--int8-budget", f"must be a finite number of F1 points >= 0, got {budget!r}")
    return float(budget)


def sensitivity_fallback(
    groups: Mapping[str, Sequence[str]],
    quantize: Callable[[Sequence[str]], Path],
    score: Callable[[Path], float],
    fp32_f1: float,
    budget: float,
    log: Callable[[str], None] = print,
) -> tuple[Path, FallbackReport]:
    """Quantise, and keep the most sensitive groups in fp32 until the F1 loss is within ``budget``.

    Args:
        groups: Group name -> the graph nodes it holds (e.g. :func:`~lit_distill.export.quantize.int8_groups`).
        quantize: Writes an INT8 graph with the given nodes kept fp32 and returns its path
            (a new path per call).
        score: F1 of a graph on the sensitivity split.
        fp32_f1: F1 of the fp32 graph on the same split.
        budget: Largest F1 loss allowed (points).
        log: Where progress lines go.

    Returns:
        The chosen graph (one of ``quantize``'s) and the report.
    """
    budget = check_budget(budget)
    graph = quantize(())
    all_f1 = score(graph)
    report = FallbackReport(budget, fp32_f1, all_f1, all_f1, steps=[{"kept_fp32": [], "f1": all_f1}])
    log(f"INT8 sensitivity: fp32 F1 {fp32_f1:.2f}, every group INT8 {all_f1:.2f} (budget {budget:.2f})")
    if report.within_budget:
        return graph, report
    every = [node for nodes in groups.values() for node in nodes]
    for name, nodes in groups.items():
        alone = set(nodes)
        report.group_loss[name] = fp32_f1 - score(quantize([n for n in every if n not in alone]))
        log(f"INT8 sensitivity: only {name} INT8 loses {report.group_loss[name]:.2f} F1")
    order = sorted(groups, key=lambda g: -report.group_loss[g])  # stable: graph order breaks ties
    for name in order:
        report.kept_fp32.append(name)
        graph = quantize([n for g in report.kept_fp32 for n in groups[g]])
        report.final_f1 = score(graph)
        report.steps.append({"kept_fp32": list(report.kept_fp32), "f1": report.final_f1})
        log(f"INT8 sensitivity: {', '.join(report.kept_fp32)} fp32 -> F1 {report.final_f1:.2f}")
        if report.within_budget:
            break
    return graph, report
