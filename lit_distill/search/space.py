"""What the optimiser sees, and how its suggestion becomes a trial's config overrides.

A monotone chain x0 ≥ x1 ≥ … ≥ x_{n−1} in [lo, hi] is reparametrised as ``n``
fractions u_i ∈ [0, 1]:

    x0 = lo + u0 · (hi − lo)
    x_i = lo + u_i · (x_{i−1} − lo)          (i ≥ 1)

Every point of the unit cube decodes to a valid chain (integer chains round
each step, which keeps x_i ≤ x_{i−1}), and every valid chain has a preimage, so
the optimiser works on a box and never proposes a violation. The functions
here are pure; the backends call them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lit_distill.checks import is_number
from lit_distill.search.expression import ExpressionError, evaluate
from lit_distill.search.spec import MonotoneChain, SearchSpec, SearchSpecError


@dataclass(frozen=True)
class OptParam:
    """One coordinate of the optimiser's search space.

    Attributes:
        name: Name in the optimiser (``lr``, or ``length_config.u3`` for a chain fraction).
        type: ``int``, ``double`` or ``categorical``.
        low: Lower bound for int/double.
        high: Upper bound for int/double.
        log: Log-scale sampling.
        choices: Allowed values for categorical (and for SigOpt-style grids).
    """

    name: str
    type: Literal["int", "double", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None


def chain_param_names(chain: MonotoneChain) -> list[str]:
    """Names of the fractions the optimiser sees for a chain."""
    return [f"{chain.name}.u{i}" for i in range(chain.length)]


def optimizer_space(spec: SearchSpec) -> list[OptParam]:
    """The flat list of coordinates the optimiser searches (parameters, then chain fractions)."""
    space: list[OptParam] = []
    for p in spec.parameters:
        if p.type == "categorical":
            space.append(OptParam(p.name, "categorical", choices=p.categories))
        elif p.grid is not None:
            grid = tuple(int(v) for v in p.grid) if p.type == "int" else p.grid
            space.append(OptParam(p.name, "categorical", choices=grid))
        else:
            space.append(OptParam(p.name, p.type, p.low, p.high, p.log))
    for chain in spec.chains:
        space.extend(OptParam(n, "double", 0.0, 1.0) for n in chain_param_names(chain))
    return space


def decode_chain(chain: MonotoneChain, fractions: list[float]) -> list[float] | list[int]:
    """Map fractions in [0, 1] to a non-increasing list within the chain's bounds.

    Raises:
        ValueError: If the number of fractions is wrong or one lies outside [0, 1].
    """
    if len(fractions) != chain.length:
        raise ValueError(f"chain {chain.name!r} needs {chain.length} fractions, got {len(fractions)}")
    bad = [u for u in fractions if not 0.0 <= u <= 1.0]
    if bad:
        raise ValueError(f"chain {chain.name!r}: fractions must lie in [0, 1], got {bad}")
    values: list[float] = []
    upper = chain.high
    for u in fractions:
        x = chain.low + u * (upper - chain.low)
        if chain.type == "int":
            x = float(min(round(x), math.floor(upper)))
        values.append(x)
        upper = x
    if chain.type == "int":
        return [int(v) for v in values]
    return values


def encode_chain(chain: MonotoneChain, values: list[float]) -> list[float]:
    """Inverse of :func:`decode_chain` (for enqueueing a known chain, e.g. a baseline).

    Raises:
        ValueError: If ``values`` is not non-increasing within the chain's bounds.
    """
    if len(values) != chain.length:
        raise ValueError(f"chain {chain.name!r} needs {chain.length} values, got {len(values)}")
    fractions = []
    upper = chain.high
    for i, x in enumerate(values):
        if not chain.low <= x <= upper:
            raise ValueError(
                f"chain {chain.name!r}: value {x} at position {i} must lie in [{chain.low:g}, {upper:g}] "
                "(within bounds and not above the previous value)"
            )
        fractions.append(0.0 if upper == chain.low else (x - chain.low) / (upper - chain.low))
        upper = x
    return fractions


def decode(spec: SearchSpec, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the optimiser's values into the user-facing assignment (chains as lists).

    Args:
        spec: The search spec.
        raw: Optimiser values by :class:`OptParam` name.

    Returns:
        Parameter name → value, chain name → list of lengths.
    """
    assignment: dict[str, Any] = {}
    for p in spec.parameters:
        value = raw[p.name]
        if p.type == "int":
            value = int(value)
        elif p.type == "double":
            value = float(value)
        assignment[p.name] = value
    for chain in spec.chains:
        assignment[chain.name] = decode_chain(chain, [float(raw[n]) for n in chain_param_names(chain)])
    return assignment


