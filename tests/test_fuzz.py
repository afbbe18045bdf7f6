"""Schemathesis over every operation of ``/openapi.json``: never a 500, never an answer off
the documented schema.

A real server, a small seeded district, an admin's token (a terminal's on ``/terminal/``).
Each operation gets :data:`EXAMPLES` generated cases (valid and invalid) after schemathesis'
own boundary cases, derandomised so that CI runs the same cases every time. To fuzz
longer, see README ("Fuzzing").
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_PASSWORD, LiveServer

EXAMPLES = int(os.environ.get("CUNXIANG_FUZZ_EXAMPLES", "5"))
PATHS = os.environ.get("CUNXIANG_FUZZ_PATHS")  # a regular expression: only these operations
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]

pytestmark = pytest.mark.slow


@dataclass
class Target:
    """The server under fuzzing, the credentials the cases carry and real ids to use."""

    url: str
    admin: dict[str, str]
    terminal: dict[str, str]
    ids: dict[str, list[str]]


def _seed(http: httpx.Client) -> Target:
    """A district with a speaker, content, a crew, a ticket, a broadcast, a webhook and an
    API key, so that reads answer real items (their schemas checked on them) and cases can
    name things that exist."""
    token = http.post("/api/v1/auth/token", json={"username": "admin",
                                                  "password": ADMIN_PASSWORD}).json()
    admin = {"Authorization": f"Bearer {token['access_token']}"}

    def post(path: str, body: Any, **headers: str) -> Any:
        answer = http.post(path, json=body, headers={**admin, **headers})
        assert answer.status_code in (200, 201), (path, answer.text)
        return answer.json()

    for code, level, parent in [("d1", "district", None), ("t1", "town", "d1"),
                                ("v11", "village", "t1"), ("v12", "village", "t1")]:
        post("/api/v1/areas", {"code": code, "name": f"区域{code}", "level": level,
                               "parent": parent})
    speaker = post("/api/v1/speakers", {"serial": "FUZZ-1", "village": "v11", "lat": 30.1,
                                        "lon": 120.2})
    announcement = post("/api/v1/announcements", {"title": "通知", "body": "各位村民：明天停水。",
                                                  "area": "t1"})
    playlist = post("/api/v1/playlists", {"name": "早间", "area": "t1",
                                          "items": [{"silence_ms": 1000}]})
    crew = post("/api/v1/crews", {"name": "东镇维修队", "towns": ["t1"], "members": ["admin"]})
    post("/api/v1/outages", {"speaker": speaker["id"], "cause": "hardware", "note": "无声"})
    broadcast = post("/api/v1/broadcasts", {"title": "测试", "level": 4, "targets": ["v11"],
                                            "text": "测试", "mode": "test"},
                     **{"Idempotency-Key": "seed"})
    webhook = post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "secret": "s",
                                        "events": ["ticket.opened"]})
    key = post("/api/v1/api-keys", {"name": "指挥中心", "scopes": ["broadcasts:read"]})
    tickets = http.get("/api/v1/tickets", headers=admin).json()["items"]
    terminal = {"Authorization": f"Bearer {speaker['token']}"}
    assert http.post("/terminal/v1/heartbeat", json={"status": "ok", "power": "mains"},
                     headers=terminal).status_code == 200
    program = http.get("/terminal/v1/program", headers=terminal).json()
    ids = {"code": ["d1", "t1", "v11"], "speaker_id": [speaker["id"]],
           "announcement_id": [announcement["id"]], "number": ["1"],
           "playlist_id": [playlist["id"]], "crew_id": [crew["id"]],
           "ticket_id": [t["id"] for t in tickets], "broadcast_id": [broadcast["id"]],
           "webhook_id": [webhook["id"]], "key_id": [key["id"]],
           "sha256": [m["sha256"] for o in program["orders"] for m in o["media"]]}
    return Target(url=str(http.base_url).rstrip("/"), admin=admin, terminal=terminal, ids=ids)


@pytest.fixture
def fuzz_target(env: dict[str, str]) -> Iterator[Target]:
    """A real server on the test database, seeded (stopped after the test)."""
    # Fuzzed webhooks name any URL: every request the server makes goes to a closed port.
    trap = {"ALL_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    server = LiveServer(env, trap).start(timeout=90)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            yield _seed(http)
    finally:
        server.stop()


@pytest.fixture
def api_schema(request: pytest.FixtureRequest, fuzz_target: Target) -> Any:
    """The served document, as schemathesis reads it."""
    # schemathesis names each operation's subtest through pytest's private ``_nodeid``,
    # which pytest 9 no longer sets on a test item.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    return schemathesis.openapi.from_url(f"{fuzz_target.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")
if PATHS:
    schema = schema.include(path_regex=PATHS)


def _fresh_login() -> dict[str, str]:
    """A new login token for admin, minted in the database: a logout case revokes this one,
    never the token every other case carries (and a login would meet the fuzzed throttle)."""
    from sqlalchemy import select

    from app.auth.security import USER_TOKEN_PREFIX, new_token, token_digest
    from app.db import session_scope, utcnow
    from app.users.models import AccessToken, User

    token = new_token(USER_TOKEN_PREFIX)
    with session_scope() as session:
        user_id = session.scalar(select(User.id).where(User.username == "admin"))
        session.add(AccessToken(token_hash=token_digest(token), user_id=user_id,
                                expires_at=utcnow() + timedelta(hours=1)))
    return {"Authorization": f"Bearer {token}"}


def _real_ids(case: Any, target: Target) -> None:
    """Half the cases name things that exist (the other half keep the generated ids, which
    mostly do not), so the cases reach past the 404. Never to delete or rotate them, nor to
    change the admin's own user: the cases after must still find them."""
    operation = case.operation
    if operation.method.upper() == "DELETE" or operation.path.endswith("/token"):
        return
    pick = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())
    if pick % 2 or not case.path_parameters:
        return
    for name in list(case.path_parameters):
        real = target.ids.get(name)
        if real:
            case.path_parameters[name] = real[pick // 2 % len(real)]


def _short_wait(case: Any) -> None:
    """A long-poll waits at most a fraction of a second here (60 s is allowed)."""
    wait = (case.query or {}).get("wait")
    try:
        if float(wait) > 0.2:
            case.query["wait"] = 0.2
    except (TypeError, ValueError):
        pass


@pytest.mark.timeout(900)
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error_or_off_its_schema(
    case: Any, fuzz_target: Target
) -> None:
    path = case.operation.path
    if path.startswith("/terminal/"):
        headers = fuzz_target.terminal
        _short_wait(case)
    elif path == "/api/v1/auth/logout":
        headers = _fresh_login()
    else:
        headers = fuzz_target.admin
    _real_ids(case, fuzz_target)
    case.call_and_validate(base_url=fuzz_target.url, headers=headers, checks=CHECKS)
