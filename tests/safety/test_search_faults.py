"""Search faults through the command line (#32.3, #32.4): what a spec or a URL must never cause."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.search.helpers import ROOT, spec_dict, write_spec


def _search(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lit_distill", "search", *args],
        cwd=ROOT,  # the toy module of the specs is tests.search.toy
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_check_never_starts_the_launcher(tmp_path: Path) -> None:
    """`search check` is validation: a launcher that would create a file never runs, even for a key
    the base config does not write (its default is found by the trial's parser in-process)."""
    marker = tmp_path / "launcher-ran"
    raw = spec_dict(
        tmp_path, launcher=["sh", "-c", f'touch {marker}; exec "$0" -m lit_distill "$@"', sys.executable]
    )
    raw["fixed"] = {"model.init_args.other": 1.5}  # not in toy_fit.yaml: a default of ToyQA
    path = write_spec(tmp_path, raw)
    done = _search("check", "--config", str(path))
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert "check never starts it" in done.stdout and "example trial built in this process" in done.stdout
    assert not list((tmp_path / "out").glob("trials/0*"))  # no trial ran either


def test_a_password_in_the_query_string_appears_nowhere(tmp_path: Path) -> None:
    """`?password=` against a closed port: one line naming the URL with the password hidden, exit 2."""
    pytest.importorskip("psycopg", reason='PostgreSQL driver not installed: pip install ".[postgres]"')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the socket is
    secret = "Qx7-not-a-real-password"
    url = f"postgresql://lit@127.0.0.1:{port}/search?sslmode=disable&password={secret}&sslpassword={secret}2"
    path = write_spec(tmp_path, spec_dict(tmp_path, observation_budget=1))
    done = _search("run", "--config", str(path), "--storage", url)
    assert done.returncode == 2, done.stderr
    assert "cannot connect to the study storage" in done.stderr and "password=***" in done.stderr
    assert secret not in done.stdout + done.stderr and "Traceback" not in done.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != path]
    assert all(secret not in p.read_text(errors="replace") for p in written), written
