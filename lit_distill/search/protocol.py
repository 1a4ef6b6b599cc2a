"""The hand-over between the search and a trial process (kept import-light on purpose).

The search sets :data:`METRICS_PATH_ENV` in the trial's environment; the
:class:`~lit_distill.callbacks.trial_result.TrialResult` callback writes the
trial's metrics JSON there (docs/architecture.md, "Search").
"""

from __future__ import annotations

#: Environment variable naming the file where a trial writes its metrics JSON.
METRICS_PATH_ENV = "LIT_DISTILL_TRIAL_METRICS"
#: Environment variable naming the trial's own directory.
TRIAL_DIR_ENV = "LIT_DISTILL_TRIAL_DIR"
