"""Replace a file or a directory so that a reader finds the old one or the new one, never a part.

Every file lit_distill replaces (checkpoints, exported models, caches, search results,
reports) is written through this module: to a temporary name in the *same directory*
(so the final rename never crosses a file system), flushed and ``fsync``-ed, renamed over
the target with :func:`os.replace`, and the directory ``fsync``-ed so that the rename
itself survives a power cut. On any error the temporary is removed and the target is
left as it was.

Permissions are those a plain ``open(path, "w")`` gives: a new file ``0o666`` less the
umask, a replaced file keeps its mode; a directory and the files written into it
``0o777`` / ``0o666`` less the umask, also where a library wrote them through a private
``tempfile.mkstemp`` (``0o600``).

A temporary is named ``.NAME.tmp-HOST-PID-RANDOM`` (a directory being swapped out
``.NAME.old-HOST-PID-RANDOM``); nothing reads such names. A process killed while writing
leaves one behind: the next write of the same target removes those whose process on this
host has ended.

A full disk (``ENOSPC``), an exhausted quota (``EDQUOT``) or a file larger than the
process may write (``EFBIG``, ``ulimit -f``) is a :class:`DiskFullError`, a
:class:`~lit_distill.user_errors.UserInputError` (one line, exit code 2) naming the path
and the space it needs.

Example::

    from lit_distill.atomic_write import replace_directory, write_text

    write_text(out_dir / "summary.json", json.dumps(summary))
    with replace_directory(export_dir) as tmp:  # written aside, swapped in at the end
        model.save_pretrained(tmp)
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
import socket
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from lit_distill.file_modes import apply_umask
from lit_distill.user_errors import UserInputError

__all__ = [
    "DiskFullError",
    "disk_full_errno",
    "human_bytes",
    "remove_stale_temporaries",
    "replace_directory",
    "replace_file",
    "update_directory",
    "write_bytes",
    "write_text",
]

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_CHUNK = 1 << 24  # bytes per write(2)
_HOST = socket.gethostname().replace(os.sep, "_") or "host"
_NAME_KEEP = 100  # characters of the target's name kept in a temporary's name (NAME_MAX is 255)


class DiskFullError(UserInputError):
    """No room to write a file: the device is full, a quota is exhausted, or the file-size limit is hit.

    Attributes:
        path: The file or directory that could not be written (the previous one is intact).
        needed: Bytes it needs, when known.
    """

    def __init__(self, message: str, path: Path, needed: int | None) -> None:
        super().__init__(message)
        self.path = path
        self.needed = needed


# ------------------------------------------------------------------------------------- public API
def write_bytes(path: str | Path, data: bytes | bytearray | memoryview) -> Path:
    """Replace ``path`` by ``data`` atomically.

    Raises:
        DiskFullError: no room for ``len(data)`` bytes; ``path`` is left as it was.
    """
    view = memoryview(data).cast("B")
    with replace_file(path, size_hint=len(view)) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CLOEXEC)
        try:
            offset = 0
            while offset < len(view):
                offset += os.write(fd, view[offset : offset + _CHUNK])
        finally:
            os.close(fd)
    return Path(path)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Replace ``path`` by ``text`` atomically (see :func:`write_bytes`)."""
    return write_bytes(path, text.encode(encoding))


