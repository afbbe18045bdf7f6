"""Heartbeats: batched into the database, sampled history, health transitions as events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.runtime import events
from tests.playout.orders import heartbeat, register


@pytest.fixture
def health_events() -> Iterator[list[tuple[str, str]]]:
    """Every speaker.health event emitted during the test, as (speaker, status)."""
    seen: list[tuple[str, str]] = []

    def recorder(session: Any, speaker_id: str, status: str, **_: Any) -> None:
        seen.append((speaker_id, status))

    events.subscribe("speaker.health", recorder)
    yield seen
    events.unsubscribe("speaker.health", recorder)


def _history(speaker_id: str) -> list[tuple[str, str, str | None]]:
    from app.db import session_scope
    from app.speakers.models import SpeakerHeartbeat

    with session_scope() as session:
        return [(h.status, h.power, h.fault) for h in session.scalars(
            select(SpeakerHeartbeat).where(SpeakerHeartbeat.speaker_id == speaker_id)
            .order_by(SpeakerHeartbeat.at))]


def _flush(client: TestClient) -> None:
    client.app.state.heartbeats.flush()  # type: ignore[attr-defined]


def test_history_keeps_changes_not_every_identical_beat(
    client: TestClient, admin, district
) -> None:
    speaker = register(client, admin, "v11", "B1")
    for _ in range(5):
        heartbeat(client, speaker["token"])
    heartbeat(client, speaker["token"], power="battery")
    heartbeat(client, speaker["token"], power="battery")
    heartbeat(client, speaker["token"], status="fault", power="battery", fault="no amplifier")
    _flush(client)
    assert _history(speaker["id"]) == [("ok", "mains", None), ("ok", "battery", None),
                                       ("fault", "battery", "no amplifier")]


def test_a_queued_heartbeat_goes_to_history_but_never_overwrites_a_newer_one(
    client: TestClient, admin, district
) -> None:
    speaker = register(client, admin, "v11", "B2")
    heartbeat(client, speaker["token"], power="mains")
    _flush(client)
    earlier = (datetime.now(UTC) - timedelta(minutes=20)).isoformat()
    heartbeat(client, speaker["token"], power="battery", at=earlier)
    shown = client.get(f"/api/v1/speakers/{speaker['id']}", headers=admin).json()
    assert shown["power"] == "mains" and shown["status"] == "online"
    assert ("ok", "battery", None) in _history(speaker["id"])


def test_transitions_are_announced_once_each(
    client: TestClient, admin, district, health_events: list[tuple[str, str]]
) -> None:
    from app.db import session_scope
    from app.speakers.heartbeats import announce_health

    speaker = register(client, admin, "v11", "B3")
    sid = speaker["id"]
    heartbeat(client, speaker["token"])
    heartbeat(client, speaker["token"])
    _flush(client)
    heartbeat(client, speaker["token"], status="fault", fault="blown fuse")
    _flush(client)
    heartbeat(client, speaker["token"], status="fault", fault="blown fuse")
    _flush(client)
    client.patch(f"/api/v1/speakers/{sid}", json={"maintenance": True}, headers=admin)
    client.patch(f"/api/v1/speakers/{sid}", json={"maintenance": False}, headers=admin)
    later = datetime.now(UTC) + timedelta(seconds=200)
    with session_scope() as session:
        assert announce_health(session=session, now=later) == [(sid, "offline")]
    with session_scope() as session:
        assert announce_health(session=session, now=later) == []  # already announced
    assert [s for i, s in health_events if i == sid] == [
        "online", "fault", "maintenance", "fault", "offline"]


def test_the_flusher_writes_without_being_asked(client: TestClient, admin, district) -> None:
    import time

    speaker = register(client, admin, "v11", "B4")
    heartbeat(client, speaker["token"], power="off")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not _history(speaker["id"]):
        time.sleep(0.05)
    assert _history(speaker["id"]) == [("ok", "off", None)]