def assignment_problem(spec: SearchSpec, assignment: Any) -> str | None:
    """Why ``assignment`` (read back from a study) is not a point of the spec's space, or None.

    Every parameter and chain must be there and nothing else: a number of the right type
    within its bounds (or on its grid), a category of the parameter, a chain of the right
    length, within its bounds and non-increasing.
    """
    if not isinstance(assignment, Mapping):
        return f"expected a mapping of parameter values, got {type(assignment).__name__}"
    names = [p.name for p in spec.parameters] + [c.name for c in spec.chains]
    if sorted(assignment) != sorted(names):
        return f"parameters {sorted(map(str, assignment))} are not the spec's {sorted(names)}"
    for p in spec.parameters:
        value = assignment[p.name]
        if p.type == "categorical":
            if value not in (p.categories or ()) or isinstance(value, bool):
                return f"{p.name}={value!r} is not one of {list(p.categories or ())}"
            continue
        if not is_number(value) or not math.isfinite(value) or (p.type == "int" and value != int(value)):
            return f"{p.name}={value!r} is not {'an integer' if p.type == 'int' else 'a finite number'}"
        if p.grid is not None and not any(math.isclose(value, g, rel_tol=1e-9) for g in p.grid):
            return f"{p.name}={value!r} is not on its grid {list(p.grid)}"
        if p.grid is None and not _within(value, p.low or 0.0, p.high or 0.0):
            return f"{p.name}={value!r} lies outside [{p.low:g}, {p.high:g}]"
    for chain in spec.chains:
        values = assignment[chain.name]
        ok = isinstance(values, list) and len(values) == chain.length
        ok = ok and all(is_number(v) and (chain.type == "double" or v == int(v)) for v in values)
        if not ok:
            return f"{chain.name}={values!r} is not a list of {chain.length} {chain.type} values"
        if any(not _within(v, chain.low, chain.high) for v in values):
            return f"{chain.name}={values!r} leaves [{chain.low:g}, {chain.high:g}]"
        if any(b > a for a, b in itertools.pairwise(values)):
            return f"{chain.name}={values!r} is not non-increasing"
    return None


def _within(value: float, low: float, high: float) -> bool:
    """``low <= value <= high``, allowing for the rounding of a value stored as text."""
    slack = 1e-9 * max(1.0, abs(low), abs(high))
    return low - slack <= value <= high + slack


def config_overrides(spec: SearchSpec, assignment: Mapping[str, Any]) -> dict[str, Any]:
    """Config key → value for one trial: fixed values, parameters, chains, derived values.

    Raises:
        SearchSpecError: If a derived expression cannot be evaluated at this assignment
            (naming the spec entry).
    """
    overrides: dict[str, Any] = dict(spec.fixed)
    for p in spec.parameters:
        if p.key is not None:
            overrides[p.key] = assignment[p.name]
    for chain in spec.chains:
        overrides[chain.key] = list(assignment[chain.name])
    env = {k: v for k, v in assignment.items() if is_number(v)}
    for i, d in enumerate(spec.derived):
        try:
            overrides[d.key] = evaluate(d.expression, env)
        except ExpressionError as err:
            raise SearchSpecError(
                f"search spec {spec.path}: derived[{i}].expression (key {d.key}): {err}"
            ) from None
    return overrides


def violated_linear_constraints(spec: SearchSpec, assignment: Mapping[str, Any]) -> list[int]:
    """Indices of ``spec.linear_constraints`` that an assignment violates."""
    return [i for i, c in enumerate(spec.linear_constraints) if not c.satisfied(assignment)]
