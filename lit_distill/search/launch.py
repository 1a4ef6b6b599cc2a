"""How a trial process starts: a fresh interpreter, or a fork of one that has imported everything.

A trial's own work can take milliseconds (a length configuration evaluated on a
small model), while a fresh ``python -m lit_distill`` spends seconds importing
torch, Lightning, transformers and the project before it parses its first
argument. The ``forkserver`` start method pays that once per search: a server
process (Python's :mod:`multiprocessing` forkserver) imports
:mod:`lit_distill.search.trial_preload` once, and every trial is a ``fork()`` of
it that runs ``python -m lit_distill fit|validate ...`` in-process. Each trial
is still its own process, so an out-of-memory error, a crash or a SIGKILL ends
that trial only, and its exit code, log and metrics are read exactly as for a
subprocess.

What differs from a fresh interpreter: environment variables that a library
reads *when it is imported* (``OMP_NUM_THREADS``, ``HF_HUB_OFFLINE``, ...) take
the search process's values; per-trial variables the project reads at run time
(the metrics path, ``LIT_DISTILL_*`` config variables) are set in the child
before the command runs. The server never initialises CUDA, so each trial sets
up its own devices after the fork, as a fresh process would.

Start methods (spec key ``start_method``):

* ``subprocess`` — ``subprocess.Popen`` of the spec's ``launcher`` (any launcher,
  e.g. ``srun``; every platform);
* ``forkserver`` — the pre-imported server (Linux only; the default ``launcher``);
* ``auto`` (default) — ``forkserver`` on Linux with the default launcher, else
  ``subprocess``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import multiprocessing
import os
import runpy
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the class exists on POSIX only
    from multiprocessing.context import ForkServerContext

StartMethod = Literal["auto", "forkserver", "subprocess"]
START_METHODS: tuple[str, ...] = ("auto", "forkserver", "subprocess")
DEFAULT_LAUNCHER: tuple[str, ...] = ("{python}", "-m", "lit_distill")
PRELOAD_MODULE = "lit_distill.search.trial_preload"

__all__ = [
    "DEFAULT_LAUNCHER",
    "START_METHODS",
    "ForkedTrial",
    "StartMethod",
    "die_with_parent",
    "end_with_process",
    "pid_alive",
    "resolve_start_method",
]


def resolve_start_method(method: StartMethod, launcher: Sequence[str]) -> Literal["forkserver", "subprocess"]:
    """The start method a trial really uses.

    ``auto`` picks ``forkserver`` on Linux when the launcher is the default
    ``{python} -m lit_distill``, else ``subprocess``.

    Raises:
        ValueError: For ``forkserver`` with another launcher or off Linux, or an unknown method.
    """
    linux = sys.platform.startswith("linux")
    default = tuple(launcher) == DEFAULT_LAUNCHER
    if method == "auto":
        return "forkserver" if linux and default else "subprocess"
    if method == "forkserver":
        if not default:
            raise ValueError(
                f"start_method 'forkserver' runs `python -m lit_distill` in-process and cannot use "
                f"launcher {list(launcher)}; use start_method 'subprocess' (or 'auto') with a custom launcher"
            )
        if not linux:
            raise ValueError(
                f"start_method 'forkserver' needs Linux (this is {sys.platform}); use 'subprocess'"
            )
        return "forkserver"
    if method == "subprocess":
        return "subprocess"
    raise ValueError(f"unknown start_method {method!r}; allowed: {', '.join(START_METHODS)}")


def die_with_parent() -> None:  # pragma: no cover - runs in a child process
    """Ask Linux to SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)


