"""Run one trial as its own process and classify how it ended.

A trial is ``<launcher> fit|validate --config BASE [--config BASE2 …] --config overrides.yaml``, started as
a fresh subprocess or forked from the pre-imported trial server
(:mod:`lit_distill.search.launch`, spec key ``start_method``), in its own directory
``<output_dir>/trials/<number>/`` holding ``overrides.yaml``, ``command.txt``, ``trial.log`` (stdout + stderr,
without progress-bar redraws once the trial has ended: :mod:`lit_distill.search.trial_log`),
``metrics.json`` (written by :class:`~lit_distill.callbacks.trial_result.TrialResult`)
and ``outcome.json`` (written here, before the optimiser is told, so a search
killed in between can recover the finished trial on restart).

Outcomes:

* ``complete`` — exit code 0 and every metric the spec needs is in ``metrics.json``;
* ``oom`` — the log ends in a CUDA/host out-of-memory error, or the process was killed
  by SIGKILL (what the Linux out-of-memory killer sends);
* ``fail`` — anything else (crash, timeout, missing metrics); the log is kept.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from lit_distill.checks import is_number
from lit_distill.search.config_keys import launcher_argv, override_tree, read_base, trial_env
from lit_distill.search.launch import ForkedTrial, die_with_parent, resolve_start_method
from lit_distill.search.spec import SearchSpec
from lit_distill.search.trial_log import clean_log
from lit_distill.trial_protocol import METRICS_PATH_ENV, TRIAL_DIR_ENV

Status = Literal["complete", "oom", "fail"]

TRIAL_RESULT_CLASS = "lit_distill.callbacks.trial_result.TrialResult"

#: Patterns (searched in the last part of the log) that mark an out-of-memory death.
OOM_PATTERNS: tuple[str, ...] = (
    r"CUDA out of memory",
    r"OutOfMemoryError",
    r"HIP out of memory",
    r"MPS backend out of memory",
    r"\bMemoryError\b",
    r"can't allocate memory",
    r"std::bad_alloc",
    r"CUBLAS_STATUS_ALLOC_FAILED",
)
_OOM_RE = re.compile("|".join(OOM_PATTERNS))

_LOG_TAIL_CHARS = 20_000


@dataclass
class TrialOutcome:
    """How a trial ended.

    Attributes:
        status: ``complete``, ``oom`` or ``fail``.
        metrics: Metrics read from ``metrics.json`` (empty unless complete).
        reason: One line for humans (why it failed; empty when complete).
        returncode: The subprocess's exit code (negative: killed by that signal).
        wall_s: Wall time of the subprocess.
        log: Path of the trial's log.
    """

    status: Status
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    returncode: int | None = None
    wall_s: float = 0.0
    log: str = ""

    def to_json(self) -> str:
        """JSON text of this outcome."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialOutcome:
        """Inverse of :meth:`to_json` (after ``json.loads``)."""
        return cls(
            status=data["status"],
            metrics={str(k): float(v) for k, v in data.get("metrics", {}).items()},
            reason=str(data.get("reason", "")),
            returncode=data.get("returncode"),
            wall_s=float(data.get("wall_s", 0.0)),
            log=str(data.get("log", "")),
        )


SQUAD2_ONLY_PREFIXES = ("best_", "HasAns_", "NoAns_")
"""Trial metrics that only SQuAD 2.0 evaluation produces (no-answer threshold, answerable split)."""


