"""Where the project caches what it computes (features, synthetic data, teacher logits).

One place decides: ``$LIT_DISTILL_CACHE`` when it is set to a non-empty path, else
``~/.cache/lit_distill``. An empty ``LIT_DISTILL_CACHE=""`` counts as unset (the
default), never as the working directory. Imports nothing of the package.

Example::

    default_cache_dir()                  # ~/.cache/lit_distill
    default_cache_dir("teacher_logits")  # ~/.cache/lit_distill/teacher_logits
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "default_cache_dir"]

CACHE_ENV = "LIT_DISTILL_CACHE"
"""The environment variable that moves every cache."""


def default_cache_dir(*parts: str) -> Path:
    """``$LIT_DISTILL_CACHE`` (if set and not empty, ``~`` expanded) or ``~/.cache/lit_distill``, joined with ``parts``."""
    root = os.environ.get(CACHE_ENV, "").strip()
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "lit_distill"
    return base.joinpath(*parts)
