"""Schedules that follow the village calendar, through the API and schedule files: per-slot
volume in the terminal's program, lunar market days, skip/extra dates and day types."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import time_machine
import yaml
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD, District, login
from tests.schedules.conftest import Content, local, orders

SHANGHAI = ZoneInfo("Asia/Shanghai")
SCHEDULES = "/api/v1/schedules"
DAY_TYPES = "/api/v1/day-types"


def as_admin(client: TestClient) -> dict[str, str]:
    """A login of the admin at the (travelled-to) present: a token from today would have
    expired by then."""
    return login(client, "admin", ADMIN_PASSWORD)


def post(client: TestClient, headers: dict[str, str], **body: object):  # type: ignore[no-untyped-def]
    return client.post(SCHEDULES, headers=headers, json=body)


def occurrence_days(client: TestClient, headers: dict[str, str], schedule: str,
                    start: str, end: str) -> list[str]:
    response = client.get(f"{SCHEDULES}/{schedule}/occurrences", headers=headers,
                          params={"from": start, "to": end, "limit": 1000})
    assert response.status_code == 200, response.text
    return [local(o["start_at"]) for o in response.json()["items"]]


def test_a_slot_volume_reaches_the_terminal_and_the_schedule_volume_fills_the_rest(
    client: TestClient, admin: dict[str, str], district: District, content: Content,
) -> None:
    playlist = content.ready_playlist()
    speaker = client.post("/api/v1/speakers", headers=admin,
                          json={"serial": "SN-VOL-1", "village": "v11"}).json()
    with time_machine.travel(datetime(2027, 3, 1, 5, 0, tzinfo=SHANGHAI), tick=False):
        admin = as_admin(client)
        created = post(client, admin, name="早晚", playlist=playlist["id"], targets=["v11"],
                       times=[{"at": "6:30", "volume": 35}, "12:00",
                              {"at": "18:30", "volume": None}], volume=70)
        assert created.status_code == 201, created.text
        program = client.get("/terminal/v1/program",
                             headers={"Authorization": f"Bearer {speaker['token']}"}).json()

    body = created.json()
    assert body["times"] == ["06:30", "12:00", "18:30"]
    assert body["slot_volumes"] == {"06:30": 35} and body["volume"] == 70
    assert [(local(o["start_at"]), o["volume"]) for o in program["orders"]] == [
        ("03-01 06:30", 35), ("03-01 12:00", 70), ("03-01 18:30", 70)]

    with time_machine.travel(datetime(2027, 3, 1, 5, 0, tzinfo=SHANGHAI), tick=False):
        changed = client.patch(f"{SCHEDULES}/{body['id']}", headers=admin,
                               json={"times": ["06:30", {"at": "12:00", "volume": 20}]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["slot_volumes"] == {"12:00": 20}
    assert [(local(o.start_at), o.volume) for o in orders(village_code="v11")] == [
        ("03-01 06:30", 70), ("03-01 12:00", 20)]
    bad = client.patch(f"{SCHEDULES}/{body['id']}", headers=admin,
                       json={"times": [{"at": "06:30", "volume": 101}]})
    assert bad.status_code == 422


def test_market_days_play_on_lunar_days_across_the_spring_festival(
    client: TestClient, admin: dict[str, str], district: District, content: Content,
) -> None:
    playlist = content.ready_playlist()
    with time_machine.travel(datetime(2027, 1, 28, 8, 0, tzinfo=SHANGHAI), tick=False):
        admin = as_admin(client)
        created = post(client, admin, name="赶集提醒", playlist=playlist["id"], targets=["t1"],
                       times=["07:00"], lunar_days="逢三六九")
        assert created.status_code == 201, created.text
    body = created.json()

    assert body["lunar_days"] == [3, 6, 9, 13, 16, 19, 23, 26, 29]
    assert [local(t) for t in body["next_occurrences"]] == [
        "01-30 07:00", "02-02 07:00", "02-05 07:00"]
    assert occurrence_days(client, admin, body["id"], "2027-02-01T00:00:00",
                           "2027-02-16T00:00:00") == [
        "02-02 07:00", "02-05 07:00", "02-08 07:00", "02-11 07:00", "02-14 07:00"]
    bad = post(client, admin, name="坏集", playlist=playlist["id"], targets=["v21"],
               times=["08:00"], lunar_days="三六九")
    assert bad.status_code == 422 and "逢三六九" in bad.json()["detail"]


def test_a_market_day_schedule_conflicts_with_a_weekly_one_on_a_shared_day(
    client: TestClient, admin: dict[str, str], district: District, content: Content,
) -> None:
    playlist = content.ready_playlist()
    with time_machine.travel(datetime(2027, 1, 28, 8, 0, tzinfo=SHANGHAI), tick=False):
        admin = as_admin(client)
        assert post(client, admin, name="周六", playlist=playlist["id"], targets=["v11"],
                    times=["07:00"], days=["sat"]).status_code == 201
        clash = post(client, admin, name="赶集", playlist=playlist["id"], targets=["t1"],
                     times=["07:00"], lunar_days="逢三六九")
        apart = post(client, admin, name="赶集晚", playlist=playlist["id"], targets=["t1"],
                     times=["07:30"], lunar_days="逢三六九")

    assert clash.status_code == 409, clash.text
    first = clash.json()["conflicts"][0]
    assert (first["village"], first["start_at"]) == ("v11", "2027-01-30T07:00:00+08:00")
    assert apart.status_code == 201


def test_skip_and_extra_dates_and_day_types_shape_the_orders(
    client: TestClient, admin: dict[str, str], district: District, content: Content,
) -> None:
    playlist = content.ready_playlist()
    holiday = [f"2027-02-{d:02d}" for d in range(6, 13)]
    staff = district.user("east", "staff", "t1")
    assert client.post(DAY_TYPES, headers=staff,
                       json={"name": "春节", "dates": holiday}).status_code == 403
    spring = client.post(DAY_TYPES, headers=admin,
                         json={"name": "春节", "description": "春节假期", "dates": holiday})
    assert spring.status_code == 201, spring.text
    with time_machine.travel(datetime(2027, 2, 4, 8, 0, tzinfo=SHANGHAI), tick=False):
        admin = as_admin(client)
        unknown = post(client, admin, name="x", playlist=playlist["id"], targets=["t1"],
                       times=["07:00"], skip_day_types=["国庆"])
        created = post(client, admin, name="工作日", playlist=playlist["id"], targets=["t1"],
                       times=["07:00"], days=["mon", "tue", "wed", "thu", "fri"],
                       skip_day_types=["春节"], skip_dates=["2027-02-15"],
                       extra_dates=["2027-02-20"])
    assert unknown.status_code == 422 and unknown.json()["error"] == "unknown_day_type"
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert occurrence_days(client, admin, schedule["id"], "2027-02-04T00:00:00",
                           "2027-02-22T00:00:00") == [
        "02-04 07:00", "02-05 07:00", "02-16 07:00", "02-17 07:00", "02-18 07:00",
        "02-19 07:00", "02-20 07:00"]

    seventh = datetime(2027, 2, 7, 8, 0, tzinfo=SHANGHAI)

    def upcoming() -> list[str]:
        return [local(o.start_at) for o in orders(village_code="v11", schedule_id=schedule["id"])
                if o.start_at > seventh]

    with time_machine.travel(seventh, tick=False):
        admin = as_admin(client)
        assert upcoming() == []
        shorter = client.patch(f"{DAY_TYPES}/春节", headers=admin,
                               json={"remove": ["2027-02-08"]})
        assert shorter.status_code == 200, shorter.text
        assert shorter.json()["schedules"] == [schedule["id"]]
    assert upcoming() == ["02-08 07:00"]  # issued as soon as the holiday no longer covers it

    used = client.delete(f"{DAY_TYPES}/春节", headers=admin)
    assert used.status_code == 409 and used.json()["schedules"] == [schedule["id"]]
    listed = client.get(DAY_TYPES, headers=staff).json()
    assert listed["total"] == 1 and len(listed["items"][0]["dates"]) == 6
    audit = client.get("/api/v1/audit", headers=admin, params={"entity": "day_type"}).json()
    assert sorted(e["action"] for e in audit["items"]) == ["create", "update"]


def test_schedule_files_carry_the_calendar_and_export_it_back(
    env: dict[str, str], tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from app.cli import cli

    plan = tmp_path / "market.yaml"
    plan.write_text("""
