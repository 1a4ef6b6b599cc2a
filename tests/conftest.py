"""Test-wide setup: offline Hugging Face, no network, small thread counts."""

from __future__ import annotations

import os

# Before transformers / datasets / huggingface_hub are imported anywhere.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import socket
from collections.abc import Iterator

import pytest

_LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost", "0.0.0.0"}
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and str(host) not in _LOCAL_HOSTS:
        raise RuntimeError(
            f"test tried to open a network connection to {address!r}; tests must run offline "
            "(build tiny models and data locally instead of downloading)"
        )
    _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail loudly, not hang, when a test reaches for the network."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    yield
