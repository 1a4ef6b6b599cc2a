"""``serve``: an HTTP server for an exported model on LitServe (Lightning's serving engine).

* ``POST /predict``: one pair ``{"question": ..., "context": ...}`` (answered by one answer
  object) or ``{"pairs": [...]}`` (answered by ``{"answers": [...]}``); LitServe's dynamic
  batching gathers the pairs of concurrent requests into one :meth:`QuestionAnswerer.answer_many`
  call (up to ``max_batch_size`` requests, waiting at most ``batch_timeout`` seconds).
* ``GET /health``: 200 ``ok`` once the model is loaded, 503 before; ``GET /info``: the
  artifact's decoding settings and the limits.
* Limits: :class:`RequestGate` checks every ``POST`` body in the HTTP process before it is
  queued (size, arrival time, UTF-8, JSON, shape, field lengths, number of pairs;
  :mod:`lit_distill.inference.request_checks`), so a bad request is answered with its own
  4xx and never reaches, or fails, a batch of good ones. A request the model does not take
  up within ``--timeout`` is answered 504 by LitServe.
* SIGTERM or Ctrl+C: LitServe's graceful shutdown (the HTTP workers finish the requests in
  flight, then the model workers stop); exit code 0.

LitServe is the optional ``serve`` extra; without it :func:`require_litserve` names the extra.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lit_distill.inference.request_checks import (
    QARequest,
    RequestError,
    ServeLimits,
    parse_body,
    parse_payload,
)
from lit_distill.user_errors import UserInputError

__all__ = [
    "SERVE_EXTRA_HINT",
    "QuestionAnsweringAPI",
    "RequestGate",
    "ServeOptions",
    "build_server",
    "require_litserve",
    "run_server",
]

SERVE_EXTRA_HINT = 'pip install -e ".[serve]"'
PREDICT_PATH = "/predict"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def require_litserve() -> Any:
    """Import LitServe, or fail with one line naming the ``serve`` extra."""
    try:
        import litserve
    except ImportError as err:
        raise UserInputError(f"serve needs LitServe, which is not installed: {SERVE_EXTRA_HINT}") from err
    return litserve


@dataclass(frozen=True)
class ServeOptions:
    """How ``serve`` runs the model.

    Attributes:
        artifact: The exported directory.
        threads: CPU threads per model worker (None: the runtime's choice).
        null_score_diff_threshold: Replace the artifact's no-answer threshold (None: keep it).
        max_batch_size: Requests LitServe gathers into one model call (1: no dynamic batching).
        batch_timeout: Seconds LitServe waits to fill a batch.
        windows_per_forward: Windows per forward call inside a batch (windows are sorted by length
            first; small forward batches waste little on padding: 4 measured best for MiniLM-L6
            INT8 on real SQuAD contexts, docs/serve.md).
        workers: Model worker processes.
        spinning: ONNX Runtime's idle threads spin-wait between calls (default off: the HTTP
            process and LitServe's queue need the cores between batches).
    """

    artifact: str
    threads: int | None = None
    null_score_diff_threshold: float | None = None
    max_batch_size: int = 16
    batch_timeout: float = 0.005
    windows_per_forward: int = 4
    workers: int = 1
    spinning: bool = False


async def _send_json(send: Send, status: int, content: dict[str, Any]) -> None:
    body = json.dumps(content).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGate:
    """ASGI middleware: reads and checks a ``POST`` body before the app sees it.

    Rejections are ``{"error": MESSAGE}`` with the status of :class:`RequestError`; a body
    that passes is handed to the app unchanged.

    Args:
        app: The wrapped ASGI app.
        limits: The request limits.
        path: The route whose bodies are checked.
    """

    def __init__(self, app: ASGIApp, limits: ServeLimits, path: str = PREDICT_PATH) -> None:
        self.app = app
        self.limits = limits
        self.path = path

    async def _read(self, receive: Receive, declared: int | None) -> bytes:
        limit = self.limits.max_body_bytes
        if declared is not None and declared > limit:
            raise RequestError(
                413,
                f"the request body has {declared:,} bytes; the limit is {limit:,} (serve --max-body-bytes)",
            )
        chunks: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError as err:
                raise RequestError(
                    408,
                    f"the request body did not arrive within {self.limits.timeout_s:g} s (serve --timeout)",
                ) from err
            if message["type"] == "http.disconnect":
                raise ConnectionError("client disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(
                    413,
                    f"the request body has more than {limit:,} bytes; the limit is {limit:,} (serve --max-body-bytes)",
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        try:
            body = await self._read(receive, int(declared) if declared and declared.isdigit() else None)
            parse_body(body, self.limits)
        except RequestError as err:
            await _send_json(send, err.status, {"error": err.message})
            return
        except ConnectionError:
            return
        replayed = False
        # the body is JSON whatever it was declared as (`curl -d` sends form-urlencoded)
        scope = dict(scope)
        scope["headers"] = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-type"]
        scope["headers"].append((b"content-type", b"application/json"))

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


try:  # the optional ``serve`` extra; without it build_server names the extra
    from litserve import LitAPI as _LitAPIBase
except ImportError:  # pragma: no cover - exercised without the extra
    _LitAPIBase = object


class QuestionAnsweringAPI(_LitAPIBase):  # type: ignore[misc,valid-type]
    """LitServe's view of a :class:`~lit_distill.inference.QuestionAnswerer` (one per model worker).

    Args:
        options: The artifact and how to run it.
        limits: The request limits (already enforced by :class:`RequestGate`).
    """

    def __init__(self, options: ServeOptions, limits: ServeLimits) -> None:
        super().__init__(max_batch_size=options.max_batch_size, batch_timeout=options.batch_timeout)
        self.options = options
        self.limits = limits

    def setup(self, device: str) -> None:
        """Load the artifact (in the model worker process)."""
        from lit_distill.inference import QuestionAnswerer

        self.qa = QuestionAnswerer.from_artifact(
            self.options.artifact,
            threads=self.options.threads,
            batch_size=self.options.windows_per_forward,
            null_score_diff_threshold=self.options.null_score_diff_threshold,
            spinning=self.options.spinning,
        )

    def decode_request(self, request):  # type: ignore[no-untyped-def]  # LitServe reads the annotation
        """The checked pairs of one request (RequestGate has checked them already).

        ``request`` stays unannotated: LitServe takes its annotation as the request type.
        """
        return parse_payload(request, self.limits)

    def batch(self, inputs: list[QARequest]) -> list[QARequest]:
        """Requests stay whole: :meth:`predict` answers all their pairs in one call."""
        return inputs

    def unbatch(self, output: list[Any]) -> list[Any]:
        """One result per request, in order."""
        return output

    def predict(self, x: Any) -> Any:
        """Answers of one request, or of a list of requests (dynamic batching) in one model call."""
        items: list[QARequest] = x if isinstance(x, list) else [x]
        out: list[Any] = []
        try:
            answers = self.qa.answer_many([p for item in items for p in item.pairs])
            for item in items:
                out.append(answers[: len(item.pairs)])
                answers = answers[len(item.pairs) :]
        except Exception:  # answer each request alone, so that one failure fails only itself
            out = []
            for item in items:
                try:
                    out.append(self.qa.answer_many(list(item.pairs)))
                except Exception as err:
                    out.append(err)
        results = [(item.single, answers) for item, answers in zip(items, out, strict=True)]
        return results if isinstance(x, list) else results[0]

    def encode_response(self, output):  # type: ignore[no-untyped-def]  # LitServe reads the annotation
        """One answer object for a single pair, ``{"answers": [...]}`` for ``pairs`` (unannotated, as above)."""
        single, answers = output
        if isinstance(answers, Exception):
            from fastapi.responses import JSONResponse

            status = 422 if isinstance(answers, UserInputError) else 500
            return JSONResponse(status_code=status, content={"error": str(answers) or type(answers).__name__})
        if single:
            return answers[0].to_dict()
        return {"answers": [a.to_dict() for a in answers]}


def build_server(options: ServeOptions, limits: ServeLimits) -> Any:
    """A ``litserve.LitServer`` answering with ``options.artifact`` under ``limits``.

    The artifact's manifest and files are checked here, before any worker starts.

    Raises:
        UserInputError: a bad option, a missing ``serve`` extra, a missing or newer artifact.
    """
    from lit_distill.export.artifact import check_artifact_files, read_manifest

    try:
        limits.check()
    except ValueError as err:
        raise UserInputError(str(err)) from err
    for name in ("max_batch_size", "windows_per_forward", "workers"):
        if getattr(options, name) < 1:
            raise UserInputError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(options, name)}")
    if not 0 <= options.batch_timeout < limits.timeout_s:
        raise UserInputError(
            f"--batch-timeout must be >= 0 and below --timeout ({limits.timeout_s:g} s), got {options.batch_timeout}"
        )
    manifest = read_manifest(options.artifact)
    check_artifact_files(options.artifact, manifest)
    ls = require_litserve()
    api = QuestionAnsweringAPI(options, limits)
    metadata = {
        "artifact": Path(options.artifact).name,
        "format": manifest.format,
        "int8": manifest.int8,
        "squad_version": manifest.squad_version,
        "max_seq_length": manifest.max_seq_length,
        "doc_stride": manifest.doc_stride,
        "null_score_diff_threshold": (
            manifest.null_score_diff_threshold
            if options.null_score_diff_threshold is None
            else options.null_score_diff_threshold
        ),
        "limits": asdict(limits),
        "max_batch_size": options.max_batch_size,
    }
    return ls.LitServer(
        api,
        accelerator="cpu",
        workers_per_device=options.workers,
        timeout=limits.timeout_s,
        model_metadata=metadata,
        middlewares=[(RequestGate, {"limits": limits})],
    )


def check_address(host: str, port: int) -> None:
    """``--host`` and ``--port`` as LitServe accepts them.

    Raises:
        UserInputError: naming the option and what is allowed.
    """
    if host not in ("127.0.0.1", "0.0.0.0", "::"):
        raise UserInputError(
            f"--host {host!r}; allowed: 127.0.0.1 (this machine), 0.0.0.0 or :: (all interfaces)"
        )
    if port != 0 and not 1024 <= port <= 65535:
        raise UserInputError(f"--port {port}; allowed: 1024-65535, or 0 for a free port")


def free_port(host: str) -> int:
    """A TCP port the OS reports free on ``host`` (for ``--port 0``)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


_MAIN_PID: list[int] = []


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM in the main process: LitServe's graceful shutdown path (as Ctrl+C); in a child, a quiet exit."""
    if _MAIN_PID and os.getpid() != _MAIN_PID[0]:
        raise SystemExit(0)  # a forked HTTP worker re-raising the signal after its own graceful shutdown
    raise KeyboardInterrupt


def run_server(
    server: Any, host: str, port: int, log_level: str = "warning", announce: Callable[[str], None] = print
) -> None:
    """Serve until SIGTERM / SIGINT, then shut down gracefully.

    Args:
        server: From :func:`build_server`.
        host: ``127.0.0.1`` (this machine only), ``0.0.0.0`` or ``::`` (every interface).
        port: 1024-65535, or 0 for a free port chosen by the OS (announced).
        log_level: uvicorn / LitServe log level.
        announce: Where the line with the address goes.
    """
    if host not in ("127.0.0.1", "0.0.0.0", "::"):
        raise UserInputError(
            f"--host {host!r}; allowed: 127.0.0.1 (this machine), 0.0.0.0 or :: (all interfaces)"
        )
    if port == 0:
        port = free_port(host)
    elif not 1024 <= port <= 65535:
        raise UserInputError(f"--port {port}; allowed: 1024-65535, or 0 for a free port")
    _MAIN_PID[:] = [os.getpid()]
    signal.signal(signal.SIGTERM, _interrupt)
    shown = f"[{host}]" if ":" in host else host
    announce(
        f"serving on http://{shown}:{port} (POST {PREDICT_PATH}, GET /health); SIGTERM or Ctrl+C stops it"
    )
    sys.stdout.flush()
    server.run(
        host=host,
        port=port,
        log_level=log_level,
        generate_client_file=False,
        api_server_worker_type="process",
    )
    announce("server stopped")
