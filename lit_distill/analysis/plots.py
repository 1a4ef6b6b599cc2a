"""PNG figures of an analysis (matplotlib, the ``plots`` extra; imported only here).

* ``topics_<label>.png`` — one horizontal bar per topic, stacked by category (share of the
  topic's answered questions), topics sorted from the fewest correct answers at the top;
  the figure grows with the number of topics so that 35+ labels stay readable;
* ``compare_topics.png`` (several models) — one panel per category, a bar per model and topic;
* ``compare_overall.png`` (several models) — one stacked bar per model over all questions;
* ``cuts.png`` — exact match and F1 per question word, answer length and context length, a
  bar per model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lit_distill.analysis.categories import categories_for
from lit_distill.analysis.inputs import Dataset
from lit_distill.analysis.model import ModelAnalysis
from lit_distill.analysis.outputs import file_label
from lit_distill.atomic_write import replace_file

__all__ = ["PLOTS_NOTICE", "draw_all", "plots_available"]

PLOTS_NOTICE = "tables written; for the PNG plots install matplotlib: pip install 'lit_distill[plots]'"
COLOURS = {
    "correct": "#2e7d32",
    "mostly_correct": "#9ccc65",
    "mostly_wrong": "#ffa726",
    "label_has_answer": "#7e57c2",
    "label_has_no_answer": "#e53935",
}
NAMES = {
    "correct": "correct",
    "mostly_correct": "mostly correct",
    "mostly_wrong": "mostly wrong",
    "label_has_answer": 'label has answer (model: "no answer")',
    "label_has_no_answer": "label has no answer (model answered)",
}


def _save(fig: Any, path: Path) -> None:
    """``fig.savefig(path)``, replacing ``path`` atomically (the format from its suffix)."""
    with replace_file(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")


MODEL_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def plots_available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _topic_label(title: str, width: int = 40) -> str:
    text = title.replace("_", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _pct(row: dict[str, Any], key: str) -> float:
    return 100.0 * row[key] / row["questions"] if row["questions"] else 0.0


def plot_topics(model: ModelAnalysis, view: str, categories: Sequence[str], path: Path) -> None:
    """Stacked horizontal bars of the categories per topic for one model."""
    rows = sorted(model.views[view].tables["topic"], key=lambda r: _pct(r, "correct"))
    rows = [r for r in rows if r["questions"]]
    fig = _figure(10.0, 1.6 + 0.32 * len(rows))
    ax = fig.add_subplot(1, 1, 1)
    ys = list(range(len(rows)))
    left = [0.0] * len(rows)
    for cat in categories:
        widths = [_pct(r, cat) for r in rows]
        ax.barh(ys, widths, left=left, color=COLOURS[cat], label=NAMES[cat], height=0.75)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{_topic_label(r['group'])} ({r['questions']})" for r in rows], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the topic's answered questions")
    ax.margins(y=0.01)
    ax.set_title(f"{model.label}: answers by category per topic ({view})")
    fig.legend(loc="outside lower center", ncol=3, fontsize=8)
    _save(fig, path)


def plot_compare_topics(
    models: Sequence[ModelAnalysis], view: str, categories: Sequence[str], path: Path
) -> None:
    """One panel per category: % of each topic's questions, a bar per model."""
    topics = [r["group"] for r in models[0].views[view].tables["topic"]]
    per_model = [{r["group"]: r for r in m.views[view].tables["topic"]} for m in models]
    n, k = len(topics), len(models)
    fig = _figure(3.2 * len(categories) + 2.5, 1.6 + 0.2 * n * max(k, 2))
    height = 0.8 / k
    axes = fig.subplots(1, len(categories), sharey=True)
    for ax, cat in zip(axes, categories, strict=True):
        for j, m in enumerate(models):
            ys = [i + (j - (k - 1) / 2) * height for i in range(n)]
            values = [_pct(per_model[j][t], cat) if t in per_model[j] else 0.0 for t in topics]
            ax.barh(ys, values, height=height, color=MODEL_COLOURS[j % len(MODEL_COLOURS)], label=m.label)
        ax.set_title(NAMES[cat], fontsize=9, color=COLOURS[cat])
        ax.set_xlabel("% of questions", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(n))
    axes[0].set_yticklabels([_topic_label(t) for t in topics], fontsize=9)
    axes[0].invert_yaxis()
    axes[0].margins(y=0.01)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=len(models), fontsize=9)
    fig.suptitle(f"{' vs '.join(m.label for m in models)}: categories per topic ({view})")
    _save(fig, path)


