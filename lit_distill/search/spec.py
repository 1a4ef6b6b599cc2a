"""The search spec: a YAML file shaped like a SigOpt experiment, parsed and validated.

Every check runs before any trial starts, and every error names the spec
file, the entry (``parameters[2] ('learning_rate')``), the bad value and what
is allowed. Each entry type reads and checks its own fields in its
``from_yaml`` (:mod:`lit_distill.search.spec_entries`, through the value checks
of :mod:`lit_distill.search.spec_reader`); :class:`SearchSpec` reads the top
level and checks what spans entries. Checks that need the base training config
(does a config key exist?) live in :mod:`lit_distill.search.config_keys`.

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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from lit_distill.metric_names import TRIAL_METRICS
from lit_distill.search.expression import expression_names
from lit_distill.search.launch import DEFAULT_LAUNCHER, START_METHODS, StartMethod, resolve_start_method
from lit_distill.search.spec_entries import (
    BackendSpec,
    Derived,
    LinearConstraint,
    Metric,
    MonotoneChain,
    Objective,
    Parameter,
    ParamType,
    Strategy,
)
from lit_distill.search.spec_reader import SearchSpecError, SpecReader

__all__ = [
    "TRIAL_METRICS",
    "BackendSpec",
    "Derived",
    "LinearConstraint",
    "Metric",
    "MonotoneChain",
    "Objective",
    "ParamType",
    "Parameter",
    "SearchSpec",
    "SearchSpecError",
    "Strategy",
    "load_spec",
    "parse_spec",
]


@dataclass(frozen=True)
class SearchSpec:
    """A validated search spec. Build it with :func:`load_spec` or :func:`parse_spec`."""

    name: str
    path: Path
    command: Literal["fit", "validate"]
    base_configs: tuple[Path, ...]
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

    #: The top-level keys a spec file may hold.
    TOP_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
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
    )

    @property
    def base_label(self) -> str:
        """The base config file(s), as messages name them."""
        return " + ".join(str(p) for p in self.base_configs)

    @property
    def objectives(self) -> tuple[Metric, ...]:
        """Metrics the optimiser optimises, in order."""
        return tuple(m for m in self.metrics if m.strategy == "optimize")

    @property
    def thresholded(self) -> tuple[Metric, ...]:
        """Metrics with a threshold (optimised or pure constraints), in order."""
        return tuple(m for m in self.metrics if m.threshold is not None)

    @classmethod
    def from_yaml(cls, raw: Any, path: Path) -> SearchSpec:
        """Validate a loaded YAML mapping (see :func:`parse_spec`)."""
        r = SpecReader(path)
        top = r.entry("top level", raw, set(cls.TOP_FIELDS))
        here = path.parent
        extra = top.get("produced_metrics", [])
        if not isinstance(extra, list) or not all(isinstance(m, str) for m in extra):
            raise r.fail("produced_metrics", f"expected a list of metric names, got {extra!r}")
        produced = TRIAL_METRICS | frozenset(extra)
        base_paths = _base_configs(r, top.get("base_config"))
        parameters, chains = _parameters_and_chains(r, top)
        derived = _derived(r, top, parameters)
        fixed = r.mapping("fixed", top.get("fixed", {}))
        metrics = _metrics(r, top, produced)
        doubles = {p.name for p in parameters if p.type == "double" and p.grid is None}
        linear = tuple(
            LinearConstraint.from_yaml(r, i, c, doubles)
            for i, c in enumerate(r.items("linear_constraints", top.get("linear_constraints", [])))
        )
        launcher, start_method = _launch(r, top)
        holdout = r.entry("holdout", top.get("holdout", {}), {"command", "overrides"})
        baseline = r.entry("baseline", top.get("baseline", {}), {"label", "metrics"})
        baseline_metrics = {
            str(k): r.number(f"baseline.metrics.{k}", v)
            for k, v in r.mapping("baseline.metrics", baseline.get("metrics", {})).items()
        }
        timeout = top.get("trial_timeout_s")
        output_dir = top.get("output_dir", f"search_runs/{top.get('name', path.stem)}")
        if not isinstance(output_dir, str):
            raise r.fail("output_dir", f"expected a path, got {output_dir!r}")

        return cls(
            name=r.name("name", top.get("name", path.stem)),
            path=path,
            command=r.choice("command", top.get("command", "fit"), ("fit", "validate")),
            base_configs=base_paths,
            parameters=parameters,
            chains=chains,
            derived=derived,
            fixed=fixed,
            metrics=metrics,
            linear_constraints=linear,
            observation_budget=r.positive_int("observation_budget", top.get("observation_budget", 20)),
            parallel_bandwidth=r.positive_int("parallel_bandwidth", top.get("parallel_bandwidth", 1)),
            output_dir=(here / output_dir).resolve()
            if not Path(output_dir).is_absolute()
            else Path(output_dir),
            launcher=launcher,
            start_method=start_method,
            trial_timeout_s=None if timeout is None else r.number("trial_timeout_s", timeout),
            heartbeat_s=r.number("heartbeat_s", top.get("heartbeat_s", 30.0)),
            stale_after_s=r.number("stale_after_s", top.get("stale_after_s", 120.0)),
            on_interrupted=r.choice("on_interrupted", top.get("on_interrupted", "rerun"), ("rerun", "fail")),
            holdout_command=None
            if holdout.get("command") is None
            else r.choice("holdout.command", holdout["command"], ("fit", "validate")),
            holdout_overrides=r.mapping("holdout.overrides", holdout.get("overrides", {})),
            baseline_label=str(baseline.get("label", "baseline")),
            baseline_metrics=baseline_metrics,
            produced_metrics=produced,
            backend=BackendSpec.from_yaml(r, top.get("backend")),
        )


def _base_configs(r: SpecReader, base: Any) -> tuple[Path, ...]:
    """``base_config``: one existing file, or a list of them (given in this order, like
    ``--config A --config B``: later files override earlier ones), relative to the spec's directory."""
    items = base if isinstance(base, list) and base else [base]
    paths = []
    for i, item in enumerate(items):
        where = f"base_config[{i}]" if isinstance(base, list) else "base_config"
        if not isinstance(item, str) or not item.strip():
            raise r.fail(
                where, f"expected the path of a `fit` YAML or a non-empty list of them, got {item!r}"
            )
        path = (r.path.parent / item).resolve()
        if not path.is_file():
            raise r.fail(where, f"file {path} does not exist")
        paths.append(path)
    return tuple(paths)