def end_with_process(pid: int) -> threading.Thread:  # pragma: no cover - runs in a forked trial
    """SIGKILL this process as soon as process ``pid`` (the search) ends; returns the watcher thread.

    A forked trial's parent is the fork server, not the search, so ``PR_SET_PDEATHSIG``
    alone ends the trial only once the server has noticed the search's death and finished
    its own (slow: torch and Lightning are imported) interpreter shutdown; a trial close to
    its end used that time to finish and write its files. This watcher waits on a pidfd
    of the search process (no polling; Linux ≥ 5.3), else checks it every 0.2 s.
    """

    def kill_self() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def watch() -> None:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:  # the search died before this trial got here
            kill_self()
        except (OSError, AttributeError):  # no pidfd: poll
            while pid_alive(pid):
                time.sleep(0.2)
            kill_self()
        else:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.poll()  # readable once the process has ended
            kill_self()

    thread = threading.Thread(target=watch, name="lit_distill-end-with-search", daemon=True)
    thread.start()
    return thread


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@functools.cache
def _forkserver_context() -> ForkServerContext:
    ctx = multiprocessing.get_context("forkserver")
    # Takes effect when the server starts (the first trial of this process); a server that
    # someone else started earlier keeps its own preload list, which only costs speed.
    ctx.set_forkserver_preload([PRELOAD_MODULE])
    return ctx


class ForkedTrial:
    """A trial forked from the pre-imported server; the part of ``subprocess.Popen`` the runner uses.

    Args:
        args: The command after ``python -m lit_distill`` (``["fit", "--config", ...]``).
        env: The trial's complete environment.
        log_path: File that receives the trial's stdout and stderr (appended to).
    """

    def __init__(self, args: Sequence[str], env: Mapping[str, str], log_path: str) -> None:
        self._process = _forkserver_context().Process(
            target=run_forked_trial,
            args=(list(args), dict(env), log_path, os.getpid()),
            name="lit_distill-trial",
        )
        self._process.start()
        self.pid: int = self._process.pid  # type: ignore[assignment]
        self._returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the trial; its exit code (negative: the signal that killed it).

        Raises:
            subprocess.TimeoutExpired: If it still runs after ``timeout`` seconds.
        """
        if self._returncode is None:
            self._process.join(timeout)
            code = self._process.exitcode
            if code is None:
                raise subprocess.TimeoutExpired(f"lit_distill trial (pid {self.pid})", timeout or 0.0)
            self._returncode = code
            self._process.close()  # frees its pipe now: a long search forks thousands of trials
        return self._returncode

    def kill(self) -> None:
        """SIGKILL the trial (nothing if it has ended)."""
        if self._returncode is None:
            self._process.kill()


def _release_server() -> None:  # pragma: no cover - runs in the forked child
    """Close this child's copy of the server's keep-alive pipe.

    The forkserver exits when the last writer of that pipe closes; every child gets a copy
    (so it could fork more children), which would keep the server, and through
    PR_SET_PDEATHSIG the trial itself, alive after the search process is killed.
    """
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(fd, int):
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


def run_forked_trial(  # pragma: no cover
    args: list[str], env: dict[str, str], log_path: str, search_pid: int
) -> None:
    """Child side of :class:`ForkedTrial`: become ``python -m lit_distill ARGS`` with the trial's log and env.

    Runs in the forked process (coverage does not follow it; the runner tests exercise it).
    The trial ends when the search process ``search_pid`` ends, even if the server lingers.
    """
    die_with_parent()  # the parent is the server, which exits when the search process does ...
    _release_server()  # ... once this process no longer keeps it alive
    end_with_process(search_pid)  # and at once, without waiting for the server's shutdown
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    for entry in reversed(env.get("PYTHONPATH", "").split(os.pathsep)):
        if entry and entry not in sys.path:
            sys.path.insert(0, entry)
    sys.argv = ["lit_distill", *args]
    try:
        # Exactly `python -m lit_distill ...`: __main__ is lit_distill/__main__.py with its
        # module spec, so Lightning's DDP launcher restarts the other ranks as `-m lit_distill`.
        runpy.run_module("lit_distill", run_name="__main__", alter_sys=True)
    finally:
        atexit._run_exitfuncs()  # multiprocessing ends a child with os._exit, which skips atexit
