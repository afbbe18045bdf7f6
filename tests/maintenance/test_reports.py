"""Reports add up: coverage per town on a generated district, maintenance figures over a period."""

from __future__ import annotations

import csv
import io
import statistics
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import District
from tests.maintenance.conftest import T0, Fleet, Terminal

TOWNS, VILLAGES = 3, 10
BASE = T0 - timedelta(days=10)  # tickets of the last ten days; the clock stays at T0


def _online_a(town: int, village: int) -> bool:
    return (town + village) % 3 != 0


def _online_b(town: int, village: int) -> bool:
    return village % 2 == 0 and village != 8  # in village 8, b beats but is in maintenance


def _generate(client: TestClient, admin: dict[str, str], fleet: Fleet) -> dict[str, Any]:
    """3 towns × 10 villages × 2 speakers; which ones beat follows the pattern above."""
    expected: dict[str, Any] = {}
    for town in range(TOWNS):
        code = f"g{town}"
        client.post("/api/v1/areas", headers=admin, json={
            "code": code, "name": f"镇{town}", "level": "town", "parent": "d1"})
        row = {"code": code, "name": f"镇{town}", "villages": VILLAGES, "villages_silent": 0,
               "speakers": 2 * VILLAGES, "speakers_online": 0}
        for village in range(VILLAGES):
            vcode = f"{code}v{village}"
            assert client.post("/api/v1/areas", headers=admin, json={
                "code": vcode, "name": f"{town}镇{village}村", "level": "village",
                "parent": code}).status_code == 201
            a, b = fleet.register(vcode), fleet.register(vcode)
            _beat_by_pattern(fleet, town, village, a, b)
            up = _online_a(town, village) + _online_b(town, village)
            row["speakers_online"] += up
            row["villages_silent"] += up == 0
        expected[code] = row
    return expected


def _beat_by_pattern(fleet: Fleet, town: int, village: int, a: Terminal, b: Terminal) -> None:
    if _online_a(town, village):
        fleet.beat(a)
    elif village == 0:
        fleet.beat(a, status="fault", fault="speaker cone torn")  # heard, but not working
    if _online_b(town, village) or village == 8:
        fleet.beat(b)
    if village == 8:
        fleet.maintenance(b, True)


def test_coverage_adds_up_per_town_in_json_and_csv(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, district: District
) -> None:
    expected = _generate(client, admin, fleet)
    response = client.get("/api/v1/reports/coverage", headers=admin)
    assert response.status_code == 200, response.text
    report = response.json()
    by_code = {item["code"]: item for item in report["items"]}
    for code, row in expected.items():
        assert by_code[code] == row
    # The small fixture district's towns are there too, with their villages all silent.
    assert by_code["t1"] == {"code": "t1", "name": "东镇", "villages": 2, "villages_silent": 2,
                             "speakers": 0, "speakers_online": 0}
    assert report["total"] == TOWNS + 2
    # Worked by hand from the pattern: a is up in 6 + 7 + 7 villages, b in 4 per town; the
    # villages with neither are g0v3, g0v9, g1v5, g1v8, g2v1, g2v7.
    assert sum(r["speakers_online"] for r in expected.values()) == 20 + 12
    assert sum(r["villages_silent"] for r in expected.values()) == 6

    download = client.get("/api/v1/reports/coverage", headers={**admin, "Accept": "text/csv"})
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert {r["code"]: {k: (v if k in ("code", "name") else int(v)) for k, v in r.items()}
            for r in rows} == by_code

    # A town's staff see their town only; a district API key with reports:read sees all.
    staff = district.user("staff_g1", "staff", "g1")
    mine = client.get("/api/v1/reports/coverage", headers=staff).json()
    assert mine == {"items": [expected["g1"]], "total": 1}
    key = client.post("/api/v1/api-keys", headers=admin, json={
        "name": "指挥中心", "scopes": ["reports:read"], "area": "d1"}).json()["key"]
    assert client.get("/api/v1/reports/coverage", headers={
        "Authorization": f"Bearer {key}"}).json()["total"] == TOWNS + 2
    crew = district.user("tech", "crew", None)
    assert client.get("/api/v1/reports/coverage", headers=crew).status_code == 403


