"""Coverage over time: each town's online rate per hour or day, derived from outages."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import District
from tests.maintenance.conftest import T0, Fleet, after

HOUR = 3600


def _three_hours(clock: Any, fleet: Fleet) -> None:
    """From 09:00 local (T0): a beats throughout; b falls silent at once and is back at 10:30;
    c (another village) is first heard at 11:30."""
    a, b = fleet.register("v11"), fleet.register("v11")
    c = fleet.register("v12")
    fleet.beat(a, b)
    fleet.sweep_at(clock, 600, alive=(a,))  # b: offline since T0 + 180 s (the timeout)
    fleet.sweep_at(clock, 1.5 * HOUR, alive=(a, b))  # b heard again: its outage closes
    clock.move_to(after(2.5 * HOUR))
    fleet.beat(c)
    fleet.sweep_at(clock, 3 * HOUR, alive=(a, b, c))


def test_hourly_online_rate_follows_outages_and_first_heartbeats(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, district: District
) -> None:
    _three_hours(clock, fleet)
    response = client.get("/api/v1/reports/coverage/history", headers=admin,
                          params={"from": T0.isoformat(), "step": "hour"})
    assert response.status_code == 200, response.text
    body = response.json()
    t1 = [i for i in body["items"] if i["town"] == "t1"]
    assert [i["from"] for i in t1] == ["2026-03-02T09:00:00+08:00", "2026-03-02T10:00:00+08:00",
                                       "2026-03-02T11:00:00+08:00"]
    assert t1[-1]["to"] == "2026-03-02T12:00:00+08:00"
    # Hour 1: a 3600 s, b 180 s, c never; hour 2: a, and b from 10:30; hour 3: a, b, c 1800 s.
    assert [i["online_rate"] for i in t1] == [round(3780 / 10800, 4), 0.5,
                                              round(9000 / 10800, 4)]
    assert [i["speakers_online"] for i in t1] == [1.05, 1.5, 2.5]
    assert [i["speakers"] for i in t1] == [3.0, 3.0, 3.0]
    # v12 was silent until c came at 11:30; v11 always had a.
    assert [i["villages_silent"] for i in t1] == [1.0, 1.0, 0.5]
    assert [i["silent_rate"] for i in t1] == [0.5, 0.5, 0.25]
    assert t1[0]["name"] == "东镇" and t1[0]["villages"] == 2.0
    t2 = [i for i in body["items"] if i["town"] == "t2"]
    assert [(i["speakers"], i["online_rate"], i["silent_rate"]) for i in t2] == \
        [(0.0, None, 1.0)] * 3
    assert body["total"] == 6

    # By day: one period so far (09:00 until now), the same time added up.
    day = client.get("/api/v1/reports/coverage/history", headers=admin,
                     params={"town": "t1"}).json()
    [today] = [i for i in day["items"] if i["from"].startswith("2026-03-02")]
    assert today["online_rate"] == round((3780 + 5400 + 9000) / 32400, 4)
    assert day["total"] == 31  # the last 30 days, from local midnight, and today


def test_history_as_csv_paged_scoped_and_refused(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, district: District
) -> None:
    _three_hours(clock, fleet)
    params = {"from": T0.isoformat(), "step": "hour"}
    download = client.get("/api/v1/reports/coverage/history", params=params,
                          headers={**admin, "Accept": "text/csv"})
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [r["town"] for r in rows] == ["t1"] * 3 + ["t2"] * 3
    assert rows[0]["from"] == "2026-03-02T09:00:00+08:00" and rows[3]["online_rate"] == ""
    assert float(rows[2]["online_rate"]) == round(9000 / 10800, 4)
    page = client.get("/api/v1/reports/coverage/history", headers=admin,
                      params={**params, "limit": 2, "offset": 2}).json()
    assert page["total"] == 6 and [(i["town"], i["from"][11:16]) for i in page["items"]] == \
        [("t1", "11:00"), ("t2", "09:00")]

    staff = district.user("staff_t2", "staff", "t2")
    theirs = client.get("/api/v1/reports/coverage/history", headers=staff, params=params).json()
    assert {i["town"] for i in theirs["items"]} == {"t2"}
    refused = client.get("/api/v1/reports/coverage/history", headers=staff,
                         params={**params, "town": "t1"})
    assert refused.status_code == 403
    crew = district.user("tech", "crew", None)
    assert client.get("/api/v1/reports/coverage/history", headers=crew).status_code == 403
    key = client.post("/api/v1/api-keys", headers=admin, json={
        "name": "指挥中心", "scopes": ["reports:read"], "area": "d1"}).json()["key"]
    assert client.get("/api/v1/reports/coverage/history", params=params, headers={
        "Authorization": f"Bearer {key}"}).json()["total"] == 6

    for bad in ({"town": "v11"}, {"step": "week"}, {"from": "yesterday"},
                {"from": (T0 + timedelta(hours=1)).isoformat(), "to": T0.isoformat()},
                {"from": (T0 - timedelta(days=60)).isoformat(), "step": "hour"}):
        answer = client.get("/api/v1/reports/coverage/history", headers=admin, params=bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["error"] and answer.json()["detail"]
    assert client.get("/api/v1/reports/coverage/history", headers=admin,
                      params={"town": "nowhere"}).status_code == 404


def test_the_history_is_documented_in_the_openapi_schema(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"][
        "/api/v1/reports/coverage/history"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to", "town", "step",
                                                             "limit", "offset"}
    assert "text/csv" in operation["responses"]["200"]["content"]
