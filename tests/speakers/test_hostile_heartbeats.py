"""One bad heartbeat must never blind monitoring: refused at the door, isolated in the flush."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import PG_URL
from tests.playout.orders import bearer, heartbeat, register

JSON = {"Content-Type": "application/json"}
# Bodies as terminals (or anyone holding a terminal token) might send them, byte for byte.
HOSTILE = [
    b'{"status": "ok", "power": "mains", "playing": "\\udfff"}',
    b'{"status": "ok", "power": "mains", "playing": "\\ud800x"}',
    b'{"status": "ok", "power": "mains", "playing": "\xed\xbf\xbf"}',
    b'{"status": "fault", "power": "mains", "fault": "a\\u0000b"}',
    b'{"status": "fault", "power": "mains", "fault": "\\udfff"}',
    b'{"status": "ok", "power": "mains", "note\\u0000": 1}',
    b'{"status": "ok", "power": "mains", "playing": "' + b"x" * 201 + b'"}',
    b'{"status": "ok", "power": "mains", "at": "0001-01-01T00:00:00+14:00"}',
]


def _speakers(client: TestClient, admin: dict[str, str]) -> dict[str, dict]:
    response = client.get("/api/v1/speakers", headers=admin)
    assert response.status_code == 200, response.text
    return {s["serial"]: s for s in response.json()["items"]}


def test_hostile_heartbeats_are_refused_and_monitoring_goes_on(
    client: TestClient, admin, district
) -> None:
    speaker = register(client, admin, "v11", "H1")
    for body in HOSTILE:
        refused = client.post("/terminal/v1/heartbeat", content=body,
                              headers={**bearer(speaker["token"]), **JSON})
        assert refused.status_code == 422, (body, refused.text)
        assert {"error", "detail"} <= set(refused.json())
    heartbeat(client, speaker["token"], status="fault", power="battery", fault="功放无输出",
              playing="ord_1")
    shown = _speakers(client, admin)["H1"]
    assert (shown["status"], shown["power"], shown["fault"], shown["playing"]) == (
        "fault", "battery", "功放无输出", "ord_1")


@pytest.mark.parametrize("poison", [
    pytest.param("a\x00b", marks=pytest.mark.skipif(not PG_URL, reason="SQLite stores a NUL")),
    "\udfff",
])
def test_a_row_the_database_refuses_is_dropped_and_the_rest_of_the_batch_kept(
    client: TestClient, admin, district, caplog: pytest.LogCaptureFixture, poison: str
) -> None:
    """A heartbeat that got past the door (here put straight into the buffer) is dropped
    alone, with a log line and a metric; every other heartbeat of its batch is stored."""
    from app.speakers.heartbeats import Heartbeat, HeartbeatBuffer
    from app.speakers.models import SpeakerHeartbeat

    good, bad = register(client, admin, "v11", "H2"), register(client, admin, "v12", "H3")
    dropped_before = _dropped(client)
    buffer = HeartbeatBuffer()  # the app's own is flushed by its task at any moment
    now = datetime.now(UTC)
    buffer.add(Heartbeat(speaker_id=good["id"], received_at=now, at=now, status="ok",
                         power="battery"))
    buffer.add(Heartbeat(speaker_id=bad["id"], received_at=now - timedelta(seconds=1),
                         at=now - timedelta(seconds=1), status="fault", power="mains",
                         fault="无输出"))
    buffer.add(Heartbeat(speaker_id=bad["id"], received_at=now, at=now, status="fault",
                         power="mains", fault=poison))
    with caplog.at_level(logging.WARNING, logger="app.speakers.heartbeats"):
        assert buffer.flush() == 2
    assert any("dropped a heartbeat" in r.getMessage() and bad["id"] in r.getMessage()
               for r in caplog.records)
    assert _dropped(client) == dropped_before + 1
    assert len(buffer) == 0  # nothing put back to fail again
    shown = _speakers(client, admin)
    assert (shown["H2"]["status"], shown["H2"]["power"]) == ("online", "battery")
    assert (shown["H3"]["status"], shown["H3"]["fault"]) == ("fault", "无输出")
    from app.db import session_scope

    with session_scope() as session:
        stored = session.scalars(select(SpeakerHeartbeat.fault)
                                 .where(SpeakerHeartbeat.speaker_id == bad["id"])).all()
    assert stored == ["无输出"]
    # And the next heartbeats flow as before.
    heartbeat(client, bad["token"], status="ok", power="mains")
    assert _speakers(client, admin)["H3"]["status"] == "online"
    for path in ("/api/v1/reports/coverage", "/api/v1/tickets", "/api/v1/outages",
                 "/api/v1/broadcasts"):
        assert client.get(path, headers=admin).status_code == 200, path


def _dropped(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("cunxiang_heartbeats_dropped_total "):
            return float(line.split()[1])
    raise AssertionError("cunxiang_heartbeats_dropped_total is not exported")