def classify(
    returncode: int | None,
    log_tail: str,
    metrics: Mapping[str, float] | None,
    required: list[str],
    timed_out: bool = False,
) -> tuple[Status, str]:
    """Decide a trial's status from its exit code, the end of its log and its metrics.

    Args:
        returncode: Exit code; negative when killed by a signal; None if it never started.
        log_tail: The last part of the trial's log.
        metrics: Parsed ``metrics.json``, or None if absent/unreadable.
        required: Metric names the search needs.
        timed_out: Whether the runner killed it for exceeding ``trial_timeout_s``.

    Returns:
        (status, reason).
    """
    if timed_out:
        return "fail", "timed out (trial_timeout_s) and was killed"
    if returncode == 0:
        if metrics is None:
            return "fail", "exited 0 but wrote no metrics.json (is TrialResult among the callbacks?)"
        missing = [m for m in required if m not in metrics]
        if missing:
            hint = ""
            if any(m.startswith(SQUAD2_ONLY_PREFIXES) for m in missing):
                hint = (
                    " (best_f1, best_exact, HasAns_* and NoAns_* exist only on SQuAD 2.0 data, "
                    'data.init_args.version: "2.0"; on SQuAD 1.1 optimise f1 or exact)'
                )
            return "fail", f"metrics.json lacks {missing}; it has {sorted(metrics)}{hint}"
        bad = [m for m in required if not math.isfinite(metrics[m])]
        if bad:
            return "fail", f"metrics {bad} are not finite numbers"
        return "complete", ""
    oom_lines = [line.strip() for line in log_tail.splitlines() if _OOM_RE.search(line)]
    if oom_lines:
        return "oom", f"out of memory: {oom_lines[-1][:300]}"
    if returncode == -signal.SIGKILL:
        return "oom", "killed by SIGKILL (as the Linux out-of-memory killer does)"
    return "fail", f"exited with code {returncode}: {error_summary(log_tail)[:300]}"


def error_summary(log_tail: str) -> str:
    """The line of a trial's log that says why it failed.

    The last ``error:`` line when there is one (a user error is that line plus a hint;
    a jsonargparse error is a header whose most indented line names the bad value),
    else the last line (a traceback's exception).
    """
    lines = [line.rstrip() for line in log_tail.splitlines() if line.strip()]
    if not lines:
        return "(empty log)"
    starts = [i for i, line in enumerate(lines) if line.startswith("error:") or ": error: " in line]
    if not starts:
        return lines[-1].strip()
    block = lines[starts[-1] :]
    header = block[0].strip()
    if not header.endswith(":") or len(block) == 1:
        return header
    depth = [len(line) - len(line.lstrip()) for line in block]
    deepest = max(range(1, len(block)), key=lambda i: depth[i])
    parts = [header]
    if deepest > 1 and block[deepest - 1].strip().endswith(":") and depth[deepest - 1] > 0:
        parts.append(block[deepest - 1].strip())
    parts.append(block[deepest].strip())
    return " ".join(parts)


def trial_dir(spec: SearchSpec, number: int) -> Path:
    """The directory of trial ``number``."""
    return spec.output_dir / "trials" / f"{number:05d}"


def fill_trial_dir(value: Any, directory: Path) -> Any:
    """Replace ``{trial_dir}`` in strings (also inside lists and mappings) by the trial's directory."""
    if isinstance(value, str):
        return value.replace("{trial_dir}", str(directory))
    if isinstance(value, list):
        return [fill_trial_dir(v, directory) for v in value]
    if isinstance(value, Mapping):
        return {k: fill_trial_dir(v, directory) for k, v in value.items()}
    return value


def build_command(
    spec: SearchSpec, directory: Path, overrides: Mapping[str, Any], command: str | None = None
) -> list[str]:
    """Write ``overrides.yaml`` into ``directory`` and return the trial's argv.

    ``{trial_dir}`` in any string value becomes the trial's directory, so per-trial outputs
    (checkpoint ``dirpath``, ``export_dir``, logger ``save_dir``) never collide.
    """
    base = read_base(spec)
    filled = {k: fill_trial_dir(v, directory) for k, v in overrides.items()}
    tree = override_tree(base, {**filled, "trainer.default_root_dir": str(directory)})
    (directory / "overrides.yaml").write_text(yaml.safe_dump(tree, sort_keys=False))
    argv = [*launcher_argv(spec), command or spec.command]
    for path in spec.base_configs:
        argv += ["--config", str(path)]
    argv += ["--config", str(directory / "overrides.yaml")]
    callbacks = ((tree.get("trainer") or {}).get("callbacks")) or (base.get("trainer") or {}).get("callbacks")
    listed = isinstance(callbacks, list) and any(
        isinstance(c, Mapping) and str(c.get("class_path", "")).endswith("TrialResult") for c in callbacks
    )
    if not listed:
        argv.append(f"--trainer.callbacks+={TRIAL_RESULT_CLASS}")
    return argv


