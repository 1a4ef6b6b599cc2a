"""Hypervolume vs. trials on a length-configuration search: default sampler vs. TPE, random and LAT evolution.

Each "trial" evaluates one length configuration of a trained checkpoint, in-process,
through the same pieces a search trial uses: the spec's base config built by
LitDistillCLI (``run=False``), the chain decoded by ``lit_distill.search.space``,
and the metrics collected by the TrialResult callback after ``trainer.validate``.
Only the subprocess around it is left out (its cost is measured separately by
tools/bench_search_overhead.py); identical configurations are evaluated once.

The cost objective is the mean forward GFLOPs per evaluation feature under the
configuration (deterministic: ``lit_distill.models.flops.forward_flops`` over the
features' real lengths) by default, or the measured evaluation time
(``--cost eval_time_s``, noisy on a shared machine).

    python tools/bench_search_hypervolume.py --config configs/search/quickstart_length.yaml \
        --random-trials 300 --tpe-trials 60 --seeds 3 --out docs/img/search_hypervolume.png

The default sampler is the one a search with this spec uses (``backend.sampler``; ``auto``
resolves to GP for a small sequential search); multi-objective TPE is run beside it when
the default is something else. Prints, per sampler, the hypervolume after n trials
relative to the 300-trial random search's final hypervolume, and writes the curve as PNG
(+ the raw numbers as JSON).
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import optuna  # noqa: E402
from lat_evolution import EvolutionConfig, evolutionary_search  # noqa: E402  (tools/lat_evolution.py)

from lit_distill.search.optuna_backend import make_sampler, resolve_sampler, suggest  # noqa: E402
from lit_distill.search.pareto import hypervolume_2d  # noqa: E402
from lit_distill.search.space import config_overrides, decode, optimizer_space  # noqa: E402
from lit_distill.search.spec import SearchSpec, load_spec  # noqa: E402

Chain = tuple[int, ...]
DIRECTIONS = ("maximize", "minimize")


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
    args = ["--config", str(spec.base_config)]
    for key, value in spec.fixed.items():
        if key != "ckpt_path":
            args.append(f"--{key}={yaml.safe_dump(value, default_flow_style=True).strip()}")
    args += ["--trainer.enable_progress_bar=false", "--trainer.logger=false"]
    args += [f"--{item}" for item in extra or []]
    cli = LitDistillCLI(args=args, run=False, save_config_callback=None)
    callback = TrialResult(path=str(ROOT / "runs" / "bench_search" / "metrics.json"))
    cli.trainer.callbacks.append(callback)
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


def lat_search(
    spec: SearchSpec,
    evaluate: Callable[[Chain], tuple[float, float]],
    trials: int,
    seed: int,
    price: Callable[[Chain], float] | None = None,
    bound: float = 0.2,
) -> list[tuple[float, float]]:
    """LAT's evolutionary search (tools/lat_evolution.py) with LAT's SQuAD settings.

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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", required=True, help="length-configuration search spec")
    parser.add_argument("--score", default="f1")
    parser.add_argument("--cost", default="flops", help="flops, or a metric such as eval_time_s")
    parser.add_argument("--random-trials", type=int, default=300)
    parser.add_argument(
        "--tpe-trials", type=int, default=60, help="trials of the default sampler (and of TPE)"
    )
    parser.add_argument("--lat-trials", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the default sampler")
    parser.add_argument("--baseline-seeds", type=int, default=1, help="seeds of random and LAT search")
    parser.add_argument(
        "--no-lat-wide",
        action="store_true",
        help="skip LAT's search with its cost window widened to the whole space",
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
        help="extra config override for the evaluation, e.g. data.init_args.synthetic_search_size=120",
    )
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    spec = load_spec(args.config)
    evaluate, price, _ = build_objective(spec, args.score, args.cost, args.set, not args.slow)
    chain = spec.chains[0]
    full = evaluate(tuple([int(chain.high)] * chain.length))
    print(f"full-length model: {args.score}={full[0]:.3f}, {args.cost}={full[1]:.4g}")

    default = resolve_sampler(spec)
    print(f"default sampler: {default} (backend.sampler: {spec.backend.sampler})")
    series: list[tuple[str, Callable[..., list[tuple[float, float]]], int]] = [
        ("random", random_search, args.random_trials),
        ("default", default_search, args.tpe_trials),
    ]
    if default != "tpe":
        series.append(("tpe", tpe_search, args.tpe_trials))
    series.append(("lat", functools.partial(lat_search, price=price), args.lat_trials))
    if not args.no_lat_wide:
        bound = wide_bound(spec)
        print(f"LAT with a window over the whole space: length_drop_ratio_bound {bound:.3f}")
        series.append(("lat_wide", functools.partial(lat_search, price=price, bound=bound), args.lat_trials))
    histories: dict[str, list[list[tuple[float, float]]]] = {name: [] for name, _, _ in series}
    timings: dict[str, float] = {}
    # LAT first: its curves are what changed; raw values are saved after every series
    series.sort(key=lambda item: not item[0].startswith("lat"))
    partial = Path(args.out).with_suffix(".partial.json")
    partial.parent.mkdir(parents=True, exist_ok=True)
    for name, fn, n in series:
        start = time.perf_counter()
        for seed in range(args.seeds if name in ("default", "tpe") else args.baseline_seeds):
            histories[name].append(fn(spec, evaluate, n, seed))
            print(
                f"{name} (seed {seed}): {n} trials done after {time.perf_counter() - start:.0f} s", flush=True
            )
        timings[name] = time.perf_counter() - start
        partial.write_text(json.dumps({"full": full, "histories": histories, "timings": timings}))
    # reference point: the worst score seen by any sampler (the nadir), cost 5 % above the full model's
    nadir = min(v[0] for runs_ in histories.values() for h in runs_ for v in h)
    reference = (nadir, full[1] * 1.05)
    print(f"reference point ({args.score}, {args.cost}) = {reference}")
    runs = {k: [curve(h, reference) for h in v] for k, v in histories.items()}

    def mean_at(name: str, n: int) -> float:
        return sum(c[min(n, len(c)) - 1] for c in runs[name]) / len(runs[name])

    target = mean_at("random", args.random_trials)
    print(
        f"\nhypervolume relative to {args.random_trials}-trial random search (mean over seeds: "
        f"default sampler ({default}) and TPE {args.seeds}, random and LAT {args.baseline_seeds}; a LAT search ends early when it can breed nothing new):"
    )
    for n in (10, 20, 30, 40, 60, 100, 200, 300):
        row = [f"{name}={mean_at(name, n) / target:6.3f}" for name in runs if n <= len(runs[name][0])]
        print(f"  after {n:3d} trials: " + "  ".join(row))
    for name in [n for n in ("default", "tpe") if n in runs]:
        ratio = mean_at(name, args.tpe_trials) / target
        first = next((n for n in range(1, args.tpe_trials + 1) if mean_at(name, n) >= 0.95 * target), None)
        label = f"default sampler ({default})" if name == "default" else "TPE"
        print(
            f"{label} after {args.tpe_trials} trials: {ratio:.3f} of random-{args.random_trials} "
            f"(≥ 0.95 first reached after {first} trials; per seed: "
            + ", ".join(f"{c[args.tpe_trials - 1] / target:.3f}" for c in runs[name])
            + ")"
        )
    print(
        "wall time per sampler (all seeds, evaluations memoised across samplers): "
        + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    )

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps({"reference": reference, "runs": runs, "full": full}, indent=1)
    )
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    colours = {
        "random": "0.5",
        "default": "tab:red",
        "tpe": "tab:orange",
        "lat": "tab:blue",
        "lat_wide": "tab:cyan",
    }
    labels = {
        "random": "random search",
        "default": f"default sampler ({default.upper()})",
        "tpe": "multi-objective TPE",
        "lat": "LAT evolutionary search (window: smallest LengthDrop sub-network to full)",
        "lat_wide": "LAT evolutionary search, window widened to the whole space",
    }
    for name, curves in runs.items():
        n = min(len(c) for c in curves)
        mean = [sum(c[i] for c in curves) / len(curves) / target for i in range(n)]
        ax.plot(range(1, n + 1), mean, c=colours[name], label=labels[name])
    ax.axhline(0.95, ls="--", c="0.3", lw=0.8)
    ax.axvline(60, ls=":", c="0.3", lw=0.8)
    ax.set_xlabel("trials (length configurations evaluated)")
    ax.set_ylabel(f"hypervolume / random-{args.random_trials}")
    ax.set_xscale("log")
    ax.set_ylim(max(0.0, math.floor(min(mean_at(k, 1) / target for k in runs) * 10) / 10), 1.05)
    ax.set_title(
        f"{spec.name}: {args.score} vs {args.cost} ({default.upper()} and TPE: mean of {args.seeds} seeds)",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    print(f"plot: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
