"""The entries of a search spec, each read and checked from its YAML by its own ``from_yaml``.

Every ``from_yaml`` takes a :class:`~lit_distill.search.spec_reader.SpecReader`
(the spec file), the entry's index where it sits in a list, and the raw YAML
value; its errors name the key path (``metrics[1] ('f1').threshold``). What
needs the whole spec (unique names, derived expressions over the parameters)
is passed in or checked by :class:`~lit_distill.search.spec.SearchSpec`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from lit_distill.checks import is_int, is_number
from lit_distill.search.expression import evaluate, expression_names
from lit_distill.search.spec_reader import SpecReader

ParamType = Literal["int", "double", "categorical"]
Objective = Literal["maximize", "minimize"]
Strategy = Literal["optimize", "constraint", "store"]


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

    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"name", "key", "type", "bounds", "transformation", "grid", "categorical_values"}
    )

    @classmethod
    def from_yaml(cls, r: SpecReader, i: int, raw: Any) -> Parameter:
        """The ``i``-th entry of ``parameters``."""
        entry = r.mapping(f"parameters[{i}]", raw)
        name = r.name(f"parameters[{i}].name", entry.get("name"))
        where = f"parameters[{i}] ({name!r})"
        r.keys(where, entry, set(cls.FIELDS))
        key = None if entry.get("key") is None else r.name(f"{where}.key", entry.get("key"))
        ptype = r.choice(f"{where}.type", entry.get("type"), ("int", "double", "categorical"))
        if ptype == "categorical":
            return cls(
                name, key, "categorical", categories=_categories(r, where, entry.get("categorical_values"))
            )
        log = r.choice(f"{where}.transformation", entry.get("transformation", "none"), ("none", "log"))
        if "grid" in entry:
            grid = entry["grid"]
            if not isinstance(grid, list) or len(grid) < 2:
                raise r.fail(where, f"grid must list at least 2 values, got {grid!r}")
            values = tuple(r.number(f"{where}.grid", v) for v in grid)
            if ptype == "int" and any(v != int(v) for v in values):
                raise r.fail(where, f"an int parameter's grid must hold integers, got {grid}")
            if "bounds" in entry:
                raise r.fail(where, "give either bounds or grid, not both")
            return cls(name, key, ptype, grid=values, log=log == "log")
        low, high = r.bounds(where, entry)
        if ptype == "int" and (low != int(low) or high != int(high)):
            raise r.fail(where, f"an int parameter needs integer bounds, got [{low:g}, {high:g}]")
        if log == "log" and low <= 0:
            raise r.fail(where, f"transformation: log needs bounds.min > 0, got {low:g}")
        return cls(name, key, ptype, low=low, high=high, log=log == "log")


def _categories(r: SpecReader, where: str, values: Any) -> tuple[str | int | float, ...]:
    """A categorical parameter's ``categorical_values``: >= 2 distinct strings or numbers."""
    if not isinstance(values, list) or len(values) < 2:
        raise r.fail(where, f"categorical_values must list at least 2 values, got {values!r}")
    names = [v.get("name") if isinstance(v, Mapping) else v for v in values]
    for v in names:
        if not (isinstance(v, str) or is_number(v)):
            raise r.fail(where, f"categorical value {v!r} must be a string or a number")
    if len(set(names)) != len(names):
        raise r.fail(where, f"categorical_values has duplicates: {names}")
    return tuple(names)  # type: ignore[arg-type]


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

    @classmethod
    def from_yaml(cls, r: SpecReader, i: int, raw: Any) -> MonotoneChain:
        """The ``i``-th entry of ``monotone_chains``."""
        entry = r.mapping(f"monotone_chains[{i}]", raw)
        name = r.name(f"monotone_chains[{i}].name", entry.get("name"))
        where = f"monotone_chains[{i}] ({name!r})"
        r.keys(where, entry, {"name", "key", "length", "type", "bounds", "order"})
        r.choice(f"{where}.order", entry.get("order", "non_increasing"), ("non_increasing",))
        ctype = r.choice(f"{where}.type", entry.get("type", "int"), ("int", "double"))
        low, high = r.bounds(where, entry)
        if ctype == "int" and (low != int(low) or high != int(high)):
            raise r.fail(where, f"an int chain needs integer bounds, got [{low:g}, {high:g}]")
        return cls(
            name=name,
            key=r.name(f"{where}.key", entry.get("key")),
            length=r.positive_int(f"{where}.length", entry.get("length")),
            type=ctype,
            low=low,
            high=high,
        )


