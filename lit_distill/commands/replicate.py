"""``python -m lit_distill replicate``: the whole chain on real SQuAD with one command, resumably.

The command line of :mod:`lit_distill.replicate` (the stages, their configurations and the
results are there; :func:`lit_distill.replicate.driver.replicate` runs a chain)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lit_distill.replicate import driver
from lit_distill.replicate.chains import CHAINS
from lit_distill.replicate.settings import PROFILES

__all__ = ["build_parser", "main"]

PROG = "python -m lit_distill replicate"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description=driver.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--profile", choices=sorted(PROFILES), default="cpu", help="schedule (default cpu)")
    p.add_argument("--encoder", required=True, help="pretrained encoder directory (Hugging Face BERT)")
    p.add_argument("--output", required=True, help="run directory (rerun the same command to resume)")
    p.add_argument("--train", help="SQuAD 1.1/2.0 training file")
    p.add_argument("--eval", help="SQuAD 1.1/2.0 evaluation file (held-out articles)")
    p.add_argument("--split-from", help="instead of --train/--eval: split this SQuAD file by article")
    p.add_argument(
        "--heldout-articles", help="comma-separated article titles to hold out (with --split-from)"
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--student-layers", help="teacher layers the students start from, e.g. 1,3,5 (default every other)"
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads for bench and export")
    p.add_argument("--limit-train-batches", type=int, default=None, help="smoke runs: batches per epoch")
    p.add_argument("--limit-eval-batches", type=int, default=None, help="smoke runs: evaluation batches")
    p.add_argument("--max-seq-length", type=int, default=None, help="override the profile's")
    p.add_argument("--doc-stride", type=int, default=None, help="override the profile's")
    p.add_argument("--batch-size", type=int, default=None, help="override the profile's")
    p.add_argument("--bench-repeats", type=int, default=None, help="override the profile's")
    p.add_argument("--epochs", type=int, default=None, help="smoke runs: this many epochs for every stage")
    p.add_argument(
        "--teacher-epochs",
        type=int,
        default=None,
        help="the teacher stage's epochs (after --epochs; the SQuAD 2.0 runs: 4, docs/replication.md)",
    )
    p.add_argument(
        "--stop-after", default=None, metavar="STAGE", help="run the stages up to this one (e.g. teacher)"
    )
    p.add_argument("--chain", choices=CHAINS, default="distill", help="which chain to run (default distill)")
    d = p.add_argument_group("--chain deploy")
    d.add_argument(
        "--subnetwork-weight", type=float, default=1.0, help="LengthDrop sub-network weight (1: LAT)"
    )
    d.add_argument(
        "--layer-drop", type=float, default=0.2, help="LengthDrop's LayerDrop probability (0.2: LAT)"
    )
    d.add_argument(
        "--full-layer-drop", action="store_true", help="LayerDrop in the full model's pass too (LAT)"
    )
    d.add_argument("--deploy-control", action="store_true", help="also the same epochs without LengthDrop")
    d.add_argument(
        "--search-articles", help="with --split-from: articles taken out of training for the search"
    )
    d.add_argument("--search-file", help="with --train/--eval: the SQuAD file the lengths are searched on")
    d.add_argument("--search-trials", type=int, default=None, help="length-search trials (profile: 40 / 150)")
    d.add_argument(
        "--fixed-steps",
        default="0.05,0.1,0.15,0.2,0.25",
        help="hand-picked length curve exported beside the searched front (empty: none)",
    )
    d.add_argument("--search-min-ratio", type=float, default=0.2, help="least share of tokens a layer keeps")
    d.add_argument("--keep-f1", type=float, default=0.97, help="share of full F1 the chosen lengths keep")
    d.add_argument(
        "--int8-schemes",
        default="s8-per-channel,static-minmax,static-percentile,static-entropy",
        help="INT8 schemes exported at full length and at the chosen lengths (comma-separated)",
    )
    d.add_argument("--fallback-scheme", default="static-percentile", help="scheme exported with the fallback")
    d.add_argument("--int8-budget", type=float, default=1.0, help="the fallback's budget in F1 points")
    d.add_argument(
        "--calibration-windows", type=int, default=128, help="training windows static INT8 calibrates on"
    )
    d.add_argument(
        "--deploy-seq-length", type=int, default=384, help="tokens per window, evaluation and timing"
    )
    o = p.add_argument_group("--chain pruning / heads")
    o.add_argument(
        "--prune-control", action="store_true", help="pruning: also the unpruned copy, same epochs"
    )
    o.add_argument("--head-seeds", default=None, help="heads: comma-separated seeds (default SEED,43,44)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``replicate``; returns the exit code (2 for bad input, 1 for a failed stage)."""
    return driver.replicate(build_parser().parse_args(argv))
