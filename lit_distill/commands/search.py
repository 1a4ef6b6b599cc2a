"""``python -m lit_distill search``: run, join, check and report a multi-objective search.

python -m lit_distill search --config SPEC.yaml              # same as `search run`
python -m lit_distill search run --config SPEC.yaml          # trials, then the report
python -m lit_distill search worker --config SPEC.yaml --storage postgresql://…   # one more worker
python -m lit_distill search report --config SPEC.yaml       # Pareto JSON/CSV + PNG figures
python -m lit_distill search check --config SPEC.yaml        # validate, build one trial; show space and command
python -m lit_distill search holdout --config SPEC.yaml      # re-evaluate the front on the holdout split
python -m lit_distill search dashboard --config SPEC.yaml    # optuna-dashboard on the study, live
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from lit_distill.search.launch import resolve_start_method
from lit_distill.search.spec import SearchSpec, SearchSpecError, load_spec

log = logging.getLogger("lit_distill.search")

SUBCOMMANDS = ("run", "worker", "report", "check", "holdout", "dashboard")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lit_distill search",
        description="Multi-objective search over distillation or length configurations (Optuna / SigOpt). "
        "Without a subcommand, `run` is assumed.",
    )
    sub = parser.add_subparsers(dest="subcommand", metavar="{" + ",".join(SUBCOMMANDS) + "}")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", required=True, help="search spec YAML")
        p.add_argument(
            "--storage", default=None, help="Optuna storage URL or journal file (overrides backend.storage)"
        )
        p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
        return p

    for name, text in (
        ("run", "run trials until the observation budget is used, then write the report"),
        ("worker", "join a search as one more worker (any machine sharing the storage); no report"),
    ):
        p = add(name, text)
        p.add_argument(
            "--threads",
            type=int,
            default=None,
            help="trials at once in this process (default: parallel_bandwidth for run, 1 for worker)",
        )
        p.add_argument("--budget", type=int, default=None, help="override observation_budget")
        p.add_argument(
            "--seed",
            type=int,
            default=None,
            help="sampler seed (default backend.seed); mixed with the trials already in the study "
            "(and, for worker, the worker id), so a resumed or extra process never replays proposals",
        )
        if name == "run":
            p.add_argument("--no-report", action="store_true", help="skip the report at the end")
    p = add("report", "write pareto.json, trials.csv and PNG figures from the stored trials")
    p.add_argument("--out", default=None, help="report directory (default: <output_dir>/report)")
    p.add_argument("--no-plots", action="store_true", help="JSON and CSV only")
    p.add_argument("--analysis-data", type=Path, help="SQuAD file: error analysis of the front's predictions")
    p = add(
        "check",
        "validate the spec and the config keys, list the code it names, print the space and an example "
        "trial's command, and build that trial in this process (no step runs; the launcher never starts)",
    )
    p.add_argument(
        "--static",
        action="store_true",
        help="do not build the example trial (no class of the configs is constructed)",
    )
    add("holdout", "re-evaluate the Pareto front on the holdout split (spec `holdout:`), then report")
    p = add(
        "dashboard", "serve optuna-dashboard on the study's storage (journal or database) to watch it live"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    return parser


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[search] %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m lit_distill search``; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] not in (*SUBCOMMANDS, "-h", "--help"):
        args_list.insert(0, "run")
    parser = _parser()
    args = parser.parse_args(args_list)
    if args.subcommand is None:
        parser.print_help()
        return 0
    _setup_logging(args.verbose)
    try:
        spec = load_spec(args.config)
        if args.subcommand == "check":
            return _check(spec, build=not args.static)
        if args.subcommand == "report":
            out = Path(args.out) if args.out else None
            return _report(spec, args.storage, out, not args.no_plots, args.analysis_data)
        if args.subcommand == "holdout":
            return _holdout(spec, args.storage)
        if args.subcommand == "dashboard":
            return _dashboard(spec, args.storage, args.host, args.port)
        return _run(spec, args)
    except SearchSpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("search interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def _run(spec: SearchSpec, args: argparse.Namespace) -> int:
    threads = args.threads or (spec.parallel_bandwidth if args.subcommand == "run" else 1)
    if threads < 1:
        raise SearchSpecError(f"--threads must be ≥ 1, got {threads}")
    for line in _how_trials_run(spec):
        log.info(line)
    if spec.backend.type == "sigopt":
        from lit_distill.search.sigopt_backend import SigOptWorker

        ran = SigOptWorker(spec, budget=args.budget).run(threads)
    else:
        from lit_distill.search.optuna_backend import OptunaWorker
        from lit_distill.search.storage import StorageLostError

        worker = OptunaWorker(
            spec,
            storage=args.storage,
            seed=args.seed,
            budget=args.budget,
            extra_worker=args.subcommand == "worker",
        )
        try:
            ran = worker.run(threads)
        except StorageLostError as err:  # not the user's input: exit 1, one message, no traceback
            print(f"error: {err}", file=sys.stderr)
            return 1
    log.info("this process ran %d trial(s)", ran)
    code = 0
    completed = any(r.outcome == "complete" for r in load_records(spec, args.storage))
    if args.subcommand == "run" and not args.no_report:
        code = _report(spec, args.storage, None, plots=completed)  # no empty figures
    if not completed:
        print(
            f"error: no trial of search {spec.name!r} completed; each failed trial's reason is logged "
            f"above and its full log is {spec.output_dir / 'trials'}/<number>/trial.log",
            file=sys.stderr,
        )
        return 1
    return code


def load_records(spec: SearchSpec, storage: str | None) -> list:  # type: ignore[type-arg]
    """The search's trials as report records, from whichever backend the spec names."""
    if spec.backend.type == "sigopt":
        from lit_distill.search.sigopt_backend import records_from_experiment

        return records_from_experiment(spec)
    from lit_distill.search.optuna_backend import load_study
    from lit_distill.search.records import records_from_study

    return records_from_study(load_study(spec, storage, create=False), spec)


