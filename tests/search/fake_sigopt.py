"""An in-memory stand-in for a SigOpt server's Core API, as sigopt-python's Connection exposes it,
and the marker of the tests that need the real SigOpt-Lite.

SigOpt-Lite's tests run SigOpt's real optimiser (``sigopt.Connection(driver="lite")``). Without it
installed they are skipped with the install line as the reason; with
``LIT_DISTILL_REQUIRE_SIGOPT_LITE=1`` (set by ``.ci/run``, which installs it) a missing SigOpt-Lite
is a failure instead.
"""

from __future__ import annotations

import importlib.util
import os
import random
from types import SimpleNamespace
from typing import Any

import pytest

from lit_distill.search.sigopt_lite_compat import LITE_INSTALL

LITE_INSTALLED = all(importlib.util.find_spec(m) is not None for m in ("sigopt", "sigoptlite", "libsigopt"))
if not LITE_INSTALLED and os.environ.get("LIT_DISTILL_REQUIRE_SIGOPT_LITE") == "1":
    raise RuntimeError(f"LIT_DISTILL_REQUIRE_SIGOPT_LITE=1 but SigOpt-Lite is not installed: {LITE_INSTALL}")
needs_lite = pytest.mark.skipif(not LITE_INSTALLED, reason=f"SigOpt-Lite is not installed: {LITE_INSTALL}")


class _Suggestions:
    def __init__(self, server: FakeSigOpt, sid: str | None) -> None:
        self.server, self.sid = server, sid

    def create(self) -> SimpleNamespace:
        s = self.server
        assignments: dict[str, Any] = {}
        for p in s.body["parameters"]:
            if p["type"] == "categorical":
                assignments[p["name"]] = s.rng.choice(p["categorical_values"])["name"]
            elif "grid" in p:
                assignments[p["name"]] = s.rng.choice(p["grid"])
            elif p["type"] == "int":
                assignments[p["name"]] = s.rng.randint(p["bounds"]["min"], p["bounds"]["max"])
            else:
                assignments[p["name"]] = s.rng.uniform(p["bounds"]["min"], p["bounds"]["max"])
        sid = str(len(s.suggestions) + 1)
        s.suggestions[sid] = SimpleNamespace(id=sid, assignments=assignments, metadata=None, state="open")
        return s.suggestions[sid]

    def update(self, metadata: dict[str, Any]) -> None:
        self.server.suggestions[str(self.sid)].metadata = metadata

    def delete(self) -> None:
        self.server.suggestions[str(self.sid)].state = "deleted"

    def fetch(self, state: str) -> list[SimpleNamespace]:
        return [x for x in self.server.suggestions.values() if x.state == state]


class _Observations:
    def __init__(self, server: FakeSigOpt) -> None:
        self.server = server

    def create(
        self,
        suggestion: str,
        values: list[dict[str, Any]] | None = None,
        failed: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        s = self.server.suggestions[suggestion]
        s.state = "closed"
        self.server.observations.append(
            SimpleNamespace(
                suggestion=suggestion,
                assignments=s.assignments,
                values=[SimpleNamespace(**v) for v in values or []],
                failed=failed,
                metadata=metadata,
            )
        )

    def fetch(self) -> list[SimpleNamespace]:
        return list(self.server.observations)


class _Experiment:
    def __init__(self, server: FakeSigOpt, eid: str | None) -> None:
        self.server, self.eid = server, eid

    def create(self, **body: Any) -> SimpleNamespace:
        self.server.body = body
        return SimpleNamespace(id="42")

    def fetch(self) -> SimpleNamespace:
        return SimpleNamespace(progress=SimpleNamespace(observation_count=len(self.server.observations)))

    def suggestions(self, sid: str | None = None) -> _Suggestions:
        return _Suggestions(self.server, sid)

    def observations(self) -> _Observations:
        return _Observations(self.server)


class FakeSigOpt:
    """``conn.experiments(...)`` with the calls the backend makes; records everything."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.body: dict[str, Any] = {}
        self.suggestions: dict[str, SimpleNamespace] = {}
        self.observations: list[SimpleNamespace] = []

    def experiments(self, eid: str | None = None) -> _Experiment:
        return _Experiment(self, eid)
