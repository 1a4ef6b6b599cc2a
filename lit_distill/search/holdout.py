"""Re-evaluate the Pareto front on a holdout split the search never saw.

The search optimises on its *search* split (set in the base config or ``fixed``);
the spec's ``holdout`` block gives the overrides (and optionally the command) that
evaluate a trial on the held-out split instead, e.g.::

    holdout:
      command: validate
      overrides:
        data.init_args.validation_split: holdout
        ckpt_path: "{trial_dir}/checkpoints/last.ckpt"

``{trial_dir}`` in a string value is replaced by the trial's directory. Results
land in ``<trial_dir>/holdout/`` and appear in the report as ``holdout_<metric>``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lit_distill.search.config_keys import canonical_keys, spec_keys
from lit_distill.search.records import TrialRecord, flag_front
from lit_distill.search.runner import fill_trial_dir, read_outcome, run_trial
from lit_distill.search.space import config_overrides
from lit_distill.search.spec import SearchSpec, SearchSpecError

log = logging.getLogger("lit_distill.search")


def run_holdout(spec: SearchSpec, records: list[TrialRecord]) -> list[TrialRecord]:
    """Evaluate every front trial with the holdout overrides; returns the front.

    Raises:
        SearchSpecError: If the spec has no ``holdout`` block or a key does not exist.
    """
    if not spec.holdout_overrides and spec.holdout_command is None:
        raise SearchSpecError(
            f"search spec {spec.path}: no `holdout:` block, so there is nothing to re-evaluate"
        )
    command = spec.holdout_command or spec.command
    wanted = spec_keys(spec) + [(f"holdout override {k!r}", k) for k in spec.holdout_overrides]
    keys = canonical_keys(spec, wanted, command)
    front = flag_front(spec, records)
    for r in front:
        directory = Path(r.trial_dir) / "holdout"
        overrides = {**config_overrides(spec, r.assignment), **spec.holdout_overrides}
        # {trial_dir} means the searched trial's directory here, not the holdout subdirectory
        overrides = {keys.get(k, k): fill_trial_dir(v, Path(r.trial_dir)) for k, v in overrides.items()}
        outcome = run_trial(spec, directory, overrides, command=command)
        log.info("holdout of trial %d: %s %s", r.number, outcome.status, outcome.reason)
    return attach_holdout(records)


def attach_holdout(records: list[TrialRecord]) -> list[TrialRecord]:
    """Fill ``holdout`` of each record from ``<trial_dir>/holdout/outcome.json`` when complete."""
    for r in records:
        if r.trial_dir:
            outcome = read_outcome(Path(r.trial_dir) / "holdout")
            if outcome is not None and outcome.status == "complete":
                r.holdout = dict(outcome.metrics)
    return records