@contextmanager
def replace_file(path: str | Path, *, size_hint: int | None = None) -> Iterator[Path]:
    """Yield an empty temporary file beside ``path``; when the block ends, it replaces ``path``.

    For writers that take a path (``safetensors.torch.save_file``, ``Figure.savefig``,
    ``csv`` on an opened file). The parent directory is created if missing.

    Args:
        path: The file to replace (or create).
        size_hint: Bytes the file will have, named in a :class:`DiskFullError` (else the
            bytes written before the failure are named as a lower bound).

    Raises:
        DiskFullError: the disk filled up while writing; ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = _temporary_name(target, "tmp")
    mode = _existing_mode(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # as open(path, "w") on an existing file: its mode stays
    finally:
        os.close(fd)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException as exc:
        _fail(exc, tmp, target, size_hint)
        raise
    _fsync(target.parent)


def replace_directory(path: str | Path, *, size_hint: int | None = None) -> AbstractContextManager[Path]:
    """Yield an empty temporary directory beside ``path``; when the block ends, it takes ``path``'s place.

    The new directory is swapped in with one ``renameat2(RENAME_EXCHANGE)`` on Linux file
    systems that support it (``path`` always exists, old or new), else by renaming the old
    one aside first; the old one is then removed. If the block raises, the temporary
    directory is removed and ``path`` is untouched.

    Args:
        path: The directory to replace (or create); it must not be a file.
        size_hint: Bytes the directory's files will take, named in a :class:`DiskFullError`.

    Raises:
        DiskFullError: the disk filled up while writing; ``path`` is left as it was.
    """
    return _staged_directory(Path(path), size_hint, _swap_in)


def update_directory(path: str | Path, *, size_hint: int | None = None) -> AbstractContextManager[Path]:
    """Yield an empty temporary directory beside ``path``; when the block ends, its files go into ``path``.

    Unlike :func:`replace_directory`, files of ``path`` that the block did not write are
    kept: each written file replaces its namesake with :func:`os.replace` (one file at a
    time, each atomic). A ``path`` that did not exist is created by renaming the temporary
    directory, so a failed write leaves no empty directory behind. For writers into a
    directory that may hold other things (``QAModel.save`` into a run folder).

    Args:
        path: The directory to write into (or create).
        size_hint: Bytes the files will take, named in a :class:`DiskFullError`.

    Raises:
        DiskFullError: the disk filled up while writing; ``path`` is left as it was.
    """
    return _staged_directory(Path(path), size_hint, _merge_into)


@contextmanager
def _staged_directory(
    target: Path, size_hint: int | None, commit: Callable[[Path, Path], None]
) -> Iterator[Path]:
    """A temporary directory beside ``target``, written by the block, then ``commit(tmp, target)``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = _temporary_name(target, "tmp")
    os.mkdir(tmp, 0o777)
    try:
        yield tmp
        apply_umask(tmp)  # libraries write through private 0o600 temporaries: readable by others again
        _fsync_tree(tmp)
        commit(tmp, target)
    except BaseException as exc:
        _fail(exc, tmp, target, size_hint)
        raise
    _fsync(target)
    _fsync(target.parent)


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporaries of ``path`` left by processes of this host that have ended.

    Returns:
        The temporaries removed.
    """
    target = Path(path)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    stem = f".{target.name[:_NAME_KEEP]}."
    for entry in entries:
        if not entry.name.startswith(stem):
            continue
        kind, _, owner = entry.name[len(stem) :].partition("-")
        parts = owner.rsplit("-", 2)  # HOST-PID-RANDOM (a host name may hold "-")
        if kind not in ("tmp", "old") or len(parts) != 3 or parts[0] != _HOST or not parts[1].isdigit():
            continue
        pid = parts[1]
        if int(pid) == os.getpid() or _process_alive(int(pid)):
            continue
        _remove(Path(entry.path))
        removed.append(Path(entry.path))
    return removed


def disk_full_errno(exc: BaseException) -> int | None:
    """``ENOSPC``, ``EDQUOT`` or ``EFBIG`` when ``exc`` (or an exception it came from) reports one, else None.

    Libraries that wrap the operating system's error in their own (safetensors, Rust's
    ``io::Error``) keep its text, which is recognised too.
    """
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        if isinstance(current, OSError) and current.errno in _DISK_FULL:
            return current.errno
        text = str(current)
        for code in _DISK_FULL:
            if os.strerror(code) in text:
                return code
        current = current.__cause__ or current.__context__
    return None


# ------------------------------------------------------------------------------------- internals
def _temporary_name(target: Path, kind: str) -> Path:
    owner = f"{_HOST}-{os.getpid()}-{secrets.token_hex(4)}"
    return target.with_name(f".{target.name[:_NAME_KEEP]}.{kind}-{owner}")


def _existing_mode(target: Path) -> int | None:
    try:
        info = target.stat()
    except OSError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a file's or a directory's data to the device (directories: where supported)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except IsADirectoryError:  # pragma: no cover - O_RDONLY opens directories on POSIX
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.EROFS) or not path.is_dir():
            raise
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            _fsync(Path(directory) / name)
        _fsync(Path(directory))


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` in one step (Linux ``renameat2``); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # no such symbol (glibc < 2.28, musl)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # this file system cannot exchange
    raise OSError(code, os.strerror(code), str(b))


def _swap_in(tmp: Path, target: Path) -> None:
    """Put directory ``tmp`` at ``target``; an existing ``target`` is removed once ``tmp`` is in place."""
    if not os.path.lexists(target):
        os.rename(tmp, target)
        return
    if target.is_symlink() or not target.is_dir():
        raise ValueError(f"replace_directory: {target} exists and is not a directory")
    if _exchange(tmp, target):
        _remove(tmp)  # now holds the old directory
        return
    old = _temporary_name(target, "old")
    os.rename(target, old)
    os.rename(tmp, target)
    _remove(old)


def _merge_into(tmp: Path, target: Path) -> None:
    """Move the files of directory ``tmp`` into ``target`` one by one (or rename ``tmp`` when there is none)."""
    if not os.path.lexists(target):
        os.rename(tmp, target)
        return
    for entry in sorted(tmp.rglob("*"), key=lambda p: len(p.parts)):
        destination = target / entry.relative_to(tmp)
        if entry.is_dir():
            destination.mkdir(exist_ok=True)
        else:
            os.replace(entry, destination)
    _remove(tmp)


def _fail(exc: BaseException, tmp: Path, target: Path, size_hint: int | None) -> None:
    """Remove the temporary; raise :class:`DiskFullError` from ``exc`` when the disk was full."""
    written = _size(tmp)
    _remove(tmp)
    code = disk_full_errno(exc)
    if code is None:
        return
    raise DiskFullError(_disk_full_message(code, target, size_hint, written), target, size_hint) from exc


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def _disk_full_message(code: int, target: Path, size_hint: int | None, written: int) -> str:
    if size_hint is not None:
        need = f" (it needs {human_bytes(size_hint)})"
    else:
        need = f" (it needs more than the {human_bytes(written)} written)" if written else ""
    if code == errno.EFBIG:
        import resource  # POSIX; EFBIG comes from its RLIMIT_FSIZE

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        allowed = "unlimited" if limit == resource.RLIM_INFINITY else human_bytes(limit)
        return (
            f"cannot write {str(target)!r}{need}: a file may not grow beyond this process's file-size "
            f"limit (ulimit -f: {allowed}); raise the limit or write less (what was there before is unchanged)"
        )
    what = "disk quota exceeded" if code == errno.EDQUOT else "no space left on the device"
    try:
        free = f"; {human_bytes(shutil.disk_usage(target.parent).free)} free there"
    except OSError:
        free = ""
    return (
        f"{what} while writing {str(target)!r}{need}{free}: free some space or write elsewhere "
        "(what was there before is unchanged)"
    )


def human_bytes(n: int) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"  # pragma: no cover
