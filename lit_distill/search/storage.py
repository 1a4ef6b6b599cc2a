"""Where an Optuna study lives: a journal file, SQLite, or a database server (PostgreSQL).

``backend.storage`` (or ``--storage``) is a journal file path, or an SQLAlchemy URL:

* ``sqlite:///study.db`` — one machine;
* ``postgresql://user:password@host:5432/db`` — many machines. The driver is psycopg 3
  (``pip install "lit_distill[postgres]"``), or psycopg2 when only that is installed; a URL
  may also name it (``postgresql+psycopg://``, ``postgresql+psycopg2://``);
* ``env:NAME`` or ``file:PATH`` — a URL kept in an environment variable or a file, and how
  a URL is shown without its secrets: :mod:`lit_distill.search.storage_url`.

A server storage is checked when it is opened: a wrong password, a missing database or an
unreachable host is a :class:`~lit_distill.search.spec.SearchSpecError` that names the URL
without its password, before any trial runs. Once open, a server that goes away (a restart,
a network cut) is waited for: every new connection retries for up to :data:`SERVER_WAIT_S`
seconds, with a warning naming the URL, and idle pooled connections are checked before use
(``pool_pre_ping``), so workers continue after a restart. A call whose connection dies under
it fails (Optuna writes each call in one transaction, so nothing is half-written);
:mod:`lit_distill.search.optuna_backend` then stops the worker cleanly.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path
from typing import Any

import optuna
import optuna.storages.journal
import sqlalchemy

from lit_distill.search.sampling import make_sampler
from lit_distill.search.space import optimizer_space
from lit_distill.search.spec import SearchSpec, SearchSpecError
from lit_distill.search.storage_url import read_storage_value, redact, scrub

__all__ = [
    "SERVER_WAIT_S",
    "StorageLostError",
    "is_storage_error",
    "load_study",
    "open_storage",
    "open_study",
    "redact",
    "resolve_url",
    "storage_error",
    "storage_label",
    "storage_url",
    "study_name",
]

log = logging.getLogger("lit_distill.search")

POSTGRES_EXTRA = 'pip install "lit_distill[postgres]"'
SERVER_WAIT_S = 120.0
"""How long a worker waits for its database server to come back before a call fails."""
CONNECT_TIMEOUT_S = 10
"""PostgreSQL ``connect_timeout`` unless the URL sets one (an unreachable host fails in this time)."""

_DRIVERS = {"psycopg": "psycopg", "psycopg2": "psycopg2"}  # SQLAlchemy dialect suffix -> module


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def resolve_url(url: str) -> str:
    """The SQLAlchemy URL to open: ``postgresql://`` gets the installed driver (psycopg 3 first).

    Raises:
        SearchSpecError: For a PostgreSQL URL without an installed driver (naming the extra).
    """
    scheme, sep, rest = url.partition("://")
    base, _, driver = scheme.partition("+")
    if base not in ("postgresql", "postgres"):
        return url
    if driver:
        if driver in _DRIVERS and not _installed(_DRIVERS[driver]):
            raise SearchSpecError(
                f"storage {redact(url)} needs the PostgreSQL driver {_DRIVERS[driver]!r}, which is not "
                f"installed: {POSTGRES_EXTRA}"
            )
        return f"postgresql+{driver}{sep}{rest}"
    for name in ("psycopg", "psycopg2"):
        if _installed(name):
            return f"postgresql+{name}{sep}{rest}"
    raise SearchSpecError(
        f"storage {redact(url)} needs a PostgreSQL driver (psycopg), which is not installed: {POSTGRES_EXTRA}"
    )


def _first_line(err: BaseException, url: str | None) -> str:
    """The driver's own message, first line, with every secret of the URL scrubbed."""
    orig = getattr(err, "orig", None) or err
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return scrub(text, url)


class _WaitForServer:
    """``do_connect`` listener: once armed, a failed connection is retried until the server is back."""

    def __init__(self, url: str, wait_s: float) -> None:
        self.url = url
        self.shown = redact(url)
        self.wait_s = wait_s
        self.armed = False

    def __call__(self, dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> Any:
        if not self.armed:
            return None  # SQLAlchemy connects as usual (the opening check fails at once)
        deadline = time.monotonic() + self.wait_s
        delay, warned = 0.25, False
        while True:
            try:
                connection = dialect.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError as err:
                if time.monotonic() + delay > deadline:
                    log.error("study storage %s still unreachable after %.0f s", self.shown, self.wait_s)
                    raise
                if not warned:
                    first = _first_line(err, self.url)
                    log.warning(
                        "study storage %s unreachable (%s); waiting up to %.0f s for it",
                        self.shown,
                        first,
                        self.wait_s,
                    )
                    warned = True
                time.sleep(delay)
                delay = min(2 * delay, 2.0)
            else:
                if warned:
                    log.warning("study storage %s reachable again", self.shown)
                return connection


def _open_server(url: str, wait_s: float) -> optuna.storages.RDBStorage:
    """An RDBStorage on a database server, checked by one connection first."""
    resolved = resolve_url(url)
    shown = redact(url)
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if resolved.startswith("postgresql") and "connect_timeout" not in url:
        engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    probe = sqlalchemy.create_engine(resolved, poolclass=sqlalchemy.pool.NullPool, **engine_kwargs)
    try:
        with probe.connect():
            pass
    except sqlalchemy.exc.SQLAlchemyError as err:
        raise SearchSpecError(
            f"cannot connect to the study storage {shown}: {_first_line(err, url)}"
        ) from None
    finally:
        probe.dispose()
    store = optuna.storages.RDBStorage(resolved, engine_kwargs=engine_kwargs)
    waiter = _WaitForServer(url, wait_s)
    sqlalchemy.event.listen(store.engine, "do_connect", waiter)
    waiter.armed = True
    return store


def open_storage(
    spec: SearchSpec, storage: str | None = None, wait_s: float = SERVER_WAIT_S
) -> optuna.storages.BaseStorage:
    """The study storage: an RDB URL (``sqlite:///…``, ``postgresql://…``) or a journal file.

    Args:
        spec: The search spec (``backend.storage`` is used when ``storage`` is None).
        storage: Overrides the spec. A value without ``://`` is a journal file path.
        wait_s: How long calls wait for a server that went away (server URLs only).

    Raises:
        SearchSpecError: If a server cannot be reached or refuses the login, or its driver is missing.
    """
    url = storage_url(spec, storage)
    if url is None:
        path = spec.output_dir / "study.journal"
    elif "://" in url:
        if url.startswith("sqlite"):
            return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})
        return _open_server(url, wait_s)
    else:
        path = Path(url) if storage is not None else (spec.path.parent / url).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    backend = optuna.storages.journal.JournalFileBackend(str(path))
    return optuna.storages.JournalStorage(backend)


