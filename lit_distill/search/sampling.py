"""Which Optuna sampler proposes trials, and with which seed.

Seeds: a search process's sampler seed is derived from ``backend.seed`` (or ``--seed``),
the number of trials already in the study when the process starts and, for a
``search worker``, the worker's id (``host:pid``), with :func:`worker_seed`. So a fresh
``search run`` is reproducible (the study is empty: same seed, same proposals), while a
resumed run or an extra worker never replays the proposals of the process before it
(a sampler seeded as before would propose the same points again; Optuna's random
start-up phase does exactly that).
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import optuna
from optuna.trial import FrozenTrial, Trial

from lit_distill.search.space import OptParam
from lit_distill.search.spec import SearchSpec


def worker_seed(seed: int | None, trials_in_study: int, worker: str | None = None) -> int | None:
    """The sampler seed of one search process (None stays None: Optuna then seeds at random).

    Args:
        seed: ``backend.seed`` or ``--seed``.
        trials_in_study: Trials the study held when this process opened it.
        worker: The worker's id for ``search worker`` (distinct concurrent workers), else None.

    >>> worker_seed(0, 0) == worker_seed(0, 0) != worker_seed(0, 3)
    True
    """
    if seed is None:
        return None
    entropy = [seed % 2**63, trials_in_study]
    if worker is not None:
        entropy.append(zlib.crc32(worker.encode()))
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


#: Optuna ≥ 5 reads constraints that trials carry (``Trial.set_constraint``); older
#: versions need a ``constraints_func`` on the sampler.
NATIVE_CONSTRAINTS = hasattr(optuna.trial.Trial, "set_constraint")


def constraints_of(trial: FrozenTrial) -> Sequence[float]:
    """``constraints_func`` for Optuna < 5: the constraint values a worker stored on the trial."""
    return [float(c) for c in trial.user_attrs.get("constraints", [0.0])]


GP_MAX_BUDGET = 200
"""``sampler: auto`` uses the Gaussian-process sampler up to this observation budget."""


def resolve_sampler(spec: SearchSpec) -> Literal["tpe", "gp", "random"]:
    """The sampler ``backend.sampler`` stands for; ``auto`` picks one from the spec.

    ``auto`` is Gaussian-process Bayesian optimisation (Optuna's ``GPSampler``) for a
    sequential search of at most :data:`GP_MAX_BUDGET` trials, else multi-objective TPE.
    GP is the more sample-efficient on the small numeric spaces of these searches (on the
    quickstart length search it matched a 300-trial random search's hypervolume within 40
    trials, TPE did not within 60; docs/search.md), but its cost per suggestion grows with
    the cube of the trials so far, and only TPE's constant liar keeps trials that run at
    the same time (``parallel_bandwidth`` > 1) apart.
    """
    chosen = spec.backend.sampler
    if chosen != "auto":
        return chosen
    if spec.observation_budget <= GP_MAX_BUDGET and spec.parallel_bandwidth == 1:
        return "gp"
    return "tpe"


def make_sampler(spec: SearchSpec, seed: int | None) -> optuna.samplers.BaseSampler:
    """The sampler named by ``backend.sampler`` (see :func:`resolve_sampler` for ``auto``)."""
    sampler = resolve_sampler(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        extra: dict[str, Any] = {} if NATIVE_CONSTRAINTS else {"constraints_func": constraints_of}
        if sampler == "gp":
            return optuna.samplers.GPSampler(
                seed=seed, n_startup_trials=spec.backend.n_startup_trials, **extra
            )
        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=spec.backend.n_startup_trials,
            multivariate=True,
            constant_liar=True,
            **extra,
        )


def suggest(trial: Trial, param: OptParam) -> Any:
    """Ask the trial for one coordinate of the search space."""
    if param.type == "categorical":
        return trial.suggest_categorical(param.name, list(param.choices or ()))
    if param.type == "int":
        return trial.suggest_int(param.name, int(param.low or 0), int(param.high or 0), log=param.log)
    return trial.suggest_float(param.name, float(param.low or 0.0), float(param.high or 0.0), log=param.log)
