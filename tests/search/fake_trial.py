"""A stand-in for ``python -m lit_distill`` in the search tests: milliseconds instead of seconds.

Usage (as a launcher): ``python fake_trial.py fit --config BASE --config OVERRIDES [--trainer.callbacks+=X]``.
It merges the config files as LightningCLI would (later mappings win), then writes
``metrics.json`` to ``$LIT_DISTILL_TRIAL_METRICS`` with the same known function of
``model.init_args`` as :class:`tests.search.toy.ToyQA`. ``model.init_args.fail`` makes it
die like a real trial; ``model.init_args.sleep`` (seconds) makes it slow.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import yaml


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def main(argv: list[str]) -> int:
    config: dict[str, Any] = {}
    for i, arg in enumerate(argv):
        if arg == "--config":
            with open(argv[i + 1]) as f:
                config = merge(config, yaml.safe_load(f) or {})
    if "--print_config" in argv:  # like LightningCLI, defaults not written in the YAML appear
        config = merge({"model": {"init_args": {"other": 0.0, "sleep": 0.0, "fail": "none"}}}, config)
        print(yaml.safe_dump(config))
        return 0
    args = (config.get("model") or {}).get("init_args") or {}
    trial_dir = os.environ.get("LIT_DISTILL_TRIAL_DIR")
    if trial_dir:  # one line per run, so a test can prove no trial ran twice
        with open(os.path.join(os.path.dirname(trial_dir), "runs.txt"), "a") as f:
            f.write(os.path.basename(trial_dir) + "\n")
    time.sleep(float(args.get("sleep", 0.0)))
    if args.get("tag") == "bar":  # as tqdm draws into a file: carriage returns and colours, no newline
        for pct in (0, 50, 100):
            sys.stderr.write(f"\r\x1b[32m{pct:3d}%|{'#' * (pct // 10):<10}|\x1b[0m")
        sys.stderr.write("\n")
        sys.stderr.flush()
    fail = args.get("fail", "none")
    if fail in ("input", "input_knob"):
        detail = f" (knob {args.get('knob')})" if fail == "input_knob" else ""
        print(f"python -m lit_distill fit: error: toy input error{detail}", file=sys.stderr)
        return 2
    if fail == "cuda_oom":
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB", file=sys.stderr)
        return 1
    if fail == "crash":
        print("ValueError: fake crash", file=sys.stderr)
        return 1
    knob = float(args.get("knob", 0.5))
    exact = 90.0 - 100.0 * abs(knob - 0.3)
    lengths = args.get("length_config") or []
    metrics = {
        "exact": exact,
        "f1": exact + 5.0,
        "HasAns_f1": exact + 6.0,
        "NoAns_f1": exact + 4.0,
        "length_sum": float(sum(lengths)),
        "num_parameters": float(10 * int(args.get("hidden", 4)) + 1),
        "num_parameters_no_embeddings": float(int(args.get("hidden", 4)) + 1),
        "eval_time_s": 0.001 * (1 + sum(lengths)),
        "other": float(args.get("other", 0.0)),
    }
    with open(os.environ["LIT_DISTILL_TRIAL_METRICS"], "w") as f:
        json.dump(metrics, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[2:]))
