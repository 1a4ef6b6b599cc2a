"""Storage URLs: every secret form hidden in messages and logs; URLs from a variable or a file (#32.4)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from lit_distill.search.spec import SearchSpecError
from lit_distill.search.storage_url import read_storage_value, redact, scrub


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:s3cret@db:5432/s", "postgresql://u:***@db:5432/s"),
        ("postgresql://u@db/s?password=s3cret", "postgresql://u@db/s?password=***"),
        (
            "postgresql://u@db/s?sslmode=require&sslpassword=s3cret&connect_timeout=3",
            "postgresql://u@db/s?sslmode=require&sslpassword=***&connect_timeout=3",
        ),
        ("postgresql+psycopg://u:p%40ss@db/s?PASSWORD=x", "postgresql+psycopg://u:***@db/s?PASSWORD=***"),
        ("sqlite:///study.db", "sqlite:///study.db"),
        ("runs/study.journal", "runs/study.journal"),
    ],
)
def test_redact_hides_every_secret_form(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_driver_messages_are_scrubbed_of_every_secret_form() -> None:
    url = "postgresql://u:p%40ss@db/s?sslpassword=k%2By"
    message = 'FATAL: password "p@ss" rejected; sslpassword=k+y; also p%40ss and k%2By'
    cleaned = scrub(message, url)
    assert (
        "p@ss" not in cleaned and "p%40ss" not in cleaned and "k+y" not in cleaned and "k%2By" not in cleaned
    )


def test_the_wait_for_server_lines_name_the_url_without_its_secrets(caplog: pytest.LogCaptureFixture) -> None:
    """The worker's "unreachable" / "still unreachable" lines, with a driver that echoes the password."""
    from lit_distill.search.storage import _WaitForServer

    class Refused(Exception):
        pass

    class Dialect:
        class loaded_dbapi:  # SQLAlchemy's attribute name
            OperationalError = Refused

        def connect(self, *args: Any, **kwargs: Any) -> Any:
            raise Refused('connection to "db" failed for password=s3cret')

    waiter = _WaitForServer("postgresql://u@db/s?password=s3cret", wait_s=0.3)
    waiter.armed = True
    logger = logging.getLogger("lit_distill.search")
    logger.addHandler(caplog.handler)
    try:
        with pytest.raises(Refused):
            waiter(Dialect(), None, (), {})
    finally:
        logger.removeHandler(caplog.handler)
    text = caplog.text
    assert "unreachable" in text and "password=***" in text and "s3cret" not in text


def test_storage_values_from_a_variable_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCH_DB", "postgresql://u:s3cret@db/s")
    assert read_storage_value("env:SEARCH_DB", tmp_path) == "postgresql://u:s3cret@db/s"
    (tmp_path / "db.url").write_text("postgresql://u:s3cret@db/s\n# a comment line is ignored\n")
    assert read_storage_value("file:db.url", tmp_path) == "postgresql://u:s3cret@db/s"
    assert read_storage_value("runs/x.journal", tmp_path) == "runs/x.journal"
    for bad, message in (("env:UNSET_VARIABLE_X", "is not set"), ("file:nope.url", "cannot read")):
        with pytest.raises(SearchSpecError, match=message) as info:
            read_storage_value(bad, tmp_path)
        assert "s3cret" not in str(info.value)