def storage_url(spec: SearchSpec, storage: str | None = None) -> str | None:
    """The storage URL or journal path in use: ``storage`` (``--storage``), else ``backend.storage``,
    with ``env:NAME`` / ``file:PATH`` read (:func:`~lit_distill.search.storage_url.read_storage_value`);
    None for the default journal.

    Raises:
        SearchSpecError: For an unset variable or an unreadable file.
    """
    if storage is not None:
        return read_storage_value(storage, Path.cwd())
    if spec.backend.storage is not None:
        return read_storage_value(str(spec.backend.storage), spec.path.parent)
    return None


def storage_label(spec: SearchSpec, storage: str | None = None) -> str:
    """The storage as shown to users: the URL without its secrets, or the journal file."""
    url = storage_url(spec, storage)
    return redact(url) if url else str(spec.output_dir / "study.journal")


def study_name(spec: SearchSpec) -> str:
    """The study's name in the storage (``backend.study_name``, else the spec's name)."""
    return spec.backend.study_name or spec.name


#: Errors of workers that create the same tables or study at the same moment (retried).
_RACES = ("OperationalError", "IntegrityError", "ProgrammingError", "DuplicatedStudyError")


def load_study(
    spec: SearchSpec, storage: str | None = None, seed: int | None = None, create: bool = True
) -> optuna.Study:
    """Create or load the study with the spec's sampler (see :func:`~lit_distill.search.storage.open_study`).

    Raises:
        SearchSpecError: If the storage cannot be opened or holds a study with other objectives.
    """
    sampler = make_sampler(spec, spec.backend.seed if seed is None else seed)
    return open_study(spec, storage, sampler, create)[0]


def open_study(
    spec: SearchSpec,
    storage: str | None = None,
    sampler: optuna.samplers.BaseSampler | None = None,
    create: bool = True,
) -> tuple[optuna.Study, optuna.storages.BaseStorage]:
    """Create or load the study (and return its storage), refusing one whose objectives differ.

    Raises:
        SearchSpecError: If the storage cannot be opened, the stored study optimises other
            metrics, or it does not exist and ``create`` is False.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for attempt in range(5):  # workers starting together may race to create the tables/study
        try:
            return _open_study(spec, storage, sampler, create)
        except SearchSpecError:
            raise
        except Exception as err:
            if type(err).__name__ not in _RACES or attempt == 4:
                raise SearchSpecError(
                    f"cannot open the study storage {storage_label(spec, storage)}: "
                    f"{type(err).__name__}: {_first_line(err, storage_url(spec, storage))}"
                ) from err
            log.debug("opening the study failed (%s); retrying", err)
            time.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


def _open_study(
    spec: SearchSpec, storage: str | None, sampler: optuna.samplers.BaseSampler | None, create: bool
) -> tuple[optuna.Study, optuna.storages.BaseStorage]:
    store = open_storage(spec, storage)
    name = study_name(spec)
    if not create:
        names = [s.study_name for s in store.get_all_studies()]
        if name not in names:
            raise SearchSpecError(
                f"no study {name!r} in storage {storage_label(spec, storage)}; found {names}"
            )
    study = optuna.create_study(
        storage=store,
        sampler=sampler,
        study_name=name,
        directions=[m.objective for m in spec.objectives],
        load_if_exists=True,
    )
    objectives = [m.name for m in spec.objectives]
    stored = study.user_attrs.get("objectives")
    if stored is None:
        study.set_user_attr("objectives", objectives)
        study.set_user_attr("space", [p.name for p in optimizer_space(spec)])
    elif stored != objectives:
        raise SearchSpecError(
            f"study {name!r} already optimises {stored}, but the spec {spec.path} optimises {objectives}; "
            "set backend.study_name to start a new study"
        )
    return study, store


class StorageLostError(RuntimeError):
    """A worker lost its study storage in the middle of a search (the message says what is safe)."""


def is_storage_error(err: BaseException) -> bool:
    """Whether ``err`` comes from the study storage (Optuna's or SQLAlchemy's database errors)."""
    return isinstance(err, (optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError))


def storage_error(err: BaseException, url: str | None = None) -> str:
    """One line for a storage error: the database driver's message when there is one, without
    the secrets of ``url``."""
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, sqlalchemy.exc.SQLAlchemyError):
        cause = cause.__cause__
    inner = getattr(cause, "orig", None) or cause or err
    text = scrub(str(inner).strip(), url)
    return f"{type(inner).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
