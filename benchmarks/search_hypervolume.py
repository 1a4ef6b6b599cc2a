"""Hypervolume vs. trials on a length-configuration search: Optuna's samplers, SigOpt-Lite, random, LAT.

Each "trial" evaluates one length configuration of a trained checkpoint, in-process,
through the same pieces a search trial uses: the spec's base config built by
LitDistillCLI (``run=False``), the chain decoded by ``lit_distill.search.space``,
and the metrics collected by the TrialResult callback after ``trainer.validate``.
Only the subprocess around it is left out (its cost is measured separately by
benchmarks/search_overhead.py); identical configurations are evaluated once.

The cost objective is the mean forward GFLOPs per evaluation feature under the
configuration (deterministic: ``lit_distill.models.flops.forward_flops`` over the
features' real lengths) by default, or the measured evaluation time
(``--cost eval_time_s``, noisy on a shared machine).

    python -m benchmarks.search_hypervolume --config configs/search/quickstart_length.yaml \
        --random-trials 300 --trials 60 --lat-trials 60 --seeds 3 --out docs/img/search_hypervolume.png

Series, each run with ``--seeds`` seeds (seed 0 of random search runs ``--random-trials``, the
normaliser; seed 0 of LAT runs ``--lat-trials``; every other run ``--trials``):

* ``default``: the sampler a search with this spec uses (``backend.sampler``; ``auto`` resolves
  to GP for a small sequential search);
* ``tpe``: multi-objective TPE (when the default is something else);
* ``lite``: SigOpt-Lite, SigOpt's own optimiser (``backend: {type: sigopt, driver: lite}``),
  through the real ``sigopt`` client, with ``observation_budget`` = its trials (SigOpt plans its
  multimetric phases by the budget); needs SigOpt-Lite installed (README), else it is skipped
  with a note (``--no-lite`` skips it on purpose);
* ``random``: uniform random fractions decoded like the optimiser's;
* ``lat`` and ``lat_wide``: LAT's evolutionary search (tests/reference/lat_evolution.py), with LAT's cost
  window and with the window widened to the whole space.

Prints, per series, the hypervolume after n trials relative to the random search's
``--random-trials`` final hypervolume (mean and min–max over seeds) and the optimiser's own
seconds per suggestion (wall time minus evaluations, which are memoised across series), and
writes the curves as PNG (mean and min–max band) + the raw numbers as JSON.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import optuna

from lit_distill.search.optuna_backend import make_sampler, resolve_sampler, suggest
from lit_distill.search.pareto import hypervolume_2d
from lit_distill.search.sigopt_experiment import experiment_body, typed_assignments
from lit_distill.search.space import config_overrides, decode, optimizer_space
from lit_distill.search.spec import SearchSpec, load_spec
from tests.reference.lat_evolution import EvolutionConfig, evolutionary_search

ROOT = Path(__file__).resolve().parents[1]

Chain = tuple[int, ...]
DIRECTIONS: tuple[Literal["maximize"], Literal["minimize"]] = ("maximize", "minimize")


def build_objective(
    spec: SearchSpec, score: str, cost: str, extra: list[str] | None = None, fast_mode: bool = True
) -> tuple[Callable[[Chain], tuple[float, float]], Callable[[Chain], float] | None, Any]:
    """An in-process ``chain -> (score, cost)`` over the spec's base config (memoised).

    Also returns the cost alone (``chain -> GFLOPs``, cheap) when the cost is FLOPs, else None.
    """
    import yaml

    from lit_distill.callbacks.trial_result import TrialResult
    from lit_distill.cli import LitDistillCLI

    if len(spec.chains) != 1:
        raise SystemExit(
            f"{spec.path}: the benchmark needs exactly one monotone chain, got {len(spec.chains)}"
        )
    chain = spec.chains[0]
    args = [arg for path in spec.base_configs for arg in ("--config", str(path))]  # base configs in order
    for key, value in spec.fixed.items():
        if key != "ckpt_path":
            args.append(f"--{key}={yaml.safe_dump(value, default_flow_style=True).strip()}")
    args += ["--trainer.enable_progress_bar=false", "--trainer.logger=false"]
    args += [f"--{item}" for item in extra or []]
    cli = LitDistillCLI(args=args, run=False, save_config_callback=None)
    callback = TrialResult(path=str(ROOT / "runs" / "bench_search" / "metrics.json"))
    cli.trainer.callbacks.append(callback)  # type: ignore[attr-defined]  # a property Lightning's stubs hide
    module = cli.model
    attribute = chain.key.split(".")[-1]
    cache: dict[Chain, tuple[float, float]] = {}
    lengths_hist: dict[int, int] = {}

    def flops(lengths: list[int]) -> float:
        """Mean forward GFLOPs per evaluation feature (over the features' real lengths)."""
        from lit_distill.models.flops import forward_flops

        if not lengths_hist:
            for batch in cli.datamodule.val_dataloader():
                for n in batch["attention_mask"].sum(dim=1).tolist():
                    lengths_hist[int(n)] = lengths_hist.get(int(n), 0) + 1
        total = sum(
            count * forward_flops(module.model.config, n, length_config=[min(v, n) for v in lengths])
            for n, count in lengths_hist.items()
        )
        return total / sum(lengths_hist.values()) / 1e9

    def slow(lengths: Chain) -> tuple[float, float]:
        """What a trial measures: trainer.validate with the module's length_config, TrialResult's metrics."""
        setattr(module, attribute, list(lengths))
        cli.trainer.validate(module, datamodule=cli.datamodule, verbose=False)
        metrics = callback.collect(cli.trainer, module)
        return metrics[score], (flops(list(lengths)) if cost == "flops" else metrics[cost])

    fast_state: dict[str, Any] = {}

    def fast(lengths: Chain) -> tuple[float, float]:
        """The same forward and SquadMetric without the Lightning loop (compression's evaluator)."""
        from lit_distill.callbacks.length_eval import evaluate_length_configs
        from lit_distill.metrics.squad_metric import SquadMetric

        if not fast_state:
            fast_state["batches"] = list(cli.datamodule.val_dataloader())
            eval_set = cli.datamodule.eval_set("validation")

            def new_metric() -> Any:
                metric = SquadMetric(module.n_best_size, module.max_answer_length, sync_on_compute=False)
                metric.bind(eval_set)
                return metric

            fast_state["metric"] = new_metric
        module.eval()
        row = evaluate_length_configs(
            module.forward_model,
            lambda: fast_state["batches"],
            fast_state["metric"],
            module.model.config,
            [list(lengths)],
            module.device,
        )[0]
        return float(row[score]), (flops(list(lengths)) if cost == "flops" else float(row[cost]))

    def evaluate(lengths: Chain) -> tuple[float, float]:
        if lengths not in cache:
            cache[lengths] = fast(lengths) if fast_mode else slow(lengths)
        return cache[lengths]

    full = tuple([int(chain.high)] * chain.length)
    probe = tuple(max(int(chain.low), int(chain.high) // 2**i) for i in range(chain.length))
    for lengths in (full, probe):  # the fast path must give what a trial would measure
        a, b = slow(lengths), fast(lengths) if fast_mode else slow(lengths)
        print(f"check {lengths}: trainer.validate {score}={a[0]:.3f}, fast path {score}={b[0]:.3f}")
        if abs(a[0] - b[0]) > 1e-3:
            raise SystemExit(f"fast path disagrees with trainer.validate on {lengths}: {a[0]} vs {b[0]}")
    return evaluate, ((lambda lengths: flops(list(lengths))) if cost == "flops" else None), cli


def optuna_search(
    spec: SearchSpec,
    evaluate: Callable[[Chain], tuple[float, float]],
    trials: int,
    sampler: optuna.samplers.BaseSampler,
) -> list[tuple[float, float]]:
    """Ask/tell through the same space and decoding as a real search trial."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=list(DIRECTIONS), sampler=sampler)
    space = optimizer_space(spec)
    out = []
    for _ in range(trials):
        trial = study.ask()
        assignment = decode(spec, {p.name: suggest(trial, p) for p in space})
        values = evaluate(tuple(config_overrides(spec, assignment)[spec.chains[0].key]))
        study.tell(trial, list(values))
        out.append(values)
    return out


def default_search(
    spec: SearchSpec, evaluate: Callable[[Chain], tuple[float, float]], trials: int, seed: int
) -> list[tuple[float, float]]:
    """The default sampler: what ``make_sampler`` builds for a search with this spec."""
    return optuna_search(spec, evaluate, trials, make_sampler(spec, seed))


def tpe_search(
    spec: SearchSpec, evaluate: Callable[[Chain], tuple[float, float]], trials: int, seed: int
) -> list[tuple[float, float]]:
    """Multi-objective TPE as a search builds it with ``backend.sampler: tpe``."""
    tpe = replace(spec, backend=replace(spec.backend, sampler="tpe"))
    return optuna_search(spec, evaluate, trials, make_sampler(tpe, seed))


def random_search(
    spec: SearchSpec, evaluate: Callable[[Chain], tuple[float, float]], trials: int, seed: int
) -> list[tuple[float, float]]:
    """Uniform random fractions decoded like the optimiser's (random search on the same space)."""
    return optuna_search(spec, evaluate, trials, optuna.samplers.RandomSampler(seed=seed))


def lite_search(
    spec: SearchSpec, evaluate: Callable[[Chain], tuple[float, float]], trials: int, seed: int
) -> list[tuple[float, float]]:
    """SigOpt-Lite through the real ``sigopt`` client, on the experiment a lite search of the spec
    creates (same space; the two objectives score and cost), budget = ``trials``.

    Lite draws from numpy's global generator: ``seed`` seeds it (as ``backend.seed`` does).
    """
    import numpy

    from lit_distill.search.sigopt_lite_compat import lite_connection

    body = experiment_body(spec)
    body["metrics"] = [
        {"name": "score", "objective": "maximize", "strategy": "optimize"},
        {"name": "cost", "objective": "minimize", "strategy": "optimize"},
    ]
    body["observation_budget"] = trials
    body.pop("linear_constraints", None)
    conn = lite_connection()
    experiment = conn.experiments(conn.experiments().create(**body).id)
    numpy.random.seed(seed)
    out = []
    for _ in range(trials):
        suggestion = experiment.suggestions().create()
        assignment = decode(spec, typed_assignments(spec, dict(suggestion.assignments)))
        values = evaluate(tuple(config_overrides(spec, assignment)[spec.chains[0].key]))
        told = [{"name": "score", "value": values[0]}, {"name": "cost", "value": values[1]}]
        experiment.observations().create(suggestion=suggestion.id, values=told)
        out.append(values)
    return out


def lat_search(
    spec: SearchSpec,
    evaluate: Callable[[Chain], tuple[float, float]],
    trials: int,
    seed: int,
    price: Callable[[Chain], float] | None = None,
    bound: float = 0.2,
) -> list[tuple[float, float]]:
    """LAT's evolutionary search (tests/reference/lat_evolution.py) with LAT's SQuAD settings.

    Population 20 seeded as LAT seeds it, 30 mutations + 30 crossovers per generation,
    mutation probability 0.5; ``bound`` (LAT's length_drop_ratio_bound, 0.2) sets the smallest
    chain and so the cost window; ``price`` rejects chains below the window unevaluated.
    """
    chain = spec.chains[0]
    cfg = EvolutionConfig(
        population_size=20,
        mutation_size=30,
        crossover_size=30,
        mutation_prob=0.5,
        length_drop_ratio_bound=bound,
        seed=seed,
    )
    history = evolutionary_search(
        evaluate, chain.length, int(chain.low), int(chain.high), trials, cfg, cost=price
    )
    return [(e.score, e.cost) for e in history]


def wide_bound(spec: SearchSpec) -> float:
    """The drop ratio whose constant-ratio chain ends at the space's lower bound (window = whole space)."""
    chain = spec.chains[0]
    return 1 - (int(chain.low) / int(chain.high)) ** (1 / chain.length)


def curve(values: list[tuple[float, float]], reference: tuple[float, float]) -> list[float]:
    """Hypervolume after each trial."""
    return [
        hypervolume_2d([list(v) for v in values[: n + 1]], list(reference), DIRECTIONS)
        for n in range(len(values))
    ]


def at_n(curves: list[list[float]], requested: list[int], n: int) -> list[float]:
    """Each run's hypervolume after ``n`` trials; a run asked for fewer than ``n`` is left out,
    a run that ended early (LAT, nothing new to breed) keeps its last value.

    >>> at_n([[1.0, 2.0], [1.0, 3.0, 4.0]], [2, 3], 3)
    [4.0]
    >>> at_n([[1.0, 2.0], [1.0]], [2, 5], 2)
    [2.0, 1.0]
    """
    return [c[min(n, len(c)) - 1] for c, asked in zip(curves, requested, strict=True) if asked >= n and c]


def spread(values: list[float]) -> str:
    """``mean (min–max)``, or the one value."""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.3f}"
    return f"{mean:.3f} ({min(values):.3f}–{max(values):.3f})"


def write_plot(
    out: Path,
    title: str,
    args: argparse.Namespace,
    default: str,
    runs: dict[str, list[list[float]]],
    requested: dict[str, list[int]],
    target: float,
) -> None:
    """The curves as PNG: per series the mean over seeds and the min–max band."""

    def relative(name: str, n: int) -> list[float]:
        return [v / target for v in at_n(runs[name], requested[name], n)]

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 5.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    colours = {
        "random": "0.5",
        "default": "tab:red",
        "tpe": "tab:orange",
        "lite": "tab:green",
        "lat": "tab:blue",
        "lat_wide": "tab:cyan",
    }
    labels = {
        "random": "random search",
        "default": f"default sampler (Optuna {default.upper()})",
        "tpe": "multi-objective TPE (Optuna)",
        "lite": "SigOpt-Lite (SigOpt's optimiser)",
        "lat": "LAT evolution (LAT's window)",
        "lat_wide": "LAT evolution (window widened)",
    }
    for name in runs:
        xs = [n for n in range(1, max(requested[name]) + 1) if relative(name, n)]
        vals = [relative(name, n) for n in xs]
        ax.plot(xs, [sum(v) / len(v) for v in vals], c=colours[name], label=labels[name])
        ax.fill_between(xs, [min(v) for v in vals], [max(v) for v in vals], color=colours[name], alpha=0.15)
    ax.axhline(0.95, ls="--", c="0.3", lw=0.8)
    ax.axvline(args.trials, ls=":", c="0.3", lw=0.8)
    ax.set_xlabel("trials (length configurations evaluated)")
    ax.set_ylabel(f"hypervolume / random-{args.random_trials}")
    ax.set_xscale("log")
    low = min(min(relative(k, 1)) for k in runs)
    ax.set_ylim(max(0.0, math.floor(low * 10) / 10), 1.05)
    ax.set_title(f"{title}: {args.score} vs {args.cost} (mean and min–max of {args.seeds} seeds)", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, help="length-configuration search spec")
    parser.add_argument("--score", default="f1")
    parser.add_argument("--cost", default="flops", help="flops, or a metric such as eval_time_s")
    parser.add_argument(
        "--random-trials", type=int, default=300, help="trials of random search's seed 0 (the normaliser)"
    )
    parser.add_argument(
        "--trials",
        "--tpe-trials",
        dest="trials",
        type=int,
        default=60,
        help="trials of every other run (default sampler, TPE, SigOpt-Lite, the other seeds)",
    )
    parser.add_argument("--lat-trials", type=int, default=300, help="trials of LAT's seed 0")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of every series")
    parser.add_argument(
        "--no-lat-wide",
        action="store_true",
        help="skip LAT's search with its cost window widened to the whole space",
    )
    parser.add_argument("--no-lite", action="store_true", help="skip SigOpt-Lite")
    parser.add_argument(
        "--replot", action="store_true", help="only redraw the PNG from the JSON of an earlier run (--out)"
    )
    parser.add_argument("--out", default="docs/img/search_hypervolume.png")
    parser.add_argument(
        "--slow", action="store_true", help="evaluate through trainer.validate (as trials do)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra config override for the evaluation, e.g. data.init_args.source.init_args.search_size=120",
    )
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    spec = load_spec(args.config)
    if args.replot:
        saved = json.loads(Path(args.out).with_suffix(".json").read_text())
        default = resolve_sampler(spec)
        write_plot(
            Path(args.out), spec.name, args, default, saved["runs"], saved["requested"], saved["target"]
        )
        print(f"plot: {args.out}")
        return 0
    evaluate_raw, price, _ = build_objective(spec, args.score, args.cost, args.set, not args.slow)
    evaluating = [0.0]

    def evaluate(lengths: Chain) -> tuple[float, float]:
        start = time.perf_counter()
        try:
            return evaluate_raw(lengths)
        finally:
            evaluating[0] += time.perf_counter() - start

    chain = spec.chains[0]
    full = evaluate(tuple([int(chain.high)] * chain.length))
    print(f"full-length model: {args.score}={full[0]:.3f}, {args.cost}={full[1]:.4g}")

    default = resolve_sampler(spec)
    print(f"default sampler: {default} (backend.sampler: {spec.backend.sampler})")
    series: list[tuple[str, Callable[..., list[tuple[float, float]]], int]] = [
        ("random", random_search, args.random_trials),
        ("default", default_search, args.trials),
    ]
    if default != "tpe":
        series.append(("tpe", tpe_search, args.trials))
    if not args.no_lite:
        try:
            from lit_distill.search.sigopt_lite_compat import lite_connection

            lite_connection()
            series.append(("lite", lite_search, args.trials))
        except ValueError as err:  # SearchSpecError: not installed
            print(f"SigOpt-Lite skipped: {err}")
    series.append(("lat", functools.partial(lat_search, price=price), args.lat_trials))
    if not args.no_lat_wide:
        bound = wide_bound(spec)
        print(f"LAT with a window over the whole space: length_drop_ratio_bound {bound:.3f}")
        series.append(("lat_wide", functools.partial(lat_search, price=price, bound=bound), args.lat_trials))
    histories: dict[str, list[list[tuple[float, float]]]] = {name: [] for name, _, _ in series}
    requested: dict[str, list[int]] = {name: [] for name, _, _ in series}
    timings: dict[str, float] = {}
    suggest_s: dict[str, float] = {}
    partial = Path(args.out).with_suffix(".partial.json")
    partial.parent.mkdir(parents=True, exist_ok=True)
    for name, fn, first in series:
        start, evaluated_before = time.perf_counter(), evaluating[0]
        for seed in range(args.seeds):
            n = first if seed == 0 else args.trials
            histories[name].append(fn(spec, evaluate, n, seed))
            requested[name].append(n)
            print(
                f"{name} (seed {seed}): {n} trials done after {time.perf_counter() - start:.0f} s", flush=True
            )
        timings[name] = time.perf_counter() - start
        own = timings[name] - (evaluating[0] - evaluated_before)
        suggest_s[name] = own / sum(len(h) for h in histories[name])
        partial.write_text(json.dumps({"full": full, "histories": histories, "requested": requested}))
    # reference point: the worst score seen by any sampler (the nadir), cost 5 % above the full model's
    nadir = min(v[0] for runs_ in histories.values() for h in runs_ for v in h)
    reference = (nadir, full[1] * 1.05)
    print(f"reference point ({args.score}, {args.cost}) = {reference}")
    runs = {k: [curve(h, reference) for h in v] for k, v in histories.items()}
    target = runs["random"][0][args.random_trials - 1]

    def relative(name: str, n: int) -> list[float]:
        return [v / target for v in at_n(runs[name], requested[name], n)]

    print(
        f"\nhypervolume relative to random search's (seed 0) after {args.random_trials} trials: "
        f"mean (min–max) over the seeds that ran that many trials (a LAT search ends early when it "
        f"can breed nothing new):"
    )
    checkpoints = sorted({10, 20, 30, 40, 60, 100, 300, args.trials})
    for name in runs:
        row = [f"{n}: {spread(relative(name, n))}" for n in checkpoints if relative(name, n)]
        print(f"  {name:9s} " + "  ".join(row))
    for name in [n for n in ("default", "tpe", "lite") if n in runs]:
        reached = next(
            (n for n in range(1, args.trials + 1) if sum(relative(name, n)) / args.seeds >= 0.95), None
        )
        print(f"{name}: the mean reaches 0.95 of random-{args.random_trials} first after {reached} trials")
    print(
        "optimiser seconds per suggestion (wall time less evaluations, which are memoised across series): "
        + ", ".join(f"{k} {v:.3f} s" for k, v in suggest_s.items())
    )
    print("wall time per series (all seeds): " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "reference": reference,
                "full": full,
                "target": target,
                "runs": runs,
                "requested": requested,
                "histories": histories,
                "seconds_per_suggestion": suggest_s,
                "wall_s": timings,
            },
            indent=1,
        )
    )
    write_plot(out, spec.name, args, default, runs, requested, target)
    print(f"plot: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