@dataclass(frozen=True)
class Derived:
    """A config key computed from parameters, e.g. ``alpha_squad = 1 - alpha_ce``."""

    key: str
    expression: str

    @classmethod
    def from_yaml(cls, r: SpecReader, i: int, raw: Any, parameters: Sequence[Parameter]) -> Derived:
        """The ``i``-th entry of ``derived``: its expression uses only numeric ``parameters``
        and evaluates at both ends of their ranges (before any trial runs)."""
        where = f"derived[{i}]"
        entry = r.entry(where, raw, {"key", "expression"})
        expr = r.name(f"{where}.expression", entry.get("expression"))
        scalars = [p for p in parameters if p.type != "categorical"]
        try:
            used = expression_names(expr)
        except ValueError as err:
            raise r.fail(f"{where}.expression", str(err)) from None
        unknown = sorted(used - {p.name for p in scalars})
        if unknown:
            raise r.fail(
                f"{where}.expression",
                f"{expr!r} uses {unknown}, which are not numeric parameters; "
                f"known: {sorted(p.name for p in scalars)}",
            )
        for corner in ("low", "high"):
            env = {p.name: (p.grid or (p.low, p.high))[0 if corner == "low" else -1] for p in scalars}
            try:
                evaluate(expr, env)  # type: ignore[arg-type]
            except ValueError as err:  # ExpressionError: bounded, never hangs
                raise r.fail(f"{where}.expression", f"fails at the {corner} bounds: {err}") from None
        return cls(r.name(f"{where}.key", entry.get("key")), expr)


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

    @classmethod
    def from_yaml(cls, r: SpecReader, i: int, raw: Any, produced: frozenset[str]) -> Metric:
        """The ``i``-th entry of ``metrics``; its name must be one the trials produce."""
        entry = r.mapping(f"metrics[{i}]", raw)
        name = r.name(f"metrics[{i}].name", entry.get("name"))
        where = f"metrics[{i}] ({name!r})"
        r.keys(where, entry, {"name", "objective", "strategy", "threshold", "pessimistic"})
        if name not in produced:
            raise r.fail(
                where,
                f"trials do not produce a metric {name!r}; produced: {sorted(produced)} "
                "(declare extra metrics your module logs under val/ in `produced_metrics`)",
            )
        objective = r.choice(
            f"{where}.objective", entry.get("objective", "maximize"), ("maximize", "minimize")
        )
        strategy = r.choice(
            f"{where}.strategy", entry.get("strategy", "optimize"), ("optimize", "constraint", "store")
        )
        threshold = entry.get("threshold")
        if threshold is not None:
            threshold = r.number(f"{where}.threshold", threshold)
        if strategy == "constraint" and threshold is None:
            raise r.fail(where, "strategy: constraint needs a threshold")
        if strategy == "store" and threshold is not None:
            raise r.fail(where, "a stored metric cannot have a threshold; use strategy: constraint")
        pessimistic = entry.get("pessimistic")
        if pessimistic is not None:
            pessimistic = r.number(f"{where}.pessimistic", pessimistic)
        return cls(name, objective, strategy, threshold, pessimistic)


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

    @classmethod
    def from_yaml(cls, r: SpecReader, i: int, raw: Any, doubles: set[str]) -> LinearConstraint:
        """The ``i``-th entry of ``linear_constraints``; its terms name ``doubles`` only."""
        where = f"linear_constraints[{i}]"
        entry = r.entry(where, raw, {"type", "threshold", "terms"})
        ctype = r.choice(f"{where}.type", entry.get("type"), ("greater_than", "less_than"))
        threshold = r.number(f"{where}.threshold", entry.get("threshold"))
        terms_raw = entry.get("terms")
        if not isinstance(terms_raw, list) or not terms_raw:
            raise r.fail(where, f"terms must be a non-empty list of {{name, weight}}, got {terms_raw!r}")
        terms = []
        for j, t in enumerate(terms_raw):
            term = r.entry(f"{where}.terms[{j}]", t, {"name", "weight"})
            tname = term.get("name")
            if tname not in doubles:
                raise r.fail(
                    f"{where}.terms[{j}]",
                    f"{tname!r} is not a double parameter with bounds; linear constraints may use {sorted(doubles)}",
                )
            terms.append((str(tname), r.number(f"{where}.terms[{j}].weight", term.get("weight"))))
        return cls(ctype, threshold, tuple(terms))


