"""Shared fixtures: a real, migrated database (SQLite file or PostgreSQL), the app, users and
areas.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "admin-pass-123"
PASSWORD = "secret-pass-123"
PG_URL = os.environ.get("CUNXIANG_TEST_DATABASE_URL")


def pytest_configure(config: pytest.Config) -> None:
    """A private temporary directory for the run and every process it starts: tests that
    check nothing is left behind must not see another run's (or a benchmark's) files."""
    if "CUNXIANG_TEST_TMPDIR" in os.environ:
        return
    system = Path(tempfile.gettempdir())
    for stale in system.glob("cx-tests-*"):  # emptied by earlier runs (see below)
        try:
            if time.time() - stale.stat().st_mtime > 3600:
                stale.rmdir()
        except OSError:
            pass
    private = tempfile.mkdtemp(prefix="cx-tests-", dir=system)
    os.environ["CUNXIANG_TEST_TMPDIR"] = os.environ["TMPDIR"] = private
    tempfile.tempdir = private


def pytest_unconfigure(config: pytest.Config) -> None:
    """Empty the private temporary directory, but for multiprocessing's own folder, which
    multiprocessing removes itself at exit (the empty directory goes with a later run)."""
    private = os.environ.pop("CUNXIANG_TEST_TMPDIR", None)
    if not private:
        return
    for child in Path(private).iterdir():
        if child.name.startswith("pymp-"):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def pytest_report_header(config: pytest.Config) -> str:
    """Say which database the suite runs against."""
    if PG_URL:
        from sqlalchemy.engine import make_url

        return f"cunxiang database: PostgreSQL at {make_url(PG_URL).render_as_string()}"
    return "cunxiang database: SQLite (a fresh file per session)"


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database for the whole session."""
    from app.migrate import upgrade

    if PG_URL:
        _reset_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'cunxiang.db'}"
    upgrade(url)
    return url


def _wipe(url: str) -> None:
    from app.db import get_engine
    from app.models import Base

    tables = [t.name for t in Base.metadata.sorted_tables]
    with get_engine().begin() as conn:
        if url.startswith("postgresql"):
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("PRAGMA defer_foreign_keys=ON"))  # self-references (areas)
            for name in reversed(tables):
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def env(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """Environment of one test: the session database (emptied afterwards) and its own media dir."""
    from app.config import reset_settings
    from app.db import reset_engine

    values = {
        "CUNXIANG_DATABASE_URL": database_url,
        "CUNXIANG_MEDIA_DIR": str(tmp_path / "media"),
        "CUNXIANG_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "CUNXIANG_SCHEDULER": "false",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    reset_engine()
    from app.runtime.chunked import reset_stop
    from app.users.router import login_throttle

    login_throttle.clear()
    reset_stop()  # an app stopped by an earlier test asked long writes to stop
    yield values
    _wipe(database_url)
    reset_engine()
    reset_settings()


@pytest.fixture
def app(env: dict[str, str]) -> Any:
    """A fresh application on the test database."""
    from app.main import create_app

    return create_app()


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """An in-process client with the app's lifespan running."""
    with TestClient(app) as test_client:
        yield test_client


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers for a freshly logged-in user."""
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    """Headers of the bootstrap admin."""
    return login(client, "admin", ADMIN_PASSWORD)


class District:
    """A small district: d1 with towns t1 (villages v11, v12) and t2 (village v21)."""

    def __init__(self, client: TestClient, admin: dict[str, str]) -> None:
        self.client, self.admin = client, admin
        for code, name, level, parent in [
            ("d1", "青山区", "district", None),
            ("t1", "东镇", "town", "d1"),
            ("t2", "西镇", "town", "d1"),
            ("v11", "东一村", "village", "t1"),
            ("v12", "东二村", "village", "t1"),
            ("v21", "西一村", "village", "t2"),
        ]:
            body = {"code": code, "name": name, "level": level, "parent": parent}
            response = client.post("/api/v1/areas", json=body, headers=admin)
            assert response.status_code == 201, response.text

    def user(self, username: str, role: str, area: str | None) -> dict[str, str]:
        """Create a user and return their login headers."""
        body = {"username": username, "password": PASSWORD, "role": role, "area": area}
        response = self.client.post("/api/v1/users", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return login(self.client, username)


@pytest.fixture
def district(client: TestClient, admin: dict[str, str]) -> District:
    """The small test district, created through the API."""
    return District(client, admin)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A real ``cunxiang serve`` process on a free port."""

    def __init__(self, env: dict[str, str], extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, **(extra_env or {}), "CUNXIANG_PORT": str(self.port)}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> LiveServer:
        """Start the server (again, on the same port after ``stop``); wait until /readyz answers."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--no-migrate"], cwd=ROOT, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited during start-up")
            time.sleep(0.1)
        self.stop()  # never leave a half-started server working on the shared test database
        raise RuntimeError(f"the server did not become ready in {timeout:g} s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def live_server(env: dict[str, str]) -> Iterator[LiveServer]:
    """A real server process on the test database (stopped after the test)."""
    server = LiveServer(env).start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def wired() -> None:
    """The service's reactions, token kinds and usage checks, as every process installs them
    at start-up (:func:`app.wiring.wire`): tests that call services without an app need them."""
    from app.wiring import wire

    wire()
