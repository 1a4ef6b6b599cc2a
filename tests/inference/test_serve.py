"""``serve`` end to end on 127.0.0.1 with a free port: answers, every bad input, 1,000 requests at concurrency 32.

One server for the whole check (one test), so that pytest-xdist does not start one per worker.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("litserve", reason='the serve extra (pip install -e ".[serve]")')
pytest.importorskip("onnxruntime", reason='the export extra (pip install -e ".[export]")')

from benchmarks.serve_load import LoadResult, make_pairs, run_load, start_server
from lit_distill.inference import QuestionAnswerer

LIMITS = [
    "--max-body-bytes", "100000",
    "--max-context-chars", "2000",
    "--max-question-chars", "200",
    "--max-pairs", "4",
    "--timeout", "3",
    "--threads", "1",
]  # fmt: skip


def post(port: int, body: bytes, content_type: str = "application/json") -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/predict", body, {"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def post_json(port: int, payload: Any) -> tuple[int, Any]:
    return post(port, json.dumps(payload).encode())


def slow_body(port: int) -> tuple[int, Any]:
    """Declare 100 bytes, send 12, then wait: the server must give up after --timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        sock.sendall(head + b'{"question":')
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.split(b"\r\n\r\n", 1)[1])


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


BAD_INPUTS: list[tuple[str, bytes, int, str]] = [
    (
        "empty question",
        json.dumps({"question": " ", "context": "alice lives in paris ."}).encode(),
        422,
        "question is empty",
    ),
    ("empty context", json.dumps({"question": "where ?", "context": ""}).encode(), 422, "context is empty"),
    (
        "1 MB context",
        json.dumps({"question": "where ?", "context": "paris " * 175_000}).encode(),
        413,
        "--max-body-bytes",
    ),
    (
        "long context",
        json.dumps({"question": "where ?", "context": "paris " * 500}).encode(),
        413,
        "--max-context-chars",
    ),
    (
        "long question",
        json.dumps({"question": "where " * 50, "context": "paris ."}).encode(),
        413,
        "--max-question-chars",
    ),
    ("non-UTF-8 bytes", b'{"question": "\xff\xfe where", "context": "paris"}', 400, "not UTF-8"),
    ("malformed JSON", b'{"question": "where", "context": ', 400, "not valid JSON"),
    ("empty body", b"", 400, "empty"),
    (
        "too many pairs",
        json.dumps({"pairs": [{"question": "where ?", "context": "paris ."}] * 5}).encode(),
        413,
        "--max-pairs",
    ),
    ("no pairs", json.dumps({"pairs": []}).encode(), 422, "non-empty list"),
    ("a list", json.dumps([{"question": "where ?", "context": "paris ."}]).encode(), 422, "JSON object"),
    ("unknown key", json.dumps({"question": "where ?", "contxt": "paris ."}).encode(), 422, "'contxt'"),
    (
        "number as context",
        json.dumps({"question": "where ?", "context": 7}).encode(),
        422,
        "must be a string",
    ),
]


def test_serve_answers_rejects_bad_input_and_survives_load(tiny_export: Path) -> None:
    qa = QuestionAnswerer.from_artifact(tiny_export, threads=1)
    good = {"question": "where does alice live ?", "context": "alice lives in paris and works at the bank ."}
    expected = qa.answer(**good).to_dict()
    with start_server(tiny_export, *LIMITS) as (port, process):
        # correct answers: one pair, and several (each request alone, as the in-process answerer)
        assert post_json(port, good) == (200, expected)
        pairs = make_pairs(4)
        status, body = post_json(port, {"pairs": pairs})
        assert status == 200 and body == {"answers": [a.to_dict() for a in qa.answer_many(pairs)]}
        assert post(port, json.dumps(good).encode(), "application/x-www-form-urlencoded") == (
            200,
            expected,
        )  # curl -d

        # every bad input: a 4xx naming what is wrong, and the next request is answered
        for name, body_bytes, want_status, want_text in BAD_INPUTS:
            status, answer = post(port, body_bytes)
            assert status == want_status and want_text in answer["error"], (name, status, answer)
            assert post_json(port, good) == (200, expected), f"no answer after {name}"
        status, answer = slow_body(port)
        assert status == 408 and "--timeout" in answer["error"], answer
        assert post_json(port, good) == (200, expected), "no answer after a request that timed out"

        # 1,000 requests at concurrency 32: every one answered, with an answer that fits its own context
        result = run_load(port, make_pairs(1000), 32, LoadResult("c32"), time_limit=120)
        assert (result.errors, result.lost, len(result.latencies)) == (0, 0, 1000), result.statuses
        assert result.statuses == {200: 1000}

        # graceful shutdown on SIGTERM: exit code 0, no process left behind
        workers = children(process.pid)
        assert workers  # the model worker, the HTTP worker, LitServe's queue manager
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    deadline = time.monotonic() + 10
    while (
        any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in workers) and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)]
    assert "server stopped" in process.server_output  # type: ignore[attr-defined]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_bad_artifacts_stop_serve_at_start_up(tmp_path: Path, tiny_export: Path) -> None:
    from lit_distill.__main__ import main as dispatch

    assert dispatch(["serve", str(tmp_path / "nowhere"), "--port", "0"]) == 2
    assert dispatch(["serve", str(tiny_export), "--max-pairs", "0"]) == 2
    assert dispatch(["serve", str(tiny_export), "--host", "8.8.8.8"]) == 2
    assert not os.environ.get("LIT_DISTILL_DEBUG")
