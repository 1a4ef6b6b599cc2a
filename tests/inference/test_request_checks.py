"""What ``serve`` accepts, without a server: every rejection has its status and names its limit."""

from __future__ import annotations

import json

import pytest

from lit_distill.inference.request_checks import RequestError, ServeLimits, parse_body

LIMITS = ServeLimits(max_body_bytes=2000, max_context_chars=300, max_question_chars=50, max_pairs=3)


def body(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_one_pair_and_many_pairs() -> None:
    one = parse_body(body({"question": "where ?", "context": "in paris ."}), LIMITS)
    assert one.single and one.pairs == (("where ?", "in paris ."),)
    many = parse_body(
        body({"pairs": [{"question": "a", "context": "b"}, {"question": "c", "context": "d"}]}), LIMITS
    )
    assert not many.single and many.pairs == (("a", "b"), ("c", "d"))


@pytest.mark.parametrize(
    ("raw", "status", "text"),
    [
        (b"x" * 2001, 413, "--max-body-bytes"),
        (b'{"question": "\xc3\x28", "context": "b"}', 400, "not UTF-8"),
        (b"   ", 400, "empty"),
        (b'{"question": "a",', 400, "not valid JSON"),
        (body("just a string"), 422, "JSON object"),
        (body({"question": "a"}), 422, "context is missing"),
        (body({"question": "", "context": "b"}), 422, "question is empty"),
        (body({"question": "a", "context": "\n "}), 422, "context is empty"),
        (body({"question": ["a"], "context": "b"}), 422, "must be a string, got list"),
        (body({"question": "a", "context": "b", "id": 1}), 422, "unknown key(s) 'id'"),
        (body({"question": "a" * 51, "context": "b"}), 413, "limit is 50 (serve --max-question-chars)"),
        (body({"question": "a", "context": "b" * 301}), 413, "limit is 300 (serve --max-context-chars)"),
        (body({"pairs": [{"question": "a", "context": "b"}] * 4}), 413, "limit is 3 (serve --max-pairs)"),
        (body({"pairs": []}), 422, "non-empty list"),
        (body({"pairs": {"question": "a"}}), 422, "non-empty list"),
        (body({"pairs": [{"question": "a", "context": "b"}], "x": 1}), 422, "no other key"),
        (body({"pairs": [{"question": "a", "context": "b"}, "text"]}), 422, "pairs[1] must be an object"),
        (body({"pairs": [{"question": "a", "context": ""}]}), 422, "pairs[0].context is empty"),
    ],
)
def test_rejections_name_what_is_wrong(raw: bytes, status: int, text: str) -> None:
    with pytest.raises(RequestError) as err:
        parse_body(raw, LIMITS)
    assert err.value.status == status and text in err.value.message, err.value.message


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="--max-pairs"):
        ServeLimits(max_pairs=0).check()
    with pytest.raises(ValueError, match="--timeout"):
        ServeLimits(timeout_s=0).check()
