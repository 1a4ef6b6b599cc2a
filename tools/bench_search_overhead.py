"""Per-trial overhead of the search's subprocess machinery on CPU.

Runs ``--trials`` trials of a do-nothing module (tests/search/toy.py: one training step on
eight vectors, one validation batch) through ``lit_distill.search.runner.run_trial``,
exactly as a search runs them: a fresh ``python -m lit_distill fit`` process, the base
config plus the trial's overrides file, the TrialResult callback, metrics.json read back.
Since the toy's own work is milliseconds, the time per trial *is* the overhead. It
reports wall time and the trial process's CPU time (user + sys): on a shared, busy
machine the wall time is inflated by waiting for a core, while the CPU time is what
an idle machine would spend (start-up is single-threaded). For attribution it also
times a bare interpreter, ``import torch, lightning`` and the project's imports.

    python tools/bench_search_overhead.py --trials 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lit_distill.search.runner import run_trial  # noqa: E402
from lit_distill.search.spec import parse_spec  # noqa: E402


def _time(cmd: list[str], repeats: int) -> float:
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw = {
            "name": "overhead",
            "base_config": str(ROOT / "tests" / "search" / "toy_fit.yaml"),
            "parameters": [
                {"name": "knob", "key": "model.knob", "type": "double", "bounds": {"min": 0, "max": 1}}
            ],
            "metrics": [{"name": "exact"}, {"name": "num_parameters", "objective": "minimize"}],
            "output_dir": tmp,
        }
        spec = parse_spec(raw, Path(tmp) / "spec.yaml")
        walls, inside, cpu = [], [], []
        for i in range(args.trials):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            outcome = run_trial(spec, Path(tmp) / f"t{i}", {"model.init_args.knob": 0.1 * i})
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            if outcome.status != "complete":
                raise SystemExit(f"trial {i} {outcome.status}: {outcome.reason}")
            walls.append(outcome.wall_s)
            inside.append(outcome.metrics.get("run_time_s", 0.0))
    bare = _time([sys.executable, "-c", "pass"], 3)
    imports = _time([sys.executable, "-c", "import torch, lightning"], 3)
    project = _time(
        [sys.executable, "-c", "from lit_distill.cli import _register_project_classes as r; r()"], 3
    )
    wall = statistics.median(walls)
    print(
        f"trials: {args.trials}; per-trial wall (median): {wall:.2f} s  [min {min(walls):.2f}, max {max(walls):.2f}]"
    )
    print(f"  of which inside Trainer (setup → metrics written): {statistics.median(inside):.2f} s")
    print(
        f"  bare python start: {bare:.2f} s; import torch + lightning: {imports:.2f} s; "
        f"+ the project's modules/data/callbacks: {project:.2f} s"
    )
    print(
        f"  left for the search machinery itself (CLI parse, trainer, overrides, metrics hand-back): "
        f"{wall - project - statistics.median(inside):.2f} s"
    )
    load = os.getloadavg()[0]
    print(
        f"  CPU time of the trial process (user + sys, median): {statistics.median(cpu):.2f} s "
        f"(on a busy machine, wall time is inflated; load average now {load:.1f} on {os.cpu_count()} cores)"
    )
    print(f"overhead per trial: wall {wall:.2f} s, CPU {statistics.median(cpu):.2f} s (target < 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
