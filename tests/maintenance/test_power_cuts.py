"""The power-cut report on a generated month: one speaker cut after its 06:30 loop on 20 of
30 mornings, a town-wide grid cut on two afternoons, and unrelated noise elsewhere."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from tests.conftest import District

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONTH_START = datetime(2026, 10, 1, tzinfo=SHANGHAI)
DAYS = 30
SAMPLE = timedelta(minutes=10)
SLOTS = ("06:30", "12:00", "18:30")
GRID_DAYS = (10, 20)
REPORT = "/api/v1/reports/power-cuts"


@dataclass
class Month:
    """What was generated: ids and the seeded pattern."""

    speakers: dict[str, str]  # label → id
    schedule: str
    cut_days: list[int]


def _local(day: int, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return MONTH_START + timedelta(days=day - 1, hours=hour, minutes=minute)


def _register(client: TestClient, admin: dict[str, str], label: str, village: str) -> str:
    response = client.post("/api/v1/speakers", headers=admin,
                           json={"serial": f"SN-{label}", "village": village})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _beats(speaker: str, dark: list[tuple[datetime, datetime, str]]) -> list[dict[str, Any]]:
    """History rows as the server keeps them: a sample every 10 minutes, a row at every change
    of power and the last heartbeat before a silence; none while silent."""
    rows = []
    moment, end = MONTH_START - timedelta(days=1), MONTH_START + timedelta(days=DAYS + 1)
    while moment < end:
        spell = next((d for d in dark if d[0] <= moment < d[1]), None)
        if spell is None or spell[2] == "battery":
            rows.append(_row(speaker, moment, "mains" if spell is None else "battery"))
        moment += SAMPLE
    for begin, until, kind in dark:
        rows.append(_row(speaker, begin, "battery" if kind == "battery" else "mains"))
        rows.append(_row(speaker, until, "mains"))  # heard again
    return sorted(rows, key=lambda r: r["at"])


def _row(speaker: str, at: datetime, power: str) -> dict[str, Any]:
    return {"speaker_id": speaker, "at": at.astimezone(UTC), "received_at": at.astimezone(UTC),
            "status": "ok", "power": power}


@pytest.fixture
def month(client: TestClient, admin: dict[str, str], district: District) -> Month:
    """Six speakers (four in town t1, two in t2) and a month of history, orders and receipts."""
    from app.db import session_scope
    from app.ids import new_id
    from app.playout.models import PlayOrder
    from app.playout.receipts_models import PlayReceipt
    from app.schedules.models import Schedule, ScheduleTarget
    from app.speakers.models import SpeakerHeartbeat

    villages = {"R": "v11", "A": "v11", "B": "v12", "C": "v12", "D": "v21", "E": "v21"}
    ids = {label: _register(client, admin, label, v) for label, v in villages.items()}
    seeded = random.Random(17)
    cut_days = sorted(seeded.sample([d for d in range(1, DAYS + 1) if d not in GRID_DAYS], 20))
    dark: dict[str, list[tuple[datetime, datetime, str]]] = {label: [] for label in ids}
    for day in cut_days:  # R: plugged out 5–10 min after its 06:30 loop starts
        cut = _local(day, "06:30") + timedelta(minutes=seeded.uniform(5, 10))
        dark["R"].append((cut, cut + timedelta(hours=seeded.uniform(2, 4)), "silent"))
    for day in GRID_DAYS:  # the grid: all of town t1 at 14:00 for two hours
        for label, power in (("R", "silent"), ("A", "battery"), ("B", "battery"),
                             ("C", "silent")):
            start = _local(day, "14:00") + timedelta(seconds=seeded.uniform(0, 90))
            dark[label].append((start, start + timedelta(hours=2), power))
    dark["D"] += [(_local(5, "03:07"), _local(5, "05:00"), "silent"),
                  (_local(17, "15:41"), _local(17, "19:00"), "battery")]

    with session_scope() as session:
        schedule = Schedule(name="早中晚", playlist_id="pl_gen", times=list(SLOTS),
                            days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], loop=2,
                            volume=80, created_by="test",
                            targets=[ScheduleTarget(area_code="d1", position=0)])
        session.add(schedule)
        session.flush()
        orders, receipts = [], []
        for day in range(1, DAYS + 1):
            for village in ("v11", "v12", "v21"):
                for slot in SLOTS:
                    start = _local(day, slot).astimezone(UTC)
                    order_id = new_id("ord")
                    orders.append({
                        "id": order_id, "kind": "routine", "village_code": village,
                        "schedule_id": schedule.id, "start_at": start,
                        "not_after": start + timedelta(minutes=25), "loop": 2, "volume": 80,
                        "mode": "actual", "priority": 0, "title": "早中晚", "media": [],
                        "duration_ms": 300_000, "state": "played", "issued_at": start,
                        "updated_at": start})
                    if village == "v11" and slot == "06:30":
                        receipts.append({"order_id": order_id, "speaker_id": ids["R"],
                                         "village_code": village, "event": "started",
                                         "at": start + timedelta(seconds=4),
                                         "received_at": start})
        session.execute(insert(PlayOrder), orders)
        session.execute(insert(PlayReceipt), receipts)
        for label, speaker in ids.items():
            session.execute(insert(SpeakerHeartbeat), _beats(speaker, dark[label]))
        schedule_id = schedule.id
    return Month(ids, schedule_id, cut_days)


def _report(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    query = {"from": "2026-10-01T00:00:00", "to": "2026-10-31T00:00:00", **params}
    return client.get(REPORT, headers=headers, params=query)


def test_the_report_finds_the_resident_cut_speaker_and_the_grid_and_nothing_else(
    client: TestClient, admin: dict[str, str], month: Month,
) -> None:
    response = _report(client, admin)

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["counts"] == {"power_cut_by_resident": 20, "grid": 8, "unexplained": 2}
    assert [(g["town"], g["start_at"][:13], g["speakers"]) for g in report["grid_outages"]] == [
        ("t1", "2026-10-10T14", 4), ("t1", "2026-10-20T14", 4)]
    assert report["total"] == 1
    [village] = report["items"]
    assert (village["village"], village["village_name"], village["town"]) == ("v11", "东一村",
                                                                              "t1")
    [speaker] = village["speakers"]
    assert (speaker["speaker"], speaker["cause"]) == (month.speakers["R"],
                                                      "power_cut_by_resident")
    assert (speaker["spells"], speaker["resident"], speaker["after_broadcast"]) == (20, 20, 20)
    assert speaker["patterns"] == ["after_broadcast", "same_hour"] and speaker["hour"] == 6
    assert speaker["days"] == [f"2026-10-{d:02d}" for d in month.cut_days]
    [slot] = speaker["slots"]
    assert (slot["schedule"], slot["schedule_name"], slot["time"], slot["events"]) == (
        month.schedule, "早中晚", "06:30", 20)
    assert 5 <= slot["median_delay_minutes"] <= 10
    assert (slot["volume"], slot["loop"]) == (80, 2)
    actions = {s["action"]: s for s in slot["suggestions"]}
    assert set(actions) == {"lower_volume", "move_later", "fewer_loops"}
    assert actions["lower_volume"]["volume"] == 60 and actions["fewer_loops"]["loop"] == 1


def test_one_town_only_and_csv(
    client: TestClient, admin: dict[str, str], month: Month,
) -> None:
    west = _report(client, admin, town="t2").json()
    assert west["items"] == [] and west["grid_outages"] == []
    assert west["counts"] == {"power_cut_by_resident": 0, "grid": 0, "unexplained": 2}

    response = _report(client, {**admin, "Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [(r["serial"], r["time"], r["events"]) for r in rows] == [("SN-R", "06:30", "20")]
    assert "lower the 06:30 slot's volume from 80 to 60" in rows[0]["suggestions"]


def test_stricter_thresholds_and_bad_parameters(
    client: TestClient, admin: dict[str, str], district: District, month: Month,
) -> None:
    assert _report(client, admin, min_events=21).json()["items"] == []
    assert _report(client, admin, window_minutes=4).json()["counts"][
        "power_cut_by_resident"] == 20  # still every morning at the same hour
    bad = _report(client, admin, to="2026-09-01T00:00:00")
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_range"
    assert _report(client, admin, town="v11").status_code == 422
    west = district.user("west", "staff", "t2")
    assert _report(client, west, town="t1").status_code == 403
    assert _report(client, west).json()["items"] == []


def test_a_silent_speakers_last_heartbeat_is_kept_in_its_history(
    client: TestClient, admin: dict[str, str], district: District,
) -> None:
    import time_machine

    from app.db import session_scope
    from app.speakers.heartbeats import announce_health
    from app.speakers.models import SpeakerHeartbeat

    speaker = client.post("/api/v1/speakers", headers=admin,
                          json={"serial": "SN-LAST", "village": "v11"}).json()
    start = datetime(2026, 10, 5, 6, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False) as clock:
        for minute in (0, 3, 6):  # sampled: only the first lands in the history
            clock.move_to(start + timedelta(minutes=minute))
            client.post("/terminal/v1/heartbeat", json={"status": "ok", "power": "mains"},
                        headers={"Authorization": f"Bearer {speaker['token']}"})
            client.app.state.heartbeats.flush()  # type: ignore[attr-defined]
        clock.move_to(start + timedelta(minutes=10))
        with session_scope() as session:
            announce_health(session=session)
        with session_scope() as session:
            kept = session.scalars(select(SpeakerHeartbeat.at).where(
                SpeakerHeartbeat.speaker_id == speaker["id"]).order_by(SpeakerHeartbeat.at))
            assert [t.astimezone(SHANGHAI).strftime("%H:%M") for t in kept] == [
                "06:00", "06:06"]


def test_the_console_page_shows_the_speaker_its_slot_and_a_chart_of_every_cut(
    client: TestClient, admin: dict[str, str], month: Month,
) -> None:
    token = admin["Authorization"].removeprefix("Bearer ")
    client.cookies.set("cx_session", token)
    page = client.get("/console/power-cuts", params={"start": "2026-10-01", "end": "2026-10-31"})
    client.cookies.clear()

    assert page.status_code == 200, page.text
    html = page.text
    assert 'href="/console/power-cuts"' in html  # the navigation links to it
    assert html.count('data-kind="power_cut_by_resident"') == 20
    assert html.count('data-kind="grid"') == 8 and html.count('data-kind="unexplained"') == 2
    assert 'data-slot="06:30"' in html and f'data-speaker="{month.speakers["R"]}"' in html
    assert 'data-action="move_later"' in html and html.count('class="grid-outage"') == 2
