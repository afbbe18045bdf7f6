"""``/readyz`` tells the truth about writes: read-only, locked, or a SQLite file deleted under
the running server; in that last case writes answer 503 instead of vanishing into the file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from app.config import reset_settings
from app.db import get_engine, reset_engine
from tests.conftest import ADMIN_PASSWORD, PG_URL, login

AREA = {"code": "rd1", "name": "就绪区", "level": "district"}


def _ready(client: TestClient) -> tuple[int, str]:
    answer = client.get("/readyz")
    return answer.status_code, answer.json()["checks"]["database"]


def test_a_healthy_database_is_ready(client: TestClient) -> None:
    assert _ready(client) == (200, "ok")


# ------------------------------------------------------------------ locked


def _hold_sqlite_write_lock(path: str) -> subprocess.Popen[str]:
    """Another process holding SQLite's write lock until its stdin closes."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys\n"
         f"c = sqlite3.connect({path!r}, isolation_level=None)\n"
         "c.execute('BEGIN EXCLUSIVE')\n"
         "print('held', flush=True)\n"
         "sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_readyz_says_locked_while_another_process_holds_the_write_lock(
    client: TestClient, database_url: str,
) -> None:
    if PG_URL:
        other = create_engine(PG_URL).connect()
        other.execute(text("LOCK TABLE play_orders IN ACCESS EXCLUSIVE MODE"))
        release = other.close
    else:
        holder = _hold_sqlite_write_lock(database_url.split("///", 1)[1])

        def release() -> None:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(10)

    try:
        started = time.monotonic()
        assert _ready(client) == (503, "locked")
        assert time.monotonic() - started < 10  # the probe waits about a second, not 15
    finally:
        release()
    assert _ready(client) == (200, "ok")


# ------------------------------------------------------------------ read-only


@pytest.fixture
def read_only_database(client: TestClient) -> Iterator[None]:
    """The database refuses writes from now on (as after a failover to a standby, or a file
    system remounted read-only), for every connection the server opens."""
    if PG_URL:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = conn.execute(text("SELECT quote_ident(current_database())")).scalar()
            conn.execute(text(f"ALTER DATABASE {name} SET default_transaction_read_only = on"))
            # The server's connections are dropped (a failover does that) and come back read-only.
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        try:
            yield
        finally:
            with admin.connect() as conn:
                conn.execute(text("SET default_transaction_read_only = off"))
                conn.execute(text(f"ALTER DATABASE {name} RESET default_transaction_read_only"))
            admin.dispose()
            get_engine().dispose()  # connections opened meanwhile are read-only for good
        return

    def query_only(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only=1")

    engine = get_engine()
    event.listen(engine, "connect", query_only)
    engine.pool.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", query_only)
        engine.pool.dispose()


def test_readyz_says_read_only_and_a_write_answers_503(
    client: TestClient, admin: dict[str, str], read_only_database: None,
) -> None:
    assert _ready(client) == (503, "read_only")
    answer = client.post("/api/v1/areas", json=AREA, headers=admin)
    assert answer.status_code == 503, answer.text
    assert set(answer.json()) >= {"error", "detail"}


# ------------------------------------------------------------------ deleted file


@pytest.fixture
def own_sqlite(env: dict[str, str], tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A SQLite database of this test's own (it gets deleted), migrated; its path."""
    from app.migrate import upgrade

    if PG_URL:
        pytest.skip("a SQLite file only")
    path = tmp_path / "own.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    monkeypatch.setenv("CUNXIANG_DATABASE_URL", url)
    reset_settings()
    reset_engine()
    try:
        yield path
    finally:
        reset_engine()
        monkeypatch.setenv("CUNXIANG_DATABASE_URL", env["CUNXIANG_DATABASE_URL"])
        reset_settings()


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_a_sqlite_file_deleted_under_the_server_is_not_ready_and_writes_answer_503(
    own_sqlite: Path,
) -> None:
    from app.main import create_app

    with TestClient(create_app()) as client:
        headers = login(client, "admin", ADMIN_PASSWORD)
        assert client.post("/api/v1/areas", json=AREA, headers=headers).status_code == 201
        _remove_database(own_sqlite)

        assert _ready(client) == (503, "file deleted")
        answer = client.post("/api/v1/areas", json={**AREA, "code": "rd2"}, headers=headers)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "database_file_gone"
        assert "deleted" in answer.json()["detail"]


def test_a_sqlite_file_replaced_under_the_server_is_not_ready(
    own_sqlite: Path, tmp_path: Path,
) -> None:
    from app.main import create_app
    from app.migrate import upgrade

    other = tmp_path / "other.db"
    upgrade(f"sqlite:///{other}")
    with TestClient(create_app()) as client:
        headers = login(client, "admin", ADMIN_PASSWORD)
        assert _ready(client) == (200, "ok")
        _remove_database(own_sqlite)
        shutil.copy(other, own_sqlite)  # e.g. a backup restored over it

        assert _ready(client) == (503, "file replaced")
        answer = client.post("/api/v1/areas", json=AREA, headers=headers)
        assert answer.status_code == 503 and answer.json()["error"] == "database_file_gone"
    assert os.path.exists(own_sqlite)
