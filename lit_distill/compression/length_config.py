"""Drop-and-Restore length configurations given as text: parsing and labels.

A length configuration has one entry per encoder layer: the number of tokens
the layer keeps (ints >= 1) or the fraction of each example's real, unpadded
length it keeps (floats in (0, 1]); integral values above 1 are counts whatever
their type (``256.0`` is 256 tokens). Entries never increase from one layer to
the next. On the command line a configuration is written as a JSON-style list,
``"[384,320,256,192,128,96]"`` or ``"[1.0,0.8,0.6,0.5,0.4,0.3]"``; several
configurations are separated by ``;``. The type and its one validator live in
:mod:`lit_distill.models.length` (re-exported here).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from lit_distill.models.length import LengthConfig, check_length_config, is_token_counts
from lit_distill.user_errors import UserInputError

__all__ = [
    "LengthConfig",
    "check_length_config",
    "format_length_config",
    "is_token_counts",
    "parse_length_config",
    "parse_length_configs",
]


def parse_length_config(
    text: str,
    num_layers: int | None = None,
    name: str = "--length-config",
    max_length: int | None = None,
    limit_name: str = "the input length",
) -> LengthConfig:
    """Parse ``"[384,320,256]"`` (brackets optional) and check it with :func:`check_length_config`."""
    stripped = text.strip()
    if not stripped.startswith("["):
        stripped = f"[{stripped}]"
    try:
        values = json.loads(stripped)
    except json.JSONDecodeError as err:
        raise UserInputError(
            f"{name}: cannot read {text!r} as a list of numbers like [384,320,256] ({err})"
        ) from None
    if not isinstance(values, list):
        raise UserInputError(f"{name}: {text!r} is not a list of numbers like [384,320,256]")
    return check_length_config(values, num_layers, max_length, name, limit_name)


def parse_length_configs(
    text: str,
    num_layers: int | None = None,
    name: str = "--length-config",
    max_length: int | None = None,
    limit_name: str = "the input length",
) -> list[LengthConfig]:
    """Parse several configurations separated by ``;``."""
    parts = [p for p in text.split(";") if p.strip()]
    if not parts:
        raise UserInputError(f"{name}: no configuration given")
    return [parse_length_config(p, num_layers, name, max_length, limit_name) for p in parts]


def format_length_config(config: Sequence[int | float] | None) -> str:
    """A compact label: ``"384-320-256"``, ``"1-0.8-0.6"``, or ``"full"`` for None."""
    if config is None:
        return "full"
    return "-".join(f"{v:g}" if isinstance(v, float) else str(v) for v in config)
