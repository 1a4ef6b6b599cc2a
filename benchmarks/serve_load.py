"""Bounded load test of ``python -m lit_distill serve`` on loopback, against a plain single-request loop.

Starts ``serve`` on 127.0.0.1 with a free port, then, interleaved over ``--rounds`` rounds
(loop, c1, c8, c32, loop, c1, ...), sends the same question/context pairs:

* **loop** / **loop-spin**: a plain single-request loop in this process
  (``QuestionAnswerer.answer`` one pair at a time, no HTTP, the server's thread count),
  with ONNX Runtime's idle threads sleeping (as the server runs them) and spinning (its
  default); the faster of the two is the baseline of the ratios;
* **cN**: ``N`` client threads, each with one keep-alive HTTP connection, one pair per
  ``POST /predict``.

Prints, per level, throughput (requests/s), p50 / p95 / p99 latency, errors (non-200
answers) and lost requests (no answer: connection errors, timeouts), then the ratios the
goals are stated in: throughput against the loop, and p99 / p50. Loopback only, bounded in
requests (``--requests``, at most 20,000 per level) and time (``--time-limit`` seconds per
level and round, at most 600).

Usage::

    python -m benchmarks.serve_load deploy/student-int8 --data dev-v2.0.json --requests 600 --threads 2
    python -m benchmarks.serve_load deploy/student-int8            # pairs made up here, 1,000 per level

The functions :func:`start_server`, :func:`run_load` and :func:`make_pairs` are what
``tests/inference/test_serve.py`` uses for its 1,000-request check.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

MAX_REQUESTS = 20_000
MAX_SECONDS = 600.0
LOOPBACK = "127.0.0.1"
_NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
_CITIES = ["paris", "london", "rome", "oslo", "lisbon", "vienna", "prague", "dublin"]


def make_pairs(n: int) -> list[dict[str, str]]:
    """``n`` distinct question/context pairs (each context names its request number)."""
    pairs = []
    for i in range(n):
        name, city = _NAMES[i % len(_NAMES)], _CITIES[(i // len(_NAMES)) % len(_CITIES)]
        context = f"{name} lives in {city} and works at the bank . this is request {i} ."
        pairs.append({"question": f"where does {name} live ?", "context": context})
    return pairs


def pairs_from_file(path: str, n: int) -> list[dict[str, str]]:
    """The first ``n`` questions of a SQuAD-format file (repeated if it has fewer)."""
    from lit_distill.inference.questions import read_questions

    examples = read_questions(path)
    return [{"question": e.question, "context": e.context} for e in (examples * (n // len(examples) + 1))[:n]]


@dataclass
class LoadResult:
    """What one level of load produced.

    Attributes:
        label: ``loop`` or ``cN``.
        latencies: Seconds per answered request.
        seconds: Wall time the level ran (summed over rounds).
        errors: Answers with a status other than 200, or whose answer does not fit its context.
        lost: Requests without an answer (connection error, timeout).
        statuses: Count by HTTP status.
    """

    label: str
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0
    lost: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        """Requests answered or lost."""
        return len(self.latencies) + self.lost + self.errors

    @property
    def throughput(self) -> float:
        """Answered requests per second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency percentile ``q`` (0-100) in seconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _check_answer(body: bytes, pair: dict[str, str]) -> bool:
    """Whether a 200 body is one answer that fits its own context (catches answers sent to the wrong request)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    if not isinstance(answer, dict) or "text" not in answer:
        return False
    if answer["no_answer"]:
        return answer["text"] == ""
    return pair["context"][answer["start"] : answer["end"]] == answer["text"]


def run_load(
    port: int,
    pairs: Sequence[dict[str, str]],
    concurrency: int,
    result: LoadResult | None = None,
    time_limit: float = 60.0,
    timeout: float = 60.0,
) -> LoadResult:
    """Send one ``POST /predict`` per pair from ``concurrency`` threads; returns (or adds to) ``result``.

    Stops sending when ``time_limit`` seconds have passed (requests not sent are not counted).
    """
    if not 1 <= concurrency <= 256:
        raise ValueError(f"concurrency must be in 1..256, got {concurrency}")
    result = result or LoadResult(f"c{concurrency}")
    lock = threading.Lock()
    index = iter(range(len(pairs)))
    began = time.perf_counter()
    deadline = began + min(time_limit, MAX_SECONDS)

    def worker() -> None:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
        while time.perf_counter() < deadline:
            with lock:
                i = next(index, None)
            if i is None:
                break
            body = json.dumps(pairs[i]).encode()
            start = time.perf_counter()
            try:
                conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                data = response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
                with lock:
                    result.lost += 1
                continue
            elapsed = time.perf_counter() - start
            with lock:
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status == 200 and _check_answer(data, pairs[i]):
                    result.latencies.append(elapsed)
                else:
                    result.errors += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds += time.perf_counter() - began
    return result


def run_loop(qa: Any, pairs: Sequence[dict[str, str]], result: LoadResult, time_limit: float) -> LoadResult:
    """The baseline: ``qa.answer`` one pair at a time in this process."""
    began = time.perf_counter()
    for pair in pairs:
        if time.perf_counter() - began > time_limit:
            break
        start = time.perf_counter()
        qa.answer(pair["question"], pair["context"])
        result.latencies.append(time.perf_counter() - start)
    result.seconds += time.perf_counter() - began
    return result


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def start_server(
    artifact: str | Path, *options: str, startup_s: float = 180.0
) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """Run ``python -m lit_distill serve ARTIFACT --host 127.0.0.1 --port 0 OPTIONS``; yields (port, process).

    Waits until ``/health`` answers 200; stops the server with SIGTERM on exit (and kills it
    if it has not stopped 60 s later).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "lit_distill",
        "serve",
        str(artifact),
        "--host",
        LOOPBACK,
        "--port",
        "0",
        *options,
    ]
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        lines.append(first)
        if "serving on http://" not in first:
            raise RuntimeError(f"serve did not start: {''.join(lines + process.stdout.readlines())}")
        port = int(first.split("http://")[1].split()[0].rsplit(":", 1)[1])
        threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()  # type: ignore[arg-type]
        deadline = time.monotonic() + startup_s
        while not _health(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not become healthy: {''.join(lines)}")
            time.sleep(0.2)
        yield port, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.server_output = "".join(lines)  # type: ignore[attr-defined]


def _best_loop(results: list[LoadResult]) -> LoadResult:
    """The faster of the single-request loops (the baseline the ratios are against)."""
    return max((r for r in results if r.label.startswith("loop")), key=lambda r: r.throughput)


def _report(results: list[LoadResult]) -> str:
    loop = _best_loop(results)
    c1 = next((r for r in results if r.label == "c1"), None)
    lines = [
        "| level | requests | throughput (req/s) | vs loop | vs c1 | p50 ms | p95 ms | p99 ms | p99 / p50 | errors | lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        vs_c1 = f"{r.throughput / c1.throughput:.2f}x" if c1 and c1.throughput else "-"
        p50, p95, p99 = (1e3 * r.percentile(q) for q in (50, 95, 99))
        lines.append(
            f"| {r.label} | {r.requests} | {r.throughput:.1f} | {r.throughput / loop.throughput:.2f}x | {vs_c1} | "
            f"{p50:.1f} | {p95:.1f} | {p99:.1f} | {p99 / p50:.2f} | {r.errors} | {r.lost} |"
        )
    return "\n".join(lines)


def _goals(results: list[LoadResult]) -> list[str]:
    by = {r.label: r for r in results}
    out = [f"ratios against the faster single-request loop: {_best_loop(results).label}"]
    if "c32" in by:
        ratio = by["c32"].throughput / _best_loop(results).throughput
        out.append(
            f"throughput at c32 / single-request loop = {ratio:.2f}x (goal >= 1.5x): {'met' if ratio >= 1.5 else 'MISSED'}"
        )
    if "c8" in by:
        tail = by["c8"].percentile(99) / by["c8"].percentile(50)
        out.append(f"p99 / p50 at c8 = {tail:.2f} (goal <= 3): {'met' if tail <= 3 else 'MISSED'}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load test and print the table and the goals."""
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.splitlines()[0])
    parser.add_argument("artifact", help="an exported directory (e.g. an INT8 ONNX export)")
    parser.add_argument(
        "--data", default=None, help="SQuAD-format file to take the pairs from (default: made up)"
    )
    parser.add_argument(
        "--requests", type=int, default=1000, help="requests per level (default 1000, at most 20000)"
    )
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 8, 32], help="client threads per level"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--time-limit", type=float, default=120.0, help="seconds per level and round (at most 600)"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="model threads, server and loop alike (default 2)"
    )
    parser.add_argument("--max-batch-size", type=int, default=16, help="serve --max-batch-size")
    parser.add_argument("--batch-timeout", type=float, default=0.005, help="serve --batch-timeout")
    parser.add_argument("--windows-per-forward", type=int, default=4, help="serve --windows-per-forward")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be in 1..{MAX_REQUESTS}")
    if not 0 < args.time_limit <= MAX_SECONDS:
        parser.error(f"--time-limit must be in (0, {MAX_SECONDS:g}]")
    import torch

    from lit_distill.inference import QuestionAnswerer

    torch.set_num_threads(args.threads)
    pairs = pairs_from_file(args.data, args.requests) if args.data else make_pairs(args.requests)
    # the loop twice: with ONNX Runtime's spinning threads (its default) and without (as the server runs)
    loops = {
        "loop": QuestionAnswerer.from_artifact(args.artifact, threads=args.threads, spinning=False),
        "loop-spin": QuestionAnswerer.from_artifact(args.artifact, threads=args.threads),
    }
    options = ["--threads", str(args.threads), "--max-batch-size", str(args.max_batch_size)]
    options += [
        "--batch-timeout",
        str(args.batch_timeout),
        "--windows-per-forward",
        str(args.windows_per_forward),
    ]
    print(
        f"load: {platform_line()}; artifact {args.artifact}; {args.requests} requests per level", flush=True
    )
    with start_server(args.artifact, *options) as (port, _):
        run_load(port, pairs[: min(32, len(pairs))], 8, LoadResult("warm-up"))  # first requests load lazily
        for qa in loops.values():
            qa.answer_many(pairs[:8])
        results = [*(LoadResult(name) for name in loops), *(LoadResult(f"c{c}") for c in args.concurrency)]
        per_round = [pairs[r :: args.rounds] for r in range(args.rounds)]
        for chunk in per_round:
            for qa, result in zip(loops.values(), results, strict=False):
                run_loop(qa, chunk, result, args.time_limit)
            for c, result in zip(args.concurrency, results[len(loops) :], strict=True):
                run_load(port, chunk, c, result, args.time_limit)
    print(_report(results))
    for line in _goals(results):
        print(line)
    return 0


def platform_line() -> str:
    """CPU model, cores, load average and versions, for the record next to the numbers."""
    import platform

    cpu = platform.processor() or platform.machine()
    with suppress(OSError, StopIteration):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return f"{cpu}, {os.cpu_count()} cores, load average {load}, Python {platform.python_version()}"


if __name__ == "__main__":
    sys.exit(main())
