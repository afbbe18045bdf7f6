"""Speakers powered only in their operating hours: silence outside them is no outage, and
they are expected back when a window starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from app.speakers.operating import (
    daily_windows,
    order_windows,
    parse_operating_hours,
    silence_verdict,
)
from tests.conftest import ADMIN_PASSWORD, login
from tests.maintenance.conftest import Fleet
from tests.playout.orders import insert_order

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = [["06:30", "08:00"], ["11:30", "13:00"]]
TIMEOUT = timedelta(seconds=180)


def at(hhmm: str, day: int = 2) -> datetime:
    """A local time on 2026-03-<day> (T0 of the maintenance tests is 03-02 09:00 local)."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


# --- the pure rule -------------------------------------------------------------------------


def test_operating_hours_are_normalised_and_checked() -> None:
    assert parse_operating_hours([["11:30", "13:00"], ["6:30", "8:00"]]) == HOURS
    assert parse_operating_hours("schedule") == "schedule"
    assert parse_operating_hours([["22:00", "24:00"]]) == [["22:00", "24:00"]]
    for bad in ([["08:00", "06:30"]], [["06:00", "09:00"], ["08:00", "10:00"]], "always",
                [], [["6"]], [["25:00", "26:00"]]):
        with pytest.raises(ValueError):
            parse_operating_hours(bad)


def test_a_silence_counts_only_inside_a_window_from_its_start() -> None:
    windows = daily_windows(HOURS, at("08:00"), at("12:00", 3), SHANGHAI)

    # Off at the end of the morning window: nothing until 11:30 + the timeout.
    assert silence_verdict(at("07:59"), at("09:00"), windows, TIMEOUT).outage is False
    assert silence_verdict(at("07:59"), at("09:00"), windows, TIMEOUT).recheck_at == at("11:33")
    assert silence_verdict(at("07:59"), at("11:33"), windows, TIMEOUT).outage is True
    # Dead two minutes before the window ends: nothing until tomorrow's 06:33.
    late = silence_verdict(at("12:58"), at("13:30"), windows, TIMEOUT)
    assert (late.outage, late.recheck_at) == (False, at("06:33", 3))
    # Dead in the middle of a window: the plain timeout.
    assert silence_verdict(at("12:00"), at("12:03"), windows, TIMEOUT).outage is True
    assert silence_verdict(at("12:00"), at("12:02"), windows, TIMEOUT).outage is False


def test_windows_around_orders_merge_when_they_touch() -> None:
    first = (at("07:00"), at("07:10"))
    second = (at("07:15"), at("07:20"))
    third = (at("18:00"), at("18:30"))

    assert order_windows([third, first, second]) == [
        (at("06:55"), at("07:25")), (at("17:55"), at("18:35"))]


# --- the sweep -----------------------------------------------------------------------------


def _outages(client: TestClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    fresh = login(client, "admin", ADMIN_PASSWORD)  # the clock jumps past a token's life
    response = client.get("/api/v1/outages", headers=fresh)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _sweep_at(clock: Any, moment: datetime) -> None:
    from app.maintenance.sweep import sweep

    clock.move_to(moment.astimezone(UTC))
    sweep()


def test_a_speaker_off_between_its_windows_opens_an_outage_only_when_a_window_finds_it_dark(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet,
) -> None:
    timed = fleet.register("v11", operating_hours=HOURS)
    always = fleet.register("v11")
    assert client.get(f"/api/v1/speakers/{timed.id}", headers=admin).json()[
        "operating_hours"] == HOURS
    fleet.beat(timed, always)  # 09:00, outside both windows

    _sweep_at(clock, at("09:10"))
    assert [o["speaker"] for o in _outages(client, admin)] == [always.id]

    _sweep_at(clock, at("11:32"))
    assert len(_outages(client, admin)) == 1  # the window began, the timeout has not passed

    _sweep_at(clock, at("11:34"))
    opened = {o["speaker"]: o for o in _outages(client, admin)}
    assert set(opened) == {timed.id, always.id}
    assert opened[timed.id]["cause"] == "offline"


def test_a_speaker_back_in_its_window_and_cut_inside_it_is_an_outage_and_early_night_is_not(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet,
) -> None:
    timed = fleet.register("v12", operating_hours=HOURS)
    clock.move_to(at("11:31").astimezone(UTC))
    fleet.beat(timed)
    clock.move_to(at("12:58").astimezone(UTC))
    fleet.beat(timed)  # the last heartbeat, two minutes before the window closes

    _sweep_at(clock, at("13:05"))
    _sweep_at(clock, at("23:00"))
    _sweep_at(clock, at("06:32", 3))
    assert _outages(client, admin) == []

    _sweep_at(clock, at("06:34", 3))
    [outage] = _outages(client, admin)
    assert outage["speaker"] == timed.id


def test_changing_the_hours_to_always_opens_the_outage_at_once(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet,
) -> None:
    timed = fleet.register("v12", operating_hours=HOURS)
    fleet.beat(timed)
    _sweep_at(clock, at("09:10"))
    assert _outages(client, admin) == []

    changed = client.patch(f"/api/v1/speakers/{timed.id}", headers=admin,
                           json={"operating_hours": None})
    assert changed.status_code == 200 and changed.json()["operating_hours"] is None
    _sweep_at(clock, at("09:11"))
    assert [o["speaker"] for o in _outages(client, admin)] == [timed.id]
    bad = client.patch(f"/api/v1/speakers/{timed.id}", headers=admin,
                       json={"operating_hours": [["13:00", "12:00"]]})
    assert bad.status_code == 422


def test_a_speaker_that_follows_its_schedule_is_expected_around_its_orders(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet,
) -> None:
    timed = fleet.register("v21", operating_hours="schedule")
    fleet.beat(timed)
    media = [{"url": "/media/x", "sha256": "0" * 64, "duration_ms": 600_000, "title": "通知"}]
    insert_order("v21", at("15:00").astimezone(UTC), media)

    _sweep_at(clock, at("10:00"))
    _sweep_at(clock, at("14:56"))  # the window opens at 14:55; the timeout has not passed
    assert _outages(client, admin) == []

    _sweep_at(clock, at("14:59"))
    assert [o["speaker"] for o in _outages(client, admin)] == [timed.id]
