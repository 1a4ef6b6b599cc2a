"""One run at a time in a run folder: a lock file holding the PID and host of the run that owns it.

Two ``fit`` runs writing into one folder interleave silently: one ``metrics.csv`` with
both runs' rows, the second run's ``config.yaml``, whichever ``last.ckpt`` came last.
:class:`FolderLock` prevents that. The lock is an advisory ``flock`` on a lock file
beside the folder, ``<parent>/.<folder name>.lit_distill.lock`` (inside the folder,
``<folder>/.lit_distill.lock``, when its parent cannot be written), which records who
holds it (PID, host, start time, command). Beside, not inside: Lightning's ``CSVLogger``
warns that it will delete "previous log files" of any non-empty log folder. The operating system releases the ``flock`` when its process ends however it
ends, so a run killed with ``kill -9`` never blocks the next one: its lock file is found
unlocked, named in a warning, and taken over. A folder locked by a live process is a
:class:`~lit_distill.user_errors.UserInputError` naming the holder.

Example::

    lock = FolderLock("runs/teacher")
    lock.acquire()  # UserInputError if another live run holds it
    try:
        ...
    finally:
        lock.release()
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lit_distill.user_errors import UserInputError

__all__ = ["LOCK_NAME", "FolderLock", "LockHolder", "lock_file", "read_holder"]

LOCK_NAME = ".lit_distill.lock"


def lock_file(folder: str | Path) -> Path:
    """The lock file of a run folder: ``<parent>/.<name>.lit_distill.lock``, else ``<folder>/.lit_distill.lock``.

    The parent is created when missing, so that every run into the folder finds the same file.
    """
    folder = Path(os.path.abspath(Path(folder).expanduser()))
    parent = folder.parent
    with contextlib.suppress(OSError):
        parent.mkdir(parents=True, exist_ok=True)
    if folder.name and parent.is_dir() and os.access(parent, os.W_OK):
        return parent / f".{folder.name}{LOCK_NAME}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / LOCK_NAME


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) a run folder.

    Attributes:
        pid: Process id.
        host: Host name.
        started: When the lock was taken (ISO 8601, local time).
        command: The holder's command line.
    """

    pid: int
    host: str
    started: str = ""
    command: str = ""

    def describe(self) -> str:
        """``"PID 1234 on host gpu3, started 2025-01-01T10:00:00 (python -m lit_distill fit ...)"``."""
        started = f", started {self.started}" if self.started else ""
        command = f" ({self.command})" if self.command else ""
        return f"PID {self.pid} on host {self.host}{started}{command}"


def read_holder(lock_file: str | Path) -> LockHolder | None:
    """The holder recorded in a lock file; None when it is missing, empty or unreadable."""
    try:
        data: Any = json.loads(Path(lock_file).read_text(encoding="utf-8"))
        return LockHolder(
            int(data["pid"]), str(data["host"]), str(data.get("started", "")), str(data.get("command", ""))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


class FolderLock:
    """An exclusive lock on one run folder (its :func:`lock_file`).

    Args:
        folder: The run folder (it need not exist yet).
        what: How messages name the folder (e.g. ``"run folder"``).
    """

    def __init__(self, folder: str | Path, what: str = "run folder") -> None:
        self.folder = Path(folder)
        self.path: Path | None = None  # the lock file, once acquired or found in use
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or fail naming the live run that holds it.

        A lock file left by a run that ended without releasing it (killed) is taken over
        with a warning naming that run.

        Raises:
            UserInputError: another live process holds the folder (named with its PID and host).
        """
        import fcntl  # POSIX

        if self.held:
            return
        self.path = path = lock_file(self.folder)
        for _ in range(10):  # the file may be removed by a releasing holder between open and flock
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise self._in_use_error(path) from None
            if not self._is_current(fd, path):  # we locked a file its holder had just removed: retry
                os.close(fd)
                continue
            previous = read_holder(path)
            self._write_record(fd)
            self._fd = fd
            if previous is not None and (previous.pid, previous.host) != (os.getpid(), socket.gethostname()):
                warnings.warn(
                    f"{self.what} {str(self.folder)!r} was locked by {previous.describe()}, which ended without "
                    f"releasing it (killed?); this run takes the lock over ({path})",
                    stacklevel=2,
                )
            return
        raise self._in_use_error(path)

    def release(self) -> None:
        """Remove the lock file and release the lock (nothing when not held)."""
        if self._fd is None or self.path is None:
            return
        with contextlib.suppress(FileNotFoundError):
            if self._is_current(self._fd, self.path):
                self.path.unlink()
        os.close(self._fd)
        self._fd = None

    @staticmethod
    def _is_current(fd: int, path: Path) -> bool:
        try:
            now = os.stat(path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)

    def _write_record(self, fd: int) -> None:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "command": " ".join(["python -m lit_distill", *sys.argv[1:]])[:500],
        }
        data = (json.dumps(record) + "\n").encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)

    def _in_use_error(self, path: Path) -> UserInputError:
        holder = read_holder(path)
        who = holder.describe() if holder is not None else "another process"
        return UserInputError(
            f"{self.what} {str(self.folder)!r} is in use by another run: {who} (lock file {str(path)!r}); "
            "wait for it to end, or give this run another folder"
        )