def plot_compare_overall(
    models: Sequence[ModelAnalysis], view: str, categories: Sequence[str], path: Path
) -> None:
    """One stacked bar per model: the categories over all answered questions."""
    rows = [m.views[view].tables["overall"][0] for m in models]
    fig = _figure(8.0, 1.8 + 0.6 * len(models))
    ax = fig.add_subplot(1, 1, 1)
    left = [0.0] * len(rows)
    ys = list(range(len(rows)))
    for cat in categories:
        widths = [_pct(r, cat) for r in rows]
        ax.barh(ys, widths, left=left, color=COLOURS[cat], label=NAMES[cat], height=0.6)
        for y, x0, w in zip(ys, left, widths, strict=True):
            if w >= 4:
                ax.text(x0 + w / 2, y, f"{w:.0f}", ha="center", va="center", fontsize=8, color="white")
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_yticks(ys)
    ax.set_yticklabels([m.label for m in models])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of answered questions")
    ax.set_title(f"Answers by category ({view})")
    fig.legend(loc="outside lower center", ncol=3, fontsize=8)
    _save(fig, path)


def plot_cuts(models: Sequence[ModelAnalysis], view: str, path: Path) -> None:
    """Exact match (solid) and F1 (hatched outline) per group of each cut, a bar per model."""
    cuts = (
        ("question_word", "question word"),
        ("answer_length", "answer length (tokens)"),
        ("context_length", "context length (words)"),
    )
    fig = _figure(15.0, 4.8)
    axes = fig.subplots(1, len(cuts), sharey=True)
    k = len(models)
    width = 0.8 / k
    for ax, (cut, title) in zip(axes, cuts, strict=True):
        groups = [r["group"] for r in models[0].views[view].tables[cut]]
        for j, m in enumerate(models):
            rows = {r["group"]: r for r in m.views[view].tables[cut]}
            xs = [i + (j - (k - 1) / 2) * width for i in range(len(groups))]
            colour = MODEL_COLOURS[j % len(MODEL_COLOURS)]
            ax.bar(
                xs,
                [rows[g]["f1"] or 0.0 for g in groups],
                width=width,
                fill=False,
                edgecolor=colour,
                hatch="//",
            )
            ax.bar(
                xs,
                [rows[g]["exact"] or 0.0 for g in groups],
                width=width,
                color=colour,
                label=f"{m.label} exact",
            )
        counts = {r["group"]: r["questions"] for r in models[0].views[view].tables[cut]}
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([f"{g}\n({counts[g]})" for g in groups], fontsize=8)
        ax.set_title(title)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("exact match % (bar), F1 % (hatched outline)")
    axes[-1].legend(fontsize=8)
    fig.suptitle(f"Scores by question word, answer length and context length ({view}; n in brackets)")
    _save(fig, path)


def draw_all(dataset: Dataset, models: Sequence[ModelAnalysis], view: str, out_dir: Path) -> dict[str, Path]:
    """Draw every figure into ``out_dir``; returns name → path. Needs matplotlib."""
    categories = categories_for(dataset.version)
    files: dict[str, Path] = {}
    for m in models:
        path = out_dir / f"topics_{file_label(m.label)}.png"
        plot_topics(m, view, categories, path)
        files[f"topics_{m.label}"] = path
    if len(models) > 1:
        files["compare_topics_png"] = out_dir / "compare_topics.png"
        plot_compare_topics(models, view, categories, files["compare_topics_png"])
        files["compare_overall_png"] = out_dir / "compare_overall.png"
        plot_compare_overall(models, view, categories, files["compare_overall_png"])
    files["cuts_png"] = out_dir / "cuts.png"
    plot_cuts(models, view, files["cuts_png"])
    return files
