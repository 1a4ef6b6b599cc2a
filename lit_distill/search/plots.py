"""PNG figures of a search, in the spirit of the SigOpt "Efficient BERT" blog's figures.

* ``pareto_front.png`` — the first two objectives; the front as a step line, other feasible
  trials as dots, infeasible trials (threshold missed) apart as grey crosses, the baseline as
  a star, thresholds dashed; out-of-memory trials are counted in the legend (their values are
  made up, so they are not drawn).
* ``importance.png`` — parameter importance (main-effect ω², see :mod:`lit_distill.search.importance`)
  for every metric; bars that shuffled metrics reach as often as not (a permutation test) are
  grey, and with fewer than :data:`~lit_distill.search.importance.MIN_TRIALS` complete trials
  the figure (and the log) says that its bars are noise-level.
* ``parallel_coordinates.png`` — parameters and objectives of the front (coloured) over the other
  feasible trials (grey), each axis min–max scaled.

Matplotlib (the ``plots`` extra) is imported only here; without it the report still has
its JSON and CSV.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from lit_distill.checks import is_number
from lit_distill.search.records import TrialRecord
from lit_distill.search.spec import SearchSpec

log = logging.getLogger("lit_distill.search")


def draw_all(spec: SearchSpec, records: list[TrialRecord], out_dir: Path) -> dict[str, Path]:
    """Draw every figure into ``out_dir``; returns name → path (empty without matplotlib)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log.warning(
            "matplotlib is not installed, so the report has no figures: pip install 'lit_distill[plots]'"
        )
        return {}
    files = {
        "front": out_dir / "pareto_front.png",
        "importance": out_dir / "importance.png",
        "parallel": out_dir / "parallel_coordinates.png",
    }
    plot_front(spec, records, files["front"])
    note = plot_importance(spec, records, files["importance"])
    if note:
        log.warning("%s: %s", files["importance"].name, note)
    plot_parallel(spec, records, files["parallel"])
    return files


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def plot_front(spec: SearchSpec, records: list[TrialRecord], path: Path) -> None:
    """Scatter of the first two objectives with the front, infeasible trials and the baseline."""
    objectives = spec.objectives
    fig = _figure(6.4, 4.8)
    ax = fig.add_subplot(1, 1, 1)
    complete = [r for r in records if r.outcome == "complete"]
    n_oom = sum(r.outcome == "oom" for r in records)
    if len(objectives) == 1:
        y = objectives[0].name
        xs = [float(r.number) for r in complete]
        x_label = "trial"
    else:
        y, x_label = objectives[0].name, objectives[1].name
    groups = (
        (
            "feasible",
            [r for r in complete if r.feasible and not r.on_front],
            dict(c="tab:blue", marker="o", s=18),
        ),
        (
            "infeasible (threshold missed)",
            [r for r in complete if not r.feasible],
            dict(c="0.6", marker="x", s=22),
        ),
        ("Pareto front", [r for r in complete if r.on_front], dict(c="tab:red", marker="o", s=30)),
    )
    for label, group, style in groups:
        if not group:
            continue
        xs = [float(r.number) if len(objectives) == 1 else r.metrics[x_label] for r in group]
        ax.scatter(xs, [r.metrics[y] for r in group], label=f"{label} ({len(group)})", zorder=3, **style)
    front = sorted((r for r in complete if r.on_front), key=lambda r: r.metrics.get(x_label, r.number))
    if len(objectives) > 1 and len(front) > 1:
        ax.step(
            [r.metrics[x_label] for r in front],
            [r.metrics[y] for r in front],
            where="post",
            c="tab:red",
            lw=1,
        )
    base = spec.baseline_metrics
    if y in base and (len(objectives) == 1 or x_label in base):
        bx = base[x_label] if len(objectives) > 1 else 0.0
        ax.scatter(
            [bx], [base[y]], marker="*", s=160, c="gold", edgecolors="k", zorder=4, label=spec.baseline_label
        )
    for m in spec.thresholded:
        if m.name == y:
            ax.axhline(m.threshold, ls="--", c="0.4", lw=0.8)
        elif m.name == x_label:
            ax.axvline(m.threshold, ls="--", c="0.4", lw=0.8)
    if n_oom:
        ax.scatter([], [], marker="", label=f"out of memory, not drawn ({n_oom})")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y)
    title = f"{spec.name}: Pareto front"
    if len(objectives) > 2:
        title += f" ({y} vs {x_label}; {len(objectives)} objectives)"
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def importance_inputs(
    spec: SearchSpec, records: list[TrialRecord]
) -> tuple[list[TrialRecord], dict[str, list[Any]]]:
    """Complete trials and their user-facing parameter values (chains split per position)."""
    complete = [r for r in records if r.outcome == "complete" and r.assignment]
    columns: dict[str, list[Any]] = {}
    for r in complete:
        for name, value in r.assignment.items():
            items = (
                {f"{name}[{i}]": v for i, v in enumerate(value)} if isinstance(value, list) else {name: value}
            )
            for col, v in items.items():
                columns.setdefault(col, []).append(v)
    columns = {k: v for k, v in columns.items() if len(v) == len(complete)}
    return complete, columns


def importance_note(n_complete: int, any_signal: bool) -> str | None:
    """What the importance figure must warn about, or None.

    Args:
        n_complete: Complete trials the figure is drawn from.
        any_signal: Whether any parameter's ω² beat the shuffled metrics (p ≤ NOISE_P) for any metric.
    """
    from lit_distill.search.importance import MIN_TRIALS, NOISE_P

    if n_complete < MIN_TRIALS:
        return (
            f"only {n_complete} complete trials (fewer than {MIN_TRIALS}): the importance bars are "
            "noise-level, chance alone gives a parameter such shares"
        )
    if not any_signal:
        return f"no parameter explains a metric better than chance (permutation p > {NOISE_P}); bars are grey"
    return None


