"""The Optuna backend: one study in a file or database, any number of worker processes.

Each worker process runs ``threads`` loops of ask → run one trial subprocess → tell
against a shared study. What each trial tells the optimiser:

* complete: the objective values; constraints ``[0, threshold violations…]``;
* out of memory: a *complete* trial with pessimistic values and the first constraint
  violated (``1.0``). Optuna's samplers ignore FAIL trials, so a FAIL would leave the
  sampler free to propose the same too-large region again; a violated constraint makes
  TPE/GP rank the trial as infeasible and move away;
* crash, timeout, missing metrics: FAIL, with the reason and the log path as user attributes.

A search whose first trials exit with the same user-input error stops with that error
instead of spending its budget on it (:mod:`lit_distill.search.input_errors`).

Interrupted trials (the worker died: SIGKILL, power loss) are found by any worker:
on the same host by the dead pid, elsewhere by a heartbeat older than ``stale_after_s``.
If the dead worker had already recorded the trial's outcome (``outcome.json``), that
outcome is told; otherwise the trial becomes FAIL (``interrupted``) and, with
``on_interrupted: rerun``, the same parameters are queued again.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from lit_distill.search.config_keys import canonical_keys, spec_keys
from lit_distill.search.input_errors import InputErrorWatch, stop_message
from lit_distill.search.launch import pid_alive
from lit_distill.search.optuna_tell import describe, fail_uncounted, tell_outcome, tell_rejected
from lit_distill.search.runner import TrialOutcome, read_outcome, run_trial, trial_dir
from lit_distill.search.sampling import GP_MAX_BUDGET, make_sampler, resolve_sampler, suggest, worker_seed
from lit_distill.search.space import (
    config_overrides,
    decode,
    optimizer_space,
    violated_linear_constraints,
)
from lit_distill.search.spec import SearchSpec, SearchSpecError
from lit_distill.search.storage import (
    SERVER_WAIT_S,
    StorageLostError,
    is_storage_error,
    load_study,
    open_study,
    storage_error,
    storage_label,
    storage_url,
)
from lit_distill.search.told_values import pessimistic_values

__all__ = [
    "GP_MAX_BUDGET",
    "OptunaWorker",
    "load_study",
    "make_sampler",
    "pessimistic_values",
    "resolve_sampler",
    "suggest",
]

log = logging.getLogger("lit_distill.search")

_STARTED = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)


class OptunaWorker:
    """One worker process of an Optuna search (run it with :meth:`run`).

    Args:
        spec: The validated search spec.
        storage: Storage URL or journal path overriding ``backend.storage``.
        seed: Sampler seed overriding ``backend.seed``; the sampler's real seed is derived
            from it and the study's size (:func:`~lit_distill.search.sampling.worker_seed`).
        budget: Overrides ``observation_budget`` (trials counted over all workers).
        extra_worker: A ``search worker`` (one of several at once): its id enters its seed too.
    """

    def __init__(
        self,
        spec: SearchSpec,
        storage: str | None = None,
        seed: int | None = None,
        budget: int | None = None,
        extra_worker: bool = False,
    ) -> None:
        self.spec = spec
        self.budget = budget or spec.observation_budget
        self.label = storage_label(spec, storage)
        self.url = storage_url(spec, storage)  # for scrubbing its secrets from driver messages
        self.host = socket.gethostname()
        self.worker_id = f"{self.host}:{os.getpid()}"
        self.study, self.storage = open_study(spec, storage, optuna.samplers.RandomSampler())
        self.study_id = self.storage.get_study_id_from_name(self.study.study_name)
        existing = len(self.study.get_trials(deepcopy=False))
        base = spec.backend.seed if seed is None else seed
        self.seed = worker_seed(base, existing, self.worker_id if extra_worker else None)
        self.study.sampler = make_sampler(spec, self.seed)
        if base is not None:
            log.info(
                "sampler seed %d (from seed %d and %d trial(s) already in the study)",
                self.seed,
                base,
                existing,
            )
        self.keys = canonical_keys(spec, spec_keys(spec))
        self.space = optimizer_space(spec)
        self._running: dict[int, int] = {}  # trial number -> trial id, of this process
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._waited_for: set[int] = set()  # unclaimed trials already reported
        self._input_errors = InputErrorWatch()
        self._stopped_by: TrialOutcome | None = None  # the repeated input error that stopped this process

    def _trial_id(self, number: int) -> int:
        """The storage's id of trial ``number`` of this study."""
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    # -- bookkeeping ---------------------------------------------------------------------------

    def counted(self, trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
        """Trials that use the observation budget (not interrupted, surplus or rejected)."""
        return [t for t in trials if not t.user_attrs.get("uncounted")]

    def recover(self) -> int:
        """Close trials whose worker died; returns how many were handled."""
        handled = 0
        now = time.time()
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            with self._lock:
                if t.number in self._running:
                    continue
            owner = str(t.user_attrs.get("worker", ""))
            host, _, pid = owner.rpartition(":")
            beat = float(
                t.user_attrs.get("heartbeat", t.datetime_start.timestamp() if t.datetime_start else now)
            )
            dead_here = host == self.host and pid.isdigit() and not pid_alive(int(pid))
            if owner == self.worker_id or not (dead_here or now - beat > self.spec.stale_after_s):
                continue
            if self._close_interrupted(t, owner) if owner else self._close_unclaimed(t):
                handled += 1
        return handled

    def _close_unclaimed(self, t: FrozenTrial) -> bool:
        """Close a stale trial no worker claimed: it never ran, so it is not queued again."""
        reason = "created, but claimed by no worker (a storage call failed as it was asked)"
        try:
            self._fail_uncounted(t.number, self._trial_id(t.number), "abandoned", reason)
        except (RuntimeError, ValueError) as err:  # another worker closed it first
            log.debug("trial %d already closed: %s", t.number, err)
            return False
        log.warning("trial %d: %s; marked FAIL (abandoned)", t.number, reason)
        return True

    def _close_interrupted(self, t: FrozenTrial, owner: str) -> bool:
        outcome = read_outcome(trial_dir(self.spec, t.number))  # never a path read from the study
        try:
            if outcome is not None:
                self._tell(t.number, self._trial_id(t.number), outcome, recovered=True)
                log.warning(
                    "trial %d: worker %s died after it finished; its %s outcome was recovered",
                    t.number,
                    owner,
                    outcome.status,
                )
                return True
            reason = f"worker {owner} died while the trial ran"
            self._fail_uncounted(t.number, self._trial_id(t.number), "interrupted", reason)
        except (RuntimeError, ValueError) as err:  # another worker closed it first
            log.debug("trial %d already closed: %s", t.number, err)
            return False
        action = "queued again" if self.spec.on_interrupted == "rerun" else "left as FAIL"
        log.warning(
            "trial %d: worker %s died while it ran; marked FAIL (interrupted), %s", t.number, owner, action
        )
        if self.spec.on_interrupted == "rerun":
            self.study.enqueue_trial(dict(t.params), user_attrs={"rerun_of": t.number})
        return True

    def _heartbeat(self) -> None:
        failing = False
        while not self._stop.wait(self.spec.heartbeat_s):
            with self._lock:
                ids = list(self._running.values())
            for trial_id in ids:
                try:
                    self.storage.set_trial_user_attr(trial_id, "heartbeat", time.time())
                except (RuntimeError, ValueError):  # the trial was closed meanwhile
                    pass
                except Exception as err:  # the storage went away: keep beating once it is back
                    if not failing:
                        log.warning(
                            "heartbeat not recorded in %s: %s", self.label, storage_error(err, self.url)
                        )
                    failing = True
                else:
                    failing = False

    # -- the loop ------------------------------------------------------------------------------

    def run(self, threads: int = 1) -> int:
        """Run trials until the study holds ``budget`` counted trials; returns trials run here.

        Raises:
            StorageLostError: If a storage call failed (the server stayed away longer than
                :data:`~lit_distill.search.storage.SERVER_WAIT_S`, or dropped a call in flight).
        """
        try:
            self.recover()
        except Exception as err:
            self._raise_lost(err)
        beat = threading.Thread(target=self._heartbeat, daemon=True)
        beat.start()
        counts = [0] * threads
        # One loop runs in this (main) thread: the sampler's native code (the GP sampler's
        # torch, and greenlet when installed) then never runs in a thread that ends before exit.
        loops = [threading.Thread(target=self._loop, args=(counts, i)) for i in range(1, threads)]
        try:
            for t in loops:
                t.start()
            self._loop(counts, 0)
            for t in loops:
                t.join()
        finally:
            self._stop.set()
            beat.join(timeout=10)
        if self._errors:
            self._raise_lost(self._errors[0])
        if self._stopped_by is not None:
            raise SearchSpecError(stop_message(self.spec, self._stopped_by))
        return sum(counts)

    def _raise_lost(self, err: BaseException) -> None:
        """Re-raise ``err``; a storage error as :class:`StorageLostError` that says what is safe."""
        if is_storage_error(err):
            raise StorageLostError(
                f"lost the study storage {self.label}: {storage_error(err, self.url)}. This worker stopped; every "
                "told trial is stored, and a trial it was running is recovered by the next worker "
                "(told from its outcome.json, or re-run)"
            ) from err
        raise err

    def _loop(self, counts: list[int], index: int) -> None:
        try:
            self._loop_body(counts, index)
        except BaseException as err:  # surfaced by run() in the main thread
            self._errors.append(err)
            self._stop.set()

    def _loop_body(self, counts: list[int], index: int) -> None:
        """Trials until the budget is used; storage errors are retried for :data:`SERVER_WAIT_S`."""
        rejected: list[int] = [0]  # suggestions in a row that broke the linear constraints
        unclosed: dict[int, TrialOutcome | None] = {}  # this loop's asked, untold trials (None: not run)
        failing_since: float | None = None
        while not self._stop.is_set():
            try:
                self._close_unclosed(unclosed)
                if not self._step(counts, index, rejected, unclosed):
                    return
                failing_since = None
            except Exception as err:
                if not is_storage_error(err):
                    raise
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > SERVER_WAIT_S:
                    raise
                log.warning("a call to %s failed (%s); retrying", self.label, storage_error(err, self.url))
                time.sleep(1.0)

    def _close_unclosed(self, unclosed: dict[int, TrialOutcome | None]) -> None:
        """Tell the trials of this process that a storage error left open (run or not)."""
        for number, outcome in list(unclosed.items()):
            trial_id = self._running.get(number)
            if trial_id is None:  # the storage failed before its id was known
                trial_id = self._trial_id(number)
            try:
                if outcome is None:
                    self._fail_uncounted(number, trial_id, "abandoned", "a storage error before it ran")
                else:
                    self._tell(number, trial_id, outcome)
            except (RuntimeError, ValueError):  # already told: the failed call had gone through
                pass
            del unclosed[number]
            with self._lock:
                self._running.pop(number, None)

    def _wait_for_unclaimed(self, counted: list[FrozenTrial]) -> bool:
        """With the budget used: wait one heartbeat if a trial no worker claimed is still running.

        A trial whose creation a storage error interrupted (inside Optuna's ``ask``) has no
        worker, so nobody would finish it: the workers stay until :meth:`recover` finds it stale
        and closes it, then run one in its place. Returns whether it waited.
        """
        unclaimed = [t for t in counted if t.state == TrialState.RUNNING and "worker" not in t.user_attrs]
        if not unclaimed:
            return False
        # a live worker claims its new trial within milliseconds: only older ones are reported
        now = time.time()
        old = [
            t.number
            for t in unclaimed
            if t.datetime_start and now - t.datetime_start.timestamp() > 2 * self.spec.heartbeat_s
        ]
        if not set(old) <= self._waited_for:
            log.warning(
                "trial(s) %s were created but claimed by no worker (a storage call failed as they "
                "were asked); waiting until %.0f s after their start to close them",
                ", ".join(map(str, old)),
                self.spec.stale_after_s,
            )
            self._waited_for.update(old)
        self._stop.wait(self.spec.heartbeat_s)
        return True

    def _step(
        self, counts: list[int], index: int, rejected: list[int], unclosed: dict[int, TrialOutcome | None]
    ) -> bool:
        """Ask, run and tell one trial; False once the budget is used."""
        self.recover()
        counted = self.counted(self.study.get_trials(deepcopy=False, states=_STARTED))
        if len(counted) >= self.budget:
            return self._wait_for_unclaimed(counted)
        trial = self.study.ask()
        unclosed[trial.number] = None  # closed by this process even after a storage error
        trial_id = self._trial_id(trial.number)
        with self._lock:  # beats
            self._running[trial.number] = trial_id
        raw = {p.name: suggest(trial, p) for p in self.space}
        earlier = [t for t in self.counted(self.study.get_trials(deepcopy=False)) if t.number < trial.number]
        if len(earlier) >= self.budget:
            reason = "budget reached by other workers before this trial ran"
            self._forget(
                unclosed,
                trial.number,
                lambda: self._fail_uncounted(trial.number, trial_id, "surplus", reason),
            )
            return False
        assignment = decode(self.spec, raw)
        directory = trial_dir(self.spec, trial.number)
        trial.set_user_attr("worker", self.worker_id)
        trial.set_user_attr("heartbeat", time.time())
        trial.set_user_attr("assignment", json.loads(json.dumps(assignment)))
        trial.set_user_attr("trial_dir", str(directory))
        violated = violated_linear_constraints(self.spec, assignment)
        if violated:
            rejected[0] += 1
            if rejected[0] > 1000:
                raise SearchSpecError("1000 suggestions in a row violated the linear constraints; check them")
            self._forget(
                unclosed,
                trial.number,
                lambda: tell_rejected(self.study, self.storage, self.spec, trial.number, trial_id, violated),
            )
            return True
        rejected[0] = 0
        overrides = {self.keys.get(k, k): v for k, v in config_overrides(self.spec, assignment).items()}
        outcome = run_trial(self.spec, directory, overrides, on_start=partial(self._record_pid, trial))
        unclosed[trial.number] = outcome  # told below, or later if the storage fails now
        self._forget(
            unclosed, trial.number, lambda: self._tell(trial.number, self._running[trial.number], outcome)
        )
        counts[index] += 1
        log.info("%s", describe(self.spec, trial.number, assignment, outcome))
        self._watch_input_errors(directory, outcome)
        return True

    def _watch_input_errors(self, directory: Path, outcome: TrialOutcome) -> None:
        """Stop when this process's last trials repeat one input error and no trial of the study
        (any worker's) has run to its end."""
        if not self._input_errors.repeats(outcome, directory):
            return
        ran = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if any(t.user_attrs.get("outcome") in ("complete", "oom") for t in ran):
            return
        self._stopped_by = outcome
        self._stop.set()

    def _forget(self, unclosed: dict[int, TrialOutcome | None], number: int, tell: Any) -> None:
        """Run ``tell`` (closing trial ``number``), then stop beating and tracking it."""
        tell()
        unclosed.pop(number, None)
        with self._lock:
            self._running.pop(number, None)

    def _record_pid(self, trial: Trial, pid: int) -> None:
        try:
            trial.set_user_attr("pid", pid)
        except Exception as err:  # informational only; never leave a started trial unwaited
            log.debug("pid of trial %d not recorded: %s", trial.number, err)

    def _fail_uncounted(self, number: int, trial_id: int, outcome: str, reason: str) -> None:
        fail_uncounted(self.study, self.storage, number, trial_id, outcome, reason)

    def _tell(self, number: int, trial_id: int, outcome: TrialOutcome, recovered: bool = False) -> None:
        tell_outcome(self.study, self.storage, self.spec, number, trial_id, outcome, recovered)
