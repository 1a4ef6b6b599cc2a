"""SigOpt-Lite: SigOpt's own optimiser in this process (``backend: {type: sigopt, driver: lite}``).

``sigopt.Connection(driver="lite")`` serves SigOpt's Core API from memory with SigOpt's
algorithms (sigoptlite on libsigopt: random start-up, then Gaussian-process expected
improvement with SigOpt's multimetric schedule, thresholds and failure modelling): no
server, no token. The experiment is the one a SigOpt server gets
(:func:`~lit_distill.search.sigopt_experiment.experiment_body`).

What lite cannot do is refused before any trial, by ``search check`` and ``search run``
alike (one line, exit 2): ``parallel_bandwidth`` above 1, ``--threads`` above 1 and
``search worker`` (its experiment lives in one process), and whatever its own validation of
the experiment refuses (e.g. more than two optimised metrics, a threshold on the only
optimised metric, a linear constraint with one term or on a log-scaled parameter).

Lite keeps its experiment in memory only, so the search keeps its own state on disk, in
the trials' directories ``<output_dir>/trials/<number>/``: ``suggestion.json`` (the
optimiser's assignments, written before the trial starts) and the runner's
``outcome.json`` (written before the optimiser is told). A (re)started ``search run``
creates a fresh lite experiment and replays every finished trial into it as an observation
with assignments (its values, or ``failed``), then continues to the budget: finished
trials never run again. A trial that was running when the search died (no
``outcome.json``) is marked ``interrupted`` (not counted) and, with ``on_interrupted:
rerun``, run again first with the same assignments. The output directory's run lock
(:class:`~lit_distill.run_lock.FolderLock`) keeps a second process out while one runs.

Seeds: lite draws from numpy's global generator. ``backend.seed`` (or ``--seed``) seeds
it, mixed with the number of trials already on disk
(:func:`~lit_distill.search.sampling.worker_seed`), so a fresh search is reproducible and a
resumed one draws new points.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lit_distill.atomic_write import write_text
from lit_distill.run_lock import FolderLock
from lit_distill.search.config_keys import canonical_keys, spec_keys
from lit_distill.search.records import TrialRecord
from lit_distill.search.runner import TrialOutcome, read_outcome, run_trial, trial_dir
from lit_distill.search.sigopt_experiment import (
    experiment_body,
    feasible,
    observation_values,
    typed_assignments,
)
from lit_distill.search.sigopt_lite_compat import lite_connection
from lit_distill.search.space import config_overrides, decode
from lit_distill.search.spec import SearchSpec, SearchSpecError
from lit_distill.user_errors import UserInputError

log = logging.getLogger("lit_distill.search")

SUGGESTION_FILE = "suggestion.json"


def refuse_lite_limits(spec: SearchSpec) -> None:
    """Refuse, in one line, a spec asking for more than one trial at a time.

    Raises:
        SearchSpecError: If ``parallel_bandwidth`` > 1.
    """
    if spec.parallel_bandwidth > 1:
        raise SearchSpecError(
            f"search spec {spec.path}: parallel_bandwidth: {spec.parallel_bandwidth}: backend sigopt with "
            "driver lite runs one trial at a time (SigOpt-Lite allows parallel_bandwidth 1 only); set 1, "
            "or use driver http (a SigOpt server) or type optuna for parallel trials"
        )


def lite_experiment(spec: SearchSpec, budget: int | None = None) -> Any:
    """A fresh SigOpt-Lite experiment for the spec: ``conn.experiments(id)`` of a new connection.

    Args:
        spec: The search spec.
        budget: The observation budget lite plans its multimetric phases by (default the spec's).

    Raises:
        SearchSpecError: If lite is missing, or refuses the experiment (its reason, one line).
    """
    refuse_lite_limits(spec)
    conn = lite_connection()
    from sigopt.exception import SigOptException

    body = {**experiment_body(spec), "observation_budget": budget or spec.observation_budget}
    try:
        experiment = conn.experiments().create(**body)
    except SigOptException as err:
        raise SearchSpecError(
            f"search spec {spec.path}: backend sigopt (driver lite) refuses this experiment: {_line(err)}"
        ) from None
    return conn.experiments(experiment.id)


def check_lite(spec: SearchSpec) -> None:
    """``search check`` for driver lite: everything :func:`lite_experiment` refuses, no trial run."""
    lite_experiment(spec)


def _line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _plain(value: Any) -> Any:
    """A JSON-able Python value (lite may hand out numpy scalars)."""
    return value.item() if hasattr(value, "item") else value


@dataclass
class LiteTrial:
    """One trial of a lite search, as its directory records it.

    Attributes:
        number: The trial's number (its directory's name).
        directory: ``<output_dir>/trials/<number>``.
        assignments: The optimiser's assignments (categorical values as strings, chains as fractions).
        rerun_of: The interrupted trial this one runs again, if any.
        interrupted: Why the trial never finished ("" unless it was closed as interrupted).
        rerun: Whether the interrupted trial is to run again.
        outcome: How it ended (None while running or when interrupted).
    """

    number: int
    directory: Path
    assignments: dict[str, Any]
    rerun_of: int | None = None
    interrupted: str = ""
    rerun: bool = False
    outcome: TrialOutcome | None = None

    def to_json(self) -> str:
        """``suggestion.json``'s text."""
        data = {
            "assignments": self.assignments,
            "rerun_of": self.rerun_of,
            "interrupted": self.interrupted,
            "rerun": self.rerun,
        }
        return json.dumps(data, indent=2, sort_keys=True)

    def save(self) -> None:
        """Write ``suggestion.json`` atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        write_text(self.directory / SUGGESTION_FILE, self.to_json())


def read_trials(spec: SearchSpec) -> list[LiteTrial]:
    """Every trial of a lite search on disk, by number.

    Raises:
        SearchSpecError: If a ``suggestion.json`` is not what this module writes.
    """
    root = spec.output_dir / "trials"
    trials = []
    for directory in sorted(root.iterdir()) if root.is_dir() else []:
        path = directory / SUGGESTION_FILE
        if not directory.name.isdigit() or not path.is_file():
            continue
        try:
            data = json.loads(path.read_text())
            assignments = data["assignments"]
            rerun_of = data.get("rerun_of")
            if not isinstance(assignments, dict) or not (rerun_of is None or isinstance(rerun_of, int)):
                raise TypeError
        except (OSError, ValueError, KeyError, TypeError):
            raise SearchSpecError(
                f"{path} is not a SigOpt-Lite trial record (expected JSON with an `assignments` mapping); "
                "move it away or use another output_dir"
            ) from None
        trials.append(
            LiteTrial(
                number=int(directory.name),
                directory=directory,
                assignments=assignments,
                rerun_of=rerun_of,
                interrupted=str(data.get("interrupted") or ""),
                rerun=bool(data.get("rerun", False)),
                outcome=read_outcome(directory),
            )
        )
    return trials


def _next_number(spec: SearchSpec) -> int:
    root = spec.output_dir / "trials"
    numbers = [int(d.name) for d in root.iterdir() if d.name.isdigit()] if root.is_dir() else []
    return max(numbers, default=-1) + 1


@contextmanager
def exclusive(spec: SearchSpec) -> Iterator[None]:
    """Hold the output directory's run lock (:class:`~lit_distill.run_lock.FolderLock`; the
    operating system releases it when the process ends, however it ends).

    Raises:
        SearchSpecError: If another live process holds it (named with its PID and host).
    """
    lock = FolderLock(spec.output_dir, what="SigOpt-Lite search")
    try:
        lock.acquire()
    except UserInputError as err:
        raise SearchSpecError(f"{err}; a SigOpt-Lite search runs in one process") from None
    try:
        yield
    finally:
        lock.release()


def close_interrupted(spec: SearchSpec, trials: list[LiteTrial]) -> list[LiteTrial]:
    """Mark trials that a dead search left without an outcome as interrupted.

    Returns:
        The interrupted trials still to run again (``on_interrupted: rerun``), oldest first.
    """
    for t in trials:
        if t.outcome is None and not t.interrupted:
            t.interrupted = "the search process died while the trial ran"
            t.rerun = spec.on_interrupted == "rerun"
            t.save()
            action = "queued again" if t.rerun else "left as FAIL"
            log.warning("trial %d: %s; marked FAIL (interrupted), %s", t.number, t.interrupted, action)
    rerun = {t.rerun_of for t in trials if t.rerun_of is not None}
    return [t for t in trials if t.interrupted and t.rerun and t.number not in rerun]


class SigOptLiteWorker:
    """The one process of a SigOpt-Lite search: replay what is on disk, then run to the budget.

    Args:
        spec: The validated search spec (``backend: {type: sigopt, driver: lite}``).
        budget: Overrides ``observation_budget``.
        seed: Overrides ``backend.seed``.

    Raises:
        SearchSpecError: If the spec asks for what lite cannot do (see the module docstring).
    """

    def __init__(self, spec: SearchSpec, budget: int | None = None, seed: int | None = None) -> None:
        refuse_lite_limits(spec)
        self.spec = spec
        self.budget = budget or spec.observation_budget
        self.seed = seed if seed is not None else spec.backend.seed
        self.keys = canonical_keys(spec, spec_keys(spec))
        self.suggestion_s: list[float] = []
        self.best_assignments: list[dict[str, Any]] = []

    def run(self, threads: int = 1) -> int:
        """Run trials until ``budget`` have finished (counting those on disk); returns trials run here.

        Raises:
            SearchSpecError: If ``threads`` > 1, another process runs this search, or a recorded
                trial does not fit the spec's experiment (the spec changed under the output_dir).
        """
        if threads != 1:
            raise SearchSpecError(
                f"--threads {threads}: backend sigopt with driver lite runs one trial at a time"
            )
        with exclusive(self.spec):
            trials = read_trials(self.spec)
            reruns = close_interrupted(self.spec, trials)
            experiment = lite_experiment(self.spec, self.budget)
            finished = [t for t in trials if t.outcome is not None]
            self._seed(len(trials))
            for t in finished:
                self._replay(experiment, t)
            if finished:
                log.info("replayed %d finished trial(s) into a fresh SigOpt-Lite experiment", len(finished))
            count, ran, number = len(finished), 0, _next_number(self.spec)
            while count < self.budget:
                if reruns:
                    again = reruns.pop(0)
                    trial = LiteTrial(number, trial_dir(self.spec, number), again.assignments, again.number)
                    suggestion = None
                else:
                    start = time.perf_counter()
                    suggestion = experiment.suggestions().create()
                    self.suggestion_s.append(time.perf_counter() - start)
                    assignments = {str(k): _plain(v) for k, v in dict(suggestion.assignments).items()}
                    trial = LiteTrial(number, trial_dir(self.spec, number), assignments)
                    log.debug("trial %d: suggested in %.2f s", number, self.suggestion_s[-1])
                outcome = self._run(trial)
                told = observation_values(self.spec, outcome)
                if suggestion is not None:
                    experiment.observations().create(suggestion=suggestion.id, **told)
                else:
                    experiment.observations().create(assignments=trial.assignments, **told)
                count, ran, number = count + 1, ran + 1, number + 1
            self.best_assignments = [
                dict(b.assignments) for b in experiment.best_assignments().fetch().iterate_pages()
            ]
        if self.suggestion_s:
            log.info(
                "SigOpt-Lite: %d suggestion(s), %.2f s each on average; %d best assignment(s)",
                len(self.suggestion_s),
                sum(self.suggestion_s) / len(self.suggestion_s),
                len(self.best_assignments),
            )
        return ran

    def _seed(self, trials_on_disk: int) -> None:
        import numpy

        from lit_distill.search.sampling import worker_seed

        seed = worker_seed(self.seed, trials_on_disk)
        if seed is not None:
            numpy.random.seed(seed % 2**32)

    def _replay(self, experiment: Any, t: LiteTrial) -> None:
        from sigopt.exception import SigOptException

        assert t.outcome is not None
        try:
            experiment.observations().create(
                assignments=t.assignments, **observation_values(self.spec, t.outcome)
            )
        except SigOptException as err:
            raise SearchSpecError(
                f"trial {t.number} ({t.directory}) does not fit the experiment of {self.spec.path}: "
                f"{_line(err)}; did the spec change? use a new output_dir for a changed spec"
            ) from None

    def _run(self, trial: LiteTrial) -> TrialOutcome:
        trial.save()
        assignment = decode(self.spec, typed_assignments(self.spec, trial.assignments))
        overrides = {self.keys.get(k, k): v for k, v in config_overrides(self.spec, assignment).items()}
        outcome = run_trial(self.spec, trial.directory, overrides)
        again = f" (rerun of trial {trial.rerun_of})" if trial.rerun_of is not None else ""
        log.info("trial %d%s: %s %s", trial.number, again, outcome.status, outcome.reason)
        return outcome


def lite_records(spec: SearchSpec) -> list[TrialRecord]:
    """A lite search's trials as report records (from their directories).

    Raises:
        SearchSpecError: If the output directory holds no lite trial.
    """
    trials = read_trials(spec)
    if not trials:
        raise SearchSpecError(
            f"no SigOpt-Lite trials in {spec.output_dir / 'trials'}; run `search run` with this spec first"
        )
    records = []
    for t in trials:
        try:
            assignment = decode(spec, typed_assignments(spec, t.assignments))
        except (KeyError, TypeError, ValueError) as err:
            raise SearchSpecError(
                f"trial {t.number} ({t.directory}) does not fit {spec.path}: {_line(err)}; "
                "did the spec change? use a new output_dir for a changed spec"
            ) from None
        record = TrialRecord(
            number=t.number,
            state="RUNNING",
            outcome="running",
            feasible=False,
            assignment=assignment,
            trial_dir=str(t.directory),
        )
        if t.outcome is not None:
            record.state = "FAIL" if t.outcome.status == "fail" else "COMPLETE"
            record.outcome = t.outcome.status
            record.metrics = dict(t.outcome.metrics)
            record.feasible = t.outcome.status == "complete" and feasible(spec, record.metrics)
            record.reason = t.outcome.reason
        elif t.interrupted:
            record.state, record.outcome, record.reason = "FAIL", "interrupted", t.interrupted
        records.append(record)
    return records