def plot_importance(spec: SearchSpec, records: list[TrialRecord], path: Path) -> str | None:
    """Horizontal bars of parameter importance (ω², :mod:`~lit_distill.search.importance`), one panel per metric.

    A bar is blue when its ω² beats the shuffled metrics of a permutation test (p ≤ NOISE_P),
    grey otherwise.

    Returns:
        The warning the figure carries (:func:`importance_note`), or None.
    """
    from lit_distill.search.importance import NOISE_P, main_effect_importance, noise_p_values

    metrics = list(spec.metrics)
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig = _figure(4.2 * cols, 0.9 + 2.8 * rows)
    complete, columns = importance_inputs(spec, records)
    log_params = frozenset(p.name for p in spec.parameters if p.log)
    any_signal = False
    for k, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.set_title(f"{metric.name} ({metric.strategy})", fontsize=9)
        keep = [i for i, r in enumerate(complete) if math.isfinite(r.metrics.get(metric.name, math.nan))]
        values = {n: [v[i] for i in keep] for n, v in columns.items()}
        y = [complete[i].metrics[metric.name] for i in keep]
        try:
            importance = main_effect_importance(values, y, log_params=log_params)
            p_values = noise_p_values(values, y, log_params=log_params)
        except ValueError as err:
            ax.text(0.5, 0.5, f"not enough data\n({err})", ha="center", va="center", fontsize=8)
            ax.set_axis_off()
            continue
        names = list(importance)[::-1]
        signal = [p_values[n] <= NOISE_P for n in names]
        any_signal = any_signal or any(signal)
        colours = ["tab:blue" if s else "0.7" for s in signal]
        ax.barh(names, [importance[n] for n in names], color=colours)
        ax.set_xlim(0, 1)
        ax.set_xlabel(
            f"share of variance explained (ω²); grey: chance does as well (p > {NOISE_P})", fontsize=7
        )
        ax.tick_params(labelsize=7)
    note = importance_note(len(complete), any_signal)
    title = f"{spec.name}: parameter importance per metric ({len(complete)} complete trials)"
    fig.suptitle(title + (f"\n{note}" if note else ""), fontsize=9, color="tab:red" if note else "black")
    fig.tight_layout()
    fig.savefig(path)
    return note


def plot_parallel(spec: SearchSpec, records: list[TrialRecord], path: Path) -> None:
    """Parallel coordinates: front points coloured by the first objective, other feasible trials grey."""
    feasible = [r for r in records if r.feasible]
    axes: list[str] = []
    rows: list[dict[str, float]] = []
    categories: dict[str, list[Any]] = {}
    for r in feasible:
        row: dict[str, float] = {}
        for name, value in r.assignment.items():
            values = (
                {f"{name}[{i}]": v for i, v in enumerate(value)} if isinstance(value, list) else {name: value}
            )
            for col, v in values.items():
                if is_number(v):
                    row[col] = float(v)
                else:
                    cats = categories.setdefault(col, [])
                    if v not in cats:
                        cats.append(v)
                    row[col] = float(cats.index(v))
                if col not in axes:
                    axes.append(col)
        for m in spec.objectives:
            if m.name in r.metrics:
                row[m.name] = r.metrics[m.name]
        rows.append(row)
    axes += [m.name for m in spec.objectives]
    fig = _figure(max(6.0, 0.9 * len(axes)), 4.2)
    ax = fig.add_subplot(1, 1, 1)
    if not rows:
        ax.text(0.5, 0.5, "no feasible trial yet", ha="center", va="center")
        ax.set_axis_off()
        fig.savefig(path)
        return
    lo = {a: min(r.get(a, math.inf) for r in rows) for a in axes}
    hi = {a: max(r.get(a, -math.inf) for r in rows) for a in axes}
    colour_by = spec.objectives[0].name
    span = (hi[colour_by] - lo[colour_by]) or 1.0
    from matplotlib import colormaps

    cmap = colormaps["viridis"]

    def ys(row: dict[str, float]) -> list[float]:
        return [(row.get(a, math.nan) - lo[a]) / ((hi[a] - lo[a]) or 1.0) for a in axes]

    front = [row for row, r in zip(rows, feasible, strict=True) if r.on_front]
    for row, r in zip(rows, feasible, strict=True):
        if not r.on_front:
            ax.plot(range(len(axes)), ys(row), c="0.85", lw=0.8, zorder=1)
    for row in front:
        colour = cmap((row.get(colour_by, lo[colour_by]) - lo[colour_by]) / span)
        ax.plot(range(len(axes)), ys(row), c=colour, lw=1.6, alpha=0.9, zorder=2)
    ax.set_xticks(range(len(axes)))
    ax.set_xticklabels(
        [f"{a}\n[{lo[a]:.3g}, {hi[a]:.3g}]" for a in axes], fontsize=7, rotation=30, ha="right"
    )
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["min", "max"])
    for x in range(len(axes)):
        ax.axvline(x, c="0.6", lw=0.8, zorder=0)
    ax.set_title(
        f"{spec.name}: parallel coordinates\n{len(front)} Pareto-front trials (colour: {colour_by}), "
        f"{len(rows) - len(front)} other feasible trials (grey)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path)
