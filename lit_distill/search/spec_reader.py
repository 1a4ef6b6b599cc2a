"""Reading one value of a search spec's YAML: each check names the file and the key path.

:class:`SpecReader` holds the spec file's path; every method takes ``where``, the
YAML key path of the value it reads (``parameters[2] ('learning_rate').bounds.min``),
and raises :class:`SearchSpecError` with the file, that path, the bad value and
what is allowed. The entries of a spec (:mod:`lit_distill.search.spec_entries`)
and the spec itself (:mod:`lit_distill.search.spec`) read their fields through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lit_distill.checks import UserInputError, is_int, is_real

__all__ = ["SearchSpecError", "SpecReader"]


class SearchSpecError(UserInputError):
    """A search spec is invalid; the message names the file, the entry and what is allowed."""


@dataclass(frozen=True)
class SpecReader:
    """Checks for the values of one spec file.

    Attributes:
        path: The spec file, named in every message.
    """

    path: Path

    def fail(self, where: str, message: str) -> SearchSpecError:
        """The error for the value at ``where`` (the caller raises it)."""
        return SearchSpecError(f"search spec {self.path}: {where}: {message}")

    def mapping(self, where: str, value: Any) -> dict[str, Any]:
        """``value`` as a dict; it must be a mapping."""
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__} {value!r}")
        return dict(value)

    def entry(self, where: str, value: Any, allowed: set[str]) -> dict[str, Any]:
        """``value`` as a dict; it must be a mapping holding only ``allowed`` fields."""
        entry = self.mapping(where, value)
        self.keys(where, entry, allowed)
        return entry

    def keys(self, where: str, entry: Mapping[str, Any], allowed: set[str]) -> None:
        """Fail on a field of ``entry`` that is not in ``allowed``."""
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise self.fail(where, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")

    def items(self, where: str, value: Any, what: str = "a list") -> list[Any]:
        """``value``, which must be a list (``what`` describes it in the message)."""
        if not isinstance(value, list):
            raise self.fail(where, f"expected {what}, got {value!r}")
        return value

    def number(self, where: str, value: Any) -> float:
        """``value`` as a float; it must be a finite number."""
        if not is_real(value):
            raise self.fail(where, f"expected a finite number, got {value!r}")
        return float(value)

    def positive_int(self, where: str, value: Any) -> int:
        """``value``, which must be an integer >= 1."""
        if not is_int(value) or value < 1:
            raise self.fail(where, f"expected a positive integer, got {value!r}")
        return int(value)

    def choice(self, where: str, value: Any, allowed: tuple[str, ...]) -> Any:
        """``value``, which must be one of ``allowed``."""
        if value not in allowed:
            raise self.fail(where, f"{value!r} is not allowed; choose one of {list(allowed)}")
        return value

    def name(self, where: str, value: Any) -> str:
        """``value``, which must be a non-empty string."""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty string, got {value!r}")
        return value

    def bounds(self, where: str, entry: Mapping[str, Any]) -> tuple[float, float]:
        """``entry['bounds']`` as ``(min, max)`` with min < max."""
        bounds = self.entry(f"{where}.bounds", entry.get("bounds"), {"min", "max"})
        low = self.number(f"{where}.bounds.min", bounds.get("min"))
        high = self.number(f"{where}.bounds.max", bounds.get("max"))
        if not low < high:
            raise self.fail(where, f"bounds.min ({low:g}) must be smaller than bounds.max ({high:g})")
        return low, high
