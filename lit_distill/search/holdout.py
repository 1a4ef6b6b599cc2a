"""Re-evaluate the Pareto front on a holdout split the search never saw.

The search optimises on its *search* split (set in the base config or ``fixed``);
the spec's ``holdout`` block gives the overrides (and optionally the command) that
evaluate a trial on the held-out split instead, e.g.::

    holdout:
      command: validate
      overrides:
        data.init_args.source.init_args.validation_split: dev
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
from lit_distill.search.space import assignment_problem, config_overrides
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
        searched = confined_trial_dir(spec, r)
        problem = assignment_problem(spec, r.assignment)
        if problem is not None:
            raise SearchSpecError(f"trial {r.number}: the stored {problem}; not re-evaluated")
        overrides = {**config_overrides(spec, r.assignment), **spec.holdout_overrides}
        # {trial_dir} means the searched trial's directory here, not the holdout subdirectory
        overrides = {keys.get(k, k): fill_trial_dir(v, searched) for k, v in overrides.items()}
        outcome = run_trial(spec, searched / "holdout", overrides, command=command)
        log.info("holdout of trial %d: %s %s", r.number, outcome.status, outcome.reason)
    return attach_holdout(spec, records)


def inside_output_dir(spec: SearchSpec, trial_dir: str) -> Path | None:
    """``trial_dir`` resolved (symbolic links followed), or None unless it lies inside ``output_dir``."""
    out = spec.output_dir.resolve()
    directory = Path(trial_dir).resolve() if trial_dir else out
    return directory if directory != out and directory.is_relative_to(out) else None


def confined_trial_dir(spec: SearchSpec, record: TrialRecord) -> Path:
    """The record's trial directory, which must lie inside the spec's ``output_dir``.

    Raises:
        SearchSpecError: For a directory elsewhere (nothing is written or read there).
    """
    directory = inside_output_dir(spec, record.trial_dir)
    if directory is None:
        raise SearchSpecError(
            f"trial {record.number}: trial directory {record.trial_dir!r} is not inside output_dir "
            f"{spec.output_dir}; nothing is written there"
        )
    return directory


def attach_holdout(spec: SearchSpec, records: list[TrialRecord]) -> list[TrialRecord]:
    """Fill ``holdout`` of each record from ``<trial_dir>/holdout/outcome.json`` when complete
    (read only from trial directories inside ``output_dir``)."""
    for r in records:
        directory = inside_output_dir(spec, r.trial_dir)
        if directory is not None:
            outcome = read_outcome(directory / "holdout")
            if outcome is not None and outcome.status == "complete":
                r.holdout = dict(outcome.metrics)
    return records