def write_search_report(
    spec: SearchSpec,
    records: list,  # type: ignore[type-arg]
    out_dir: Path,
    plots: bool = True,
    analysis_data: Path | None = None,
) -> dict[str, Path]:
    """``search report``'s files: :func:`~lit_distill.search.report.write_report`, then the analysis.

    With ``analysis_data`` (a SQuAD file), also the error analysis of the front trials that
    wrote predictions for it, under ``<out_dir>/analysis`` (see :mod:`lit_distill.analysis.search_front`).

    Returns:
        Name → path of every file written.
    """
    from lit_distill.search.report import write_report

    files = write_report(spec, records, out_dir, plots)
    if analysis_data is not None:
        from lit_distill.analysis.search_front import analyze_front
        from lit_distill.search.records import flag_front

        front = flag_front(spec, records)  # best first objective first, as write_report ranks it
        files.update(analyze_front(front, analysis_data, out_dir / "analysis", plots=plots))
    return files


def _report(
    spec: SearchSpec, storage: str | None, out: Path | None, plots: bool, analysis_data: Path | None = None
) -> int:
    from lit_distill.search.holdout import attach_holdout

    records = attach_holdout(spec, load_records(spec, storage))
    files = write_search_report(spec, records, out or spec.output_dir / "report", plots, analysis_data)
    front = [r for r in records if r.on_front]
    names = [m.name for m in spec.objectives]
    print(f"{len(records)} trials, {len(front)} on the Pareto front ({', '.join(names)}):")
    for r in front:
        shown = ", ".join(f"{n}={r.metrics[n]:.4g}" for n in names)
        print(f"  trial {r.number}: {shown}  {r.assignment}")
    for name, path in files.items():
        print(f"{name}: {path}")
    return 0


