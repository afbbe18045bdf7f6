"""Database engine, sessions (one commit per request, before the answer), Base and column types."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from weakref import WeakKeyDictionary

from fastapi import Depends
from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.config import get_settings
from app.errors import AppError

__all__ = [
    "Base",
    "UTCDateTime",
    "JSONDoc",
    "DbSession",
    "get_engine",
    "get_sessionmaker",
    "session_scope",
    "commit_early",
    "utcnow",
    "reset_engine",
    "count",
    "sqlite_file_problem",
    "others_writing",
    "DatabaseFileGone",
]

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model, with constraint names Alembic can rely on."""

    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """The current time, aware, in UTC (time-machine controls it in tests)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as UTC; SQLite gives naive values back, so re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONDoc = JSON()

_engine: Engine | None = None
_sessionmaker: sessionmaker[Session] | None = None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.close()


class DatabaseFileGone(AppError):
    """The SQLite file was deleted or replaced under the running server: writes would be lost."""

    status, code = 503, "database_file_gone"


@dataclass(frozen=True)
class _SqliteFile:
    """The database file an engine's connections opened: its path and (device, inode)."""

    path: str
    identity: tuple[int, int]

    def problem(self) -> str | None:
        """None while the path still names the file the connections hold open."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return "file deleted"
        except OSError as exc:
            return f"file unreadable: {exc.strerror}"
        return None if (found.st_dev, found.st_ino) == self.identity else "file replaced"


_sqlite_files: WeakKeyDictionary[Engine, _SqliteFile] = WeakKeyDictionary()
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")


def sqlite_file_problem(engine: Engine) -> str | None:
    """For a SQLite file database: "file deleted" or "file replaced" when the path no longer
    names the file the engine's connections write to; otherwise None."""
    found = _sqlite_files.get(engine)
    return found.problem() if found is not None else None


def _watch_sqlite_file(engine: Engine, path: str) -> None:
    """Remember the file the first connection opens; refuse writes once it is gone.

    An unlinked SQLite file stays writable through the open connections: every write would
    answer 201 and be lost at the next start. A write statement first checks (one stat) that
    the path still names that file, and fails with 503 otherwise.
    """

    def remember(_dbapi_conn: Any, _record: Any) -> None:
        if engine not in _sqlite_files:
            stat = os.stat(path)
            _sqlite_files[engine] = _SqliteFile(path, (stat.st_dev, stat.st_ino))

    def refuse_lost_writes(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() in _WRITES:
            watched = _sqlite_files.get(engine)
            problem = watched.problem() if watched is not None else None
            if problem:
                raise DatabaseFileGone(
                    f"the database file {path} was {problem.removeprefix('file ')} while "
                    "the server ran: nothing was written; restart the server")

    event.listen(engine, "connect", remember)
    event.listen(engine, "before_cursor_execute", refuse_lost_writes)


# Threads of this process inside a write statement (maybe waiting for SQLite's lock), and
# since when; an entry older than the busy timeout is stale.
_writing: dict[int, float] = {}
_WRITING_STALE_S = 20.0


def others_writing() -> bool:
    """Another thread of this process runs a write statement (it may be waiting for SQLite's
    write lock): long bulk writes let it go first (:class:`app.runtime.chunked.Pacer`)."""
    me, now = threading.get_ident(), time.monotonic()
    return any(ident != me and now - since < _WRITING_STALE_S
               for ident, since in list(_writing.items()))


def _announce_writers(engine: Engine) -> None:
    """Note which threads of this process run a write statement (SQLite)."""

    def started(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() in _WRITES:
            _writing[threading.get_ident()] = time.monotonic()

    def ended(*_: Any) -> None:
        _writing.pop(threading.get_ident(), None)

    event.listen(engine, "before_cursor_execute", started)
    event.listen(engine, "after_cursor_execute", ended)
    event.listen(engine, "handle_error", ended)


def make_engine(url: str, *, pooled: bool = True) -> Engine:
    """Create an engine for ``url`` with the per-dialect settings the service relies on."""
    from sqlalchemy.pool import NullPool

    pool_args: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 15},
            **(pool_args or {"pool_size": 20}),
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if path and path != ":memory:":
            _watch_sqlite_file(engine, path.split("?", 1)[0])
        _announce_writers(engine)
        return engine
    return create_engine(
        url, pool_pre_ping=True, **(pool_args or {"pool_size": 20, "max_overflow": 20})
    )


def get_engine() -> Engine:
    """The process's engine, built from the settings on first use."""
    global _engine
    if _engine is None:
        _engine = make_engine(get_settings().database_url)
    return _engine


def get_sessionmaker() -> sessionmaker[Session]:
    """The process's session factory."""
    global _sessionmaker
    if _sessionmaker is None:
        _sessionmaker = sessionmaker(get_engine(), expire_on_commit=False)
    return _sessionmaker


def reset_engine() -> None:
    """Dispose of the engine so the next use reads the settings again (tests, CLI)."""
    global _engine, _sessionmaker
    if _engine is not None:
        _engine.dispose()
    _engine, _sessionmaker = None, None


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session for jobs and the CLI: commit on success, roll back on error."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _request_session() -> Iterator[Session]:
    # scope="function" below: this exits (commits) before FastAPI sends the response.
    with session_scope() as session:
        yield session


DbSession = Annotated[Session, Depends(_request_session, scope="function")]


def commit_early(session: Session) -> None:
    """Commit a request's work now, before its answer is composed: the one way a route does.

    A route's session commits once, at the end of the request. An urgent broadcast (or its
    cancellation) wakes every terminal of its villages at its commit, and they should not wait
    while the answer to its sender is read back and encoded: such a route commits here, then
    reads. The session goes on in a new transaction, committed at the end of the request as
    always (by then with nothing left to write), and after-commit actions run at each commit.
    """
    session.commit()


def count(session: Session, stmt: Any) -> int:
    """Total rows of a select statement (for list pages)."""
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
