"""Whether the database can take a write now: what ``/readyz`` reports about it.

Reaching the database is not enough to be ready: a read-only database (a file system
remounted read-only, a PostgreSQL standby after a failover), one locked by another process
(an exclusive lock, a migration holding a table) or, on SQLite, a database file deleted or
replaced under the running server would all accept reads and refuse (or lose) the next
write, an urgent broadcast among them. So the probe opens a write transaction, takes the
lock every write needs and rolls it back, waiting at most :data:`LOCK_WAIT_S` — the longest
an urgent write is meant to wait behind another.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from app.db import sqlite_file_problem

__all__ = ["LOCK_WAIT_S", "database_state"]

LOCK_WAIT_S = 1.0


def database_state(engine: Engine) -> str:
    """``ok``, or what keeps the database from taking a write now (a short phrase)."""
    problem = sqlite_file_problem(engine)
    if problem:
        return problem
    try:
        with engine.connect() as conn:
            # A real table, not SELECT 1: that one answers without touching the database.
            conn.execute(text("SELECT 1 FROM alembic_version LIMIT 1"))
            if engine.dialect.name == "sqlite":
                return _sqlite_write_state(conn.connection.driver_connection)
            return _postgresql_write_state(conn)
    except SQLAlchemyError as exc:  # readiness must report, not raise
        return f"unreachable: {_reason(exc)}"


def _reason(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    return type(orig or exc).__name__


def _sqlite_write_state(raw: Any) -> str:
    """Take SQLite's write lock and give it back at once (a pooled connection, restored)."""
    if raw.execute("PRAGMA query_only").fetchone()[0]:
        return "read_only"
    previous = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    raw.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT_S * 1000)}")
    try:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        message = str(exc).lower()
        if "readonly" in message or "read-only" in message:
            return "read_only"
        if "locked" in message or "busy" in message:
            return "locked"
        return f"unwritable: {exc}"
    finally:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raw.execute(f"PRAGMA busy_timeout={int(previous)}")
    return "ok"


def _postgresql_write_state(conn: Any) -> str:
    """Read-only (standby, ``default_transaction_read_only``) or play orders locked?"""
    wait_ms = int(LOCK_WAIT_S * 1000)
    try:  # inside the transaction the first statement began; rolled back when closed
        conn.execute(text(f"SET LOCAL lock_timeout = {wait_ms}"))
        conn.execute(text(f"SET LOCAL statement_timeout = {wait_ms * 3}"))
        read_only = conn.execute(text(
            "SELECT current_setting('transaction_read_only') = 'on' OR pg_is_in_recovery()"
        )).scalar()
        if read_only:
            return "read_only"
        # The lock every INSERT into play_orders takes (an urgent broadcast's): held against
        # us by a migration or an explicit LOCK TABLE, it is refused after the wait.
        conn.execute(text("LOCK TABLE play_orders IN ROW EXCLUSIVE MODE"))
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlstate", None)
        if code in ("55P03", "57014"):  # lock_not_available, query_canceled (timeout)
            return "locked"
        if code == "25006":  # read_only_sql_transaction
            return "read_only"
        raise
    return "ok"
