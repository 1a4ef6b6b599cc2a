"""The one helper every replaced file goes through (lit_distill.atomic_write): old or new, never a part."""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lit_distill import atomic_write
from lit_distill.atomic_write import (
    DiskFullError,
    disk_full_errno,
    remove_stale_temporaries,
    replace_directory,
    replace_file,
    update_directory,
    write_bytes,
    write_text,
)
from lit_distill.user_errors import UserInputError


@pytest.fixture
def umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.fixture
def file_size_limit() -> Iterator[None]:
    """A 4 KiB file-size limit (as a full disk: write(2) fails with EFBIG), lifted afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def test_write_gives_a_plain_open_s_permissions_and_keeps_a_replaced_file_s(
    tmp_path: Path, umask: int
) -> None:
    path = tmp_path / "sub" / "a.json"
    write_text(path, "one")
    assert path.read_text() == "one" and path.stat().st_mode & 0o777 == 0o666 & ~umask
    path.chmod(0o640)
    write_bytes(path, b"two")
    assert path.read_bytes() == b"two" and path.stat().st_mode & 0o777 == 0o640
    assert siblings(path) == ["a.json"]


def test_an_error_while_writing_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    write_text(path, "old")
    with pytest.raises(RuntimeError, match="writer failed"), replace_file(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert path.read_text() == "old" and siblings(path) == ["results.csv"]


def test_a_full_disk_is_one_user_error_naming_the_file_and_its_size(
    tmp_path: Path, file_size_limit: None
) -> None:
    path = tmp_path / "last.ckpt"
    write_bytes(path, b"previous")
    with pytest.raises(DiskFullError) as caught:
        write_bytes(path, b"x" * 10_000)
    assert isinstance(caught.value, UserInputError)
    message = str(caught.value)
    assert f"cannot write {str(path)!r} (it needs 9.8 KiB)" in message and "ulimit -f: 4.0 KiB" in message
    assert "\n" not in message
    assert path.read_bytes() == b"previous" and siblings(path) == ["last.ckpt"]


def test_no_space_left_is_one_user_error_naming_the_file_its_size_and_the_free_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last.ckpt"
    write_bytes(path, b"previous")
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data)[:3])  # some bytes land, then the device is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(
        DiskFullError,
        match=r"no space left on the device while writing .*last\.ckpt' \(it needs 2\.0 KiB\); [\d.]+ \w+ free there: free some space",
    ):
        write_bytes(path, b"x" * 2048)
    monkeypatch.undo()
    assert path.read_bytes() == b"previous" and siblings(path) == ["last.ckpt"]


def test_a_full_disk_reported_by_a_library_in_its_own_words_is_recognised() -> None:
    """safetensors (Rust) reports the OS error in its text only."""
    assert (
        disk_full_errno(
            RuntimeError("Error while serializing: IoError(No space left on device (os error 28))")
        )
        == 28
    )
    assert disk_full_errno(ValueError("shape mismatch")) is None


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_replace_directory_swaps_a_whole_directory_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int, exchange: bool
) -> None:
    if not exchange:
        monkeypatch.setattr(atomic_write, "_exchange", lambda a, b: False)
    out = tmp_path / "model"
    with replace_directory(out) as tmp:
        (tmp / "old.txt").write_text("old")
    with replace_directory(out) as tmp:
        (tmp / "new.txt").write_text("new")
        private = tmp / "private.bin"  # as a library's mkstemp + move leaves it
        private.write_bytes(b"w")
        private.chmod(0o600)
    assert sorted(p.name for p in out.iterdir()) == ["new.txt", "private.bin"]
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert (out / "private.bin").stat().st_mode & 0o777 == 0o666 & ~umask
    assert siblings(out) == ["model"]


def test_a_failed_replace_directory_keeps_the_old_one(tmp_path: Path) -> None:
    out = tmp_path / "model"
    with replace_directory(out) as tmp:
        (tmp / "weights").write_text("old")
    with pytest.raises(OSError), replace_directory(out) as tmp:
        (tmp / "weights").write_text("new, half")
        raise OSError("disk error")
    assert (out / "weights").read_text() == "old" and siblings(out) == ["model"]


def test_update_directory_keeps_other_files_and_leaves_no_empty_directory_on_failure(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with pytest.raises(KeyError), update_directory(run) as tmp:
        (tmp / "model.safetensors").write_text("half")
        raise KeyError("boom")
    assert not run.exists() and siblings(run) == []
    with update_directory(run) as tmp:
        (tmp / "model.safetensors").write_text("v1")
    (run / "metrics.csv").write_text("the run's own")
    with update_directory(run) as tmp:
        (tmp / "model.safetensors").write_text("v2")
    assert (run / "model.safetensors").read_text() == "v2" and (
        run / "metrics.csv"
    ).read_text() == "the run's own"


def test_temporaries_of_ended_processes_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    host = atomic_write._HOST
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = int(ended.stdout)
    stale = tmp_path / f".last.ckpt.tmp-{host}-{dead}-0a0b0c0d"
    stale_dir = tmp_path / f".last.ckpt.old-{host}-{dead}-0a0b0c0e"
    live = tmp_path / f".last.ckpt.tmp-{host}-{os.getppid()}-0a0b0c0f"
    other_host = tmp_path / f".last.ckpt.tmp-elsewhere-{dead}-0a0b0c10"
    other_file = tmp_path / f".last.ckpt.bak.tmp-{host}-{dead}-0a0b0c11"
    for p in (stale, live, other_host, other_file):
        p.write_bytes(b"partial")
    stale_dir.mkdir()
    assert sorted(remove_stale_temporaries(path)) == sorted([stale, stale_dir])
    write_text(path, "complete")
    assert sorted(siblings(path)) == sorted(p.name for p in (path, live, other_host, other_file))
