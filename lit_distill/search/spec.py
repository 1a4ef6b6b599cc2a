"""The search spec: a YAML file shaped like a SigOpt experiment, parsed and validated.

Every check here runs before any trial starts, and every error names the spec
file, the entry (``parameters[2] ('learning_rate')``), the bad value and what
is allowed. Checks that need the base training config (does a config key
exist?) live in :mod:`lit_distill.search.config_keys`.

Example:

.. code-block:: yaml

    name: efficient-bert
    command: fit
    base_config: ../distilbert.yaml        # relative to this file
    parameters:
      - {name: learning_rate, key: model.init_args.learning_rate, type: double,
         bounds: {min: 1.0e-5, max: 1.0e-3}, transformation: log}
    metrics:
      - {name: exact, objective: maximize, threshold: 50}
      - {name: num_parameters, objective: minimize}
      - {name: f1, strategy: store}
    observation_budget: 60
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from lit_distill.search.expression import evaluate, expression_names
from lit_distill.search.launch import DEFAULT_LAUNCHER, START_METHODS, StartMethod, resolve_start_method

ParamType = Literal["int", "double", "categorical"]
Objective = Literal["maximize", "minimize"]
Strategy = Literal["optimize", "constraint", "store"]

#: Metrics a ``fit``/``validate`` trial writes through ``TrialResult`` (see docs/architecture.md).
TRIAL_METRICS: frozenset[str] = frozenset(
    {
        "exact",
        "f1",
        "total",
        "HasAns_exact",
        "HasAns_f1",
        "HasAns_total",
        "NoAns_exact",
        "NoAns_f1",
        "NoAns_total",
        "best_exact",
        "best_exact_thresh",
        "best_f1",
        "best_f1_thresh",
        "num_parameters",
        "num_parameters_no_embeddings",
        "eval_time_s",
        "run_time_s",
        "deployed_latency_ms",  # DeployedLatency: the exported ONNX / INT8 artifact (docs/deploy.md)
        "deployed_exact",
        "deployed_f1",
    }
)


class SearchSpecError(ValueError):
    """A search spec is invalid; the message names the file, the entry and what is allowed."""


@dataclass(frozen=True)
class Parameter:
    """One optimised parameter mapped onto one key of the training config.

    Attributes:
        name: Name shown to the optimiser and in reports.
        key: Dotted key of the base config it sets (``model.init_args.learning_rate``), or None
            for a parameter used only by ``derived`` expressions (``n_layers``).
        type: ``int``, ``double`` or ``categorical``.
        low: Lower bound (int/double without grid).
        high: Upper bound (int/double without grid).
        log: Sample on a log scale (SigOpt's ``transformation: log``).
        grid: Allowed values for an int/double parameter (SigOpt's ``grid``).
        categories: Allowed values of a categorical parameter.
    """

    name: str
    key: str | None
    type: ParamType
    low: float | None = None
    high: float | None = None
    log: bool = False
    grid: tuple[float, ...] | None = None
    categories: tuple[str | int | float, ...] | None = None


@dataclass(frozen=True)
class MonotoneChain:
    """A list-valued config key whose entries never increase: x0 ≥ x1 ≥ … ≥ x_{n-1}.

    The optimiser sees ``n`` fractions in [0, 1] instead (see :mod:`lit_distill.search.space`),
    so it can never propose a violating list.
    """

    name: str
    key: str
    length: int
    type: Literal["int", "double"]
    low: float
    high: float


@dataclass(frozen=True)
class Derived:
    """A config key computed from parameters, e.g. ``alpha_squad = 1 - alpha_ce``."""

    key: str
    expression: str


@dataclass(frozen=True)
class Metric:
    """One metric read from the trial's ``metrics.json``.

    Attributes:
        name: Key in ``metrics.json``.
        objective: ``maximize`` or ``minimize``.
        strategy: ``optimize`` (an objective), ``constraint`` (only its threshold matters)
            or ``store`` (recorded, not used by the optimiser).
        threshold: Feasibility bound: at least this when maximised, at most this when minimised.
        pessimistic: Value told to the optimiser for an out-of-memory trial; default the
            worst value seen so far.
    """

    name: str
    objective: Objective = "maximize"
    strategy: Strategy = "optimize"
    threshold: float | None = None
    pessimistic: float | None = None

    def violation(self, value: float) -> float:
        """Constraint value, ≤ 0 when ``value`` meets the threshold (Optuna's convention)."""
        if self.threshold is None:
            return 0.0
        return self.threshold - value if self.objective == "maximize" else value - self.threshold


@dataclass(frozen=True)
class LinearConstraint:
    """``sum(weight * param) > threshold`` (``greater_than``) or ``<`` (``less_than``), SigOpt-style."""

    type: Literal["greater_than", "less_than"]
    threshold: float
    terms: tuple[tuple[str, float], ...]

    def satisfied(self, assignment: Mapping[str, Any]) -> bool:
        """Whether an assignment of the named (double) parameters satisfies the constraint."""
        total = sum(w * float(assignment[n]) for n, w in self.terms)
        return total >= self.threshold if self.type == "greater_than" else total <= self.threshold


@dataclass(frozen=True)
class BackendSpec:
    """Which optimiser runs the search and where it keeps its state."""

    type: Literal["optuna", "sigopt"] = "optuna"
    sampler: Literal["auto", "tpe", "gp", "random"] = "auto"
    storage: str | None = None
    study_name: str | None = None
    seed: int | None = None
    n_startup_trials: int = 10
    project: str | None = None
    experiment_id: str | None = None


@dataclass(frozen=True)
class SearchSpec:
    """A validated search spec. Build it with :func:`load_spec` or :func:`parse_spec`."""

    name: str
    path: Path
    command: Literal["fit", "validate"]
    base_config: Path
    parameters: tuple[Parameter, ...]
    metrics: tuple[Metric, ...]
    chains: tuple[MonotoneChain, ...] = ()
    derived: tuple[Derived, ...] = ()
    fixed: dict[str, Any] = field(default_factory=dict)
    linear_constraints: tuple[LinearConstraint, ...] = ()
    observation_budget: int = 20
    parallel_bandwidth: int = 1
    output_dir: Path = Path("search_runs")
    launcher: tuple[str, ...] = DEFAULT_LAUNCHER
    start_method: StartMethod = "auto"
    trial_timeout_s: float | None = None
    heartbeat_s: float = 30.0
    stale_after_s: float = 120.0
    on_interrupted: Literal["rerun", "fail"] = "rerun"
    holdout_command: Literal["fit", "validate"] | None = None
    holdout_overrides: dict[str, Any] = field(default_factory=dict)
    baseline_label: str = "baseline"
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    produced_metrics: frozenset[str] = TRIAL_METRICS
    backend: BackendSpec = field(default_factory=BackendSpec)

    @property
    def objectives(self) -> tuple[Metric, ...]:
        """Metrics the optimiser optimises, in order."""
        return tuple(m for m in self.metrics if m.strategy == "optimize")

    @property
    def thresholded(self) -> tuple[Metric, ...]:
        """Metrics with a threshold (optimised or pure constraints), in order."""
        return tuple(m for m in self.metrics if m.threshold is not None)


# ---------------------------------------------------------------------------------------------
# Parsing helpers: each raises SearchSpecError naming where the bad value is.


class _Ctx:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> SearchSpecError:
        return SearchSpecError(f"search spec {self.path}: {where}: {message}")


def _mapping(ctx: _Ctx, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ctx.fail(where, f"expected a mapping, got {type(value).__name__} {value!r}")
    return dict(value)


def _keys(ctx: _Ctx, where: str, entry: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ctx.fail(where, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")


def _number(ctx: _Ctx, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ctx.fail(where, f"expected a finite number, got {value!r}")
    return float(value)


def _positive_int(ctx: _Ctx, where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ctx.fail(where, f"expected a positive integer, got {value!r}")
    return value


def _choice(ctx: _Ctx, where: str, value: Any, allowed: tuple[str, ...]) -> Any:
    if value not in allowed:
        raise ctx.fail(where, f"{value!r} is not allowed; choose one of {list(allowed)}")
    return value


def _name(ctx: _Ctx, where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ctx.fail(where, f"expected a non-empty string, got {value!r}")
    return value


def _bounds(ctx: _Ctx, where: str, entry: Mapping[str, Any]) -> tuple[float, float]:
    bounds = _mapping(ctx, f"{where}.bounds", entry.get("bounds"))
    _keys(ctx, f"{where}.bounds", bounds, {"min", "max"})
    low = _number(ctx, f"{where}.bounds.min", bounds.get("min"))
    high = _number(ctx, f"{where}.bounds.max", bounds.get("max"))
    if not low < high:
        raise ctx.fail(where, f"bounds.min ({low:g}) must be smaller than bounds.max ({high:g})")
    return low, high


_PARAM_FIELDS = {"name", "key", "type", "bounds", "transformation", "grid", "categorical_values"}


def _parameter(ctx: _Ctx, i: int, raw: Any) -> Parameter:
    where = f"parameters[{i}]"
    entry = _mapping(ctx, where, raw)
    name = _name(ctx, f"{where}.name", entry.get("name"))
    where = f"parameters[{i}] ({name!r})"
    _keys(ctx, where, entry, _PARAM_FIELDS)
    key = None if entry.get("key") is None else _name(ctx, f"{where}.key", entry.get("key"))
    ptype = _choice(ctx, f"{where}.type", entry.get("type"), ("int", "double", "categorical"))
    if ptype == "categorical":
        values = entry.get("categorical_values")
        if not isinstance(values, list) or len(values) < 2:
            raise ctx.fail(where, f"categorical_values must list at least 2 values, got {values!r}")
        names = [v.get("name") if isinstance(v, Mapping) else v for v in values]
        for v in names:
            if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                raise ctx.fail(where, f"categorical value {v!r} must be a string or a number")
        if len(set(names)) != len(names):
            raise ctx.fail(where, f"categorical_values has duplicates: {names}")
        return Parameter(name, key, "categorical", categories=tuple(names))  # type: ignore[arg-type]
    log = _choice(ctx, f"{where}.transformation", entry.get("transformation", "none"), ("none", "log"))
    if "grid" in entry:
        grid = entry["grid"]
        if not isinstance(grid, list) or len(grid) < 2:
            raise ctx.fail(where, f"grid must list at least 2 values, got {grid!r}")
        values_f = tuple(_number(ctx, f"{where}.grid", v) for v in grid)
        if ptype == "int" and any(v != int(v) for v in values_f):
            raise ctx.fail(where, f"an int parameter's grid must hold integers, got {grid}")
        if "bounds" in entry:
            raise ctx.fail(where, "give either bounds or grid, not both")
        return Parameter(name, key, ptype, grid=values_f, log=log == "log")
    low, high = _bounds(ctx, where, entry)
    if ptype == "int" and (low != int(low) or high != int(high)):
        raise ctx.fail(where, f"an int parameter needs integer bounds, got [{low:g}, {high:g}]")
    if log == "log" and low <= 0:
        raise ctx.fail(where, f"transformation: log needs bounds.min > 0, got {low:g}")
    return Parameter(name, key, ptype, low=low, high=high, log=log == "log")


def _chain(ctx: _Ctx, i: int, raw: Any) -> MonotoneChain:
    where = f"monotone_chains[{i}]"
    entry = _mapping(ctx, where, raw)
    name = _name(ctx, f"{where}.name", entry.get("name"))
    where = f"monotone_chains[{i}] ({name!r})"
    _keys(ctx, where, entry, {"name", "key", "length", "type", "bounds", "order"})
    _choice(ctx, f"{where}.order", entry.get("order", "non_increasing"), ("non_increasing",))
    ctype = _choice(ctx, f"{where}.type", entry.get("type", "int"), ("int", "double"))
    low, high = _bounds(ctx, where, entry)
    if ctype == "int" and (low != int(low) or high != int(high)):
        raise ctx.fail(where, f"an int chain needs integer bounds, got [{low:g}, {high:g}]")
    return MonotoneChain(
        name=name,
        key=_name(ctx, f"{where}.key", entry.get("key")),
        length=_positive_int(ctx, f"{where}.length", entry.get("length")),
        type=ctype,
        low=low,
        high=high,
    )


def _metric(ctx: _Ctx, i: int, raw: Any, produced: frozenset[str]) -> Metric:
    where = f"metrics[{i}]"
    entry = _mapping(ctx, where, raw)
    name = _name(ctx, f"{where}.name", entry.get("name"))
    where = f"metrics[{i}] ({name!r})"
    _keys(ctx, where, entry, {"name", "objective", "strategy", "threshold", "pessimistic"})
    if name not in produced:
        raise ctx.fail(
            where,
            f"trials do not produce a metric {name!r}; produced: {sorted(produced)} "
            "(declare extra metrics your module logs under val/ in `produced_metrics`)",
        )
    objective = _choice(
        ctx, f"{where}.objective", entry.get("objective", "maximize"), ("maximize", "minimize")
    )
    strategy = _choice(
        ctx, f"{where}.strategy", entry.get("strategy", "optimize"), ("optimize", "constraint", "store")
    )
    threshold = entry.get("threshold")
    if threshold is not None:
        threshold = _number(ctx, f"{where}.threshold", threshold)
    if strategy == "constraint" and threshold is None:
        raise ctx.fail(where, "strategy: constraint needs a threshold")
    if strategy == "store" and threshold is not None:
        raise ctx.fail(where, "a stored metric cannot have a threshold; use strategy: constraint")
    pessimistic = entry.get("pessimistic")
    if pessimistic is not None:
        pessimistic = _number(ctx, f"{where}.pessimistic", pessimistic)
    return Metric(name, objective, strategy, threshold, pessimistic)


def _linear(ctx: _Ctx, i: int, raw: Any, doubles: set[str]) -> LinearConstraint:
    where = f"linear_constraints[{i}]"
    entry = _mapping(ctx, where, raw)
    _keys(ctx, where, entry, {"type", "threshold", "terms"})
    ctype = _choice(ctx, f"{where}.type", entry.get("type"), ("greater_than", "less_than"))
    threshold = _number(ctx, f"{where}.threshold", entry.get("threshold"))
    terms_raw = entry.get("terms")
    if not isinstance(terms_raw, list) or not terms_raw:
        raise ctx.fail(where, f"terms must be a non-empty list of {{name, weight}}, got {terms_raw!r}")
    terms = []
    for j, t in enumerate(terms_raw):
        term = _mapping(ctx, f"{where}.terms[{j}]", t)
        _keys(ctx, f"{where}.terms[{j}]", term, {"name", "weight"})
        tname = term.get("name")
        if tname not in doubles:
            raise ctx.fail(
                f"{where}.terms[{j}]",
                f"{tname!r} is not a double parameter with bounds; linear constraints may use {sorted(doubles)}",
            )
        terms.append((str(tname), _number(ctx, f"{where}.terms[{j}].weight", term.get("weight"))))
    return LinearConstraint(ctype, threshold, tuple(terms))


def _backend(ctx: _Ctx, raw: Any) -> BackendSpec:
    entry = _mapping(ctx, "backend", raw if raw is not None else {})
    allowed = {
        "type",
        "sampler",
        "storage",
        "study_name",
        "seed",
        "n_startup_trials",
        "project",
        "experiment_id",
    }
    _keys(ctx, "backend", entry, allowed)
    seed = entry.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ctx.fail("backend.seed", f"expected an integer, got {seed!r}")
    for k in ("storage", "study_name", "project", "experiment_id"):
        if entry.get(k) is not None and not isinstance(entry[k], (str, int)):
            raise ctx.fail(f"backend.{k}", f"expected a string, got {entry[k]!r}")
    return BackendSpec(
        type=_choice(ctx, "backend.type", entry.get("type", "optuna"), ("optuna", "sigopt")),
        sampler=_choice(
            ctx, "backend.sampler", entry.get("sampler", "auto"), ("auto", "tpe", "gp", "random")
        ),
        storage=entry.get("storage"),
        study_name=entry.get("study_name"),
        seed=seed,
        n_startup_trials=_positive_int(ctx, "backend.n_startup_trials", entry.get("n_startup_trials", 10)),
        project=entry.get("project"),
        experiment_id=None if entry.get("experiment_id") is None else str(entry["experiment_id"]),
    )


_TOP_FIELDS = {
    "name",
    "command",
    "base_config",
    "parameters",
    "monotone_chains",
    "derived",
    "fixed",
    "metrics",
    "linear_constraints",
    "observation_budget",
    "parallel_bandwidth",
    "output_dir",
    "launcher",
    "start_method",
    "trial_timeout_s",
    "heartbeat_s",
    "stale_after_s",
    "on_interrupted",
    "holdout",
    "baseline",
    "produced_metrics",
    "backend",
}


def parse_spec(raw: Any, path: Path) -> SearchSpec:
    """Validate a loaded YAML mapping and build a :class:`SearchSpec`.

    Args:
        raw: The YAML document.
        path: The spec file (relative paths inside it are resolved against its directory).

    Raises:
        SearchSpecError: With the file, the entry, the bad value and what is allowed.
    """
    ctx = _Ctx(path)
    top = _mapping(ctx, "top level", raw)
    _keys(ctx, "top level", top, _TOP_FIELDS)
    here = path.parent

    extra = top.get("produced_metrics", [])
    if not isinstance(extra, list) or not all(isinstance(m, str) for m in extra):
        raise ctx.fail("produced_metrics", f"expected a list of metric names, got {extra!r}")
    produced = TRIAL_METRICS | frozenset(extra)

    base = top.get("base_config")
    if not isinstance(base, str):
        raise ctx.fail("base_config", f"expected the path of a `fit` YAML, got {base!r}")
    base_path = (here / base).resolve()
    if not base_path.is_file():
        raise ctx.fail("base_config", f"file {base_path} does not exist")

    params_raw = top.get("parameters", [])
    if not isinstance(params_raw, list):
        raise ctx.fail("parameters", f"expected a list, got {params_raw!r}")
    parameters = tuple(_parameter(ctx, i, p) for i, p in enumerate(params_raw))
    chains_raw = top.get("monotone_chains", [])
    if not isinstance(chains_raw, list):
        raise ctx.fail("monotone_chains", f"expected a list, got {chains_raw!r}")
    chains = tuple(_chain(ctx, i, c) for i, c in enumerate(chains_raw))
    if not parameters and not chains:
        raise ctx.fail("parameters", "a search needs at least one parameter or monotone chain")
    names = [p.name for p in parameters] + [c.name for c in chains]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ctx.fail("parameters", f"parameter names must be unique, repeated: {dupes}")
    keys = [p.key for p in parameters if p.key is not None] + [c.key for c in chains]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ctx.fail("parameters", f"two parameters set the same config key: {dupes}")

    derived_raw = top.get("derived", [])
    if not isinstance(derived_raw, list):
        raise ctx.fail("derived", f"expected a list of {{key, expression}}, got {derived_raw!r}")
    derived = []
    scalar_names = {p.name for p in parameters if p.type != "categorical"}
    for i, d in enumerate(derived_raw):
        entry = _mapping(ctx, f"derived[{i}]", d)
        _keys(ctx, f"derived[{i}]", entry, {"key", "expression"})
        expr = _name(ctx, f"derived[{i}].expression", entry.get("expression"))
        try:
            used = expression_names(expr)
        except ValueError as err:
            raise ctx.fail(f"derived[{i}].expression", str(err)) from None
        unknown = sorted(used - scalar_names)
        if unknown:
            raise ctx.fail(
                f"derived[{i}].expression",
                f"{expr!r} uses {unknown}, which are not numeric parameters; known: {sorted(scalar_names)}",
            )
        for corner in ("low", "high"):  # evaluate at both ends of the space, before any trial
            env = {
                p.name: (p.grid or (p.low, p.high))[0 if corner == "low" else -1]
                for p in parameters
                if p.type != "categorical"
            }
            try:
                evaluate(expr, env)  # type: ignore[arg-type]
            except ValueError as err:  # ExpressionError: bounded, never hangs
                raise ctx.fail(f"derived[{i}].expression", f"fails at the {corner} bounds: {err}") from None
        derived.append(Derived(_name(ctx, f"derived[{i}].key", entry.get("key")), expr))

    used_by_derived = set().union(*(expression_names(d.expression) for d in derived)) if derived else set()
    for p in parameters:
        if p.key is None and p.name not in used_by_derived:
            raise ctx.fail(
                f"parameter {p.name!r}",
                "has no key and no derived expression uses it; give it a config key or use it in `derived`",
            )
    fixed = _mapping(ctx, "fixed", top.get("fixed", {}))

    metrics_raw = top.get("metrics")
    if not isinstance(metrics_raw, list) or not metrics_raw:
        raise ctx.fail("metrics", f"expected a non-empty list of metrics, got {metrics_raw!r}")
    metrics = tuple(_metric(ctx, i, m, produced) for i, m in enumerate(metrics_raw))
    mnames = [m.name for m in metrics]
    if len(set(mnames)) != len(mnames):
        raise ctx.fail("metrics", f"metric names must be unique, got {mnames}")
    if not any(m.strategy == "optimize" for m in metrics):
        raise ctx.fail("metrics", "at least one metric needs strategy: optimize")

    doubles = {p.name for p in parameters if p.type == "double" and p.grid is None}
    linear_raw = top.get("linear_constraints", [])
    if not isinstance(linear_raw, list):
        raise ctx.fail("linear_constraints", f"expected a list, got {linear_raw!r}")
    linear = tuple(_linear(ctx, i, c, doubles) for i, c in enumerate(linear_raw))

    launcher = top.get("launcher", list(DEFAULT_LAUNCHER))
    if not isinstance(launcher, list) or not launcher or not all(isinstance(s, str) for s in launcher):
        raise ctx.fail("launcher", f"expected a non-empty list of strings, got {launcher!r}")
    start_method = _choice(ctx, "start_method", top.get("start_method", "auto"), START_METHODS)
    try:
        resolve_start_method(start_method, launcher)
    except ValueError as err:
        raise ctx.fail("start_method", str(err)) from None

    holdout = _mapping(ctx, "holdout", top.get("holdout", {}))
    _keys(ctx, "holdout", holdout, {"command", "overrides"})
    baseline = _mapping(ctx, "baseline", top.get("baseline", {}))
    _keys(ctx, "baseline", baseline, {"label", "metrics"})
    baseline_metrics = {
        str(k): _number(ctx, f"baseline.metrics.{k}", v)
        for k, v in _mapping(ctx, "baseline.metrics", baseline.get("metrics", {})).items()
    }
    timeout = top.get("trial_timeout_s")
    output_dir = top.get("output_dir", f"search_runs/{top.get('name', path.stem)}")
    if not isinstance(output_dir, str):
        raise ctx.fail("output_dir", f"expected a path, got {output_dir!r}")

    return SearchSpec(
        name=_name(ctx, "name", top.get("name", path.stem)),
        path=path,
        command=_choice(ctx, "command", top.get("command", "fit"), ("fit", "validate")),
        base_config=base_path,
        parameters=parameters,
        chains=chains,
        derived=tuple(derived),
        fixed=fixed,
        metrics=metrics,
        linear_constraints=linear,
        observation_budget=_positive_int(ctx, "observation_budget", top.get("observation_budget", 20)),
        parallel_bandwidth=_positive_int(ctx, "parallel_bandwidth", top.get("parallel_bandwidth", 1)),
        output_dir=(here / output_dir).resolve() if not Path(output_dir).is_absolute() else Path(output_dir),
        launcher=tuple(launcher),
        start_method=start_method,
        trial_timeout_s=None if timeout is None else _number(ctx, "trial_timeout_s", timeout),
        heartbeat_s=_number(ctx, "heartbeat_s", top.get("heartbeat_s", 30.0)),
        stale_after_s=_number(ctx, "stale_after_s", top.get("stale_after_s", 120.0)),
        on_interrupted=_choice(ctx, "on_interrupted", top.get("on_interrupted", "rerun"), ("rerun", "fail")),
        holdout_command=None
        if holdout.get("command") is None
        else _choice(ctx, "holdout.command", holdout["command"], ("fit", "validate")),
        holdout_overrides=_mapping(ctx, "holdout.overrides", holdout.get("overrides", {})),
        baseline_label=str(baseline.get("label", "baseline")),
        baseline_metrics=baseline_metrics,
        produced_metrics=produced,
        backend=_backend(ctx, top.get("backend")),
    )


def load_spec(path: str | Path) -> SearchSpec:
    """Read and validate a search spec YAML file.

    Raises:
        SearchSpecError: If the file is missing, not YAML, or invalid.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise SearchSpecError(f"search spec {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise SearchSpecError(f"search spec {path} is not valid YAML: {err}") from None
    return parse_spec(raw, path)
