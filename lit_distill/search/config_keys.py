"""Config keys of the base training config: does a key exist, and the override file of a trial.

A key is dotted (``model.init_args.learning_rate``). Like LightningCLI on the
command line, ``init_args`` may be left out (``model.learning_rate``), and a
list element is addressed by its index (``trainer.callbacks.1.init_args.amount``).
A key is looked up in the base YAML first (several base files merged in order, as
``--config A --config B`` merges them); if it is not written there, in the full
config with every default, which the trial's own parser computes in this process
(:func:`lit_distill.search.trial_parser.full_config`; the spec's ``launcher`` is never
started for it).
"""

from __future__ import annotations

import copy
import difflib
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from lit_distill.search.spec import SearchSpec, SearchSpecError

_MISSING = object()


def resolve_key(config: Any, key: str) -> str | None:
    """The canonical form of ``key`` in ``config`` (``init_args`` filled in), or None if absent."""
    node = config
    parts: list[str] = []
    for segment in key.split("."):
        if isinstance(node, Mapping):
            if segment in node:
                node = node[segment]
                parts.append(segment)
                continue
            init_args = node.get("init_args")
            if isinstance(init_args, Mapping) and segment in init_args:
                node = init_args[segment]
                parts += ["init_args", segment]
                continue
            return None
        if isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
            parts.append(segment)
            continue
        return None
    return ".".join(parts)


def all_keys(config: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a nested config (for "did you mean" suggestions)."""
    out: list[str] = []
    if isinstance(config, Mapping):
        for k, v in config.items():
            full = f"{prefix}{k}"
            out.append(full)
            out += all_keys(v, full + ".")
    elif isinstance(config, list):
        for i, v in enumerate(config):
            out += all_keys(v, f"{prefix}{i}.")
    return out


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping (empty file → {}).

    Raises:
        SearchSpecError: If the file is not a YAML mapping.
    """
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise SearchSpecError(f"base config {path} cannot be read: {err}") from None
    if not isinstance(data, dict):
        raise SearchSpecError(f"base config {path} must be a YAML mapping, got {type(data).__name__}")
    return data


def merge_configs(first: Mapping[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    """``second`` over ``first``, as a later ``--config`` file overrides an earlier one.

    Mappings merge key by key; anything else (a list, such as ``trainer.callbacks``, or a
    value) is replaced whole; a mapping that names another ``class_path`` replaces the
    earlier one whole (its ``init_args`` belong to the other class).
    """
    out = dict(first)
    for key, value in second.items():
        old = out.get(key)
        same_class = not (
            isinstance(value, Mapping) and "class_path" in value and _class_path(old) != value["class_path"]
        )
        if isinstance(value, Mapping) and isinstance(old, Mapping) and same_class:
            out[key] = merge_configs(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _class_path(node: Any) -> Any:
    """The ``class_path`` of a config node, or None."""
    return node.get("class_path") if isinstance(node, Mapping) else None


def read_base(spec: SearchSpec) -> dict[str, Any]:
    """The spec's base config files merged in order (:func:`merge_configs`).

    Raises:
        SearchSpecError: If a file is not a YAML mapping.
    """
    merged: dict[str, Any] = {}
    for path in spec.base_configs:
        merged = merge_configs(merged, read_yaml(path))
    return merged


def launcher_argv(spec: SearchSpec) -> list[str]:
    """The launcher with ``{python}`` replaced by this interpreter."""
    return [part.replace("{python}", sys.executable) for part in spec.launcher]


def trial_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a trial subprocess: ours, with the current directory importable first."""
    env = dict(os.environ)
    cwd = os.getcwd()
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = cwd + (os.pathsep + path if path else "")
    if extra:
        env.update(extra)
    return env


def canonical_keys(
    spec: SearchSpec, keys: Sequence[tuple[str, str]], command: str | None = None
) -> dict[str, str]:
    """Check that every key exists in the base config; return key → canonical key.

    Args:
        spec: The search spec.
        keys: (where, key) pairs; ``where`` names the spec entry for error messages.
        command: ``fit`` or ``validate`` (defaults to the spec's command).

    Raises:
        SearchSpecError: Naming the first missing key, its spec entry and close matches.
    """
    base = read_base(spec)
    result: dict[str, str] = {}
    missing: list[tuple[str, str]] = []
    for where, key in keys:
        found = resolve_key(base, key)
        if found is None:
            missing.append((where, key))
        else:
            result[key] = found
    if missing:
        from lit_distill.search.trial_parser import full_config

        full = full_config(command or spec.command, [str(p) for p in spec.base_configs])
        for where, key in missing:
            found = resolve_key(full, key)
            if found is None:
                close = difflib.get_close_matches(
                    key, sorted(set(all_keys(full) + all_keys(base))), n=3, cutoff=0.6
                )
                hint = f"; close matches: {close}" if close else ""
                raise SearchSpecError(
                    f"search spec {spec.path}: {where}: config key {key!r} does not exist in base config "
                    f"{spec.base_label} (nor among the defaults of `{command or spec.command}`){hint}"
                )
            result[key] = found
    return result


def spec_keys(spec: SearchSpec) -> list[tuple[str, str]]:
    """(where, key) for every config key a search sets."""
    keys = [(f"parameter {p.name!r}", p.key) for p in spec.parameters if p.key is not None]
    keys += [(f"monotone chain {c.name!r}", c.key) for c in spec.chains]
    keys += [(f"derived value {d.expression!r}", d.key) for d in spec.derived]
    keys += [(f"fixed value {k!r}", k) for k in spec.fixed]
    return keys


def set_key(base: Mapping[str, Any], tree: dict[str, Any], key: str, value: Any) -> None:
    """Set a canonical dotted key in the override tree ``tree``.

    A key through a list copies that list from ``base`` into ``tree`` first, since a later
    config file replaces a list as a whole.
    """
    parts = key.split(".")
    node: Any = tree
    base_node: Any = base
    for part in parts[:-1]:
        base_next = _child(base_node, part)
        if isinstance(node, list):
            node = node[int(part)]
        else:
            if part not in node:
                node[part] = copy.deepcopy(base_next) if isinstance(base_next, list) else {}
            node = node[part]
        base_node = base_next
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _child(node: Any, part: str) -> Any:
    if isinstance(node, Mapping):
        return node.get(part, _MISSING)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return _MISSING


def override_tree(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Nested override config from canonical dotted keys (lists copied whole from ``base``)."""
    tree: dict[str, Any] = {}
    for key, value in overrides.items():
        set_key(base, tree, key, value)
    return tree
