"""An in-memory stand-in for a SigOpt server's Core API, as sigopt-python's Connection exposes it."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any


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