def _ticket(session: Any, speaker: str, village: str, cause: str, opened: timedelta,
            repair_hours: float | None, due_hours: int = 72) -> None:
    from app.maintenance.models import Ticket

    opened_at = BASE + opened
    closed_at = opened_at + timedelta(hours=repair_hours) if repair_hours is not None else None
    session.add(Ticket(
        speaker_id=speaker, village_code=village, town_code="t1" if village != "v21" else "t2",
        area_path=f"d1/{'t2' if village == 'v21' else 't1'}/{village}",
        status="closed" if closed_at else "open", priority="normal", cause=cause,
        opened_at=opened_at, due_at=opened_at + timedelta(hours=due_hours),
        resolved_at=closed_at, closed_at=closed_at))


def test_maintenance_report_counts_causes_and_times_to_repair(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, district: District
) -> None:
    from app.db import session_scope

    speakers = [fleet.register(v) for v in ("v11", "v12", "v21", "v11")]
    repairs = [2.0, 5.0, 30.0]
    with session_scope() as session:  # three repaired in the period, one still open and late
        _ticket(session, speakers[0].id, "v11", "power_cut", timedelta(days=1), repairs[0])
        _ticket(session, speakers[1].id, "v12", "power_cut", timedelta(days=2), repairs[1])
        _ticket(session, speakers[2].id, "v21", "amplifier", timedelta(days=3), repairs[2])
        _ticket(session, speakers[3].id, "v11", "vandalism", timedelta(days=4), None)
    window = {"from": BASE.isoformat(), "to": (BASE + timedelta(days=9)).isoformat()}
    response = client.get("/api/v1/reports/maintenance", params=window, headers=admin)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["opened"], report["closed"], report["open_overdue"]) == (4, 3, 1)
    assert report["by_cause"] == {"power_cut": 2, "hardware": 0, "amplifier": 1, "network": 0,
                                  "vandalism": 1, "offline": 0, "other": 0,
                                  "power_cut_by_resident": 0}
    assert report["mttr_median_hours"] == statistics.median(repairs) == 5.0
    assert report["mttr_mean_hours"] == round(statistics.fmean(repairs), 3)

    # Scoped to town t2: one ticket, repaired in 30 h, nothing overdue.
    staff = district.user("staff_t2", "staff", "t2")
    theirs = client.get("/api/v1/reports/maintenance", params=window, headers=staff).json()
    assert (theirs["opened"], theirs["closed"], theirs["mttr_mean_hours"],
            theirs["open_overdue"]) == (1, 1, 30.0, 0)

    # The default period is the last 30 days; a period before any ticket has no repair times.
    assert client.get("/api/v1/reports/maintenance", headers=admin).json()["opened"] == 4
    empty = client.get("/api/v1/reports/maintenance", headers=admin, params={
        "from": (BASE - timedelta(days=9)).isoformat(), "to": BASE.isoformat()}).json()
    assert (empty["opened"], empty["mttr_median_hours"], empty["open_overdue"]) == (0, None, 1)
    assert client.get("/api/v1/reports/maintenance", headers=admin, params={
        "from": window["to"], "to": window["from"]}).status_code == 422

    download = client.get("/api/v1/reports/maintenance", params=window,
                          headers={**admin, "Accept": "text/csv"})
    [row] = list(csv.DictReader(io.StringIO(download.text)))
    assert (row["opened"], row["closed"], row["cause_power_cut"], row["mttr_median_hours"]) == \
        ("4", "3", "2", "5.0")


def test_village_health_counts_speakers_and_those_online(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet
) -> None:
    from app.db import session_scope
    from app.maintenance.reports import village_health

    up, down, resting = fleet.register("v11"), fleet.register("v11"), fleet.register("v12")
    fleet.beat(up, resting)
    fleet.maintenance(resting, True)
    with session_scope() as session:
        health = village_health(session, ["v11", "v12", "v21"])
    assert health == {"v11": {"total": 2, "online": 1}, "v12": {"total": 1, "online": 0},
                      "v21": {"total": 0, "online": 0}}
    assert down.id not in (up.id, resting.id)  # registered, never heard: counted, not online
