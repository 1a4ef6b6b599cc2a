"""The hand-over between a search and its trial processes: two environment variable names.

Neither side imports the other: the search (:mod:`lit_distill.search.runner`) sets
:data:`METRICS_PATH_ENV` in the trial's environment and the
:class:`~lit_distill.callbacks.trial_result.TrialResult` callback of the trial writes
the trial's metrics JSON there (docs/architecture.md, "Search"). This module imports
nothing, so the torch-free search and the Lightning callbacks can both read it.
"""

from __future__ import annotations

#: Environment variable naming the file where a trial writes its metrics JSON.
METRICS_PATH_ENV = "LIT_DISTILL_TRIAL_METRICS"
#: Environment variable naming the trial's own directory.
TRIAL_DIR_ENV = "LIT_DISTILL_TRIAL_DIR"
