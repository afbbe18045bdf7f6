"""The national-shape receipt of a broadcast: state codes, coverage, terminals, JSON and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient

from app.broadcasts.receipt import (
    broadcast_state_code,
    terminal_state_code,
    village_state_code,
)
from tests.conftest import District

from .conftest import Stored, Terminal, broadcast_body

BROADCASTS = "/api/v1/broadcasts"


@pytest.mark.parametrize(
    ("state", "status", "started", "code"),
    [
        ("pending", "active", False, 1),  # not yet at its start time (III–IV in quiet hours)
        ("pending", "active", True, 0),
        ("unreachable", "active", True, 0),
        ("delivered", "active", True, 1),
        ("playing", "active", True, 2),
        ("played", "active", True, 3),
        ("played", "finished", True, 3),
        ("failed", "active", True, 4),
        ("unreachable", "expired", True, 4),
        ("playing", "expired", True, 4),
        ("delivered", "cancelled", True, 5),
        ("played", "cancelled", True, 3),  # it had played before the cancel
    ],
)
def test_village_codes_follow_the_national_table(
    state: str, status: str, started: bool, code: int
) -> None:
    assert village_state_code(state, status=status, started=started) == code


def test_broadcast_codes_count_a_partial_failure_as_failed() -> None:
    assert broadcast_state_code("finished", [3, 3], started=True) == 3
    assert broadcast_state_code("expired", [3, 4], started=True) == 4
    assert broadcast_state_code("cancelled", [3, 5], started=True) == 5
    assert broadcast_state_code("active", [0, 0], started=True) == 0
    assert broadcast_state_code("active", [1, 0], started=True) == 1
    assert broadcast_state_code("active", [3, 1], started=True) == 2
    assert broadcast_state_code("active", [1, 1], started=False) == 1


def test_terminal_codes_come_from_its_own_receipts() -> None:
    now = datetime(2026, 12, 1, 8)
    assert terminal_state_code({}, status="active", order_state="issued") == 1
    assert terminal_state_code({"started": now}, status="active", order_state="issued") == 2
    assert terminal_state_code({"started": now, "finished": now}, status="finished",
                               order_state="played") == 3
    assert terminal_state_code({"started": now}, status="expired", order_state="expired") == 4
    assert terminal_state_code({}, status="cancelled", order_state="cancelled") == 5
    assert terminal_state_code({"preempted": now}, status="active", order_state="preempted") == 4


def _receipt(client: TestClient, headers: dict[str, str], broadcast: str) -> dict[str, Any]:
    response = client.get(f"{BROADCASTS}/{broadcast}/receipt", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _terminal_rows(receipt: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["EBRDT"]["EBRID"]: item for item in receipt["ResBrdInfo"]["ResBrdItem"]}


def test_the_receipt_follows_a_broadcast_from_waiting_to_success(
    client: TestClient,
    district: District,
    stored: Stored,
    terminal: Callable[..., Terminal],
) -> None:
    first, second = terminal("v11"), terminal("v12")
    first.heartbeat()
    client.patch("/api/v1/areas/v11", headers=district.admin,
                 json={"division_code": "130132100201"})
    created = client.post(BROADCASTS, headers=district.admin,
                          json=broadcast_body(media=stored.recording()["sha256"]))
    assert created.status_code == 201, created.text
    broadcast = created.json()["id"]

    fresh = _receipt(client, district.admin, broadcast)
    assert (fresh["EBMID"], fresh["BrdStateCode"], fresh["BrdStateDesc"]) == (broadcast, 0,
                                                                             "未处理")
    assert fresh["Coverage"] == {"CoverageRate": 0.0, "AreaCode": "", "ResBrdStat": "1,0,0,0"}
    assert [(a["AreaCode"], a["AreaName"], a["BrdStateCode"]) for a in fresh["Areas"]] == [
        ("130132100201", "东一村", 0), ("v12", "东二村", 0)]  # the official code when known

    [order] = first.urgent_orders()
    first.receipt(order["id"], "started")
    playing = _receipt(client, district.admin, broadcast)
    rows = _terminal_rows(playing)
    assert playing["BrdStateCode"] == 2
    assert rows[first.serial]["BrdStateCode"] == 2 and rows[first.serial]["StartTime"]
    assert rows[first.serial]["EndTime"] is None
    assert rows[second.serial]["BrdStateCode"] == 1 and rows[second.serial]["StartTime"] is None

    first.receipt(order["id"], "finished")
    [late] = second.urgent_orders()
    second.receipt(late["id"], "started")
    second.receipt(late["id"], "finished")
    done = _receipt(client, district.admin, broadcast)
    rows = _terminal_rows(done)
    assert (done["BrdStateCode"], done["BrdStateDesc"]) == (3, "播发成功")
    assert done["Coverage"] == {"CoverageRate": 1.0, "AreaCode": "130132100201,v12",
                                "ResBrdStat": "1,0,0,2"}
    start, end = (datetime.fromisoformat(rows[first.serial][k]) for k in ("StartTime", "EndTime"))
    assert start <= end and start.utcoffset() == timedelta(hours=8)
    assert rows[first.serial]["FileURL"].startswith("/media/")


def test_a_partly_played_broadcast_that_expires_is_failed_with_its_coverage(
    client: TestClient,
    district: District,
    stored: Stored,
    terminal: Callable[..., Terminal],
) -> None:
    from app.broadcasts.jobs import sweep_broadcasts

    first = terminal("v11")
    terminal("v12")
    body = client.post(BROADCASTS, headers=district.admin,
                       json=broadcast_body(media=stored.recording()["sha256"])).json()
    [order] = first.urgent_orders()
    first.receipt(order["id"], "finished")
    expiry = datetime.fromisoformat(body["expires_at"]) + timedelta(seconds=1)
    with time_machine.travel(expiry):
        sweep_broadcasts()
        receipt = _receipt(client, district.admin, body["id"])

    assert receipt["BrdStateCode"] == 4
    assert receipt["Coverage"]["CoverageRate"] == 0.5
    assert receipt["Coverage"]["AreaCode"] == "v11"
    assert {a["Village"]: a["BrdStateCode"] for a in receipt["Areas"]} == {"v11": 3, "v12": 4}


def test_a_cancelled_broadcast_is_code_5_and_the_csv_has_every_row(
    client: TestClient,
    district: District,
    stored: Stored,
    terminal: Callable[..., Terminal],
) -> None:
    first = terminal("v11")
    body = client.post(BROADCASTS, headers=district.admin,
                       json=broadcast_body(media=stored.recording()["sha256"])).json()
    client.post(f"{BROADCASTS}/{body['id']}/cancel", headers=district.admin)

    response = client.get(f"{BROADCASTS}/{body['id']}/receipt",
                          headers={**district.admin, "Accept": "text/csv"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [r["RowType"] for r in rows] == ["EBM", "Area", "Area", "Terminal"]
    assert rows[0]["BrdStateCode"] == "5" and rows[0]["BrdStateDesc"] == "播发取消"
    assert rows[0]["CoverageRate"] == "0.0"
    assert {r["Village"]: r["BrdStateCode"] for r in rows[1:3]} == {"v11": "5", "v12": "5"}
    assert (rows[3]["EBRID"], rows[3]["AreaName"], rows[3]["BrdStateCode"]) == (
        first.serial, "东一村", "5")


def test_the_receipt_is_scoped_like_the_broadcast(
    client: TestClient, district: District, stored: Stored
) -> None:
    body = client.post(BROADCASTS, headers=district.admin,
                       json=broadcast_body(media=stored.recording()["sha256"])).json()
    west = district.user("west", "staff", "t2")

    assert client.get(f"{BROADCASTS}/{body['id']}/receipt", headers=west).status_code == 403
    missing = client.get(f"{BROADCASTS}/brd_nope/receipt", headers=district.admin)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert client.get(f"{BROADCASTS}/{body['id']}/receipt").status_code == 401
