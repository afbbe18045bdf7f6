"""Running the Alembic migrations from code (CLI, ``make run``, tests).

Several nodes may start at once (``cunxiang serve`` migrates first): on PostgreSQL an
advisory lock makes them migrate one after the other, the later ones finding nothing to do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config

__all__ = ["alembic_config", "upgrade"]

_HERE = Path(__file__).resolve().parent
_MIGRATION_LOCK = 0x6378_6D69_6772  # any constant shared by every node ("cxmigr")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the package's migrations and, optionally, a database URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@contextlib.contextmanager
def _one_migrator(url: str | None) -> Iterator[None]:
    """Hold PostgreSQL's migration lock (on its own connection) while migrating."""
    if not url or not url.startswith("postgresql"):
        yield
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
    finally:
        engine.dispose()


def upgrade(url: str | None = None) -> None:
    """Bring the database up to the newest schema (every head)."""
    with _one_migrator(url):
        command.upgrade(alembic_config(url), "heads")
