"""A search whose first trials all exit with the same user-input error stops, rather than spend its budget.

A trial that exits with code 2 (:data:`USER_ERROR_EXIT`) was refused by the trial's own
checks: a value, a file or a config the user gave. When the same message comes back
:data:`INPUT_ERROR_STOP` times in a row, from different points of the space, and no trial
of the study has run to its end, every further trial would most likely repeat it (a
teacher whose tokenizer is not the data's, a missing file). A message that names the
trial's own values differs from point to point and stops nothing.
"""

from __future__ import annotations

import threading
from pathlib import Path

from lit_distill.search.runner import TrialOutcome
from lit_distill.search.spec import SearchSpec

__all__ = ["INPUT_ERROR_STOP", "USER_ERROR_EXIT", "InputErrorWatch", "stop_message"]

USER_ERROR_EXIT = 2
"""The exit code of ``python -m lit_distill`` for an error in the user's input
(:data:`lit_distill.user_errors.EXIT_USER_ERROR`; also jsonargparse's for a bad argument)."""

INPUT_ERROR_STOP = 2
"""Trials in a row that exit with the same user-input error, none of the study's trials having
run to its end, after which a search process stops (exit code 2) instead of spending its budget."""


class InputErrorWatch:
    """The reasons of the last trials of one search process that exited with a user error (thread-safe)."""

    def __init__(self) -> None:
        self._reasons: list[str] = []
        self._lock = threading.Lock()

    def repeats(self, outcome: TrialOutcome, directory: Path) -> bool:
        """Record a finished trial; True when the last :data:`INPUT_ERROR_STOP` exited 2 with one message.

        The trial's directory is taken out of the message first (``{trial_dir}``), so an error
        naming a per-trial path still counts as the same error.
        """
        with self._lock:
            if outcome.status != "fail" or outcome.returncode != USER_ERROR_EXIT:
                self._reasons.clear()
                return False
            self._reasons.append(outcome.reason.replace(str(directory), "{trial_dir}"))
            last = self._reasons[-INPUT_ERROR_STOP:]
            return len(last) == INPUT_ERROR_STOP and len(set(last)) == 1


def stop_message(spec: SearchSpec, outcome: TrialOutcome) -> str:
    """The one line a search stopped by a repeated input error ends with."""
    return (
        f"search {spec.name!r} stopped instead of spending its budget: its first {INPUT_ERROR_STOP} "
        f"trials, at different points of the space, exited with the same input error: {outcome.reason} "
        f"(log: {outcome.log}). Fix the configs (`python -m lit_distill search check --config "
        f"{spec.path}` builds one trial in seconds) and run the same command again"
    )
