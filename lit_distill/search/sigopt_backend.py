"""The SigOpt backend (optional extra ``sigopt``): a SigOpt server, or SigOpt-Lite in-process.

``backend: {type: sigopt}`` (``driver: http``, the default) talks to the user's own SigOpt
server (the hosted service is shut down): ``SIGOPT_API_URL`` and ``SIGOPT_API_TOKEN`` come
from the environment only, are never written to a log, a config or a report, and are
checked before any trial runs. ``driver: lite`` runs SigOpt's optimiser in this process
(:mod:`lit_distill.search.sigopt_lite`); :func:`check_sigopt`, :func:`sigopt_worker` and
:func:`records_from_experiment` pick the driver the spec names.

What both drivers send is :mod:`lit_distill.search.sigopt_experiment`. Unlike Optuna, SigOpt
learns from failed observations, so an out-of-memory trial and a crash are both reported as
``failed`` (on a server with ``metadata.outcome`` telling them apart).

The Core API calls used with a server (sigopt-python 8): ``experiments().create``,
``experiments(id).fetch``, ``suggestions().create``, ``suggestions(id).update``,
``suggestions().fetch(state="open")``, ``suggestions(id).delete``,
``observations().create``, ``observations().fetch``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from lit_distill.search.config_keys import canonical_keys, spec_keys
from lit_distill.search.launch import pid_alive
from lit_distill.search.records import TrialRecord
from lit_distill.search.runner import TrialOutcome, read_outcome, run_trial
from lit_distill.search.sigopt_experiment import (
    experiment_body,
    feasible,
    observation_values,
    typed_assignments,
)
from lit_distill.search.sigopt_lite import SigOptLiteWorker, check_lite, lite_records
from lit_distill.search.space import config_overrides, decode
from lit_distill.search.spec import SearchSpec, SearchSpecError

log = logging.getLogger("lit_distill.search")

URL_ENV = "SIGOPT_API_URL"
TOKEN_ENV = "SIGOPT_API_TOKEN"


def connection_settings() -> tuple[str, str]:
    """``(api_url, api_token)`` from the environment.

    Raises:
        SearchSpecError: If either is missing (the message never contains a token).
    """
    url, token = os.environ.get(URL_ENV, "").strip(), os.environ.get(TOKEN_ENV, "").strip()
    missing = [name for name, value in ((URL_ENV, url), (TOKEN_ENV, token)) if not value]
    if missing:
        raise SearchSpecError(
            f"backend sigopt needs {' and '.join(missing)} in the environment (never in the spec): "
            f"{URL_ENV} is the address of your SigOpt server (the hosted service is shut down), "
            f"{TOKEN_ENV} its API token"
        )
    return url, token


def connect() -> Any:
    """A ``sigopt.Connection`` to the server named by the environment.

    Raises:
        SearchSpecError: If the ``sigopt`` package is missing or the environment is incomplete.
    """
    url, token = connection_settings()
    try:
        from sigopt import Connection
    except ImportError:
        raise SearchSpecError(
            "backend sigopt needs the sigopt package: pip install 'lit_distill[sigopt]'"
        ) from None
    conn = Connection(client_token=token)
    conn.set_api_url(url)
    return conn


def check_sigopt(spec: SearchSpec) -> None:
    """``search check``'s test of a SigOpt backend: the server's environment, or what lite refuses.

    Raises:
        SearchSpecError: One line: a missing ``SIGOPT_API_URL``/``SIGOPT_API_TOKEN`` (server),
            or what SigOpt-Lite cannot run (``parallel_bandwidth`` > 1, or anything its own
            experiment validation refuses).
    """
    if spec.backend.lite:
        check_lite(spec)
    else:
        connection_settings()


def sigopt_worker(
    spec: SearchSpec, budget: int | None = None, seed: int | None = None, extra_worker: bool = False
) -> SigOptWorker | SigOptLiteWorker:
    """The worker of ``search run`` / ``search worker`` for the spec's driver.

    Args:
        spec: A spec with ``backend.type: sigopt``.
        budget: Overrides ``observation_budget``.
        seed: Overrides ``backend.seed`` (lite only; a server seeds itself).
        extra_worker: ``search worker`` (joins a running search; a server experiment only).

    Raises:
        SearchSpecError: ``search worker`` with driver lite, whose experiment lives in the
            memory of the one ``search run`` process.
    """
    if not spec.backend.lite:
        return SigOptWorker(spec, budget=budget)
    if extra_worker:
        raise SearchSpecError(
            "search worker: backend sigopt with driver lite keeps its experiment in the memory of "
            "one `search run` process, so no other worker can join it; use `search run` (one trial at a "
            "time), or driver http (a SigOpt server) or type optuna for several workers"
        )
    return SigOptLiteWorker(spec, budget=budget, seed=seed)


def _pages(resource: Any) -> list[Any]:
    return list(resource.iterate_pages()) if hasattr(resource, "iterate_pages") else list(resource)


def observation_payload(spec: SearchSpec, suggestion_id: str, outcome: TrialOutcome) -> dict[str, Any]:
    """``observations().create`` arguments for a finished trial."""
    metadata: dict[str, Any] = {"outcome": outcome.status, "wall_s": round(outcome.wall_s, 3)}
    if outcome.status != "complete":
        metadata["reason"] = outcome.reason[:400]
    return {"suggestion": suggestion_id, **observation_values(spec, outcome), "metadata": metadata}


def experiment_id(spec: SearchSpec, conn: Any, create: bool = True) -> str:
    """The experiment of this search: ``backend.experiment_id``, else the one this output
    directory created before (resume), else a new one.

    Raises:
        SearchSpecError: If there is none and ``create`` is False.
    """
    if spec.backend.experiment_id:
        return spec.backend.experiment_id
    state = spec.output_dir / "sigopt_experiment.json"
    if state.is_file():
        return str(json.loads(state.read_text())["experiment_id"])
    if not create:
        raise SearchSpecError(f"no SigOpt experiment recorded in {state}; set backend.experiment_id")
    experiment = conn.experiments().create(**experiment_body(spec))
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"experiment_id": str(experiment.id)}))
    log.info("created SigOpt experiment %s", experiment.id)
    return str(experiment.id)


class SigOptWorker:
    """One worker of a SigOpt-backed search (any number may share one experiment).

    Args:
        spec: The validated search spec (``backend.type: sigopt``).
        connection: A ``sigopt.Connection`` (or a fake with the same methods); default
            :func:`connect`.
        budget: Overrides ``observation_budget``.
    """

    def __init__(self, spec: SearchSpec, connection: Any = None, budget: int | None = None) -> None:
        self.spec = spec
        self.conn = connection if connection is not None else connect()
        self.budget = budget or spec.observation_budget
        self.keys = canonical_keys(spec, spec_keys(spec))
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.experiment_id = experiment_id(spec, self.conn)

    def _experiment(self) -> Any:
        return self.conn.experiments(self.experiment_id)

    def observation_count(self) -> int:
        """Observations the experiment holds (all workers)."""
        return int(self._experiment().fetch().progress.observation_count)

    def recover(self) -> int:
        """Close open suggestions left by a dead worker on this host; returns how many.

        A recorded outcome is reported; otherwise the suggestion is deleted so SigOpt
        may suggest it again.
        """
        host = socket.gethostname()
        handled = 0
        for s in _pages(self._experiment().suggestions().fetch(state="open")):
            owner = str((getattr(s, "metadata", None) or {}).get("worker", ""))
            owner_host, _, pid = owner.rpartition(":")
            if owner_host != host or not pid.isdigit() or owner == self.worker_id or pid_alive(int(pid)):
                continue
            outcome = read_outcome(self._trial_dir(str(s.id)))
            if outcome is not None:
                self._experiment().observations().create(**observation_payload(self.spec, str(s.id), outcome))
                log.warning("suggestion %s: worker %s died after it finished; outcome reported", s.id, owner)
            else:
                self._experiment().suggestions(s.id).delete()
                log.warning("suggestion %s: worker %s died while it ran; suggestion deleted", s.id, owner)
            handled += 1
        return handled

    def _trial_dir(self, suggestion_id: str) -> Path:
        return self.spec.output_dir / "trials" / f"s{suggestion_id}"

    def run(self, threads: int = 1) -> int:
        """Run trials until the experiment holds ``budget`` observations; returns trials run here."""
        self.recover()
        counts = [0] * threads
        errors: list[BaseException] = []

        def loop(index: int) -> None:
            try:
                while self.observation_count() < self.budget:
                    self._one()
                    counts[index] += 1
            except BaseException as err:
                errors.append(err)

        workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        if errors:
            raise errors[0]
        return sum(counts)

    def _one(self) -> None:
        suggestion = self._experiment().suggestions().create()
        sid = str(suggestion.id)
        self._experiment().suggestions(sid).update(metadata={"worker": self.worker_id})
        assignment = decode(self.spec, typed_assignments(self.spec, dict(suggestion.assignments)))
        directory = self._trial_dir(sid)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "assignment.json").write_text(json.dumps(assignment))
        overrides = {self.keys.get(k, k): v for k, v in config_overrides(self.spec, assignment).items()}
        outcome = run_trial(self.spec, directory, overrides)
        self._experiment().observations().create(**observation_payload(self.spec, sid, outcome))
        log.info("suggestion %s: %s %s", sid, outcome.status, outcome.reason)


def records_from_experiment(spec: SearchSpec, connection: Any = None) -> list[TrialRecord]:
    """The experiment's observations as report records (lite: its trials on disk)."""
    if spec.backend.lite:
        return lite_records(spec)
    conn = connection if connection is not None else connect()
    experiment = conn.experiments(experiment_id(spec, conn, create=False))
    records = []
    for i, obs in enumerate(_pages(experiment.observations().fetch())):
        metadata = getattr(obs, "metadata", None) or {}
        metrics = {str(v.name): float(v.value) for v in (getattr(obs, "values", None) or [])}
        failed = bool(getattr(obs, "failed", False))
        outcome = str(metadata.get("outcome", "fail" if failed else "complete"))
        suggestion = getattr(obs, "suggestion", None)
        raw = typed_assignments(spec, dict(obs.assignments))
        records.append(
            TrialRecord(
                number=i,
                state="FAIL" if failed and outcome == "fail" else "COMPLETE",
                outcome=outcome,
                feasible=not failed and feasible(spec, metrics),
                assignment=decode(spec, raw),
                metrics=metrics,
                reason=str(metadata.get("reason", "")),
                trial_dir=str(spec.output_dir / "trials" / f"s{suggestion}") if suggestion else "",
            )
        )
    return records
