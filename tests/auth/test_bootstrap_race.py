"""Several nodes starting at once on a new database: exactly one creates ``admin``, the others
start normally (no startup failure on the unique username)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from app.db import get_sessionmaker, session_scope
from app.users.models import User
from app.users.service import ensure_admin
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="one SQLite database is served by one process; nodes share PostgreSQL")


def test_two_processes_bootstrapping_at_once_make_one_admin(env: dict[str, str]) -> None:
    first = get_sessionmaker()()
    results: list[str | None] = []
    failures: list[BaseException] = []

    def second_node() -> None:
        try:
            with session_scope() as session:
                results.append(ensure_admin(session=session, password=None))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    try:
        generated = ensure_admin(session=first, password=None)  # not committed yet
        other = threading.Thread(target=second_node)
        other.start()
        other.join(0.5)  # it waits on the first one's row
        first.commit()
    finally:
        first.close()
    other.join(20)
    assert failures == [] and results == [None]
    assert generated
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
