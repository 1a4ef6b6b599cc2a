"""Per-trial overhead of the search's trial machinery on CPU, for both start methods.

Runs ``--trials`` trials of a do-nothing module (tests/search/toy.py: one training step on
eight vectors, one validation batch) through ``lit_distill.search.runner.run_trial``,
exactly as a search runs them (base config plus the trial's overrides file, the
TrialResult callback, metrics.json read back), once per start method and trial,
interleaved so that both see the same machine load:

* ``subprocess`` — a fresh ``python -m lit_distill fit`` process per trial;
* ``forkserver`` — a fork of the pre-imported trial server (the default on Linux).

Since the toy's own work is milliseconds, the time per trial *is* the overhead. The
forkserver's first trial also starts the server (one import of torch, Lightning and the
project), which a search pays once; it is printed apart and left out of the median.
For attribution it also times a bare interpreter and ``import torch, lightning``.

    python -m benchmarks.search_overhead --trials 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lit_distill.search.runner import run_trial
from lit_distill.search.spec import SearchSpec, parse_spec

ROOT = Path(__file__).resolve().parents[1]

METHODS = ("subprocess", "forkserver")


def _time(cmd: list[str], repeats: int) -> float:
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def _spec(tmp: Path, method: str) -> SearchSpec:
    raw = {
        "name": f"overhead-{method}",
        "base_config": str(ROOT / "tests" / "search" / "toy_fit.yaml"),
        "parameters": [
            {"name": "knob", "key": "model.knob", "type": "double", "bounds": {"min": 0, "max": 1}}
        ],
        "metrics": [{"name": "exact"}, {"name": "num_parameters", "objective": "minimize"}],
        "output_dir": str(tmp / method),
        "start_method": method,
    }
    return parse_spec(raw, tmp / "spec.yaml")


def main() -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--trials", type=int, default=5, help="trials per start method after the first")
    args = parser.parse_args()
    os.chdir(ROOT)  # trials import tests.search.toy from here
    walls: dict[str, list[float]] = {m: [] for m in METHODS}
    inside: dict[str, list[float]] = {m: [] for m in METHODS}
    first: dict[str, float] = {}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.trials} trials per method")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        specs = {m: _spec(tmp, m) for m in METHODS}
        for i in range(args.trials + 1):
            for method in METHODS:
                start = time.perf_counter()
                outcome = run_trial(specs[method], tmp / method / f"t{i}", {"model.init_args.knob": 0.1 * i})
                wall = time.perf_counter() - start  # the runner's whole call: overrides file to outcome.json
                if outcome.status != "complete":
                    raise SystemExit(f"{method} trial {i} {outcome.status}: {outcome.reason}")
                print(f"  trial {i} {method:<10} {wall:6.2f} s")
                if i == 0:
                    first[method] = wall
                    continue
                walls[method].append(wall)
                inside[method].append(outcome.metrics.get("run_time_s", 0.0))
    bare = _time([sys.executable, "-c", "pass"], 3)
    imports = _time([sys.executable, "-c", "import torch, lightning"], 3)
    print(f"bare python start {bare:.2f} s; `import torch, lightning` in a fresh process {imports:.2f} s")
    print(f"{'start method':<12} {'first':>7} {'median':>7} {'min':>7} {'max':>7} {'in Trainer':>11}")
    for method in METHODS:
        w = walls[method]
        print(
            f"{method:<12} {first[method]:7.2f} {statistics.median(w):7.2f} {min(w):7.2f} {max(w):7.2f} "
            f"{statistics.median(inside[method]):11.2f}"
        )
    fork, sub = statistics.median(walls["forkserver"]), statistics.median(walls["subprocess"])
    print(f"load average now {os.getloadavg()[0]:.1f}")
    print(f"overhead per trial (median after the first): subprocess {sub:.2f} s, forkserver {fork:.2f} s")
    print(f"forkserver speed-up: {sub / fork:.1f}x; target < 5 s: {'met' if fork < 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