def _how_trials_run(spec: SearchSpec) -> list[str]:
    """How trials start and, for Optuna, which sampler proposes them (for `check` and the run log)."""
    method = resolve_start_method(spec.start_method, spec.launcher)
    lines = [f"trials start as: {method} (start_method: {spec.start_method})"]
    if spec.backend.type == "optuna":
        from lit_distill.search.sampling import resolve_sampler

        lines.append(f"sampler: {resolve_sampler(spec)} (backend.sampler: {spec.backend.sampler})")
    return lines


def _check(spec: SearchSpec, build: bool = True) -> int:
    """``search check``: everything a trial would refuse, found in this process, before any trial runs."""
    from lit_distill.search.code_entries import code_entries
    from lit_distill.search.config_keys import canonical_keys, read_base, spec_keys
    from lit_distill.search.runner import build_command
    from lit_distill.search.space import config_overrides, decode, optimizer_space

    keys = canonical_keys(spec, spec_keys(spec))
    if spec.backend.type == "sigopt":
        from lit_distill.search.sigopt_backend import connection_settings

        connection_settings()
    print(f"search {spec.name!r}: {spec.command} trials on {spec.base_label}")
    print("code the spec and its base config name (run or imported by trials, docs/safety.md#search):")
    for line in code_entries(spec, read_base(spec)):
        print(f"  {line}")
    for line in _how_trials_run(spec):
        print(line)
    print(f"objectives: {[(m.name, m.objective) for m in spec.objectives]}")
    print(f"thresholds: {[(m.name, m.threshold) for m in spec.thresholded]}")
    print("optimiser space:")
    mid: dict[str, object] = {}
    for p in optimizer_space(spec):
        if p.type == "categorical":
            print(f"  {p.name}: one of {list(p.choices or ())}")
            mid[p.name] = (p.choices or (None,))[0]
        else:
            print(f"  {p.name}: {p.type} in [{p.low:g}, {p.high:g}]{' (log)' if p.log else ''}")
            mid[p.name] = (
                (p.low or 0) + ((p.high or 0) - (p.low or 0)) / 2
                if not p.log
                else ((p.low or 1) * (p.high or 1)) ** 0.5
            )
            if p.type == "int":
                mid[p.name] = round(float(mid[p.name]))  # type: ignore[arg-type]
    assignment = decode(spec, mid)
    overrides = {keys.get(k, k): v for k, v in config_overrides(spec, assignment).items()}
    example = spec.output_dir / "trials" / "example"
    example.mkdir(parents=True, exist_ok=True)
    argv = build_command(spec, example, overrides)
    print(f"example trial (mid-point of the space): {assignment}")
    print(f"  {shlex.join(argv)}")
    print(f"  overrides: {example / 'overrides.yaml'}")
    if build:
        from lit_distill.search.trial_parser import build_trial

        try:
            built = build_trial(argv[len(spec.launcher) :])
        except SearchSpecError as err:
            raise SearchSpecError(
                f"the example trial (mid-point of the space) cannot start (a trial exits with code 2 "
                f"on this): {err}"
            ) from None
        print("example trial built in this process (its module's setup ran; no step, no launcher):")
        for line in built:
            print(f"  {line}")
    print("spec OK")
    return 0


def _holdout(spec: SearchSpec, storage: str | None) -> int:
    from lit_distill.search.holdout import run_holdout

    records = load_records(spec, storage)
    run_holdout(spec, records)
    return _report(spec, storage, None, True)


DASHBOARD_EXTRA = 'pip install "lit_distill[dashboard]"'


def _dashboard(spec: SearchSpec, storage: str | None, host: str, port: int) -> int:
    """Serve optuna-dashboard on the spec's storage until interrupted."""
    try:
        import optuna_dashboard
    except ImportError:
        raise SearchSpecError(f"search dashboard needs optuna-dashboard: {DASHBOARD_EXTRA}") from None
    from lit_distill.search.storage import open_storage, storage_label

    store = open_storage(spec, storage)
    print(
        f"optuna-dashboard on {storage_label(spec, storage)}: http://{host}:{port}/ (Ctrl-C stops it)",
        flush=True,
    )
    optuna_dashboard.run_server(store, host=host, port=port)
    return 0
