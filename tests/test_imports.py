"""Every module of the package imports (catches syntax errors and import cycles)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import lit_distill

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(lit_distill.__path__, prefix="lit_distill.")
    if "__main__" not in m.name
    # templates copied next to exported weights; they import their siblings there, not here
    and not m.name.startswith("lit_distill.export.remote.")
)


def test_walk_finds_the_subpackages() -> None:
    for sub in ("data", "models", "modules", "callbacks", "metrics", "search"):
        assert f"lit_distill.{sub}" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name: str) -> None:
    importlib.import_module(name)
