"""A village's calendar: issued orders, occurrences beyond the horizon, and what actually sounds."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from fastapi.testclient import TestClient

from app.db import session_scope
from app.playout.models import PlayOrder
from tests.schedules.conftest import Content, local

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_5AM = datetime(2025, 1, 6, 5, 0, tzinfo=SHANGHAI)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 6) -> datetime:
    """A local moment on 2025-01-<day>."""
    return datetime(2025, 1, day, hour, minute, second, tzinfo=SHANGHAI)


def test_the_calendar_shows_orders_then_planned_occurrences_and_urgent_cutting_in(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    playlist = content.ready_playlist()
    length = timedelta(milliseconds=playlist["duration_ms"])
    with time_machine.travel(MONDAY_5AM, tick=False):
        response = client.post("/api/v1/schedules", headers=admin, json={
            "name": "日常", "playlist": playlist["id"], "targets": ["t1"],
            "times": ["07:00", "12:00", "18:30"]})
        assert response.status_code == 201, response.text
        with session_scope() as session:  # an urgent order, as the broadcasts part issues them
            session.add(PlayOrder(
                kind="urgent", village_code="v11", broadcast_id="brd_test", level=1, priority=4,
                start_at=at(12, 0, 1).astimezone(), not_after=at(13), title="暴雨红色预警",
                media=[{"url": "/media/x", "sha256": "x" * 64, "duration_ms": 3000}],
                duration_ms=3000, issued_at=at(11, 59)))
        calendar = client.get("/api/v1/villages/v11/calendar", headers=admin, params={
            "from": "2025-01-06T00:00:00+08:00", "to": "2025-01-08T00:00:00+08:00"})
    assert calendar.status_code == 200, calendar.text
    body = calendar.json()
    assert (body["village"], body["from"], body["to"]) == (
        "v11", "2025-01-06T00:00:00+08:00", "2025-01-08T00:00:00+08:00")
    rows = [(local(e["start_at"]), e["kind"], e["state"]) for e in body["items"]]
    assert rows == [
        ("01-06 07:00", "routine", "issued"),
        ("01-06 12:00", "routine", "issued"),
        ("01-06 12:00", "urgent", "issued"),
        ("01-06 18:30", "routine", "issued"),
        # Beyond the 24 h horizon: computed from the schedule, not issued yet.
        ("01-07 07:00", "routine", "planned"),
        ("01-07 12:00", "routine", "planned"),
        ("01-07 18:30", "routine", "planned"),
    ]
    noon, urgent = body["items"][1], body["items"][2]
    assert urgent["level"] == 1 and urgent["broadcast"] == "brd_test"
    # The playout rule: the urgent order cuts the routine one a second in; the routine one
    # resumes from the start of its item once the urgent one has finished.
    assert [(a["start_at"], a["end_at"]) for a in urgent["air"]] == [
        (at(12, 0, 1).isoformat(), at(12, 0, 4).isoformat())]
    assert [(a["start_at"], a["end_at"]) for a in noon["air"]] == [
        (at(12).isoformat(), at(12, 0, 1).isoformat()),
        (at(12, 0, 4).isoformat(), (at(12, 0, 4) + length).isoformat())]
    assert (noon["expected"], urgent["expected"]) == ("finished", "finished")
    planned = body["items"][4]
    assert planned["order"] is None and planned["schedule"] == response.json()["id"]
    assert planned["end_at"] == (at(7, day=7) + length).isoformat()
    assert planned["not_after"] == (at(7, day=7) + length + timedelta(minutes=15)).isoformat()


def test_withdrawn_orders_leave_the_calendar_and_other_areas_are_out_of_reach(
    client: TestClient, admin: dict[str, str], content: Content, district: object,
) -> None:
    playlist = content.ready_playlist()
    with time_machine.travel(MONDAY_5AM, tick=False):
        schedule = client.post("/api/v1/schedules", headers=admin, json={
            "name": "停播", "playlist": playlist["id"], "targets": ["v11"],
            "times": ["07:00"]}).json()
        client.patch(f"/api/v1/schedules/{schedule['id']}", headers=admin,
                     json={"enabled": False})
        calendar = client.get("/api/v1/villages/v11/calendar", headers=admin).json()
    assert calendar["items"] == []
    west = district.user("west", "staff", "t2")  # type: ignore[attr-defined]
    assert client.get("/api/v1/villages/v11/calendar", headers=west).status_code == 403
    assert client.get("/api/v1/villages/nowhere/calendar", headers=admin).status_code == 404


def test_the_calendar_is_a_list_with_total_limit_and_offset(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    playlist = content.ready_playlist()
    span = {"from": "2025-01-06T00:00:00+08:00", "to": "2025-01-09T00:00:00+08:00"}
    with time_machine.travel(MONDAY_5AM, tick=False):
        client.post("/api/v1/schedules", headers=admin, json={
            "name": "日常", "playlist": playlist["id"], "targets": ["v11"],
            "times": ["07:00", "12:00", "18:30"]}).raise_for_status()
        whole = client.get("/api/v1/villages/v11/calendar", headers=admin, params=span)
        page = client.get("/api/v1/villages/v11/calendar", headers=admin,
                          params={**span, "limit": 4, "offset": 2})
        beyond = client.get("/api/v1/villages/v11/calendar", headers=admin,
                            params={**span, "offset": 50})
        too_many = client.get("/api/v1/villages/v11/calendar", headers=admin,
                              params={**span, "limit": 1001})
    assert whole.status_code == 200, whole.text
    starts = [local(e["start_at"]) for e in whole.json()["items"]]
    assert whole.json()["total"] == 9 and len(starts) == 9
    assert page.status_code == 200, page.text
    body = page.json()
    assert (body["village"], body["from"], body["to"], body["total"]) == (
        "v11", span["from"], span["to"], 9)
    assert [local(e["start_at"]) for e in body["items"]] == starts[2:6] == [
        "01-06 18:30", "01-07 07:00", "01-07 12:00", "01-07 18:30"]
    assert beyond.json()["items"] == [] and beyond.json()["total"] == 9
    assert too_many.status_code == 422 and too_many.json()["error"] == "validation_error"
