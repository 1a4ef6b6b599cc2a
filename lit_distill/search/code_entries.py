"""Which entries of a search spec (and of its base config) are code, for ``search check`` to list.

A spec is YAML data (``yaml.safe_load``) except where it names code to run or import:

* ``launcher`` — the command every trial runs (``search run`` / ``worker`` / ``holdout``;
  ``search check`` never starts it);
* every ``class_path`` (in the base config, ``fixed``, ``holdout.overrides`` or as the
  values of a categorical parameter): LightningCLI imports the class and builds it;
* a dotted name such as ``os.system`` in ``fixed``, ``holdout.overrides`` or
  ``categorical_values``: jsonargparse imports it where the parameter takes a callable
  or a class (a ``LambdaCallback``'s hooks, say), and the trial may call it.

Everything else (bounds, metrics, expressions, which are evaluated without ``eval``)
is data. The functions here only read; nothing is imported or run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from lit_distill.search.launch import DEFAULT_LAUNCHER
from lit_distill.search.spec import SearchSpec

__all__ = ["code_entries"]

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def _walk(value: Any, where: str) -> Iterator[tuple[str, str, Any]]:
    """``(kind, where, value)`` for every ``class_path`` and dotted-name string inside ``value``."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            inner = f"{where}.{k}" if where else str(k)
            if k == "class_path" and isinstance(v, str):
                yield "class_path", inner, v
            else:
                yield from _walk(v, inner)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{where}.{i}")
    elif isinstance(value, str) and where.endswith("class_path"):
        yield "class_path", where, value
    elif isinstance(value, str) and _DOTTED.fullmatch(value):
        yield "dotted name", where, value


def code_entries(spec: SearchSpec, base: Mapping[str, Any]) -> list[str]:
    """One line per code-bearing entry of ``spec`` and of its merged base config ``base``.

    Args:
        spec: The search spec.
        base: The base config files merged (:func:`~lit_distill.search.config_keys.read_base`).
    """
    default = tuple(spec.launcher) == DEFAULT_LAUNCHER
    lines = [
        f"launcher {list(spec.launcher)}: the command of every trial"
        + (" (the default: this Python's lit_distill)" if default else "; check never starts it")
    ]
    found: list[tuple[str, str, Any]] = []
    found += [(k, f"base config: {w}", v) for k, w, v in _walk(base, "")]
    found += [(k, f"fixed: {w}", v) for k, w, v in _walk(dict(spec.fixed), "")]
    found += [(k, f"holdout.overrides: {w}", v) for k, w, v in _walk(dict(spec.holdout_overrides), "")]
    for p in spec.parameters:
        for value in p.categories or ():
            for kind, _, v in _walk(value, p.key or ""):
                found.append((kind, f"parameters ({p.name!r}) categorical value", v))
    for kind, where, value in found:
        what = "imported and built" if kind == "class_path" else "imported where a callable or class is taken"
        lines.append(f"{where}: {kind} {value!r} ({what})")
    return lines
