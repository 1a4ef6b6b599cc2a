"""Drop-and-Restore length configurations given by users: parsing and checking.

A length configuration has one entry per encoder layer: the number of tokens
the layer keeps (ints >= 1) or the fraction of each example's real, unpadded
length it keeps (floats in (0, 1]); integral values above 1 are counts whatever
their type (``256.0`` is 256 tokens). Entries never increase from one layer to
the next. On the command line a configuration is written as a JSON-style list,
``"[384,320,256,192,128,96]"`` or ``"[1.0,0.8,0.6,0.5,0.4,0.3]"``; several
configurations are separated by ``;``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = [
    "LengthConfig",
    "check_length_config",
    "format_length_config",
    "is_token_counts",
    "parse_length_config",
    "parse_length_configs",
]

LengthConfig = list[int] | list[float]


def check_length_config(
    config: Sequence[int | float], num_layers: int | None = None, name: str = "length_config"
) -> LengthConfig:
    """Validate one configuration and return it as a list of ints or a list of floats.

    Args:
        config: per-layer lengths (ints) or ratios (floats).
        num_layers: the model's layer count, checked when given.
        name: the parameter name used in error messages.

    Raises:
        ValueError: naming ``name``, the bad value and what is allowed.
    """
    values = list(config)
    if not values:
        raise ValueError(f"{name} is empty; give one length (or ratio) per layer")
    if num_layers is not None and len(values) != num_layers:
        raise ValueError(f"{name}={values} has {len(values)} entries but the model has {num_layers} layers")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        raise ValueError(f"{name}={values}: entries must be numbers")
    if is_token_counts(values):
        ints = [int(v) for v in values]
        if min(ints) < 1:
            raise ValueError(f"{name}={ints}: token counts must be >= 1 ([CLS] is always kept)")
        out: LengthConfig = ints
    else:
        floats = [float(v) for v in values]
        if any(not 0.0 < v <= 1.0 for v in floats):
            raise ValueError(
                f"{name}={floats}: ratios must be in (0, 1]; give all ints for token counts, all floats for ratios"
            )
        out = floats
    for i in range(1, len(out)):
        if out[i] > out[i - 1]:
            raise ValueError(
                f"{name}={out}: lengths must not increase from layer to layer "
                f"(layer {i} keeps {out[i]} > layer {i - 1}'s {out[i - 1]})"
            )
    return out


def is_token_counts(values: Sequence[int | float]) -> bool:
    """True when a configuration gives token counts: every entry is integral, and they are
    Python ints or at least one exceeds 1 (``[256.0, 192.0]`` is counts; ``[1.0, 0.8]`` and
    ``[1.0, 1.0]`` are ratios). YAML and command-line parsers may hand over ``256`` as ``256.0``
    (e.g. in a list that also holds ratio configurations), so the type alone cannot decide.
    """
    if not all(float(v).is_integer() for v in values):
        return False
    return all(isinstance(v, int) for v in values) or max(values) > 1


def parse_length_config(
    text: str, num_layers: int | None = None, name: str = "--length-config"
) -> LengthConfig:
    """Parse ``"[384,320,256]"`` (brackets optional) into a checked configuration."""
    stripped = text.strip()
    if not stripped.startswith("["):
        stripped = f"[{stripped}]"
    try:
        values = json.loads(stripped)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{name}: cannot read {text!r} as a list of numbers like [384,320,256] ({err})"
        ) from None
    if not isinstance(values, list):
        raise ValueError(f"{name}: {text!r} is not a list of numbers like [384,320,256]")
    return check_length_config(values, num_layers, name)


def parse_length_configs(
    text: str, num_layers: int | None = None, name: str = "--length-config"
) -> list[LengthConfig]:
    """Parse several configurations separated by ``;``."""
    parts = [p for p in text.split(";") if p.strip()]
    if not parts:
        raise ValueError(f"{name}: no configuration given")
    return [parse_length_config(p, num_layers, name) for p in parts]


def format_length_config(config: Sequence[int | float] | None) -> str:
    """A compact label: ``"384-320-256"``, ``"1-0.8-0.6"``, or ``"full"`` for None."""
    if config is None:
        return "full"
    return "-".join(f"{v:g}" if isinstance(v, float) else str(v) for v in config)