@dataclass(frozen=True)
class BackendSpec:
    """Which optimiser runs the search and where it keeps its state.

    Attributes:
        type: ``optuna`` (embedded, the default) or ``sigopt``.
        driver: For ``type: sigopt``: ``http`` (a SigOpt server at ``SIGOPT_API_URL``, the
            default) or ``lite`` (SigOpt's optimiser in this process, ``sigopt.Connection(driver="lite")``:
            no server, no token, one trial at a time).
        sampler: Optuna's sampler (``auto``, ``tpe``, ``gp``, ``random``).
        storage: Optuna's storage URL or journal file.
        study_name: Optuna's study name.
        seed: Sampler seed (Optuna; for SigOpt-Lite, the seed of numpy's global generator it draws from).
        n_startup_trials: Optuna's random start-up trials.
        project: SigOpt server project.
        experiment_id: An existing experiment on the SigOpt server.
    """

    type: Literal["optuna", "sigopt"] = "optuna"
    driver: Literal["http", "lite"] = "http"
    sampler: Literal["auto", "tpe", "gp", "random"] = "auto"
    storage: str | None = None
    study_name: str | None = None
    seed: int | None = None
    n_startup_trials: int = 10
    project: str | None = None
    experiment_id: str | None = None

    @property
    def lite(self) -> bool:
        """Whether SigOpt's optimiser runs in this process (``type: sigopt, driver: lite``)."""
        return self.type == "sigopt" and self.driver == "lite"

    @classmethod
    def from_yaml(cls, r: SpecReader, raw: Any) -> BackendSpec:
        """The ``backend`` mapping (absent: Optuna's defaults)."""
        allowed = {
            "type",
            "driver",
            "sampler",
            "storage",
            "study_name",
            "seed",
            "n_startup_trials",
            "project",
        }
        entry = r.entry("backend", raw if raw is not None else {}, allowed | {"experiment_id"})
        seed = entry.get("seed")
        if seed is not None and not is_int(seed):
            raise r.fail("backend.seed", f"expected an integer, got {seed!r}")
        for k in ("storage", "study_name", "project", "experiment_id"):
            if entry.get(k) is not None and not isinstance(entry[k], (str, int)):
                raise r.fail(f"backend.{k}", f"expected a string, got {entry[k]!r}")
        btype = r.choice("backend.type", entry.get("type", "optuna"), ("optuna", "sigopt"))
        driver = r.choice("backend.driver", entry.get("driver", "http"), ("http", "lite"))
        if "driver" in entry and btype != "sigopt":
            raise r.fail(
                "backend.driver", "applies to type: sigopt only (http: your SigOpt server; lite: in-process)"
            )
        if driver == "lite":
            for k in ("project", "experiment_id"):
                if entry.get(k) is not None:
                    raise r.fail(
                        f"backend.{k}",
                        "driver lite keeps its one experiment in this process (no server, no projects, "
                        "no experiment ids); remove it",
                    )
        return cls(
            type=btype,
            driver=driver,
            sampler=r.choice(
                "backend.sampler", entry.get("sampler", "auto"), ("auto", "tpe", "gp", "random")
            ),
            storage=entry.get("storage"),
            study_name=entry.get("study_name"),
            seed=seed,
            n_startup_trials=r.positive_int("backend.n_startup_trials", entry.get("n_startup_trials", 10)),
            project=entry.get("project"),
            experiment_id=None if entry.get("experiment_id") is None else str(entry["experiment_id"]),
        )
