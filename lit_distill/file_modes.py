"""Permissions of the files the project writes for others to read (models, exports): the umask's.

``open()`` and ``mkdir()`` create files ``0o666 & ~umask`` and directories ``0o777 & ~umask``
(``0o644`` / ``0o755`` under the usual umask ``022``). Some writers do not: ``tempfile.mkdtemp``
makes ``0o700`` directories and safetensors writes ``0o600`` weights, so a model exported by
one user could not be read by a serving process running as another. :func:`apply_umask` gives
what such writers made the permissions a plain ``open()`` / ``mkdir()`` would have given.
(torch-free, imports nothing of the package)
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["apply_umask", "current_umask"]


def current_umask() -> int:
    """The process's umask, read without changing it where Linux tells it (``/proc/self/status``).

    Elsewhere it is read by setting and restoring it (a moment in which another thread's new
    files would get the wrong mode).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path: str | Path) -> None:
    """Set ``path`` (and, for a directory, everything under it) to the umask's permissions.

    Files get ``0o666 & ~umask`` (executable ones ``0o777 & ~umask``), directories
    ``0o777 & ~umask``; symbolic links are left alone. Call it on files and directories the
    project has just written, never on a user's own.

    Args:
        path: a file or a directory written by the project.
    """
    mask = current_umask()
    root = Path(path)
    if root.is_symlink():
        return
    if root.is_dir():
        for folder, dirs, files in os.walk(root):
            for name in files:
                file = Path(folder, name)
                if not file.is_symlink():
                    file.chmod(_file_mode(file) & ~mask)
            for name in dirs:
                sub = Path(folder, name)
                if not sub.is_symlink():
                    sub.chmod(0o777 & ~mask)
        root.chmod(0o777 & ~mask)
    else:
        root.chmod(_file_mode(root) & ~mask)


def _file_mode(path: Path) -> int:
    """``0o666``, or ``0o777`` for a file someone may execute (its execute bits are kept)."""
    return 0o777 if path.stat().st_mode & 0o111 else 0o666
