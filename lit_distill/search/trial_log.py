"""A trial's log as a person reads it: progress-bar redraws and terminal escapes removed.

A trial writes its standard output and error to ``trial.log``. Progress bars (tqdm,
Lightning's bar, Rich) redraw one line with carriage returns and colour it with ANSI
escape sequences; in a file that is one enormous line full of control characters. Once
the trial has ended, :func:`clean_log` rewrites the file as a terminal would have shown
it: each line keeps only what follows its last carriage return, escape sequences are
removed, and a line that held nothing but a bar that was erased disappears.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["clean_line", "clean_log"]

# CSI sequences (colours, cursor moves: ESC [ ... final byte) and two-byte escapes (ESC 7, ESC M, ...)
_ESCAPE = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = (b"\r", b"\x1b", b"\x08")


def clean_line(raw: bytes) -> bytes | None:
    """One line of output (without its newline) as it ends up on a terminal; None if nothing is left.

    Only what follows the last carriage return stays (a trailing ``\\r`` of a ``\\r\\n`` line
    ending does not count), escape sequences and backspaces are removed. An empty line stays
    empty; a line whose text was all overwritten or erased gives None.
    """
    if not any(c in raw for c in _CONTROL):
        return raw
    line = raw[:-1] if raw.endswith(b"\r") else raw
    visible = _ESCAPE.sub(b"", line.rsplit(b"\r", 1)[-1]).replace(b"\x08", b"")
    return visible.rstrip() if visible.strip() else None


def clean_log(path: Path) -> bool:
    """Rewrite the finished log ``path`` with :func:`clean_line` applied; returns whether it changed.

    The file is replaced atomically (a temporary file in the same directory, then
    ``os.replace``); a file without control characters is left as it is.
    """
    try:
        with path.open("rb") as f:
            if not any(c in chunk for chunk in iter(lambda: f.read(1 << 20), b"") for c in _CONTROL):
                return False
    except OSError:
        return False
    tmp = path.with_name(f".{path.name}.clean")
    try:
        with path.open("rb") as src, tmp.open("wb") as dst:
            for raw in src:
                ended = raw.endswith(b"\n")
                line = clean_line(raw[:-1] if ended else raw)
                if line is not None:
                    dst.write(line + (b"\n" if ended else b""))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
    return True
