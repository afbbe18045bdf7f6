"""The terminal fast path answers exactly as the FastAPI routes would, and forgets at once.

Each request is sent twice: to the app as served (the fast path in front) and to the same
app with the fast path taken out, so the routes answer everything. Status and body must
be the same, bar the clock fields.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PG_URL
from tests.playout.orders import bearer, insert_order, register, store_media

CLOCK_FIELDS = ("received_at", "server_time")


@pytest.fixture
def routes_only(app: Any) -> Any:
    """The same application without the fast path: FastAPI answers every request."""
    from app.main import create_app
    from app.playout.fastpath import TerminalFastPath

    plain = create_app()
    plain.user_middleware = [m for m in plain.user_middleware if m.cls is not TerminalFastPath]
    with TestClient(plain) as test_client:
        yield test_client


def _seen(response: Any) -> tuple[int, Any]:
    """What a terminal sees of an answer, without the clock fields that differ per request."""
    if response.status_code == 304:
        return 304, response.content
    body = response.json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in CLOCK_FIELDS}
    return response.status_code, body


def _heartbeats(now: datetime) -> list[tuple[dict[str, str], Any]]:
    json_type = {"Content-Type": "application/json"}
    return [
        (json_type, {"status": "ok", "power": "mains"}),
        (json_type, {"status": "fault", "power": "battery", "fault": "功放无输出", "volume": 0}),
        (json_type, {"status": "ok", "power": "off", "playing": True, "volume": 100}),
        (json_type, {"status": "ok", "power": "mains", "playing": "ord_1", "extra": [1, 2]}),
        (json_type, {"status": "ok", "power": "mains", "at": (now - timedelta(minutes=3))
                     .isoformat()}),
        (json_type, {"status": "ok", "power": "mains", "volume": "80"}),
        (json_type, {"status": "ok", "power": "mains", "note": "长" * 20_000}),
        (json_type, {"status": "fine", "power": "mains"}),
        (json_type, {"status": "ok", "power": "mains", "volume": 101}),
        (json_type, {"status": "ok", "power": "mains", "at": "2026-11-29T10:00:00"}),
        (json_type, {"status": "ok", "power": "mains", "fault": "x" * 201}),
        (json_type, {"status": "ok"}),
        (json_type, []),
        (json_type, "not an object"),
        (json_type, b'{"status": "ok", "power": '),
        (json_type, b""),
        ({"Content-Type": "text/plain"}, b'{"status": "ok", "power": "mains"}'),
        ({"Content-Type": "application/merge-patch+json"}, {"status": "ok", "power": "mains"}),
        ({}, b'{"status": "ok", "power": "mains"}'),
        # Hostile: text no database can store, lengths past the columns, unreal times.
        (json_type, b'{"status": "ok", "power": "mains", "playing": "\\udfff"}'),
        (json_type, b'{"status": "ok", "power": "mains", "playing": "\xed\xa0\x80"}'),
        (json_type, b'{"status": "fault", "power": "mains", "fault": "a\\u0000b"}'),
        (json_type, b'{"status": "ok", "power": "mains", "extra": {"k\\u0000": "v"}}'),
        (json_type, b'{"status": "ok", "power": "mains", "playing": "\\ud83d\\ude00"}'),
        (json_type, {"status": "ok", "power": "mains", "playing": "x" * 201}),
        (json_type, {"status": "ok", "power": "mains", "at": "0001-01-01T00:00:00+14:00"}),
        (json_type, {"status": "ok", "power": "mains", "at": "9999-12-31T23:59:59-14:00"}),
    ]


def _post(client: TestClient, token: str, headers: dict[str, str], body: Any) -> Any:
    raw = body if isinstance(body, bytes) else None
    return client.post("/terminal/v1/heartbeat", headers={**bearer(token), **headers},
                       content=raw, json=None if raw is not None else body)


def test_heartbeats_get_the_routes_answers(
    client: TestClient, routes_only: TestClient, admin, district
) -> None:
    token = register(client, admin, "v11", "F1")["token"]
    for headers, body in _heartbeats(datetime.now(UTC)):
        fast, plain = _post(client, token, headers, body), _post(routes_only, token, headers, body)
        assert _seen(fast) == _seen(plain), (headers, body, fast.text, plain.text)
        if fast.status_code == 200:
            ack = fast.json()
            assert ack["speaker"] and ack["village"] == "v11"
            assert ack["received_at"] <= ack["server_time"]
        else:
            assert {"error", "detail"} <= set(fast.json()), fast.text
    # The fast path took them: an accepted heartbeat shows on the speaker at once.
    speakers = client.get("/api/v1/speakers?village=v11", headers=admin).json()["items"]
    assert [s["status"] for s in speakers] == ["online"]
    for token_headers in ({}, bearer("cxt_forged"), admin):
        fast = client.post("/terminal/v1/heartbeat", json={"status": "ok", "power": "mains"},
                           headers=token_headers)
        plain = routes_only.post("/terminal/v1/heartbeat", headers=token_headers,
                                 json={"status": "ok", "power": "mains"})
        assert _seen(fast) == _seen(plain) and fast.status_code in (401, 403)


def test_program_queries_get_the_routes_answers(
    client: TestClient, routes_only: TestClient, admin, district
) -> None:
    token = register(client, admin, "v11", "F2")["token"]
    insert_order("v11", datetime.now(UTC) + timedelta(minutes=5), [store_media(1.0)])
    version = client.get("/terminal/v1/program", headers=bearer(token)).json()["version"]
    assert version > 0
    for query in ["", f"?version={version + 1}", f"?version={version}&wait=0",
                  f"?version={version}&wait=0.2", "?version=-1", "?version=abc", "?wait=-1",
                  "?wait=abc", f"?version={version}.5", "?version=", "?wait=1e9&version=0",
                  f"?version={version}&version={version + 1}", "?colour=blue"]:
        fast = client.get("/terminal/v1/program" + query, headers=bearer(token))
        plain = routes_only.get("/terminal/v1/program" + query, headers=bearer(token))
        assert _seen(fast) == _seen(plain), (query, fast.text, plain.text)
        assert fast.headers.get("content-type") == plain.headers.get("content-type")
    for host in ("bad host", "example.org:8080", "[::1]"):  # media URLs follow Starlette's rules
        headers = {**bearer(token), "Host": host}
        fast = client.get("/terminal/v1/program", headers=headers)
        plain = routes_only.get("/terminal/v1/program", headers=headers)
        assert _seen(fast) == _seen(plain), (host, fast.text, plain.text)
    head = client.head("/terminal/v1/program", headers=bearer(token))
    assert head.status_code == routes_only.head("/terminal/v1/program",
                                                headers=bearer(token)).status_code


def test_a_database_failure_is_503_on_both_paths(
    client: TestClient, routes_only: TestClient, admin, district, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from app.playout import longpoll

    token = register(client, admin, "v11", "F5")["token"]  # never used: not in memory

    def unavailable(*_: Any, **__: Any) -> None:
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    monkeypatch.setattr(longpoll, "resolve_token", unavailable)
    beat = {"status": "ok", "power": "mains"}
    for name, send in [("program", lambda c: c.get("/terminal/v1/program", headers=bearer(token))),
                       ("heartbeat", lambda c: c.post("/terminal/v1/heartbeat", json=beat,
                                                      headers=bearer(token)))]:
        fast, plain = send(client), send(routes_only)
        assert fast.status_code == plain.status_code == 503, (name, fast.text, plain.text)
        assert fast.json() == plain.json() and fast.json()["error"] == "unavailable"
        assert fast.headers["retry-after"] == plain.headers["retry-after"] == "1"


def test_answers_of_the_fast_path_are_counted_in_the_metrics(
    client: TestClient, admin, district
) -> None:
    token = register(client, admin, "v11", "F3")["token"]

    def counted() -> float:
        for line in client.get("/metrics").text.splitlines():
            if (line.startswith("cunxiang_http_requests_total{")
                    and 'route="/terminal/v1/heartbeat"' in line and 'status="200"' in line):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = counted()
    for _ in range(3):
        assert client.post("/terminal/v1/heartbeat", json={"status": "ok", "power": "mains"},
                           headers=bearer(token)).status_code == 200
    assert counted() == before + 3


def test_a_known_token_stops_at_once_when_rotated_retired_or_moved(
    client: TestClient, admin, district
) -> None:
    """The fast path keeps tokens in memory: every change must drop them there at once."""
    beat = {"status": "ok", "power": "mains"}
    speaker = register(client, admin, "v11", "F4")
    old = bearer(speaker["token"])
    for _ in range(2):  # known now, to the token memory too
        assert client.post("/terminal/v1/heartbeat", json=beat, headers=old).status_code == 200
        assert client.get("/terminal/v1/program", headers=old).status_code == 200
    moved = client.patch(f"/api/v1/speakers/{speaker['id']}", json={"village": "v21"},
                         headers=admin)
    assert moved.status_code == 200
    assert client.post("/terminal/v1/heartbeat", json=beat, headers=old).json()["village"] == "v21"
    rotated = client.post(f"/api/v1/speakers/{speaker['id']}/token", headers=admin).json()
    assert client.post("/terminal/v1/heartbeat", json=beat, headers=old).status_code == 401
    refused = client.get("/terminal/v1/program", headers=old)
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    new = bearer(rotated["token"])
    assert client.get("/terminal/v1/program", headers=new).status_code == 200
    assert client.delete(f"/api/v1/speakers/{speaker['id']}", headers=admin).status_code == 204
    assert client.post("/terminal/v1/heartbeat", json=beat, headers=new).status_code == 401
    assert client.get("/terminal/v1/program", headers=new).status_code == 401


@pytest.mark.slow
@pytest.mark.skipif(not PG_URL, reason="other processes hear of a rotation by PostgreSQL NOTIFY")
def test_a_rotation_in_another_process_stops_the_token_at_once(env) -> None:
    import httpx

    from app.auth.permissions import SYSTEM
    from app.db import session_scope
    from app.speakers.service import rotate_token
    from tests.conftest import ADMIN_PASSWORD, District, LiveServer, login

    server = LiveServer(env).start(timeout=90)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            admin = login(http, "admin", ADMIN_PASSWORD)  # type: ignore[arg-type]
            District(http, admin)  # type: ignore[arg-type]
            speaker = register(http, admin, "v11", "X2")  # type: ignore[arg-type]
            old = bearer(speaker["token"])
            assert http.get("/terminal/v1/program", headers=old).status_code == 200
            with session_scope() as session:  # this process, not the server's
                rotate_token(session=session, principal=SYSTEM,
                             speaker_id=speaker["id"])
            deadline = time.monotonic() + 3
            while (status := http.get("/terminal/v1/program", headers=old).status_code) == 200:
                assert time.monotonic() < deadline, "the server kept the rotated token"
                time.sleep(0.05)
            assert status == 401
    finally:
        server.stop()


def test_after_notifications_may_have_been_lost_nothing_held_in_memory_is_trusted(
    app: Any, client: TestClient, admin, district
) -> None:
    """What a reconnecting PostgreSQL listener does: a token revoked behind the process's
    back (its notification lost) stops working once the listener is back."""
    from sqlalchemy import update

    from app.db import session_scope
    from app.speakers.models import Speaker

    speaker = register(client, admin, "v11", "F6")
    old = bearer(speaker["token"])
    assert client.get("/terminal/v1/program", headers=old).status_code == 200  # now in memory
    with session_scope() as session:  # a rotation nobody announced
        session.execute(update(Speaker).where(Speaker.id == speaker["id"])
                        .values(token_hash="0" * 64))
    assert client.get("/terminal/v1/program", headers=old).status_code == 200
    app.state.program_notifier.resync()
    deadline = time.monotonic() + 2
    while client.get("/terminal/v1/program", headers=old).status_code == 200:
        assert time.monotonic() < deadline, "the token held in memory was still trusted"
        time.sleep(0.02)