def run_trial(
    spec: SearchSpec,
    directory: Path,
    overrides: Mapping[str, Any],
    command: str | None = None,
    on_start: Callable[[int], None] | None = None,
) -> TrialOutcome:
    """Run one trial to the end and return its outcome (also written to ``outcome.json``).

    Never raises for a trial's own failure: a crash, an out-of-memory error or a
    timeout are outcomes.

    Args:
        spec: The search spec.
        directory: The trial's own directory (created; must not hold an older trial).
        overrides: Canonical config key → value.
        command: ``fit`` or ``validate`` (default: the spec's).
        on_start: Called with the child's pid once it runs.
    """
    directory.mkdir(parents=True, exist_ok=True)
    metrics_path = directory / "metrics.json"
    for stale in (metrics_path, directory / "outcome.json"):
        stale.unlink(missing_ok=True)
    argv = build_command(spec, directory, overrides, command)
    (directory / "command.txt").write_text(shlex.join(argv) + "\n")
    log_path = directory / "trial.log"
    env = trial_env({METRICS_PATH_ENV: str(metrics_path), TRIAL_DIR_ENV: str(directory)})
    start = time.perf_counter()
    timed_out = False
    method = resolve_start_method(spec.start_method, spec.launcher)
    proc: subprocess.Popen[bytes] | ForkedTrial
    with log_path.open("wb") as log:  # a forked trial appends to it through its own descriptor
        try:
            if method == "forkserver":
                proc = ForkedTrial(argv[len(spec.launcher) :], env, str(log_path))
            else:
                proc = subprocess.Popen(
                    argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
                )
        except (OSError, EOFError) as err:  # EOFError: the fork server died while starting
            what = "the trial fork server" if method == "forkserver" else repr(argv[0])
            outcome = TrialOutcome("fail", reason=f"could not start {what}: {err!r}", log=str(log_path))
            (directory / "outcome.json").write_text(outcome.to_json())
            return outcome
        if on_start is not None:
            on_start(proc.pid)
        try:
            returncode = proc.wait(timeout=spec.trial_timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.kill()
            returncode = proc.wait()
    wall = time.perf_counter() - start
    clean_log(log_path)  # progress-bar redraws and escape sequences out, once the trial has ended
    metrics = read_metrics(metrics_path)
    required = [m.name for m in spec.metrics]
    status, reason = classify(returncode, _tail(log_path), metrics, required, timed_out)
    outcome = TrialOutcome(
        status=status,
        metrics=dict(metrics or {}) if status == "complete" else {},
        reason=reason,
        returncode=returncode,
        wall_s=wall,
        log=str(log_path),
    )
    tmp = directory / ".outcome.json.tmp"
    tmp.write_text(outcome.to_json())
    os.replace(tmp, directory / "outcome.json")
    return outcome


def read_metrics(path: Path) -> dict[str, float] | None:
    """``metrics.json`` as floats, or None if missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    out: dict[str, float] = {}
    for k, v in data.items():
        if is_number(v):
            out[str(k)] = float(v)
    return out


def read_outcome(directory: Path) -> TrialOutcome | None:
    """The outcome a runner recorded in ``directory``, or None."""
    try:
        return TrialOutcome.from_dict(json.loads((directory / "outcome.json").read_text()))
    except (OSError, ValueError, KeyError):
        return None


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - _LOG_TAIL_CHARS))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