def _parameters_and_chains(
    r: SpecReader, top: dict[str, Any]
) -> tuple[tuple[Parameter, ...], tuple[MonotoneChain, ...]]:
    """``parameters`` and ``monotone_chains``: at least one, unique names, one config key each."""
    parameters = tuple(
        Parameter.from_yaml(r, i, p) for i, p in enumerate(r.items("parameters", top.get("parameters", [])))
    )
    chains = tuple(
        MonotoneChain.from_yaml(r, i, c)
        for i, c in enumerate(r.items("monotone_chains", top.get("monotone_chains", [])))
    )
    if not parameters and not chains:
        raise r.fail("parameters", "a search needs at least one parameter or monotone chain")
    names = [p.name for p in parameters] + [c.name for c in chains]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise r.fail("parameters", f"parameter names must be unique, repeated: {dupes}")
    keys = [p.key for p in parameters if p.key is not None] + [c.key for c in chains]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise r.fail("parameters", f"two parameters set the same config key: {dupes}")
    return parameters, chains


def _derived(r: SpecReader, top: dict[str, Any], parameters: tuple[Parameter, ...]) -> tuple[Derived, ...]:
    """``derived``; every parameter without a key must be used by one of its expressions."""
    items = r.items("derived", top.get("derived", []), "a list of {key, expression}")
    derived = tuple(Derived.from_yaml(r, i, d, parameters) for i, d in enumerate(items))
    used = set().union(*(expression_names(d.expression) for d in derived)) if derived else set()
    for p in parameters:
        if p.key is None and p.name not in used:
            raise r.fail(
                f"parameter {p.name!r}",
                "has no key and no derived expression uses it; give it a config key or use it in `derived`",
            )
    return derived


def _metrics(r: SpecReader, top: dict[str, Any], produced: frozenset[str]) -> tuple[Metric, ...]:
    """``metrics``: a non-empty list of unique names, at least one optimised."""
    metrics_raw = top.get("metrics")
    if not isinstance(metrics_raw, list) or not metrics_raw:
        raise r.fail("metrics", f"expected a non-empty list of metrics, got {metrics_raw!r}")
    metrics = tuple(Metric.from_yaml(r, i, m, produced) for i, m in enumerate(metrics_raw))
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise r.fail("metrics", f"metric names must be unique, got {names}")
    if not any(m.strategy == "optimize" for m in metrics):
        raise r.fail("metrics", "at least one metric needs strategy: optimize")
    return metrics


def _launch(r: SpecReader, top: dict[str, Any]) -> tuple[tuple[str, ...], StartMethod]:
    """``launcher`` (a non-empty list of strings) and a ``start_method`` it supports."""
    launcher = top.get("launcher", list(DEFAULT_LAUNCHER))
    if not isinstance(launcher, list) or not launcher or not all(isinstance(s, str) for s in launcher):
        raise r.fail("launcher", f"expected a non-empty list of strings, got {launcher!r}")
    start_method = r.choice("start_method", top.get("start_method", "auto"), START_METHODS)
    try:
        resolve_start_method(start_method, launcher)
    except ValueError as err:
        raise r.fail("start_method", str(err)) from None
    return tuple(launcher), start_method


def parse_spec(raw: Any, path: Path) -> SearchSpec:
    """Validate a loaded YAML mapping and build a :class:`SearchSpec`.

    Args:
        raw: The YAML document.
        path: The spec file (relative paths inside it are resolved against its directory).

    Raises:
        SearchSpecError: With the file, the entry, the bad value and what is allowed.
    """
    return SearchSpec.from_yaml(raw, path)


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
