"""What ``serve`` accepts: the request limits and the check of a request body (pure, no server).

A body is one pair ``{"question": ..., "context": ...}`` or many,
``{"pairs": [{"question": ..., "context": ...}, ...]}``. Every rejection is a
:class:`RequestError` with an HTTP status and one message that names what is wrong and,
for a limit, the limit and the ``serve`` option that sets it:

* 400: the body is not UTF-8, or not JSON;
* 408: the body did not arrive within ``--timeout``;
* 413: the body, a context, a question or the number of pairs is over its limit;
* 422: valid JSON of the wrong shape (a missing, empty or non-string field, no pairs, unknown keys).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["QARequest", "RequestError", "ServeLimits", "parse_body", "parse_payload"]


@dataclass(frozen=True)
class ServeLimits:
    """Request limits of ``serve``.

    Attributes:
        max_body_bytes: Largest request body (``--max-body-bytes``).
        max_context_chars: Longest context in characters (``--max-context-chars``).
        max_question_chars: Longest question in characters (``--max-question-chars``).
        max_pairs: Most question/context pairs in one request (``--max-pairs``).
        timeout_s: Seconds a request may take to arrive, and to wait for the model (``--timeout``).
    """

    max_body_bytes: int = 1_048_576
    max_context_chars: int = 100_000
    max_question_chars: int = 1_000
    max_pairs: int = 32
    timeout_s: float = 30.0

    def check(self) -> None:
        """Raise ``ValueError`` naming the first limit that is not positive."""
        for name in ("max_body_bytes", "max_context_chars", "max_question_chars", "max_pairs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a whole number >= 1, got {value!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"--timeout must be > 0 seconds, got {self.timeout_s!r}")


class RequestError(Exception):
    """A request ``serve`` rejects.

    Args:
        status: The HTTP status (400, 408, 413 or 422).
        message: What is wrong, naming the field or the limit.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class QARequest:
    """A checked request: its pairs, and whether it was a single pair (answered as one object)."""

    pairs: tuple[tuple[str, str], ...]
    single: bool


def _text(value: Any, where: str, limit: int, option: str) -> str:
    if value is None:
        raise RequestError(422, f"{where} is missing")
    if not isinstance(value, str):
        raise RequestError(422, f"{where} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise RequestError(422, f"{where} is empty; give a non-empty string")
    if len(value) > limit:
        raise RequestError(
            413, f"{where} has {len(value):,} characters; the limit is {limit:,} (serve {option})"
        )
    return value


def _pair(obj: Any, where: str, limits: ServeLimits) -> tuple[str, str]:
    if not isinstance(obj, dict):
        raise RequestError(422, f"{where} must be an object with 'question' and 'context'")
    unknown = sorted(set(obj) - {"question", "context"})
    if unknown:
        raise RequestError(
            422, f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; allowed: 'question', 'context'"
        )
    prefix = f"{where}." if where != "the request" else ""
    question = _text(
        obj.get("question"), f"{prefix}question", limits.max_question_chars, "--max-question-chars"
    )
    context = _text(obj.get("context"), f"{prefix}context", limits.max_context_chars, "--max-context-chars")
    return question, context


def parse_payload(payload: Any, limits: ServeLimits) -> QARequest:
    """Check a parsed JSON body.

    Raises:
        RequestError: 422 for the wrong shape, 413 for a limit exceeded.
    """
    if isinstance(payload, dict) and "pairs" in payload:
        unknown = sorted(set(payload) - {"pairs"})
        if unknown:
            raise RequestError(
                422, f"a request with 'pairs' takes no other key; got {', '.join(map(repr, unknown))}"
            )
        pairs = payload["pairs"]
        if not isinstance(pairs, list) or not pairs:
            raise RequestError(422, "'pairs' must be a non-empty list of {'question', 'context'} objects")
        if len(pairs) > limits.max_pairs:
            raise RequestError(
                413,
                f"the request has {len(pairs):,} pairs; the limit is {limits.max_pairs} (serve --max-pairs)",
            )
        checked = tuple(_pair(p, f"pairs[{i}]", limits) for i, p in enumerate(pairs))
        return QARequest(checked, single=False)
    if not isinstance(payload, dict):
        raise RequestError(
            422,
            'the body must be a JSON object: {"question": ..., "context": ...} or '
            '{"pairs": [{"question": ..., "context": ...}, ...]}',
        )
    return QARequest((_pair(payload, "the request", limits),), single=True)


def parse_body(body: bytes, limits: ServeLimits) -> QARequest:
    """Check a raw request body (size, UTF-8, JSON, shape, limits).

    Raises:
        RequestError: naming what is wrong (see the module's list of statuses).
    """
    if len(body) > limits.max_body_bytes:
        raise RequestError(
            413,
            f"the request body has {len(body):,} bytes; the limit is {limits.max_body_bytes:,} "
            "(serve --max-body-bytes)",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RequestError(
            400, f"the request body is not UTF-8 (byte 0x{body[err.start]:02x} at position {err.start})"
        ) from err
    if not text.strip():
        raise RequestError(400, "the request body is empty; send a JSON object")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as err:
        raise RequestError(
            400, f"the request body is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from err
    return parse_payload(payload, limits)