areas:
  - {code: md, name: 集区, level: district}
  - {code: mt, name: 集镇, level: town, parent: md}
  - {code: mv, name: 集村, level: village, parent: mt}
day_types:
  - {name: 春节, dates: [2027-02-06, 2027-02-07]}
announcements:
  - {title: 赶集, area: md, body: 明天赶集。}
playlists:
  - {name: 集市, area: md, items: [{announcement: 赶集}], gap_ms: 0}
schedules:
  - name: 赶集广播
    playlist: 集市
    targets: [mt]
    times: [{at: "06:30", volume: 40}, "17:00"]
    lunar_days: 逢五逢十
    skip_day_types: [春节]
    extra_dates: [2027-02-03]
""", encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(cli, ["apply", "--no-render", str(plan)])
    assert first.exit_code == 0, first.stderr
    again = runner.invoke(cli, ["apply", "--no-render", str(plan)])
    assert "schedules: 0 created, 0 updated, 1 unchanged" in again.stdout, again.stdout
    assert "day_types: 0 created, 0 updated, 1 unchanged" in again.stdout

    exported = runner.invoke(cli, ["export", "-o", str(tmp_path / "out.yaml")])
    assert exported.exit_code == 0, exported.stderr
    data = yaml.safe_load((tmp_path / "out.yaml").read_text("utf-8"))
    [entry] = data["schedules"]
    assert entry["times"] == [{"at": "06:30", "volume": 40}, "17:00"]
    assert entry["lunar_days"] == [5, 10, 15, 20, 25, 30]
    assert entry["skip_day_types"] == ["春节"] and entry["extra_dates"] == ["2027-02-03"]
    assert data["day_types"] == [{"name": "春节", "dates": [datetime(2027, 2, 6).date(),
                                                           datetime(2027, 2, 7).date()]}]
    reapplied = runner.invoke(cli, ["apply", "--no-render", str(tmp_path / "out.yaml")])
    assert reapplied.stdout.count(" 0 created, 0 updated") == 5, reapplied.stdout
