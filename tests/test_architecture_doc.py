"""docs/architecture.md's import arrows are the code's: every room's imports of other rooms, no circle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lit_distill"


def _room(module: str) -> str | None:
    """``lit_distill.export.api`` -> ``export``; the package itself (``__version__``) is no room."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "lit_distill" else None


def code_arrows() -> dict[str, set[str]]:
    """Room -> the other rooms its modules import (at the top or inside functions)."""
    arrows: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        room = _room(".".join(parts))
        if room is None or "remote" in parts:  # export/remote: code copied into exported directories
            continue
        package = parts if path.name == "__init__.py" else parts[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                names = [f"{module}.{a.name}" for a in node.names] if module == "lit_distill" else [module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                other = _room(name)
                if other is not None and other not in (room, "__version__"):
                    arrows.setdefault(room, set()).add(other)
    return arrows


def doc_arrows() -> dict[str, set[str]]:
    """The arrows block of docs/architecture.md (parenthesised remarks dropped)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("`import` statements:\n\n", 1)[1].split("\n\n", 1)[0]
    arrows: dict[str, set[str]] = {}
    current: list[str] = []
    for line in block.splitlines():
        if "->" in line:
            left, right = line.split("->", 1)
            current = [r.strip() for r in left.split(",")]
        else:
            right = line
        right = re.sub(r"\([^)]*\)", "", right)
        for room in current:
            arrows.setdefault(room, set()).update(t.strip() for t in right.split(",") if t.strip())
    return {room: targets for room, targets in arrows.items() if targets}


def test_the_documented_import_arrows_are_the_codes() -> None:
    assert doc_arrows() == code_arrows()


def test_no_room_imports_itself_back() -> None:
    arrows = code_arrows()

    def reach(room: str, seen: set[str]) -> set[str]:
        for other in arrows.get(room, ()):
            if other not in seen:
                seen.add(other)
                reach(other, seen)
        return seen

    assert [room for room in arrows if room in reach(room, set())] == []
